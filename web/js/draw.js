// Drawing with D3. These functions only draw what Python hands them; every number comes from
// the model via web/py. Text is always set with .text(), never parsed as HTML.
import { motion } from "./dom.js";

const d3 = window.d3;

// The class probabilities as one horizontal bar per label; the top class is marked. A row with
// `before` (a what-if run) also shows the unedited probability, as a thin bar under its own, and the
// change in percentage points.
export function prediction(selector, rows) {
  const data = Array.from(rows, (r) => ({ label: r.label, p: r.p, top: r.top, index: r.index, before: r.before }));
  const edited = data.some((d) => d.before !== undefined);
  const root = d3.select(selector).classed("edited", edited);
  const row = root.selectAll("li.class-row")
    .data(data, (d) => d.label)
    .join((enter) => {
      const li = enter.append("li").attr("class", "class-row");
      li.append("span").attr("class", "class-icon").attr("aria-hidden", "true");
      li.append("span").attr("class", "class-label");
      const track = li.append("span").attr("class", "class-track");
      track.append("span").attr("class", "class-bar");
      track.append("span").attr("class", "class-before");
      li.append("span").attr("class", "class-value");
      li.append("span").attr("class", "class-change");
      return li;
    });
  const points = (d) => 100 * (d.p - d.before);
  const change = (d) => (Math.abs(points(d)) < 0.05 ? "0.0" : `${points(d) > 0 ? "+" : "−"}${Math.abs(points(d)).toFixed(1)}`);
  row.classed("top", (d) => d.top)
    .attr("data-label", (d) => d.label)
    .attr("data-probability", (d) => d.p)
    .attr("data-before", (d) => (edited ? d.before : null))
    .attr("aria-label", (d) => `${d.label}: ${(100 * d.p).toFixed(2)} percent${d.top ? ", top class" : ""}`
      + (edited ? `, ${(100 * d.before).toFixed(2)} percent unedited, ${change(d)} points` : ""));
  row.select(".class-icon").text((d) => (d.top ? "★" : ""));
  row.select(".class-label").text((d) => d.label);
  row.select(".class-bar").transition().duration(motion(250)).style("width", (d) => `${(100 * d.p).toFixed(2)}%`);
  row.select(".class-before").style("width", (d) => (edited ? `${(100 * d.before).toFixed(2)}%` : "0"));
  row.select(".class-value").text((d) => `${(100 * d.p).toFixed(d.p >= 0.1 ? 1 : 2)}%`);
  row.select(".class-change").text((d) => (edited ? change(d) : ""))
    .classed("up", (d) => edited && points(d) >= 0.05).classed("down", (d) => edited && points(d) <= -0.05);
}

// The rows of one probability per label, the most probable marked top; returns that label's index.
// `before`: the unedited probabilities of a what-if run.
export function probabilities(selector, labels, values, before) {
  values = Array.from(values);
  const top = values.indexOf(Math.max(...values));
  prediction(selector, Array.from(labels, (label, i) => ({ label, p: values[i], top: i === top, index: i,
                                                          before: before ? before[i] : undefined })));
  return top;
}

// The prediction card: the model's probabilities, its top class and what the pass took. Drawn by
// boot.js for the first prediction and by the page's Python for every one after; a what-if run
// (`unedited`, the probabilities of the image as it is, and `edit`, the edit in words) shows both.
export function predictionCard(labels, values, timing, unedited, edit) {
  const top = probabilities("#prediction-list", labels, values, unedited && Array.from(unedited));
  document.getElementById("prediction-top").textContent = labels[top];
  document.getElementById("prediction-time").textContent = timing;
  const note = document.getElementById("prediction-edit");
  note.hidden = !unedited;
  note.querySelector("span").textContent = unedited ? `What-if run: ${edit}. Thin bars: the image as it is.` : "";
}

// Show a decoded bitmap, letterboxed, on a canvas.
export function showImage(canvas, bitmap) {
  const context = canvas.getContext("2d");
  const scale = Math.min(canvas.width / bitmap.width, canvas.height / bitmap.height);
  const w = bitmap.width * scale;
  const h = bitmap.height * scale;
  context.clearRect(0, 0, canvas.width, canvas.height);
  context.imageSmoothingEnabled = scale < 4;
  context.drawImage(bitmap, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
}
