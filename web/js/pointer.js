// Which cell of a grid drawn on a canvas is under the pointer, written once for Model detail's
// maps, the Interpretation map and the operation views. Measured inside the canvas's border, so a
// framed canvas reads the same as a bare one, whatever its CSS size.

// The pointer in the canvas's own pixels.
export function canvasPoint(canvas, event) {
  const box = canvas.getBoundingClientRect();
  return { x: (event.clientX - box.left - canvas.clientLeft) / canvas.clientWidth * canvas.width,
           y: (event.clientY - box.top - canvas.clientTop) / canvas.clientHeight * canvas.height };
}

// Calls handler(event) as a mouse moves over `node` and where a finger or pen touches it: every
// hover readout has a tap equivalent.
export function onPoint(node, handler) {
  node.addEventListener("pointermove", handler);
  node.addEventListener("pointerdown", handler);
}

// The index (row by row) of the cell under the pointer on a canvas split into rows x cols, or -1.
export function cellAt(canvas, event, rows, cols) {
  const { x, y } = canvasPoint(canvas, event);
  const c = Math.floor(x / canvas.width * cols);
  const r = Math.floor(y / canvas.height * rows);
  return r >= 0 && r < rows && c >= 0 && c < cols ? r * cols + c : -1;
}
