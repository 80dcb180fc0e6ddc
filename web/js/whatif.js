// The What-if view's drawing: the model's input with its patch grid, where patches are selected by
// click, tap, drag or keyboard, and the removed and replaced ones are marked; and the grid of heads
// to knock out. Python (web/py/whatif_view.py) owns the edit; the selection is handed back to it.
import { cellAt } from "./pointer.js";

const d3 = window.d3;
const SELECTED = "#f4a100", REPLACED = "#2f6fde", CURSOR = "#ff3b30";

// Diagonal hatching over a removed patch: the run never read it.
export function hatch(context, x, y, w, h) {
  context.save();
  context.beginPath();
  context.rect(x, y, w, h);
  context.clip();
  context.fillStyle = "rgba(60, 60, 60, 0.72)";
  context.fillRect(x, y, w, h);
  context.strokeStyle = "rgba(255, 255, 255, 0.55)";
  context.lineWidth = 1;
  for (let d = -h; d < w; d += 6) {
    context.beginPath();
    context.moveTo(x + d, y + h);
    context.lineTo(x + d + h, y);
    context.stroke();
  }
  context.restore();
}

// Every removed patch of a `grid` drawn over a whole canvas, hatched (maps of a what-if run).
export function hatchRemoved(canvas, grid, removed) {
  const [rows, cols] = grid;
  const context = canvas.getContext("2d");
  const w = canvas.width / cols, h = canvas.height / rows;
  for (const p of removed) hatch(context, (p % cols) * w, Math.floor(p / cols) * h, w, h);
}

// `marks`: per patch 1 selected, 2 removed, 4 replaced (bits). `cursor`: the keyboard's patch (-1 none).
function paint(canvas, image, grid, marks, cursor) {
  const [rows, cols] = grid;
  const context = canvas.getContext("2d");
  const w = canvas.width / cols, h = canvas.height / rows;
  context.imageSmoothingQuality = "high";
  context.drawImage(image, 0, 0, canvas.width, canvas.height);
  context.strokeStyle = "rgba(255, 255, 255, 0.35)";
  context.lineWidth = 1;
  for (let c = 1; c < cols; c++) context.strokeRect(c * w, 0, 0, canvas.height);
  for (let r = 1; r < rows; r++) context.strokeRect(0, r * h, canvas.width, 0);
  for (let i = 0; i < rows * cols; i++) {
    const x = (i % cols) * w, y = Math.floor(i / cols) * h;
    if (marks[i] & 2) hatch(context, x, y, w, h);
    if (marks[i] & 4) {
      context.strokeStyle = REPLACED;
      context.lineWidth = 2;
      context.strokeRect(x + 2, y + 2, w - 4, h - 4);
    }
    if (marks[i] & 1) {
      context.fillStyle = "rgba(244, 161, 0, 0.35)";
      context.fillRect(x, y, w, h);
      context.strokeStyle = SELECTED;
      context.lineWidth = 2;
      context.strokeRect(x + 1, y + 1, w - 2, h - 2);
    }
  }
  if (cursor >= 0) {
    context.strokeStyle = CURSOR;
    context.lineWidth = 3;
    context.strokeRect((cursor % cols) * w + 1.5, Math.floor(cursor / cols) * h + 1.5, w - 3, h - 3);
  }
}

// The patch canvas. `selected`: the patch numbers selected now; `removed`, `replaced`: the edit's.
// `onSelect(patches)` gets the selection after each click, drag or key; `onHover(patch)` the patch
// under the pointer or the keyboard's cursor (-1 when it leaves).
export function drawPatches(canvas, image, grid, selected, removed, replaced, onSelect, onHover) {
  grid = Array.from(grid);
  const [rows, cols] = grid;
  const marks = new Uint8Array(rows * cols);
  for (const p of removed) marks[p] |= 2;
  for (const p of replaced) marks[p] |= 4;
  for (const p of selected) marks[p] |= 1;
  const state = canvas.whatif ?? (canvas.whatif = { cursor: -1, painting: null });
  const redraw = () => paint(canvas, image, grid, marks, document.activeElement === canvas ? state.cursor : -1);
  const chosen = () => Array.from(marks.keys()).filter((i) => marks[i] & 1);
  const set = (patch, on) => { marks[patch] = on ? marks[patch] | 1 : marks[patch] & ~1; };
  redraw();
  const patchAt = (event) => cellAt(canvas, event, rows, cols);
  canvas.onpointerdown = (event) => {
    const p = patchAt(event);
    if (p < 0) return;
    state.painting = !(marks[p] & 1);  // a drag selects, or deselects when it starts on a selected patch
    set(p, state.painting);
    state.cursor = p;
    canvas.setPointerCapture?.(event.pointerId);
    redraw();
    onHover(p);
  };
  canvas.onpointermove = (event) => {
    const p = patchAt(event);
    onHover(p);
    if (state.painting !== null && p >= 0 && Boolean(marks[p] & 1) !== state.painting) {
      set(p, state.painting);
      state.cursor = p;  // the keyboard goes on from the last patch touched
      redraw();
    }
  };
  canvas.onpointerup = canvas.onpointercancel = () => {
    if (state.painting === null) return;
    state.painting = null;
    onSelect(chosen());
  };
  canvas.onpointerleave = (event) => { if (event.pointerType === "mouse" && state.painting === null) onHover(-1); };
  canvas.onfocus = () => { if (state.cursor < 0) state.cursor = 0; redraw(); onHover(state.cursor); };
  canvas.onblur = () => { redraw(); onHover(-1); };
  canvas.onkeydown = (event) => {
    const moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
    const at = Math.max(0, state.cursor);
    if (moves[event.key]) {
      const [dr, dc] = moves[event.key];
      const r = Math.min(rows - 1, Math.max(0, Math.floor(at / cols) + dr));
      const c = Math.min(cols - 1, Math.max(0, (at % cols) + dc));
      state.cursor = r * cols + c;
      if (event.shiftKey) set(state.cursor, true);
    } else if (event.key === " " || event.key === "Enter") {
      state.cursor = at;
      set(at, !(marks[at] & 1));
    } else {
      return;
    }
    event.preventDefault();
    redraw();
    onHover(state.cursor);
    if (event.key === " " || event.key === "Enter" || event.shiftKey) onSelect(chosen());
  };
}

// Blocks x heads as toggle buttons: pressed is knocked out. `onToggle(block, head)`, both from 1.
export function drawHeads(container, blocks, heads, knocked, onToggle) {
  const off = new Set(Array.from(knocked, (k) => `${k[0]}.${k[1]}`));
  const root = d3.select(container).style("--heads", heads);
  const rows = root.selectAll("div.head-row").data(d3.range(1, blocks + 1)).join((enter) => {
    const row = enter.append("div").attr("class", "head-row").attr("role", "group");
    row.append("span").attr("class", "head-block");
    return row;
  });
  rows.attr("aria-label", (b) => `block ${b}`).select(".head-block").text((b) => `block ${b}`);
  rows.selectAll("button").data((b) => d3.range(1, heads + 1).map((h) => ({ b, h }))).join("button")
    .attr("type", "button").attr("class", "head-toggle")
    .attr("data-head", (d) => `${d.b}.${d.h}`)
    .attr("aria-pressed", (d) => String(off.has(`${d.b}.${d.h}`)))
    .attr("aria-label", (d) => `block ${d.b} head ${d.h}${off.has(`${d.b}.${d.h}`) ? ", knocked out" : ""}`)
    .text((d) => d.h)
    .on("click", (event, d) => onToggle(d.b, d.h));
}

// Faithfulness curves: deletion and insertion side by side, one line per map order, each step a dot;
// the legend gives each curve's area (the mean probability under it). `curves`: [{curve, order, label,
// points: [{removed, probability}], area}], from Python (web/py/curves_view.py).
export function drawCurves(container, curves) {
  curves = Array.from(curves);
  const root = d3.select(container);
  root.selectAll("*").remove();
  if (!curves.length) return;
  const colour = d3.scaleOrdinal(d3.schemeTableau10);
  const width = 300, height = 200, margin = { top: 22, right: 18, bottom: 34, left: 40 };
  for (const kind of ["deletion", "insertion"]) {
    const mine = curves.filter((c) => c.curve === kind);
    const svg = root.append("svg").attr("class", "curve-chart").attr("data-curve", kind)
      .attr("viewBox", `0 0 ${width + margin.left + margin.right} ${height + margin.top + margin.bottom}`)
      .attr("role", "img")
      .attr("aria-label", `${kind} curves: ` + mine.map((c) => `${c.label}, area ${c.area.toFixed(3)}`).join("; "));
    const g = svg.append("g").attr("transform", `translate(${margin.left},${margin.top})`);
    const x = d3.scaleLinear([0, 1], [0, width]);
    const y = d3.scaleLinear([0, 1], [height, 0]);
    g.append("g").attr("transform", `translate(0,${height})`).call(d3.axisBottom(x).ticks(4, "%"));
    g.append("g").call(d3.axisLeft(y).ticks(4, "%"));
    svg.append("text").attr("class", "curve-title").attr("x", margin.left).attr("y", 14)
      .text(kind === "deletion" ? "Deletion: lower is more faithful" : "Insertion: higher is more faithful");
    svg.append("text").attr("class", "curve-axis").attr("x", margin.left + width / 2).attr("y", height + margin.top + 30)
      .attr("text-anchor", "middle").text(kind === "deletion" ? "patches removed, most important first"
        : "patches put back, most important first");
    // insertion's steps are listed by the patches still removed: drawn against those put back
    const along = (p) => x(kind === "deletion" ? p.removed : 1 - p.removed);
    const line = d3.line().x(along).y((p) => y(p.probability));
    for (const c of mine) {
      const path = g.append("g").attr("class", "curve").attr("data-order", c.order)
        .attr("data-points", JSON.stringify(c.points)).attr("data-area", c.area);
      path.append("path").attr("d", line(c.points)).attr("fill", "none").attr("stroke", colour(c.order))
        .attr("stroke-width", 2).attr("stroke-dasharray", c.order === "random" ? "4 3" : null);
      path.selectAll("circle").data(c.points).join("circle").attr("r", 2.2)
        .attr("cx", along).attr("cy", (p) => y(p.probability)).attr("fill", colour(c.order));
    }
  }
  const table = root.append("table").attr("class", "curve-table");
  table.append("caption").text("Area under each curve: the mean probability of the top class");
  const head = table.append("tr");
  for (const text of ["map order", "deletion area", "insertion area"]) head.append("th").text(text);
  const orders = [...new Set(curves.map((c) => c.order))];
  for (const order of orders) {
    const row = table.append("tr").attr("data-order", order);
    const first = curves.find((c) => c.order === order);
    row.append("td").append("span").attr("class", "swatch").style("background", colour(order));
    row.select("td").append("span").text(first.label);
    for (const kind of ["deletion", "insertion"]) {
      const c = curves.find((d) => d.order === order && d.curve === kind);
      row.append("td").attr("data-curve", kind).text(c ? c.area.toFixed(3) : "");
    }
  }
}
