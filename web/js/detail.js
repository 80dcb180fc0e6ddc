// Model detail: small multiples, one map per channel (EL-VIT Fig. 6), drawn on one canvas so that
// hundreds of maps stay smooth. Python (web/py/detail.py) hands over 0..255 levels; hovering
// reports (map, cell) back to Python, which reads the raw value from the model's tensor.
import { VIRIDIS } from "./colours.js";
import { canvasPoint } from "./pointer.js";

export { legend } from "./colours.js";  // the colour scale with its two ends labelled
const d3 = window.d3;
const GAP = 6;

// Cells of one map: special tokens on a row of their own above the patch grid.
function geometry(layout, cellPx) {
  const [rows, cols] = Array.from(layout.grid);
  const top = layout.special ? 1 : 0;
  return { rows, cols, top, width: cols * cellPx, height: (rows + top) * cellPx + (top ? 2 : 0) };
}

function cellOrigin(layout, g, cell, cellPx) {
  if (cell < layout.special) return [cell * cellPx, 0];
  const index = cell - layout.special;
  const row = Math.floor(index / g.cols);
  return [(index % g.cols) * cellPx, (g.top ? cellPx + 2 : 0) + row * cellPx];
}

export function drawMaps(canvas, levels, count, layout, onHover) {
  const cells = layout.cells;
  const [rows, cols] = Array.from(layout.grid);
  const cellPx = Math.max(1, Math.min(8, Math.floor(96 / Math.max(rows, cols))));  // 1 px: tokens × tokens
  const g = geometry(layout, cellPx);
  const width = canvas.parentElement.clientWidth || 860;
  const perRow = Math.max(1, Math.floor((width + GAP) / (g.width + GAP)));
  const mapRows = Math.ceil(count / perRow);
  canvas.width = perRow * (g.width + GAP);
  canvas.height = Math.max(1, mapRows * (g.height + GAP));
  const context = canvas.getContext("2d");
  const image = context.createImageData(canvas.width, canvas.height);
  const data = image.data;
  const bytes = levels;
  for (let m = 0; m < count; m++) {
    const ox = (m % perRow) * (g.width + GAP);
    const oy = Math.floor(m / perRow) * (g.height + GAP);
    for (let cell = 0; cell < cells; cell++) {
      const colour = VIRIDIS[bytes[m * cells + cell]];
      const [cx, cy] = cellOrigin(layout, g, cell, cellPx);
      for (let y = 0; y < cellPx; y++) {
        let p = ((oy + cy + y) * canvas.width + ox + cx) * 4;
        for (let x = 0; x < cellPx; x++, p += 4) {
          data[p] = colour.r; data[p + 1] = colour.g; data[p + 2] = colour.b; data[p + 3] = 255;
        }
      }
    }
  }
  context.putImageData(image, 0, 0);
  canvas.onpointermove = canvas.onpointerdown = (event) => {  // a tap reads a value too
    const { x, y } = canvasPoint(canvas, event);
    const m = Math.floor(y / (g.height + GAP)) * perRow + Math.floor(x / (g.width + GAP));
    const lx = x % (g.width + GAP);
    const ly = y % (g.height + GAP);
    let cell = -1;
    if (m < count && lx < g.width) {
      if (g.top && ly < cellPx) {
        const c = Math.floor(lx / cellPx);
        if (c < layout.special) cell = c;
      } else {
        const gy = ly - (g.top ? cellPx + 2 : 0);
        if (gy >= 0 && gy < rows * cellPx) cell = layout.special + Math.floor(gy / cellPx) * cols + Math.floor(lx / cellPx);
      }
    }
    onHover(cell >= 0 ? m : -1, cell);
  };
  canvas.onpointerleave = (event) => { if (event.pointerType === "mouse") onHover(-1, -1); };  // a tap's stays
  keyboardReadout(canvas, count, layout, cols, (m, cell) => {  // the keyboard's cursor, framed
    context.putImageData(image, 0, 0);
    if (m < 0) return onHover(-1, -1);
    const [cx, cy] = cellOrigin(layout, g, cell, cellPx);
    context.strokeStyle = "#ff3b30";
    context.lineWidth = 1;
    context.strokeRect((m % perRow) * (g.width + GAP) + cx - 1.5, Math.floor(m / perRow) * (g.height + GAP) + cy - 1.5,
                       cellPx + 3, cellPx + 3);
    onHover(m, cell);
  });
  return { perRow, cellPx, mapWidth: g.width, mapHeight: g.height, gap: GAP };
}

// The hover readout from the keyboard: the maps' canvas takes focus; the arrow keys move a cursor
// over one map's cells (special tokens first, then the grid row by row), Page Up and Page Down to
// the previous or next map. `show(map, cell)`; show(-1, -1) when focus leaves.
function keyboardReadout(canvas, count, layout, cols, show) {
  canvas.tabIndex = 0;
  let map = 0, cell = 0;
  const moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [0, -cols], ArrowDown: [0, cols],
                  PageUp: [-1, 0], PageDown: [1, 0] };
  let shown = false;  // by the keyboard: a click or a tap focuses the canvas too, and says where itself
  canvas.onfocus = () => { if (canvas.matches(":focus-visible")) { shown = true; show(map, cell); } };
  canvas.onblur = () => { if (shown) { shown = false; show(-1, -1); } };
  canvas.onkeydown = (event) => {
    if (!moves[event.key] || event.altKey || event.ctrlKey || event.metaKey) return;
    event.preventDefault();
    const [dm, dc] = moves[event.key];
    map = Math.min(count - 1, Math.max(0, map + dm));
    cell = Math.min(layout.cells - 1, Math.max(0, cell + dc));
    shown = true;
    show(map, cell);
  };
}

// The focus+context strip: one level of the data flow as steps left to right, the drawn tensor
// marked. Hover or focus a step for its annotation (EL-VIT Fig. 8); click a step to draw its
// tensor or open what it contains; click the strip's empty space to go one level up.
export function drawFlow(container, flow, current, annotation, handlers) {
  const root = d3.select(container);
  root.selectAll("*").remove();
  const trail = root.append("nav").attr("class", "flow-trail").attr("aria-label", "data-flow level");
  Array.from(flow.trail).forEach(([id, title], i, all) => {
    if (i) trail.append("span").attr("class", "flow-sep").text("›");
    const crumb = trail.append("button").attr("type", "button").attr("class", "flow-crumb").text(title);
    if (i === all.length - 1) crumb.attr("aria-current", "true");
    crumb.on("click", () => handlers.onGoto(id));
  });
  const strip = root.append("div").attr("class", "flow-strip").attr("role", "list");
  strip.on("click", (event) => { if (event.target === strip.node() && flow.up) handlers.onGoto(flow.up); });
  Array.from(flow.steps).forEach((step, i) => {
    if (i) strip.append("span").attr("class", "flow-arrow").attr("aria-hidden", "true").text("→");
    const chip = strip.append("button").attr("type", "button").attr("role", "listitem")
      .attr("class", `flow-step${step.children ? " has-children" : ""}`)
      .attr("data-step", step.id)
      .attr("aria-current", step.tensor && step.tensor === current && !step.children ? "true" : null);
    chip.append("span").attr("class", "flow-label").text(step.children ? `${step.label} ⤵` : step.label);
    chip.append("span").attr("class", "flow-sub").text(step.sub);
    const note = () => { annotation.textContent = `${step.label}: ${step.note}`; annotation.dataset.step = step.id; };
    chip.on("mouseenter", note).on("focus", note);
    chip.on("click", () => handlers.onStep(step));
  });
}
