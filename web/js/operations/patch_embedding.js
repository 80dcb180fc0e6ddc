// Patch embedding (EL-VIT V-C): the kernel of one hidden unit slides over the image patch by
// patch; each position gives one value of the output map: sum(kernel * pixels) + bias, shown next
// to the model's own patch-convolution output. `recompute(unit)` asks Python for another unit's
// kernel, bias and arithmetic.
import { diverging, sequential } from "../colours.js";
import { el } from "../dom.js";
import { addReadout, cellUnder, column, fmt, gridCanvas, operationDialog, outline, paint, paragraph,
         present, row } from "./frame.js";
import { onPoint } from "../pointer.js";
import { player } from "./player.js";

export function openPatchEmbedding(data, recompute) {
  const dialog = operationDialog(data, { wide: true, name: (step) => [
    "patch-embedding", `unit${dialog.dataset.unit}`, `patch${step}`] });
  const [height, width] = Array.from(data.size);
  const [rows, cols] = Array.from(data.grid);
  const p = data.patch;
  const unitField = unitInput(row(dialog), data);
  const figures = row(dialog);
  const imageCanvas = gridCanvas(figures, "the model's input, one patch framed", rows, cols, Math.floor(224 / cols), "wide");
  const source = new OffscreenCanvas(width, height);
  source.getContext("2d").putImageData(new ImageData(new Uint8ClampedArray(data.rgba), width, height), 0, 0);
  const middle = column(figures);
  const zoomCanvas = gridCanvas(middle, "that patch's pixels", p, p, Math.max(4, Math.floor(112 / p)));
  const kernelRow = middle.appendChild(el("div", "operation-kernels"));
  const kernelCanvases = ["R", "G", "B"].map((c) => gridCanvas(kernelRow, `kernel ${c}`, p, p, Math.max(3, Math.floor(60 / p))));
  const outCanvas = gridCanvas(figures, "this unit's output map, patch by patch", rows, cols, Math.floor(224 / cols), "wide");
  const formula = paragraph(dialog, "operation-formula");
  const readout = addReadout(dialog);
  readout.textContent = "Hover a kernel or the output map to read its values.";
  let unit = data;
  let colour = sequential(unit.outputs);
  let kernelColour = diverging(unit.kernel);
  const drawKernel = () => {
    const k = Array.from(unit.kernel);
    kernelCanvases.forEach((canvas, c) => paint(canvas, k.slice(c * p * p, (c + 1) * p * p), kernelColour));
  };
  const show = (i) => {
    const context = imageCanvas.getContext("2d");
    context.imageSmoothingEnabled = true;
    context.drawImage(source, 0, 0, imageCanvas.width, imageCanvas.height);
    outline(imageCanvas, i);
    const r = Math.floor(i / cols);
    const c = i % cols;
    const zoom = zoomCanvas.getContext("2d");
    zoom.imageSmoothingEnabled = false;
    zoom.drawImage(source, c * p, r * p, p, p, 0, 0, zoomCanvas.width, zoomCanvas.height);
    paint(outCanvas, Array.from(unit.outputs), colour, i + 1);
    outline(outCanvas, i);
    formula.textContent = `patch ${i} (row ${r}, column ${c}):  Σ kernel ⊙ pixels = ${fmt(unit.sums[i])}   `
      + `+ bias ${fmt(unit.bias)}   = ${fmt(unit.outputs[i])}   (the model's ${data.tensor}: ${fmt(unit.model[i])})`;
    readout.dataset.patch = String(i);
    readout.dataset.value = String(unit.outputs[i]);
    readout.dataset.model = String(unit.model[i]);
  };
  const steps = player(dialog, rows * cols, show, "patch");
  drawKernel();
  unitField.addEventListener("change", () => {
    const u = Number(unitField.value);
    if (!Number.isInteger(u) || u < 0 || u >= data.units) {
      readout.textContent = `Type a hidden unit from 0 to ${data.units - 1}; keeping unit ${unit.unit}.`;
      unitField.value = String(unit.unit);
      return;
    }
    unit = recompute(u);
    colour = sequential(unit.outputs);
    kernelColour = diverging(unit.kernel);
    dialog.dataset.unit = String(u);
    drawKernel();
    steps.go(Number(dialog.dataset.step));
  });
  dialog.dataset.unit = String(data.unit);
  onPoint(kernelRow, (event) => {
    const canvas = event.target.closest("canvas");
    if (!canvas) return;
    const c = kernelCanvases.indexOf(canvas);
    const k = cellUnder(canvas, event);
    if (c < 0 || k < 0) return;
    const w = unit.kernel[c * p * p + k];
    readout.textContent = `kernel weight, ${"RGB"[c]} channel, row ${Math.floor(k / p)}, column ${k % p}: ${fmt(w)}`;
  });
  onPoint(outCanvas, (event) => {
    const k = cellUnder(outCanvas, event);
    if (k < 0 || k > Number(dialog.dataset.step)) return;
    readout.textContent = `output at patch ${k}: ${fmt(unit.outputs[k])} (model ${fmt(unit.model[k])})`;
  });
  if (data.start) steps.go(data.start);
  return present(dialog, steps);
}

// The field choosing the hidden unit (one output channel of the patch convolution).
function unitInput(parent, data) {
  const label = parent.appendChild(el("label", null, `hidden unit (0–${data.units - 1}) `));
  const field = label.appendChild(el("input"));
  Object.assign(field, { type: "number", min: 0, max: data.units - 1, step: 1, value: data.unit, className: "operation-unit" });
  return field;
}
