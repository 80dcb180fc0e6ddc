// Making elements, written once for every view that builds its own DOM (the operation views, the
// knowledge graph, the modal dialog). Text is always set with textContent, never parsed as HTML.

// An element with an optional class and text.
export function el(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text) element.textContent = text;
  return element;
}

// An SVG element with its attributes.
export function svgEl(tag, attributes) {
  const element = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  return element;
}

// A colour of the current theme (web/style.css's custom property --name), for what is painted in a
// canvas rather than styled by CSS.
export function themeColour(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim();
}

// How long an animation of `ms` takes: none when the reader asked for reduced motion.
export function motion(ms) {
  return matchMedia("(prefers-reduced-motion: reduce)").matches ? 0 : ms;
}
