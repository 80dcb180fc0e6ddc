// GELU (EL-VIT V-C): the function's graph, and the chosen token's real inputs and outputs moving
// along it, one hidden unit per step. Python hands over the curve and the model's own values.
import { addReadout, operationDialog, present } from "./frame.js";
import { player } from "./player.js";

const d3 = window.d3;
const WIDTH = 620;
const HEIGHT = 340;
const MARGIN = { top: 14, right: 16, bottom: 34, left: 48 };

export function openGelu(data) {
  const dialog = operationDialog(data, { name: (step, s) => [
    "gelu", `block${s.get("layer")}`, `token${s.get("token")}`, `unit${step}`] });
  const curve = Array.from(data.curve, (p) => Array.from(p));
  const points = Array.from(data.points, (p) => Array.from(p));
  const x = d3.scaleLinear().domain(d3.extent(curve, (p) => p[0])).range([MARGIN.left, WIDTH - MARGIN.right]);
  const y = d3.scaleLinear().domain(d3.extent(curve, (p) => p[1])).nice().range([HEIGHT - MARGIN.bottom, MARGIN.top]);
  // a point off the plotted range is drawn at its edge
  const px = (v) => x(Math.max(x.domain()[0], Math.min(x.domain()[1], v)));
  const py = (v) => y(Math.max(y.domain()[0], Math.min(y.domain()[1], v)));
  const svg = d3.select(dialog).append("svg").attr("class", "operation-plot")
    .attr("viewBox", `0 0 ${WIDTH} ${HEIGHT}`).attr("width", WIDTH).attr("height", HEIGHT);
  svg.append("g").attr("transform", `translate(0,${HEIGHT - MARGIN.bottom})`).call(d3.axisBottom(x));
  svg.append("g").attr("transform", `translate(${MARGIN.left},0)`).call(d3.axisLeft(y));
  svg.append("text").attr("class", "axis-label").attr("x", WIDTH - MARGIN.right).attr("y", HEIGHT - 4)
    .attr("text-anchor", "end").text("input x (before GELU)");
  svg.append("text").attr("class", "axis-label").attr("x", MARGIN.left + 4).attr("y", MARGIN.top + 10).text("GELU(x)");
  svg.append("path").attr("class", "gelu-curve").attr("d", d3.line().x((p) => x(p[0])).y((p) => y(p[1]))(curve));
  const done = svg.append("g").attr("class", "gelu-points");
  const current = svg.append("circle").attr("class", "gelu-current").attr("r", 6);
  const readout = addReadout(dialog);
  const steps = player(dialog, points.length, (i) => {
    done.selectAll("circle").data(points.slice(0, i + 1)).join("circle").attr("r", 2.2)
      .attr("cx", (p) => px(p[0])).attr("cy", (p) => py(p[1]));
    const [u, v] = points[i];
    current.attr("cx", px(u)).attr("cy", py(v));
    readout.textContent = `hidden unit ${i}: x = ${u.toPrecision(6)} → GELU(x) = ${v.toPrecision(6)}`;
    readout.dataset.unit = String(i);
    readout.dataset.x = String(u);
    readout.dataset.y = String(v);
  });
  return present(dialog, steps);
}
