// Paints what is on screen into a picture, for "Save image" (save_image.js): a walk over a part of
// the page that hands every box, text run, canvas and svg to a surface, either a 2D canvas (PNG) or
// a standalone SVG document. It draws only what the browser has laid out, at the places the browser
// put it: no node is re-rendered from data, so the picture shows the same numbers as the page.
import { svgEl } from "./dom.js";

const SVG_NS = "http://www.w3.org/2000/svg";
// Controls are not part of a figure: they are left out of every picture.
const SKIP = "input, select, textarea, .save-image, .operation-controls, .operation-close, .tour-actions, label:has(select), label:has(input)";
// The SVG properties a standalone copy needs to look the same without the page's stylesheets.
const SVG_PROPS = ["fill", "fill-opacity", "stroke", "stroke-width", "stroke-dasharray", "stroke-opacity",
  "stroke-linejoin", "stroke-linecap", "opacity", "font-size", "font-weight", "font-style", "text-anchor",
  "dominant-baseline", "paint-order", "visibility"];

// A family the way a standalone picture can carry it: one of the generic families.
export function genericFamily(family) {
  if (/mono|courier|menlo|consol/i.test(family)) return "monospace";
  if (/serif/i.test(family) && !/sans/i.test(family)) return "serif";
  return "sans-serif";
}

// A computed style's font as a 2D context's shorthand: the page's own family, so that a run of text
// is as wide in the picture as on screen.
function fontOf(style) {
  return `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
}

function visibleColour(colour) {
  return colour && colour !== "transparent" && !/rgba\(.*,\s*0\)$/.test(colour);
}

// A copy of an on-screen svg with the computed styles written on every element (as presentation
// attributes, which outrank nothing but need no stylesheet), no class, script or event handler, sized width x height: it looks the same as a file or as an <img>.
export function standaloneSvg(svg, width, height) {
  const copy = svg.cloneNode(true);
  const originals = [svg, ...svg.querySelectorAll("*")];
  const copies = [copy, ...copy.querySelectorAll("*")];
  copies.forEach((node, i) => {
    const style = getComputedStyle(originals[i]);
    for (const attribute of Array.from(node.attributes)) {
      if (/^on/i.test(attribute.name) || ["tabindex", "style", "class"].includes(attribute.name)) node.removeAttribute(attribute.name);
    }
    // presentation attributes, not a style attribute: the page's CSP forbids inline styles
    for (const property of SVG_PROPS) node.setAttribute(property, style.getPropertyValue(property));
    if (node.localName === "text" || node.localName === "svg") node.setAttribute("font-family", genericFamily(style.fontFamily));
  });
  copy.querySelectorAll("script, foreignObject").forEach((node) => node.remove());
  copy.setAttribute("xmlns", SVG_NS);
  copy.setAttribute("width", width);
  copy.setAttribute("height", height);
  if (!copy.getAttribute("viewBox")) copy.setAttribute("viewBox", `0 0 ${width} ${height}`);
  return copy;
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("the browser could not draw this figure's vector part"));
    image.src = url;
  });
}

// Draws into a 2D context at `scale` device pixels per CSS pixel.
export class CanvasSurface {
  constructor(width, height, scale) {
    this.target = document.createElement("canvas");
    this.target.width = Math.ceil(width * scale);
    this.target.height = Math.ceil(height * scale);
    this.scale = scale;
    this.context = this.target.getContext("2d");
    this.context.scale(scale, scale);
  }

  box(x, y, w, h, { fill, stroke, strokeWidth, radius, opacity }) {
    const c = this.context;
    c.globalAlpha = opacity;
    c.beginPath();
    c.roundRect(x, y, w, h, radius);
    if (fill) { c.fillStyle = fill; c.fill(); }
    if (stroke) {
      c.beginPath();
      c.roundRect(x + strokeWidth / 2, y + strokeWidth / 2, w - strokeWidth, h - strokeWidth, radius);
      c.lineWidth = strokeWidth;
      c.strokeStyle = stroke;
      c.stroke();
    }
    c.globalAlpha = 1;
  }

  text(content, x, y, style, opacity) {
    const c = this.context;
    c.globalAlpha = opacity;
    c.font = fontOf(style);
    c.fillStyle = style.color;
    c.textBaseline = "alphabetic";
    c.fillText(content, x, y);
    c.globalAlpha = 1;
  }

  // A canvas's own pixels, each an integer number of device pixels wide and high, never smoothed;
  // centred in its box when the box is not a whole multiple of them.
  canvas(source, x, y, w, h) {
    const c = this.context;
    const kx = Math.floor(w * this.scale / source.width + 1e-6);
    const ky = Math.floor(h * this.scale / source.height + 1e-6);
    const dw = kx >= 1 ? kx * source.width / this.scale : w;  // smaller than its pixels: shrunk, still not smoothed
    const dh = ky >= 1 ? ky * source.height / this.scale : h;
    c.save();
    c.imageSmoothingEnabled = false;
    c.drawImage(source, x + (w - dw) / 2, y + (h - dh) / 2, dw, dh);
    c.restore();
  }

  image(source, x, y, w, h) {
    this.context.imageSmoothingQuality = "high";
    this.context.drawImage(source, x, y, w, h);
  }

  async svg(svg, x, y, w, h) {
    const copy = standaloneSvg(svg, w * this.scale, h * this.scale);  // rasterised at the device size: crisp
    const text = new XMLSerializer().serializeToString(copy);
    const image = await loadImage(`data:image/svg+xml;charset=utf-8,${encodeURIComponent(text)}`);
    this.context.drawImage(image, x, y, w, h);
  }

  clip(x, y, w, h) {
    this.context.save();
    this.context.beginPath();
    this.context.rect(x, y, w, h);
    this.context.clip();
  }

  unclip() {
    this.context.restore();
  }

  blob() {
    return new Promise((resolve, reject) => this.target.toBlob(
      (blob) => (blob ? resolve(blob) : reject(new Error("the browser could not encode the picture"))), "image/png"));
  }
}

// Builds a standalone SVG document, in CSS pixels.
export class SvgSurface {
  constructor(width, height) {
    this.root = svgEl("svg", { xmlns: SVG_NS, width, height, viewBox: `0 0 ${width} ${height}` });
    this.parent = this.root;
    this.clips = 0;
  }

  box(x, y, w, h, { fill, stroke, strokeWidth, radius, opacity }) {
    if (fill) this.parent.append(svgEl("rect", { x, y, width: w, height: h, rx: radius, fill, opacity }));
    if (stroke) {
      this.parent.append(svgEl("rect", { x: x + strokeWidth / 2, y: y + strokeWidth / 2, width: w - strokeWidth,
                                         height: h - strokeWidth, rx: radius, fill: "none", stroke,
                                         "stroke-width": strokeWidth, opacity }));
    }
  }

  text(content, x, y, style, opacity) {
    const node = svgEl("text", { x, y, fill: style.color, opacity, "font-style": style.fontStyle, "font-weight": style.fontWeight,
                                 "font-size": style.fontSize, "font-family": genericFamily(style.fontFamily) });
    node.textContent = content;
    this.parent.append(node);
  }

  canvas(source, x, y, w, h) {
    this.parent.append(svgEl("image", { x, y, width: w, height: h, href: source.toDataURL(),
                                        "image-rendering": "pixelated", preserveAspectRatio: "xMidYMid meet" }));
  }

  image(source, x, y, w, h) {
    const canvas = Object.assign(document.createElement("canvas"), { width: source.naturalWidth, height: source.naturalHeight });
    canvas.getContext("2d").drawImage(source, 0, 0);
    this.parent.append(svgEl("image", { x, y, width: w, height: h, href: canvas.toDataURL() }));
  }

  async svg(svg, x, y, w, h) {
    const copy = standaloneSvg(svg, w, h);
    copy.removeAttribute("xmlns");  // the root declares it
    copy.setAttribute("x", x);
    copy.setAttribute("y", y);
    this.parent.append(copy);
  }

  clip(x, y, w, h) {
    const id = `save-clip-${++this.clips}`;
    const clip = svgEl("clipPath", { id });
    clip.append(svgEl("rect", { x, y, width: w, height: h }));
    this.root.append(clip);
    this.parent = this.root.appendChild(svgEl("g", { "clip-path": `url(#${id})` }));
  }

  unclip() {
    this.parent = this.root;
  }

  blob() {
    const text = `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(this.root)}\n`;
    return Promise.resolve(new Blob([text], { type: "image/svg+xml" }));
  }
}

// Paints `element` and everything in it onto `surface`, with the element's top-left corner at (x, y).
export async function paintElement(surface, element, x, y) {
  const origin = element.getBoundingClientRect();
  const at = (r) => [x + r.left - origin.left, y + r.top - origin.top, r.width, r.height];
  surface.clip(x, y, origin.width, origin.height);
  try {
    await paintNode(surface, element, at, 1);
  } finally {
    surface.unclip();
  }
}

async function paintNode(surface, node, at, opacity) {
  if (node.nodeType === Node.TEXT_NODE) return paintText(surface, node, at, opacity);
  if (node.nodeType !== Node.ELEMENT_NODE || node.matches(SKIP)) return;
  const style = getComputedStyle(node);
  if (style.display === "none") return;
  opacity *= Number(style.opacity);
  const [x, y, w, h] = at(node.getBoundingClientRect());
  if (style.visibility !== "hidden" && w > 0 && h > 0) paintBox(surface, style, x, y, w, h, opacity);
  if (node instanceof HTMLCanvasElement) {
    if (node.width && node.height) surface.canvas(node, x + node.clientLeft, y + node.clientTop, node.clientWidth, node.clientHeight);
    return;
  }
  if (node instanceof SVGSVGElement) return surface.svg(node, x, y, w, h);
  if (node instanceof HTMLImageElement) {
    if (node.complete && node.naturalWidth) surface.image(node, x, y, w, h);
    return;
  }
  for (const child of node.childNodes) await paintNode(surface, child, at, opacity);
}

function paintBox(surface, style, x, y, w, h, opacity) {
  const fill = visibleColour(style.backgroundColor) ? style.backgroundColor : null;
  const width = parseFloat(style.borderTopWidth) || 0;
  const stroke = width > 0 && style.borderTopStyle !== "none" && visibleColour(style.borderTopColor) ? style.borderTopColor : null;
  if (fill || stroke) {
    surface.box(x, y, w, h, { fill, stroke, strokeWidth: width, radius: parseFloat(style.borderTopLeftRadius) || 0, opacity });
  }
  const outline = parseFloat(style.outlineWidth) || 0;
  if (outline > 0 && style.outlineStyle !== "none" && visibleColour(style.outlineColor)) {
    const o = outline + (parseFloat(style.outlineOffset) || 0);
    surface.box(x - o, y - o, w + 2 * o, h + 2 * o, { stroke: style.outlineColor, strokeWidth: outline, radius: 0, opacity });
  }
}

const metrics = document.createElement("canvas").getContext("2d");

// A text node, line by line as the browser wrapped it: one run per line, or one per word when it wraps.
function paintText(surface, node, at, opacity) {
  const parent = node.parentElement;
  const style = getComputedStyle(parent);
  if (style.visibility === "hidden" || !node.data.trim()) return;
  metrics.font = fontOf(style);
  const probe = metrics.measureText("Mg");
  const ascent = probe.fontBoundingBoxAscent;
  const descent = probe.fontBoundingBoxDescent;
  const range = document.createRange();
  range.selectNodeContents(node);
  const pre = style.whiteSpace.startsWith("pre");
  const runs = [];
  if (range.getClientRects().length <= 1) {
    runs.push([pre ? node.data : node.data.replace(/\s+/g, " ").trim(), range.getBoundingClientRect()]);
  } else {
    for (const match of node.data.matchAll(pre ? /[^\n]+/g : /\S+/g)) {
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      runs.push([match[0], range.getClientRects()[0] || range.getBoundingClientRect()]);
    }
  }
  for (const [content, rect] of runs) {
    if (!rect.width) continue;
    const [x, y, , h] = at(rect);
    surface.text(content, x, y + (h - ascent - descent) / 2 + ascent, style, opacity);
  }
}
