// "Save image" (issue #32): every view and every operation view can be taken away as a picture for
// slides and papers: a PNG at twice the screen's size, and an SVG where the view is vector. The
// picture is the view as laid out on screen (paint_dom.js), with a caption band under it naming the
// model, the image and its licence, and the page's URL, which restores the same state. The file
// name carries the state too (model, image, view, block, head, token where they apply).
import { el, themeColour } from "./dom.js";
import { CanvasSurface, SvgSurface, paintElement } from "./paint_dom.js";
import { currentFragment } from "./url.js";

const SCALE = 2;  // device pixels per CSS pixel in a PNG
const GAP = 8;  // between the parts of a figure, CSS px
const MARGIN = 8;  // the card's colour around them, so nothing touches the picture's edge
const CAPTION = { line: 16, pad: 8, font: { fontStyle: "normal", fontWeight: "400", fontSize: "12px", fontFamily: "sans-serif" } };

const $ = (selector) => document.querySelector(selector);
const fragment = () => new URLSearchParams(currentFragment().slice(1));
const selectedText = (select) => select?.selectedOptions[0]?.textContent ?? "";

// What the picture shows, for the file name: pieces joined by "_", each made safe for any file system.
export function fileName(pieces, extension) {
  const state = fragment();
  const safe = (piece) => String(piece).trim().replace(/[^A-Za-z0-9.-]+/g, "-").replace(/^-+|-+$/g, "");
  const all = ["vitlens", state.get("model"), state.get("image"), ...pieces].filter((p) => p !== null && p !== undefined && p !== "");
  return `${all.map(safe).filter(Boolean).join("_")}.${extension}`;
}

// The caption's lines: the model, what the view shows; the image with its source and licence; the URL.
export function captionLines(what) {
  const title = $("#model-title")?.textContent.trim() || fragment().get("model") || "";
  const image = fragment().get("image") === "upload" ? "your image" : ($("#image-caption")?.textContent.trim() || "");
  return [`ViT Lens · ${title} · ${what}`, `Image: ${image}`, location.href.split("#")[0] + currentFragment()];
}

const measure = document.createElement("canvas").getContext("2d");

// Lines no wider than `width` CSS px: broken between words, and inside a word (a URL) when it must.
function wrap(lines, width) {
  measure.font = "12px sans-serif";
  const fits = (text) => measure.measureText(text).width <= width;
  const out = [];
  for (const line of lines) {
    let current = "";
    for (const word of line.split(" ")) {
      const joined = current ? `${current} ${word}` : word;
      if (fits(joined)) { current = joined; continue; }
      if (current) out.push(current);
      current = "";
      for (const char of word) {
        if (current && !fits(current + char)) { out.push(current); current = ""; }
        current += char;
      }
    }
    out.push(current);
  }
  return out;
}

function shown(element) {
  return element && element.getClientRects().length > 0 && element.getBoundingClientRect().width > 0;
}

// The parts stacked top to bottom, left-aligned, inside a margin, the caption band under them;
// returns the blob and its sizes (the figure's, margin included, and the band's, in CSS px).
async function compose(parts, lines, makeSurface) {
  parts = parts.filter(shown);
  if (!parts.length) throw new Error("there is nothing drawn in this view yet");
  const heights = parts.map((p) => Math.ceil(p.getBoundingClientRect().height));
  const width = Math.ceil(Math.max(...parts.map((p) => p.getBoundingClientRect().width))) + 2 * MARGIN;
  const height = heights.reduce((a, b) => a + b, 0) + GAP * (parts.length - 1) + 2 * MARGIN;
  const wrapped = wrap(lines, width - 2 * CAPTION.pad);
  const band = 2 * CAPTION.pad + wrapped.length * CAPTION.line;
  const surface = makeSurface(width, height + band);
  surface.box(0, 0, width, height + band, { fill: themeColour("card"), radius: 0, opacity: 1 });  // the picture is in the page's theme
  let y = MARGIN;
  for (const [i, part] of parts.entries()) {
    await paintElement(surface, part, MARGIN, y);
    y += heights[i] + GAP;
  }
  surface.box(0, height + CAPTION.pad / 2, width, 1, { fill: themeColour("line"), radius: 0, opacity: 1 });
  const font = { ...CAPTION.font, color: themeColour("muted") };
  wrapped.forEach((line, i) => surface.text(line, CAPTION.pad, height + CAPTION.pad + (i + 1) * CAPTION.line - 4, font, 1));
  return { blob: await surface.blob(), width, height, band };
}

function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = el("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// Saves `figure` ({ parts(), svgParts?(), name(), what() }) as "png" or "svg"; the button keeps what
// it saved in data-saved-* (file, caption, CSS width and height of the figure, caption band).
async function save(button, figure, format) {
  const lines = captionLines(figure.what());
  const name = fileName(figure.name(), format);
  const parts = format === "svg" ? figure.svgParts() : figure.parts();
  const makeSurface = format === "svg" ? (w, h) => new SvgSurface(w, h) : (w, h) => new CanvasSurface(w, h, SCALE);
  button.setAttribute("aria-busy", "true");
  try {
    const { blob, width, height, band } = await compose(parts, lines, makeSurface);
    Object.assign(button.dataset, { savedFile: name, savedCaption: lines.join("\n"), savedWidth: width,
                                    savedHeight: height, savedBand: band });
    delete button.dataset.saveError;
    download(blob, name);
  } catch (error) {
    button.dataset.saveError = `Could not save the image: ${error.message}`;
    const message = $("#message");
    message.textContent = button.dataset.saveError;
    message.classList.add("error");
    message.hidden = false;
  } finally {
    button.removeAttribute("aria-busy");
  }
}

// The "Save PNG" (and, for a vector figure, "Save SVG") buttons, in `container`.
export function saveControl(container, figure) {
  container.replaceChildren();
  container.classList.add("save-image");
  container.setAttribute("role", "group");
  container.setAttribute("aria-label", "Save image");
  const formats = figure.svgParts ? ["png", "svg"] : ["png"];
  for (const format of formats) {
    const button = container.appendChild(el("button", "save-button", `Save ${format.toUpperCase()}`));
    button.type = "button";
    button.dataset.save = format;
    button.title = format === "png" ? "Save this figure as a PNG image, at twice the screen's size, with a caption"
      : "Save this figure as an SVG vector image, with a caption";
    button.addEventListener("click", () => save(button, figure, format));
  }
  return container;
}

// ---- the six views ---------------------------------------------------------------------------

const view = (name) => $(`article[data-view="${name}"]`);

function overviewLevel() {
  const levels = document.querySelectorAll("#overview-diagram g.level");
  const id = levels[levels.length - 1]?.dataset.level ?? "";
  const [kind, index] = id.split(".");
  return index === undefined ? id : kind === "block" ? `block${Number(index) + 1}` : `block${Number(index) + 1}_${kind}`;
}

// A relevance map is one class's (or one class versus another), every block chained: no block or token.
function relevanceTarget() {
  return $("#interp-canvas").dataset.target ?? "";
}

function interpretationName() {
  const kind = $("#interp-kind").value;
  if (kind === "relevance") return ["interpretation", kind, relevanceTarget().replaceAll(" ", "-")];
  const block = Number($("#interp-block").value);
  const head = $("#interp-head").value;
  const fused = Number.isNaN(Number(head)) ? `${head}-of-heads` : `head${Number(head) + 1}`;
  return ["interpretation", kind, block ? `block${block}` : "embeddings", kind === "attention" ? fused : null,
          kind === "rollout" ? `${$("#interp-fusion").value}-of-heads` : null, `token${$("#interp-token").value}`];
}

function interpretationWhat() {
  const kind = $("#interp-kind").value;
  if (kind === "relevance") return `Interpretation: ${selectedText($("#interp-kind"))}, ${relevanceTarget()}, every block`;
  const extra = kind === "attention" ? `, ${selectedText($("#interp-head"))}`
    : kind === "rollout" ? `, heads fused by ${$("#interp-fusion").value}` : "";
  return `Interpretation: ${selectedText($("#interp-kind"))}, ${selectedText($("#interp-block"))}${extra}, token ${$("#interp-token").value}`;
}

const VIEWS = {
  overview: {
    parts: () => [$("#overview-diagram svg.overview")],
    svgParts: () => [$("#overview-diagram svg.overview")],
    name: () => ["overview", overviewLevel()],
    what: () => `Model overview: ${Array.from(document.querySelectorAll("#overview-diagram .crumb"), (c) => c.textContent).join(" › ")}`,
  },
  graph: {
    parts: () => [$("#knowledge-graph .kg-legend"), $("#knowledge-graph .kg-svg")],
    svgParts: () => [$("#knowledge-graph .kg-legend"), $("#knowledge-graph .kg-svg")],
    name: () => ["graph"],
    what: () => $("#knowledge-graph .kg-svg")?.getAttribute("aria-label") ?? "Knowledge graph",
  },
  detail: {
    parts: () => [$("#detail-flow"), $("#detail-meaning"), view("detail").querySelector(".detail-legend"), $("#detail-canvas")],
    svgParts: () => [$("#detail-flow")],  // the data-flow strip, the vector part of Model detail
    name: () => ["detail", `block${fragment().get("layer")}`, $("#detail-tensor").value, `maps${($("#detail-page").textContent.match(/\d+–\d+/) ?? [""])[0]}`],
    what: () => `Model detail: ${selectedText($("#detail-tensor"))}, ${$("#detail-page").textContent}`,
  },
  interpretation: {
    parts: () => [$("#interp-meaning"), view("interpretation").querySelector(".detail-legend"), view("interpretation").querySelector(".interp-main")],
    name: interpretationName,
    what: interpretationWhat,
  },
  whatif: {
    parts: () => [$("#whatif-edit"), $("#whatif-effect"), $("#whatif-canvas"), $("#prediction-list"), $("#whatif-heads")],
    name: () => ["whatif", ...["remove", "replace", "knock"].map((key) => (fragment().get(key) ? `${key}-${fragment().get(key)}` : null))],
    what: () => `What if: ${$("#whatif-canvas").dataset.edit ?? "no edit"}`,
  },
  tour: {
    parts: () => [$("#tour-step")],
    name: () => ["tour", `step${fragment().get("tour") ?? 1}`],
    what: () => `Tour, step ${fragment().get("tour") ?? 1}: ${$("#tour-title").textContent}`,
  },
};

// Fills every [data-save-view] placeholder of the page with its view's buttons.
export function installViewSaves() {
  for (const container of document.querySelectorAll("[data-save-view]")) {
    saveControl(container, VIEWS[container.dataset.saveView]);
  }
}

// An operation dialog's figure: everything in it but its header, its player and rows of controls.
// `name(step)` gives the operation and its state for the file name.
export function operationFigure(dialog, name) {
  const parts = () => Array.from(dialog.children).filter((child) => child.localName !== "header"
    && !child.matches(".operation-controls")
    && !(child.querySelector("select, input") && !child.querySelector("canvas, svg, figure")));
  return {
    parts,
    name: () => name(Number(dialog.dataset.step ?? 0), fragment()),
    what: () => `${dialog.querySelector(".operation-title").textContent}, ${dialog.querySelector(".operation-position")?.textContent ?? ""}`,
  };
}
