// The frame every operation view (EL-VIT V-C) is drawn in: its dialog, one open at a time, with the
// operation's title and note, and the pieces the views build with: rows of figures, canvases
// painted cell by cell, a readout, a select and the number format. The player is player.js.
import { el } from "../dom.js";
import { modal } from "../modal.js";
import { cellAt } from "../pointer.js";
import { operationFigure, saveControl } from "../save_image.js";

// A fresh operation dialog titled and annotated by Python's `data`; wide for several figures. Its
// header has "Save PNG": `name(step, fragment)` names the operation and its state for the file.
export function operationDialog(data, { wide = false, name }) {
  const open = document.getElementById("operation-dialog");
  if (open) {
    open.stopAnimation?.();
    open.remove();
  }
  const { dialog, title, close } = modal("operation", "h3", "operation-title");
  dialog.id = "operation-dialog";
  if (wide) dialog.classList.add("wide");
  title.textContent = data.title;
  close.before(saveControl(el("span"), operationFigure(dialog, name)));
  document.body.appendChild(dialog);
  paragraph(dialog, "operation-note", data.note);
  return dialog;
}

// Shows the dialog with the player's Play button focused.
export function present(dialog, player) {
  dialog.showModal();
  player.play.focus();
  return dialog;
}

export function paragraph(parent, className, text) {
  return parent.appendChild(el("p", className, text));
}

// The line that reads out values. Not a live region: it changes with every pointer move and every
// frame of Play; a screen reader reads it where it is.
export function addReadout(parent) {
  return paragraph(parent, "readout");
}

export function row(parent) {
  return parent.appendChild(el("div", "operation-row"));
}

export function column(parent) {
  return parent.appendChild(el("div", "operation-column"));
}

export function selectIn(parent, label, options, value, onChange) {
  const wrap = parent.appendChild(el("label", null, `${label} `));
  const select = wrap.appendChild(el("select"));
  for (const [v, text] of options) {
    const option = select.appendChild(el("option", null, text));
    option.value = String(v);
  }
  select.value = String(value);
  select.addEventListener("change", () => onChange(select.value));
  return select;
}

// A canvas of rows x cols cells, each `cell` px; paint, outline and cellUnder read its grid back.
export function grid(canvas, rows, cols, cell) {
  canvas.width = cols * cell;
  canvas.height = rows * cell;
  canvas.dataset.rows = rows;
  canvas.dataset.cols = cols;
  return canvas;
}

// A grid canvas in a figure, with a caption above it.
export function gridCanvas(parent, caption, rows, cols, cell, className) {
  const figure = parent.appendChild(el("figure", `operation-figure ${className || ""}`));
  figure.appendChild(el("figcaption", null, caption));
  return grid(figure.appendChild(el("canvas")), rows, cols, cell);
}

function cellSize(canvas) {
  const rows = Number(canvas.dataset.rows);
  const cols = Number(canvas.dataset.cols);
  return { rows, cols, w: canvas.width / cols, h: canvas.height / rows };
}

// The first `count` cells (all by default) filled with colour(value).
export function paint(canvas, values, colour, count) {
  const { cols, w, h } = cellSize(canvas);
  const context = canvas.getContext("2d");
  context.clearRect(0, 0, canvas.width, canvas.height);
  const n = count === undefined ? values.length : count;
  for (let k = 0; k < n; k++) {
    context.fillStyle = colour(values[k]);
    context.fillRect((k % cols) * w, Math.floor(k / cols) * h, Math.ceil(w), Math.ceil(h));
  }
}

// Cell k framed, `width` px wide, inside its own bounds.
export function outline(canvas, k, width = 2) {
  const { cols, w, h } = cellSize(canvas);
  const context = canvas.getContext("2d");
  context.strokeStyle = "#f4a100";
  context.lineWidth = width;
  const inset = width / 2;
  context.strokeRect((k % cols) * w + inset, Math.floor(k / cols) * h + inset, w - width, h - width);
}

// The cell under the pointer on a grid canvas, or -1.
export function cellUnder(canvas, event) {
  const { rows, cols } = cellSize(canvas);
  return cellAt(canvas, event, rows, cols);
}

export function fmt(v) {
  return Number(v).toPrecision(5);
}
