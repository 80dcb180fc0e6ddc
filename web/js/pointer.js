// Which cell of a grid drawn on a canvas is under the pointer, written once for Model detail's
// maps, the Interpretation map and the operation views. Measured inside the canvas's border, so a
// framed canvas reads the same as a bare one, whatever its CSS size. And the keyboard's way to the
// same cells (cellKeys).

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

// The keyboard's hover and click on a grid drawn on a canvas: the canvas takes focus, the arrow keys
// move a cursor (`move(cell)`, as a hover; focus by the keyboard puts it on `start` or the first
// cell, leaving removes it: move(-1)), and Enter or Space picks the cell under it (`pick(cell)`, as a click). The
// cursor is the canvas's data-cursor, so it stays where it was when the canvas is drawn again.
export function cellKeys(canvas, rows, cols, start, move, pick) {
  canvas.tabIndex = 0;
  const steps = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
  const place = (cell) => {
    if (cell < 0) delete canvas.dataset.cursor;
    else canvas.dataset.cursor = String(cell);
    move(cell);
  };
  // Focus by the keyboard only shows the cursor: a click or a tap focuses the canvas too, and its
  // pointer handlers say where.
  canvas.onfocus = () => { if (canvas.matches(":focus-visible")) place(start >= 0 ? start : 0); };
  canvas.onblur = () => { if (cursorOf(canvas) >= 0) place(-1); };
  canvas.onkeydown = (event) => {
    const cursor = cursorOf(canvas);
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (steps[event.key]) {
      const [dr, dc] = steps[event.key];
      const at = Math.max(0, cursor);
      const r = Math.min(rows - 1, Math.max(0, Math.floor(at / cols) + dr));
      const c = Math.min(cols - 1, Math.max(0, (at % cols) + dc));
      place(r * cols + c);
    } else if ((event.key === "Enter" || event.key === " ") && cursor >= 0) {
      pick(cursor);
    } else {
      return;
    }
    event.preventDefault();
  };
}

// The keyboard cursor's cell on a canvas (see cellKeys), or -1.
export function cursorOf(canvas) {
  return canvas.dataset.cursor === undefined ? -1 : Number(canvas.dataset.cursor);
}
