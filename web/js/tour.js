// The guided tour's visuals: the pieces a step is built from (figures, the patch grid, a vector as a
// strip, bars, chips, action buttons). Maps over the image are drawn by interpret.js, as in the
// Interpretation view; Python (web/py/tour_view.py) decides what each step shows and words it.
import { CLASS_COLOURS, VIRIDIS } from "./colours.js";
import { el, themeColour } from "./dom.js";

const d3 = window.d3;

// Empties the step's visual.
export function clear(container) {
  container.replaceChildren();
}

// A box for other drawing code (interpret.js, draw.js): a <tag> with a class and an optional id.
export function box(container, tag, className, id) {
  const node = container.appendChild(el(tag, className));
  if (id) node.id = id;
  return node;
}

// A captioned canvas of width x height pixels; its CSS size follows the layout (max-width: 100%).
export function figure(container, caption, width, height) {
  const f = container.appendChild(el("figure", "tour-figure"));
  const canvas = f.appendChild(el("canvas"));
  canvas.width = width;
  canvas.height = height;
  canvas.setAttribute("aria-label", caption);
  f.appendChild(el("figcaption", null, caption));
  return canvas;
}

// An image source drawn whole into the canvas, centred, keeping its proportions.
export function drawImage(canvas, source) {
  const context = canvas.getContext("2d");
  const scale = Math.min(canvas.width / source.width, canvas.height / source.height);
  const w = source.width * scale;
  const h = source.height * scale;
  context.fillStyle = themeColour("well");
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.imageSmoothingQuality = "high";
  context.drawImage(source, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
}

// The patch grid over a canvas that shows the model's input; `selected` framed.
export function gridOver(canvas, grid, selected) {
  const [rows, cols] = Array.from(grid);
  const context = canvas.getContext("2d");
  const w = canvas.width / cols;
  const h = canvas.height / rows;
  context.strokeStyle = "rgba(255, 255, 255, 0.55)";
  context.lineWidth = 1;
  context.beginPath();
  for (let c = 1; c < cols; c++) { context.moveTo(c * w, 0); context.lineTo(c * w, canvas.height); }
  for (let r = 1; r < rows; r++) { context.moveTo(0, r * h); context.lineTo(canvas.width, r * h); }
  context.stroke();
  if (selected >= 0) {
    context.strokeStyle = "#ff3b30";
    context.lineWidth = Math.max(2, w / 6);
    context.strokeRect((selected % cols) * w, Math.floor(selected / cols) * h, w, h);
  }
}

// One patch of the model's input, enlarged without smoothing: the pixels the kernels see.
export function patchZoom(canvas, source, patch, grid, index) {
  const cols = Array.from(grid)[1];
  const context = canvas.getContext("2d");
  context.imageSmoothingEnabled = false;
  context.drawImage(source, (index % cols) * patch, Math.floor(index / cols) * patch, patch, patch,
                    0, 0, canvas.width, canvas.height);
}

// A vector as one row of viridis cells, from Python's 0..255 levels.
export function strip(canvas, levels) {
  levels = Array.from(levels);
  const context = canvas.getContext("2d");
  const w = canvas.width / levels.length;
  levels.forEach((level, i) => {
    context.fillStyle = VIRIDIS[level].formatHex();
    context.fillRect(i * w, 0, Math.ceil(w), canvas.height);
  });
}

// Vertical bars with their values written above: one per label.
export function bars(container, caption, labels, values) {
  labels = Array.from(labels);
  values = Array.from(values);
  const f = container.appendChild(el("figure", "tour-figure tour-bars"));
  const width = 28 * labels.length + 16;
  const height = 160;
  const y = d3.scaleLinear().domain([0, d3.max(values) || 1]).range([height - 22, 16]);
  const svg = d3.select(f).append("svg").attr("viewBox", `0 0 ${width} ${height}`).attr("role", "img")
    .attr("aria-label", caption);
  const bar = svg.selectAll("g").data(values).join("g").attr("transform", (_, i) => `translate(${8 + 28 * i},0)`);
  bar.append("rect").attr("x", 3).attr("width", 22).attr("y", (v) => y(v)).attr("height", (v) => y(0) - y(v))
    .attr("fill", VIRIDIS[170].formatHex());
  bar.append("text").attr("x", 14).attr("y", (v) => y(v) - 3).attr("text-anchor", "middle").attr("class", "tour-value")
    .text((v) => v.toFixed(0));
  bar.append("text").attr("x", 14).attr("y", height - 6).attr("text-anchor", "middle").text((_, i) => labels[i]);
  f.appendChild(el("figcaption", null, caption));
}

// A captioned row of chips, each {label, text, colour (a class index, or -1), current}; `arrows` joins them.
export function chips(container, caption, items, arrows) {
  const f = container.appendChild(el("figure", "tour-figure tour-chips-figure"));
  const row = f.appendChild(el("div", arrows ? "tour-chips tour-chain" : "tour-chips"));
  f.appendChild(el("figcaption", null, caption));
  row.setAttribute("role", "list");
  Array.from(items).forEach((item, i) => {
    if (arrows && i) row.appendChild(el("span", "flow-arrow", "→")).setAttribute("aria-hidden", "true");
    const chip = row.appendChild(el("span", "tour-chip"));
    chip.setAttribute("role", "listitem");
    if (item.colour >= 0) chip.style.borderColor = CLASS_COLOURS[item.colour % CLASS_COLOURS.length];
    if (item.current) chip.setAttribute("aria-current", "true");
    chip.appendChild(el("span", "flow-label", item.label));
    chip.appendChild(el("span", "flow-sub", item.text));
  });
  return row;
}

// Buttons, each {label, action, text?, image?}: clicking one calls onAction(action).
export function actions(container, items, onAction) {
  const row = container.appendChild(el("div", "tour-actions"));
  Array.from(items).forEach((item) => {
    const button = row.appendChild(el("button", item.image ? "thumb" : "tour-action"));
    button.type = "button";
    button.dataset.action = item.action;
    if (item.image) {
      const img = button.appendChild(el("img"));
      img.src = item.image;
      img.alt = item.label;
      img.width = img.height = 56;
      button.title = item.label;
    } else {
      button.appendChild(el("strong", null, item.label));
      if (item.text) button.appendChild(el("span", null, item.text));
    }
    button.addEventListener("click", () => onAction(item.action));
  });
  return row;
}
