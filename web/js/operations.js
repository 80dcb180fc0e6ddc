// Operation views (EL-VIT V-C): modals that animate one operation on the model's real tensors.
// A <dialog> with play / pause / step controls; every number drawn is handed over by Python.
const d3 = window.d3;

function dialogShell(title) {
  let dialog = document.getElementById("operation-dialog");
  if (dialog) dialog.remove();
  dialog = document.createElement("dialog");
  dialog.id = "operation-dialog";
  dialog.className = "operation";
  dialog.setAttribute("aria-labelledby", "operation-title");
  const head = dialog.appendChild(document.createElement("header"));
  const h = head.appendChild(document.createElement("h3"));
  h.id = "operation-title";
  h.textContent = title;
  const close = head.appendChild(document.createElement("button"));
  close.type = "button";
  close.className = "operation-close";
  close.setAttribute("aria-label", "Close");
  close.textContent = "×";
  close.addEventListener("click", () => dialog.close());
  document.body.appendChild(dialog);
  return dialog;
}

// Play / pause / step over `count` steps; `show(i)` draws step i.
function controls(dialog, count, show) {
  const bar = dialog.appendChild(document.createElement("div"));
  bar.className = "operation-controls";
  const make = (label, text) => {
    const b = bar.appendChild(document.createElement("button"));
    b.type = "button";
    b.textContent = text;
    b.setAttribute("aria-label", label);
    return b;
  };
  const back = make("Step back", "◀");
  const play = make("Play", "▶ Play");
  const next = make("Step forward", "▶|");
  const position = bar.appendChild(document.createElement("span"));
  position.className = "operation-position";
  let step = 0;
  let timer = null;
  const go = (i) => {
    step = Math.max(0, Math.min(count - 1, i));
    position.textContent = `step ${step + 1} of ${count}`;
    dialog.dataset.step = String(step);
    show(step);
  };
  const stop = () => {
    clearInterval(timer);
    timer = null;
    play.textContent = "▶ Play";
    play.setAttribute("aria-label", "Play");
  };
  play.addEventListener("click", () => {
    if (timer) return stop();
    play.textContent = "❚❚ Pause";
    play.setAttribute("aria-label", "Pause");
    timer = setInterval(() => (step >= count - 1 ? stop() : go(step + 1)), 30);
  });
  back.addEventListener("click", () => { stop(); go(step - 1); });
  next.addEventListener("click", () => { stop(); go(step + 1); });
  dialog.addEventListener("keydown", (event) => {
    if (event.key === "ArrowRight") { stop(); go(step + 1); event.preventDefault(); }
    if (event.key === "ArrowLeft") { stop(); go(step - 1); event.preventDefault(); }
  });
  dialog.addEventListener("close", () => { stop(); dialog.remove(); });
  go(0);
  return play;
}

// GELU: the function's graph, and the chosen token's real inputs and outputs moving along it.
export function openGelu(data) {
  const dialog = dialogShell(data.title);
  const note = dialog.appendChild(document.createElement("p"));
  note.className = "operation-note";
  note.textContent = data.note;
  const width = 620;
  const height = 340;
  const margin = { top: 14, right: 16, bottom: 34, left: 48 };
  const curve = Array.from(data.curve, (p) => Array.from(p));
  const points = Array.from(data.points, (p) => Array.from(p));
  const x = d3.scaleLinear().domain(d3.extent(curve, (p) => p[0])).range([margin.left, width - margin.right]);
  const y = d3.scaleLinear().domain(d3.extent(curve, (p) => p[1])).nice().range([height - margin.bottom, margin.top]);
  const svg = d3.select(dialog).append("svg").attr("class", "operation-plot")
    .attr("viewBox", `0 0 ${width} ${height}`).attr("width", width).attr("height", height);
  svg.append("g").attr("transform", `translate(0,${height - margin.bottom})`).call(d3.axisBottom(x));
  svg.append("g").attr("transform", `translate(${margin.left},0)`).call(d3.axisLeft(y));
  svg.append("text").attr("class", "axis-label").attr("x", width - margin.right).attr("y", height - 4)
    .attr("text-anchor", "end").text("input x (before GELU)");
  svg.append("text").attr("class", "axis-label").attr("x", margin.left + 4).attr("y", margin.top + 10).text("GELU(x)");
  svg.append("path").attr("class", "gelu-curve").attr("d", d3.line().x((p) => x(p[0])).y((p) => y(p[1]))(curve));
  const done = svg.append("g").attr("class", "gelu-points");
  const current = svg.append("circle").attr("class", "gelu-current").attr("r", 6);
  const readout = dialog.appendChild(document.createElement("p"));
  readout.className = "readout";
  readout.setAttribute("aria-live", "polite");
  const play = controls(dialog, points.length, (i) => {
    done.selectAll("circle").data(points.slice(0, i + 1)).join("circle").attr("r", 2.2)
      .attr("cx", (p) => x(Math.max(x.domain()[0], Math.min(x.domain()[1], p[0]))))
      .attr("cy", (p) => y(Math.max(y.domain()[0], Math.min(y.domain()[1], p[1]))));
    const [px, py] = points[i];
    current.attr("cx", x(Math.max(x.domain()[0], Math.min(x.domain()[1], px))))
      .attr("cy", y(Math.max(y.domain()[0], Math.min(y.domain()[1], py))));
    readout.textContent = `hidden unit ${i}: x = ${px.toPrecision(6)} → GELU(x) = ${py.toPrecision(6)}`;
    readout.dataset.unit = String(i);
    readout.dataset.x = String(px);
    readout.dataset.y = String(py);
  });
  dialog.showModal();
  play.focus();
  return dialog;
}

// Position embeddings: one patch's cosine similarity to every patch's position embedding, over
// the patch grid; stepping moves the chosen patch, so the row/column pattern shows itself.
export function openPositions(data, similarity) {
  const dialog = dialogShell(data.title);
  const note = dialog.appendChild(document.createElement("p"));
  note.className = "operation-note";
  note.textContent = data.note;
  const [rows, cols] = Array.from(data.grid);
  const cell = Math.floor(320 / Math.max(rows, cols));
  const canvas = dialog.appendChild(document.createElement("canvas"));
  canvas.className = "position-map";
  canvas.width = cols * cell;
  canvas.height = rows * cell;
  const context = canvas.getContext("2d");
  const scale = d3.scaleSequential(d3.interpolateViridis).domain([-1, 1]);
  const legend = dialog.appendChild(document.createElement("p"));
  legend.className = "caption";
  legend.textContent = "colour: cosine similarity from −1 (dark) to 1 (yellow); the chosen patch is outlined";
  const readout = dialog.appendChild(document.createElement("p"));
  readout.className = "readout";
  readout.setAttribute("aria-live", "polite");
  const show = (i) => {
    const values = Array.from(similarity(i));
    values.forEach((v, k) => {
      context.fillStyle = scale(v);
      context.fillRect((k % cols) * cell, Math.floor(k / cols) * cell, cell, cell);
    });
    context.strokeStyle = "#f4a100";
    context.lineWidth = 3;
    context.strokeRect((i % cols) * cell + 1.5, Math.floor(i / cols) * cell + 1.5, cell - 3, cell - 3);
    readout.textContent = `patch ${i} (row ${Math.floor(i / cols)}, column ${i % cols})`;
    readout.dataset.patch = String(i);
    canvas.onmousemove = (event) => {
      const box = canvas.getBoundingClientRect();
      const k = Math.floor((event.clientY - box.top) / box.height * rows) * cols
        + Math.floor((event.clientX - box.left) / box.width * cols);
      if (k >= 0 && k < values.length) {
        readout.textContent = `patch ${i} vs patch ${k} (row ${Math.floor(k / cols)}, column ${k % cols}): `
          + `cosine similarity ${values[k].toFixed(4)}`;
        readout.dataset.other = String(k);
        readout.dataset.value = String(values[k]);
      }
    };
  };
  const play = controls(dialog, rows * cols, show);
  dialog.showModal();
  play.focus();
  return dialog;
}
