// Operation views (EL-VIT V-C): modals that animate one operation on the model's real tensors.
// A <dialog> with play / pause / step controls; every number drawn is handed over by Python.
const d3 = window.d3;

function dialogShell(title) {
  let dialog = document.getElementById("operation-dialog");
  if (dialog) {
    if (dialog.stopAnimation) dialog.stopAnimation();
    dialog.remove();
  }
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

// Play / pause / step over `count` steps; `show(i)` draws step i. With `jump`, a number field
// labelled so lets the user type the step (a patch, a token, a feature) to go to.
function controls(dialog, count, show, jump) {
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
  let field = null;
  if (jump) {
    const label = bar.appendChild(document.createElement("label"));
    label.textContent = `${jump} `;
    field = label.appendChild(document.createElement("input"));
    Object.assign(field, { type: "number", min: 0, max: count - 1, step: 1, className: "operation-jump" });
    field.addEventListener("change", () => {
      const i = Number(field.value);
      if (field.value === "" || !Number.isInteger(i) || i < 0 || i >= count) {
        position.textContent = `type a whole number from 0 to ${count - 1}; staying at ${step}`;
        field.value = String(step);
        return;
      }
      stop();
      go(i);
    });
  }
  let step = 0;
  let timer = null;
  const go = (i) => {
    step = Math.max(0, Math.min(count - 1, i));
    position.textContent = `step ${step + 1} of ${count}`;
    dialog.dataset.step = String(step);
    if (field) field.value = String(step);
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
    if (event.target.tagName === "INPUT" || event.target.tagName === "SELECT") return;
    if (event.key === "ArrowRight") { stop(); go(step + 1); event.preventDefault(); }
    if (event.key === "ArrowLeft") { stop(); go(step - 1); event.preventDefault(); }
  });
  dialog.addEventListener("close", () => { stop(); dialog.remove(); });
  dialog.stopAnimation = stop;
  go(0);
  return { play, go, stop };
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
  const { play } = controls(dialog, points.length, (i) => {
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
  const { play, go } = controls(dialog, rows * cols, show);
  if (data.start) go(data.start);
  dialog.showModal();
  play.focus();
  return dialog;
}

// ---- shared drawing helpers -----------------------------------------------------------------

function paragraph(dialog, className, text) {
  const p = dialog.appendChild(document.createElement("p"));
  p.className = className;
  if (text) p.textContent = text;
  return p;
}

function readoutOf(dialog) {
  const readout = paragraph(dialog, "readout");
  readout.setAttribute("aria-live", "polite");
  return readout;
}

// A canvas of rows x cols cells, each `cell` px, with a caption above it.
function gridCanvas(parent, caption, rows, cols, cell, className) {
  const figure = parent.appendChild(document.createElement("figure"));
  figure.className = `operation-figure ${className || ""}`;
  const title = figure.appendChild(document.createElement("figcaption"));
  title.textContent = caption;
  const canvas = figure.appendChild(document.createElement("canvas"));
  canvas.width = cols * cell;
  canvas.height = rows * cell;
  canvas.dataset.rows = rows;
  canvas.dataset.cols = cols;
  return canvas;
}

function paint(canvas, values, colour, count) {
  const rows = Number(canvas.dataset.rows);
  const cols = Number(canvas.dataset.cols);
  const context = canvas.getContext("2d");
  const w = canvas.width / cols;
  const h = canvas.height / rows;
  context.clearRect(0, 0, canvas.width, canvas.height);
  const n = count === undefined ? values.length : count;
  for (let k = 0; k < n; k++) {
    context.fillStyle = colour(values[k]);
    context.fillRect((k % cols) * w, Math.floor(k / cols) * h, Math.ceil(w), Math.ceil(h));
  }
}

function outline(canvas, k, colour) {
  const cols = Number(canvas.dataset.cols);
  const rows = Number(canvas.dataset.rows);
  const w = canvas.width / cols;
  const h = canvas.height / rows;
  const context = canvas.getContext("2d");
  context.strokeStyle = colour || "#f4a100";
  context.lineWidth = 2;
  context.strokeRect((k % cols) * w + 1, Math.floor(k / cols) * h + 1, w - 2, h - 2);
}

// The cell (index) under the mouse on a gridCanvas.
function cellAt(canvas, event) {
  const box = canvas.getBoundingClientRect();
  const cols = Number(canvas.dataset.cols);
  const rows = Number(canvas.dataset.rows);
  const x = event.clientX - box.left - canvas.clientLeft;  // inside the border
  const y = event.clientY - box.top - canvas.clientTop;
  const c = Math.floor(x / canvas.clientWidth * cols);
  const r = Math.floor(y / canvas.clientHeight * rows);
  return r >= 0 && r < rows && c >= 0 && c < cols ? r * cols + c : -1;
}

function sequential(values) {
  const [low, high] = d3.extent(values);
  return d3.scaleSequential(d3.interpolateViridis).domain([low, high > low ? high : low + 1]);
}

function diverging(values) {
  const m = d3.max(values, (v) => Math.abs(v)) || 1;
  return d3.scaleDiverging(d3.interpolateRdBu).domain([m, 0, -m]);
}

function fmt(v) {
  return Number(v).toPrecision(5);
}

function row(dialog) {
  const div = dialog.appendChild(document.createElement("div"));
  div.className = "operation-row";
  return div;
}

function selectIn(parent, label, options, value, onChange) {
  const wrap = parent.appendChild(document.createElement("label"));
  wrap.textContent = `${label} `;
  const select = wrap.appendChild(document.createElement("select"));
  for (const [v, text] of options) {
    const option = select.appendChild(document.createElement("option"));
    option.value = String(v);
    option.textContent = text;
  }
  select.value = String(value);
  select.addEventListener("change", () => onChange(select.value));
  return select;
}

// ---- 1. Patch embedding ---------------------------------------------------------------------

// The kernel of one hidden unit slides over the image patch by patch; each position gives one
// value of the output map: sum(kernel * pixels) + bias. `recompute(unit)` asks Python for another
// unit's kernel, bias and arithmetic.
export function openPatchEmbedding(data, recompute) {
  const dialog = dialogShell(data.title);
  dialog.classList.add("wide");
  paragraph(dialog, "operation-note", data.note);
  const [height, width] = Array.from(data.size);
  const [rows, cols] = Array.from(data.grid);
  const p = data.patch;
  const top = row(dialog);
  const unitField = document.createElement("input");
  Object.assign(unitField, { type: "number", min: 0, max: data.units - 1, step: 1, value: data.unit, className: "operation-unit" });
  const unitLabel = top.appendChild(document.createElement("label"));
  unitLabel.textContent = `hidden unit (0–${data.units - 1}) `;
  unitLabel.appendChild(unitField);
  const figures = row(dialog);
  const imageCanvas = gridCanvas(figures, "the model's input, one patch framed", rows, cols, Math.floor(224 / cols), "wide");
  const source = new OffscreenCanvas(width, height);
  source.getContext("2d").putImageData(new ImageData(new Uint8ClampedArray(data.rgba), width, height), 0, 0);
  const middle = figures.appendChild(document.createElement("div"));
  middle.className = "operation-column";
  const zoomCanvas = gridCanvas(middle, "that patch's pixels", p, p, Math.max(4, Math.floor(112 / p)));
  const kernelRow = middle.appendChild(document.createElement("div"));
  kernelRow.className = "operation-kernels";
  const kernelCanvases = ["R", "G", "B"].map((c) => gridCanvas(kernelRow, `kernel ${c}`, p, p, Math.max(3, Math.floor(60 / p))));
  const outCanvas = gridCanvas(figures, "this unit's output map, patch by patch", rows, cols, Math.floor(224 / cols), "wide");
  const formula = paragraph(dialog, "operation-formula");
  const readout = readoutOf(dialog);
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
      + `+ bias ${fmt(unit.bias)}   = ${fmt(unit.outputs[i])}   (the model's embeddings.patch_conv: ${fmt(unit.model[i])})`;
    readout.dataset.patch = String(i);
    readout.dataset.value = String(unit.outputs[i]);
    readout.dataset.model = String(unit.model[i]);
  };
  const { play, go } = controls(dialog, rows * cols, show, "patch");
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
    go(Number(dialog.dataset.step));
  });
  dialog.dataset.unit = String(data.unit);
  kernelRow.addEventListener("mousemove", (event) => {
    const canvas = event.target.closest("canvas");
    if (!canvas) return;
    const c = kernelCanvases.indexOf(canvas);
    const k = cellAt(canvas, event);
    if (c < 0 || k < 0) return;
    const w = unit.kernel[c * p * p + k];
    readout.textContent = `kernel weight, ${"RGB"[c]} channel, row ${Math.floor(k / p)}, column ${k % p}: ${fmt(w)}`;
  });
  outCanvas.addEventListener("mousemove", (event) => {
    const k = cellAt(outCanvas, event);
    if (k < 0 || k > Number(dialog.dataset.step)) return;
    readout.textContent = `output at patch ${k}: ${fmt(unit.outputs[k])} (model ${fmt(unit.model[k])})`;
  });
  dialog.showModal();
  play.focus();
  return dialog;
}

// ---- 4. Attention, one head ------------------------------------------------------------------

// Row by row: query token i against every key, q·k/√d, then the softmax; the scores heatmap fills
// up, and the row's probabilities are drawn as a map over the patch grid. `rowOf(i)` returns the
// arithmetic redone in Python; the full matrices are the model's own tensors.
export function openAttention(data, rowOf, reopen) {
  const dialog = dialogShell(data.title);
  dialog.classList.add("wide");
  paragraph(dialog, "operation-note", data.note);
  const top = row(dialog);
  selectIn(top, "head", Array.from({ length: data.heads }, (_, h) => [h, `head ${h + 1}`]), data.head, (h) => reopen(Number(h)));
  const tokens = data.tokens;
  const [rows, cols] = Array.from(data.grid);
  const special = data.special;
  const scores = data.scores;
  const probs = data.probs;
  const figures = row(dialog);
  const heat = gridCanvas(figures, "scores Q·Kᵀ/√d (row = query, column = key)", tokens, tokens, 1, "heat");
  const scoreColour = sequential(scores);
  const right = figures.appendChild(document.createElement("div"));
  right.className = "operation-column";
  const strip = gridCanvas(right, "this query's scores", 1, tokens, 1, "strip");
  const soft = gridCanvas(right, "after softmax", 1, tokens, 1, "strip");
  const map = gridCanvas(right, "its attention weights over the patches", rows, cols, Math.floor(192 / cols), "wide");
  const cls = paragraph(right, "caption");
  const formula = paragraph(dialog, "operation-formula");
  const readout = readoutOf(dialog);
  readout.textContent = "Hover the heatmap or the patch map to read the model's scores and weights.";
  const context = heat.getContext("2d");
  const image = context.createImageData(tokens, tokens);
  const rgb = (v) => d3.rgb(scoreColour(v));
  image.data.fill(235);  // rows not computed yet: light grey
  let painted = -1;
  const show = (i) => {
    for (let r = painted + 1; r <= i; r++) {
      for (let k = 0; k < tokens; k++) {
        const c = rgb(scores[r * tokens + k]);
        const o = 4 * (r * tokens + k);
        image.data[o] = c.r; image.data[o + 1] = c.g; image.data[o + 2] = c.b; image.data[o + 3] = 255;
      }
    }
    if (i < painted) {
      for (let k = (i + 1) * tokens; k < tokens * tokens; k++) {
        image.data[4 * k] = image.data[4 * k + 1] = image.data[4 * k + 2] = 235;
      }
    }
    painted = i;
    context.putImageData(image, 0, 0);
    context.fillStyle = "rgba(244, 161, 0, 0.9)";
    context.fillRect(0, i, tokens, 1);
    const step = rowOf(i);
    const rowColour = sequential(step.scores);
    paint(strip, step.scores, rowColour);
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
  const { play, go } = controls(dialog, tokens, show, "query token");
  if (data.start) go(data.start);
  heat.addEventListener("mousemove", (event) => {
    const k = cellAt(heat, event);
    if (k < 0) return;
    const q = Math.floor(k / tokens);
    const j = k % tokens;
    readout.textContent = `query ${data.labels[q]} · key ${data.labels[j]}: score ${fmt(scores[k])}, probability ${fmt(probs[k])}`;
    readout.dataset.query = String(q);
    readout.dataset.key = String(j);
    readout.dataset.score = String(scores[k]);
  });
  map.addEventListener("mousemove", (event) => {
    const k = cellAt(map, event);
    if (k < 0) return;
    const q = Number(dialog.dataset.step);
    readout.textContent = `query ${data.labels[q]} attends to ${data.labels[k + special]} with weight ${fmt(probs[q * tokens + k + special])}`;
  });
  dialog.showModal();
  play.focus();
  return dialog;
}

// ---- 5. LayerNorm ----------------------------------------------------------------------------

// One token's features, feature by feature: (x − μ)/√(σ²+ε)·γ + β, the formula filled in with the
// numbers of the current feature, above three strips of all features (x, x̂ and y).
export function openLayerNorm(data, reopen) {
  const dialog = dialogShell(data.title);
  dialog.classList.add("wide");
  paragraph(dialog, "operation-note", data.note);
  const top = row(dialog);
  selectIn(top, "LayerNorm", Array.from(data.choices), data.choice, reopen);
  const stats = paragraph(dialog, "operation-formula");
  stats.textContent = `μ = ${fmt(data.mean)}   σ² = ${fmt(data.variance)}   ε = ${data.eps}   √(σ²+ε) = ${fmt(Math.sqrt(data.variance + data.eps))}`;
  const formula = dialog.appendChild(document.createElement("div"));
  formula.className = "layernorm-formula";
  const cells = {};
  const templ = [["y", "y_j"], ["=", null], ["(", null], ["x", "x_j"], ["−", null], ["μ", "μ"], [")", null], ["/", null],
    ["σ", "√(σ²+ε)"], ["·", null], ["γ", "γ_j"], ["+", null], ["β", "β_j"]];
  for (const [key, label] of templ) {
    const span = formula.appendChild(document.createElement("span"));
    if (!label) { span.className = "op"; span.textContent = key; continue; }
    span.className = "term";
    const name = span.appendChild(document.createElement("b"));
    name.textContent = label;
    cells[key] = span.appendChild(document.createElement("span"));
  }
  const n = data.features;
  const width = 640;
  const band = 70;
  const margin = { left: 40, right: 8, top: 8 };
  const svg = d3.select(dialog).append("svg").attr("class", "operation-plot layernorm-plot")
    .attr("viewBox", `0 0 ${width} ${margin.top + 3 * band + 20}`).attr("width", width);
  const x = d3.scaleLinear().domain([0, n - 1]).range([margin.left, width - margin.right]);
  const series = [["x", data.x, "input x"], ["z", data.normalised, "x̂ = (x−μ)/√(σ²+ε)"], ["y", data.output, "y = x̂·γ + β"]];
  const marks = [];
  series.forEach(([key, values, label], s) => {
    const y = d3.scaleLinear().domain(d3.extent(values)).nice().range([margin.top + (s + 1) * band - 8, margin.top + s * band + 6]);
    const g = svg.append("g").attr("class", `series series-${key}`);
    g.append("g").attr("transform", `translate(${margin.left},0)`).call(d3.axisLeft(y).ticks(3).tickSizeOuter(0));
    g.append("text").attr("class", "axis-label").attr("x", margin.left + 6).attr("y", margin.top + s * band + 14).text(label);
    if (key === "x") {
      const sd = Math.sqrt(data.variance);
      g.append("rect").attr("class", "sigma-band").attr("x", margin.left).attr("width", width - margin.left - margin.right)
        .attr("y", y(data.mean + sd)).attr("height", Math.max(1, y(data.mean - sd) - y(data.mean + sd)));
      g.append("line").attr("class", "mean-line").attr("x1", margin.left).attr("x2", width - margin.right)
        .attr("y1", y(data.mean)).attr("y2", y(data.mean));
    }
    g.append("g").selectAll("circle").data(Array.from(values)).join("circle").attr("r", 1.6)
      .attr("cx", (_, j) => x(j)).attr("cy", (v) => y(v));
    if (key === "y") {
      g.append("g").attr("class", "model-points").selectAll("circle").data(Array.from(data.model)).join("circle").attr("r", 3)
        .attr("cx", (_, j) => x(j)).attr("cy", (v) => y(v));
    }
    marks.push({ y, current: g.append("circle").attr("class", "current").attr("r", 5), values });
  });
  const cursor = svg.append("line").attr("class", "cursor").attr("y1", margin.top).attr("y2", margin.top + 3 * band);
  svg.append("text").attr("class", "axis-label").attr("x", width - margin.right).attr("y", margin.top + 3 * band + 16)
    .attr("text-anchor", "end").text(`feature j (0–${n - 1}); hollow circles: the model's own output`);
  const readout = readoutOf(dialog);
  const show = (j) => {
    cells.y.textContent = fmt(data.output[j]);
    cells.x.textContent = fmt(data.x[j]);
    cells["μ"].textContent = fmt(data.mean);
    cells["σ"].textContent = fmt(Math.sqrt(data.variance + data.eps));
    cells["γ"].textContent = fmt(data.gamma[j]);
    cells["β"].textContent = fmt(data.beta[j]);
    cursor.attr("x1", x(j)).attr("x2", x(j));
    for (const m of marks) m.current.attr("cx", x(j)).attr("cy", m.y(m.values[j]));
    readout.textContent = `feature ${j}: recomputed y = ${fmt(data.output[j])}; the model's ${data.tensor} = ${fmt(data.model[j])}`;
    readout.dataset.feature = String(j);
    readout.dataset.y = String(data.output[j]);
    readout.dataset.model = String(data.model[j]);
  };
  const { play } = controls(dialog, n, show, "feature");
  dialog.showModal();
  play.focus();
  return dialog;
}
