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
