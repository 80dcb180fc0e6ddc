// Interpretation view (EL-VIT V-D and beyond): a per-patch map over the model's input image, and
// the same map for every block as small multiples. Python (web/py/interpret_view.py) hands over
// a 0..255 level per patch: a viridis step between the map's own minimum and maximum, or, for the
// logit lens, the opacity of the class's colour (the class probability); and, for a what-if run,
// the removed patches, which are hatched.
import { CLASS_COLOURS, VIRIDIS, classLegend, legend as viridisLegend } from "./colours.js";
import { cellAt, cellKeys, cursorOf } from "./pointer.js";
import { hatchRemoved } from "./whatif.js";

const d3 = window.d3;
const CLASSES = CLASS_COLOURS.map((c) => d3.rgb(c));

// Writes the colour of patch i into pixel i of `data` (RGBA bytes): no allocation per patch.
function paintPatch(data, map, i) {
  const level = map.levels[i];
  const c = map.classes ? CLASSES[map.classes[i] % CLASSES.length] : VIRIDIS[level];
  data[4 * i] = c.r;
  data[4 * i + 1] = c.g;
  data[4 * i + 2] = c.b;
  data[4 * i + 3] = map.classes ? level : 255;
}

// The input image with the map over it; `selected` (a patch index, or -1) is outlined. The map is
// painted at one pixel per patch, then scaled up without smoothing: two drawImage calls per canvas.
// The image under the maps, scaled once per size (smooth scaling is the costly part of a redraw).
const scaled = new WeakMap();
function background(image, width, height) {
  let sizes = scaled.get(image);
  if (!sizes) scaled.set(image, (sizes = new Map()));
  const key = `${width}x${height}`;
  if (!sizes.has(key)) {
    const copy = new OffscreenCanvas(width, height);
    const context = copy.getContext("2d");
    context.imageSmoothingQuality = "high";
    context.drawImage(image, 0, 0, width, height);
    sizes.set(key, copy);
  }
  return sizes.get(key);
}

// One patch-sized canvas and its pixels per grid, reused by every map: a redraw allocates nothing.
const patchCanvases = new Map();
function patchCanvas(rows, cols) {
  const key = `${rows}x${cols}`;
  if (!patchCanvases.has(key)) {
    const canvas = new OffscreenCanvas(cols, rows);
    patchCanvases.set(key, { canvas, context: canvas.getContext("2d"), pixels: new ImageData(cols, rows) });
  }
  return patchCanvases.get(key);
}

function paintOverlay(canvas, image, map, grid, opacity, selected, cursor = -1) {
  const [rows, cols] = grid;
  const { canvas: cells, context: cellContext, pixels } = patchCanvas(rows, cols);
  for (let i = 0; i < rows * cols; i++) paintPatch(pixels.data, map, i);
  cellContext.putImageData(pixels, 0, 0);
  const context = canvas.getContext("2d");
  context.globalAlpha = 1;
  context.drawImage(background(image, canvas.width, canvas.height), 0, 0);
  context.globalAlpha = opacity;
  context.imageSmoothingEnabled = false;
  context.drawImage(cells, 0, 0, canvas.width, canvas.height);
  context.globalAlpha = 1;
  if (map.removed) hatchRemoved(canvas, grid, map.removed);  // a what-if run's removed patches
  const w = canvas.width / cols;
  const h = canvas.height / rows;
  const frame = (patch, colour, dash) => {
    context.strokeStyle = colour;
    context.lineWidth = Math.max(2, w / 8);
    context.setLineDash(dash);
    context.strokeRect((patch % cols) * w + 1, Math.floor(patch / cols) * h + 1, w - 2, h - 2);
    context.setLineDash([]);
  };
  if (selected >= 0) frame(selected, "#ff3b30", []);
  if (cursor >= 0 && cursor !== selected) frame(cursor, "#ffffff", [w / 5, w / 8]);  // the keyboard's cursor
}

// An ImageBitmap-like source of the model's own input (RGBA bytes), drawn under every map.
export function imageSource(rgba, width, height) {
  const canvas = new OffscreenCanvas(width, height);
  canvas.getContext("2d").putImageData(new ImageData(new Uint8ClampedArray(rgba), width, height), 0, 0);
  return canvas;
}

// The main map. `onHover(patch)` and `onPick(patch)` report a patch index (or -1) to Python.
export function drawMain(canvas, image, map, grid, opacity, selected, onHover, onPick) {
  grid = Array.from(grid);
  paintOverlay(canvas, image, map, grid, opacity, selected, cursorOf(canvas));
  const [rows, cols] = grid;
  const patchAt = (event) => cellAt(canvas, event, rows, cols);
  // The patch under the finger when it touched: the readout it updates may move the canvas before the click.
  let touched = -1;
  canvas.onpointermove = (event) => onHover(patchAt(event));
  canvas.onpointerdown = (event) => { touched = patchAt(event); onHover(touched); };
  canvas.onpointerleave = (event) => { if (event.pointerType === "mouse") onHover(-1); };
  canvas.onclick = (event) => { const p = touched >= 0 ? touched : patchAt(event); touched = -1; if (p >= 0) onPick(p); };
  cellKeys(canvas, rows, cols, selected, (patch) => {
    paintOverlay(canvas, image, map, grid, opacity, selected, patch);
    onHover(patch);
  }, onPick);
}

// One small map per block; clicking one (or Enter or Space on it) chooses that block. Without
// `onPick` (null), the maps are pictures only.
export function drawMultiples(container, image, maps, grid, opacity, current, onPick) {
  grid = Array.from(grid);
  const root = d3.select(container);
  const figures = root.selectAll("figure").data(Array.from(maps)).join((enter) => {
    const f = enter.append("figure");
    f.append("canvas").attr("width", 112).attr("height", 112);
    f.append("figcaption");
    return f;
  });
  figures.attr("data-block", (m) => m.block);
  if (onPick) {
    figures.attr("tabindex", 0).attr("role", "button").attr("aria-label", (m) => `${m.label}: choose`)
      .on("click", (event, m) => onPick(m.block))
      .on("keydown", (event, m) => {
        if (event.key !== "Enter" && event.key !== " ") return;
        event.preventDefault();
        onPick(m.block);
      });
  }
  figures.select("figcaption").text((m) => m.label);
  figures.select("canvas").each(function (m) { paintOverlay(this, image, m, grid, opacity, -1); });
  markMultiple(container, current);
}

// Only the chosen block changed: the small multiples stay, the mark moves.
export function markMultiple(container, current) {
  d3.select(container).selectAll("figure").attr("aria-current", (m) => String(m.block === current));
}

// A title and a numbered list, worded by Python: the chosen token's own logit lens.
export function drawSide(container, title, items) {
  const root = d3.select(container);
  root.selectAll("*").remove();
  root.append("p").text(title);
  root.append("ol").selectAll("li").data(Array.from(items)).join("li").text((item) => item);
}

// A legend: viridis between two numbers, or one swatch per class.
export function legend(container, low, high, classes) {
  if (classes) classLegend(container, classes);
  else viridisLegend(container, low, high);
}
