// Attention, one head (EL-VIT V-C), row by row: query token i against every key, q·k/√d, then the
// softmax; the scores heatmap fills up, and the row's probabilities are drawn as a map over the
// patch grid. `rowOf(i)` returns the arithmetic redone in Python; the full matrices are the
// model's own tensors. `reopen(head)` opens the view again for another head.
import { sequential } from "../colours.js";
import { addReadout, cellUnder, column, fmt, gridCanvas, operationDialog, outline, paint, paragraph,
         present, row, selectIn } from "./frame.js";
import { onPoint } from "../pointer.js";
import { player } from "./player.js";

const d3 = window.d3;
const NOT_YET = 235;  // the grey of rows not computed yet

export function openAttention(data, rowOf, reopen) {
  const dialog = operationDialog(data, { wide: true, name: (step, s) => [
    "attention", `block${s.get("layer")}`, `head${data.head + 1}`, `token${step}`] });
  selectIn(row(dialog), "head", Array.from({ length: data.heads }, (_, h) => [h, `head ${h + 1}`]), data.head,
           (h) => reopen(Number(h)));
  const { tokens, special, scores, probs } = data;
  const [rows, cols] = Array.from(data.grid);
  const figures = row(dialog);
  const heat = gridCanvas(figures, "scores Q·Kᵀ/√d (row = query, column = key)", tokens, tokens, 1, "heat");
  const right = column(figures);
  const strip = gridCanvas(right, "this query's scores", 1, tokens, 1, "strip");
  const soft = gridCanvas(right, "after softmax", 1, tokens, 1, "strip");
  const map = gridCanvas(right, "its attention weights over the patches", rows, cols, Math.floor(192 / cols), "wide");
  const cls = paragraph(right, "caption");
  const formula = paragraph(dialog, "operation-formula");
  const readout = addReadout(dialog);
  readout.textContent = "Hover the heatmap or the patch map to read the model's scores and weights.";
  const fillHeat = heatmap(heat, scores, tokens);
  const show = (i) => {
    fillHeat(i);
    const step = rowOf(i);
    paint(strip, step.scores, sequential(step.scores));
    paint(soft, step.probs, sequential(step.probs));
    const patchProbs = step.probs.slice(special);
    paint(map, patchProbs, sequential(patchProbs));
    if (i >= special) outline(map, i - special);
    cls.textContent = special ? `to ${data.specialNames.join(", ")}: ${step.probs.slice(0, special).map(fmt).join(", ")}` : "";
    const best = d3.maxIndex(step.probs);
    formula.textContent = `query ${data.labels[i]}: scores from ${fmt(d3.min(step.scores))} to ${fmt(d3.max(step.scores))}; `
      + `softmax puts ${(100 * step.probs[best]).toFixed(1)}% on ${data.labels[best]}`;
    readout.dataset.token = String(i);
    readout.dataset.scores = JSON.stringify(step.scores.slice(0, 8));
    readout.dataset.probs = JSON.stringify(step.probs.slice(0, 8));
  };
  const steps = player(dialog, tokens, show, "query token");
  if (data.start) steps.go(data.start);
  onPoint(heat, (event) => {
    const k = cellUnder(heat, event);
    if (k < 0) return;
    const q = Math.floor(k / tokens);
    const j = k % tokens;
    readout.textContent = `query ${data.labels[q]} · key ${data.labels[j]}: score ${fmt(scores[k])}, probability ${fmt(probs[k])}`;
    readout.dataset.query = String(q);
    readout.dataset.key = String(j);
    readout.dataset.score = String(scores[k]);
  });
  onPoint(map, (event) => {
    const k = cellUnder(map, event);
    if (k < 0) return;
    const q = Number(dialog.dataset.step);
    readout.textContent = `query ${data.labels[q]} attends to ${data.labels[k + special]} with weight ${fmt(probs[q * tokens + k + special])}`;
  });
  return present(dialog, steps);
}

// The tokens x tokens scores, one pixel each, filled down to the current query's row (marked);
// rows below it stay grey. Returns `fill(i)`, which paints only the rows that changed.
function heatmap(canvas, scores, tokens) {
  const context = canvas.getContext("2d");
  const image = context.createImageData(tokens, tokens);
  const colour = sequential(scores);
  image.data.fill(NOT_YET);
  let painted = -1;
  return (i) => {
    for (let r = painted + 1; r <= i; r++) {
      for (let k = 0; k < tokens; k++) {
        const c = d3.rgb(colour(scores[r * tokens + k]));
        const o = 4 * (r * tokens + k);
        image.data[o] = c.r; image.data[o + 1] = c.g; image.data[o + 2] = c.b; image.data[o + 3] = 255;
      }
    }
    if (i < painted) {
      for (let k = (i + 1) * tokens; k < tokens * tokens; k++) {
        image.data[4 * k] = image.data[4 * k + 1] = image.data[4 * k + 2] = NOT_YET;
      }
    }
    painted = i;
    context.putImageData(image, 0, 0);
    context.fillStyle = "rgba(244, 161, 0, 0.9)";
    context.fillRect(0, i, tokens, 1);
  };
}
