// Position embeddings (EL-VIT V-C): one patch's cosine similarity to every patch's position
// embedding, over the patch grid; stepping moves the chosen patch, so the row/column pattern shows
// itself. `similarity(i)` returns patch i's row, computed by Python from the model's embeddings.
import { viridisScale } from "../colours.js";
import { el } from "../dom.js";
import { addReadout, cellUnder, grid, operationDialog, outline, paint, paragraph, present } from "./frame.js";
import { player } from "./player.js";

export function openPositions(data, similarity) {
  const dialog = operationDialog(data, { name: (step) => ["position-embeddings", `patch${step}`] });
  const [rows, cols] = Array.from(data.grid);
  const cell = Math.floor(320 / Math.max(rows, cols));
  const canvas = grid(dialog.appendChild(el("canvas", "position-map")), rows, cols, cell);
  const scale = viridisScale(-1, 1);
  paragraph(dialog, "caption",
            "colour: cosine similarity from −1 (dark) to 1 (yellow); the chosen patch is outlined");
  const readout = addReadout(dialog);
  const place = (k) => `patch ${k} (row ${Math.floor(k / cols)}, column ${k % cols})`;
  const show = (i) => {
    const values = Array.from(similarity(i));
    paint(canvas, values, scale);
    outline(canvas, i, 3);
    readout.textContent = place(i);
    readout.dataset.patch = String(i);
    canvas.onpointermove = canvas.onpointerdown = (event) => {
      const k = cellUnder(canvas, event);
      if (k < 0) return;
      readout.textContent = `patch ${i} vs ${place(k)}: cosine similarity ${values[k].toFixed(4)}`;
      readout.dataset.other = String(k);
      readout.dataset.value = String(values[k]);
    };
  };
  const steps = player(dialog, rows * cols, show);
  if (data.start) steps.go(data.start);
  return present(dialog, steps);
}
