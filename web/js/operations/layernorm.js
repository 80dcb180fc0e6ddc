// LayerNorm (EL-VIT V-C): one token's features, feature by feature: (x − μ)/√(σ²+ε)·γ + β, the
// formula filled in with the numbers of the current feature, above three strips of all features
// (x, x̂ and y) and the model's own output. `reopen(choice)` opens another of the block's LayerNorms.
import { el } from "../dom.js";
import { addReadout, fmt, operationDialog, paragraph, present, row, selectIn } from "./frame.js";
import { player } from "./player.js";

const d3 = window.d3;
const WIDTH = 640;
const BAND = 70;
const MARGIN = { left: 40, right: 8, top: 8 };
// The formula's terms: [key, label], or an operator with no label.
const TERMS = [["y", "y_j"], ["=", null], ["(", null], ["x", "x_j"], ["−", null], ["μ", "μ"], [")", null],
  ["/", null], ["σ", "√(σ²+ε)"], ["·", null], ["γ", "γ_j"], ["+", null], ["β", "β_j"]];

export function openLayerNorm(data, reopen) {
  const dialog = operationDialog(data, { wide: true, name: (step, s) => [
    "layernorm", ...normName(data, s), `token${s.get("token")}`, `feature${step}`] });
  selectIn(row(dialog), "LayerNorm", Array.from(data.choices), data.choice, reopen);
  const sigma = Math.sqrt(data.variance + data.eps);
  paragraph(dialog, "operation-formula",
            `μ = ${fmt(data.mean)}   σ² = ${fmt(data.variance)}   ε = ${data.eps}   √(σ²+ε) = ${fmt(sigma)}`);
  const cells = formula(dialog);
  const { x, cursor, marks } = plot(dialog, data);
  const readout = addReadout(dialog);
  const show = (j) => {
    cells.y.textContent = fmt(data.output[j]);
    cells.x.textContent = fmt(data.x[j]);
    cells["μ"].textContent = fmt(data.mean);
    cells["σ"].textContent = fmt(sigma);
    cells["γ"].textContent = fmt(data.gamma[j]);
    cells["β"].textContent = fmt(data.beta[j]);
    cursor.attr("x1", x(j)).attr("x2", x(j));
    for (const m of marks) m.current.attr("cx", x(j)).attr("cy", m.y(m.values[j]));
    readout.textContent = `feature ${j}: recomputed y = ${fmt(data.output[j])}; the model's ${data.tensor} = ${fmt(data.model[j])}`;
    readout.dataset.feature = String(j);
    readout.dataset.y = String(data.output[j]);
    readout.dataset.model = String(data.model[j]);
  };
  return present(dialog, player(dialog, data.features, show, "feature"));
}

// Which of the three LayerNorms, for the file name: one of the block's two, or the final one.
function normName(data, fragment) {
  const which = Array.from(data.choices).findIndex(([name]) => name === data.choice);
  return which === 2 ? ["final"] : [`block${fragment.get("layer")}`, which === 1 ? "before-mlp" : "before-attention"];
}

// The formula as a row of terms, each with its name above the number it takes; returns the numbers' spans.
function formula(dialog) {
  const line = dialog.appendChild(el("div", "layernorm-formula"));
  const cells = {};
  for (const [key, label] of TERMS) {
    if (!label) {
      line.appendChild(el("span", "op", key));
      continue;
    }
    const span = line.appendChild(el("span", "term"));
    span.appendChild(el("b", null, label));
    cells[key] = span.appendChild(el("span"));
  }
  return cells;
}

// Three strips over the features: x with its mean and ±σ band, x̂, and y with the model's own output.
function plot(dialog, data) {
  const n = data.features;
  const svg = d3.select(dialog).append("svg").attr("class", "operation-plot layernorm-plot")
    .attr("viewBox", `0 0 ${WIDTH} ${MARGIN.top + 3 * BAND + 20}`).attr("width", WIDTH);
  const x = d3.scaleLinear().domain([0, n - 1]).range([MARGIN.left, WIDTH - MARGIN.right]);
  const series = [["x", data.x, "input x"], ["z", data.normalised, "x̂ = (x−μ)/√(σ²+ε)"], ["y", data.output, "y = x̂·γ + β"]];
  const marks = series.map(([key, values, label], s) => {
    const y = d3.scaleLinear().domain(d3.extent(values)).nice().range([MARGIN.top + (s + 1) * BAND - 8, MARGIN.top + s * BAND + 6]);
    const g = svg.append("g").attr("class", `series series-${key}`);
    g.append("g").attr("transform", `translate(${MARGIN.left},0)`).call(d3.axisLeft(y).ticks(3).tickSizeOuter(0));
    g.append("text").attr("class", "axis-label").attr("x", MARGIN.left + 6).attr("y", MARGIN.top + s * BAND + 14).text(label);
    if (key === "x") {
      const sd = Math.sqrt(data.variance);
      g.append("rect").attr("class", "sigma-band").attr("x", MARGIN.left).attr("width", WIDTH - MARGIN.left - MARGIN.right)
        .attr("y", y(data.mean + sd)).attr("height", Math.max(1, y(data.mean - sd) - y(data.mean + sd)));
      g.append("line").attr("class", "mean-line").attr("x1", MARGIN.left).attr("x2", WIDTH - MARGIN.right)
        .attr("y1", y(data.mean)).attr("y2", y(data.mean));
    }
    g.append("g").selectAll("circle").data(Array.from(values)).join("circle").attr("r", 1.6)
      .attr("cx", (_, j) => x(j)).attr("cy", (v) => y(v));
    if (key === "y") {
      g.append("g").attr("class", "model-points").selectAll("circle").data(Array.from(data.model)).join("circle").attr("r", 3)
        .attr("cx", (_, j) => x(j)).attr("cy", (v) => y(v));
    }
    return { y, current: g.append("circle").attr("class", "current").attr("r", 5), values };
  });
  const cursor = svg.append("line").attr("class", "cursor").attr("y1", MARGIN.top).attr("y2", MARGIN.top + 3 * BAND);
  svg.append("text").attr("class", "axis-label").attr("x", WIDTH - MARGIN.right).attr("y", MARGIN.top + 3 * BAND + 16)
    .attr("text-anchor", "end").text(`feature j (0–${n - 1}); hollow circles: the model's own output`);
  return { x, cursor, marks };
}
