// Drawing with D3. These functions only draw what Python hands them; every number comes from
// the model via web/py. Text is always set with .text(), never parsed as HTML.
const d3 = window.d3;

// The class probabilities as one horizontal bar per label; the top class is marked.
export function prediction(selector, rows) {
  const data = Array.from(rows, (r) => ({ label: r.label, p: r.p, top: r.top, index: r.index }));
  const root = d3.select(selector);
  const row = root.selectAll("li.class-row")
    .data(data, (d) => d.label)
    .join((enter) => {
      const li = enter.append("li").attr("class", "class-row");
      li.append("span").attr("class", "class-icon").attr("aria-hidden", "true");
      li.append("span").attr("class", "class-label");
      const track = li.append("span").attr("class", "class-track");
      track.append("span").attr("class", "class-bar");
      li.append("span").attr("class", "class-value");
      return li;
    });
  row.classed("top", (d) => d.top)
    .attr("data-label", (d) => d.label)
    .attr("data-probability", (d) => d.p)
    .attr("aria-label", (d) => `${d.label}: ${(100 * d.p).toFixed(2)} percent${d.top ? ", top class" : ""}`);
  row.select(".class-icon").text((d) => (d.top ? "★" : ""));
  row.select(".class-label").text((d) => d.label);
  row.select(".class-bar").transition().duration(250).style("width", (d) => `${(100 * d.p).toFixed(2)}%`);
  row.select(".class-value").text((d) => `${(100 * d.p).toFixed(d.p >= 0.1 ? 1 : 2)}%`);
}

// The rows of one probability per label, the most probable marked top; returns that label's index.
export function probabilities(selector, labels, values) {
  values = Array.from(values);
  const top = values.indexOf(Math.max(...values));
  prediction(selector, Array.from(labels, (label, i) => ({ label, p: values[i], top: i === top, index: i })));
  return top;
}

// The prediction card: the model's probabilities, its top class and what the pass took. Drawn by
// boot.js for the first prediction and by the page's Python for every one after.
export function predictionCard(labels, values, timing) {
  const top = probabilities("#prediction-list", labels, values);
  document.getElementById("prediction-top").textContent = labels[top];
  document.getElementById("prediction-time").textContent = timing;
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
