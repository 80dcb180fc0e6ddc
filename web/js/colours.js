// The page's colour maps, written once: viridis for every map of values (Model detail,
// Interpretation, the operation views), blue-red for signed weights, one colour per class, and the
// legend that explains them. Colours only: every value they show comes from the model via Python.
const d3 = window.d3;

// Viridis in 256 steps: level 0..255 (as Python hands them over) to a d3 colour.
export const VIRIDIS = Array.from({ length: 256 }, (_, i) => d3.rgb(d3.interpolateViridis(i / 255)));
export const CLASS_COLOURS = d3.schemeTableau10;

// Black or white, whichever reads better on `colour` (a d3 colour): the higher WCAG contrast. Black
// wins from a relative luminance of 0.179 up, where both give 4.6:1.
export function inkOn(colour) {
  const { r, g, b } = d3.rgb(colour);
  const linear = (c) => ((c /= 255) <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b) > 0.179 ? "#000000" : "#ffffff";
}

// The viridis step of t in [0, 1] (clamped).
export function viridisAt(t) {
  return VIRIDIS[Math.round(255 * Math.max(0, Math.min(1, t)))];
}

// A continuous viridis scale from low to high: value -> CSS colour.
export function viridisScale(low, high) {
  return d3.scaleSequential(d3.interpolateViridis).domain([low, high]);
}

// Viridis over the values' own range.
export function sequential(values) {
  const [low, high] = d3.extent(values);
  return viridisScale(low, high > low ? high : low + 1);
}

// Blue (negative) through white to red (positive), symmetric around 0.
export function diverging(values) {
  const m = d3.max(values, (v) => Math.abs(v)) || 1;
  return d3.scaleDiverging(d3.interpolateRdBu).domain([m, 0, -m]);
}

let viridisPixels = null;
function viridisBar() {
  if (!viridisPixels) {
    viridisPixels = new ImageData(256, 1);
    VIRIDIS.forEach((c, i) => viridisPixels.data.set([c.r, c.g, c.b, 255], 4 * i));
  }
  return viridisPixels;
}

// The viridis bar with its two ends labelled. Only the labels change when the bar is already there:
// a new canvas at every interaction cost a few milliseconds.
export function legend(container, low, high) {
  const root = d3.select(container);
  const ends = root.selectAll(":scope > .legend-end").nodes();
  if (ends.length === 2 && !root.select(":scope > canvas.legend-bar").empty() && container.childElementCount === 3) {
    ends[0].textContent = low;
    ends[1].textContent = high;
    return;
  }
  root.selectAll("*").remove();
  root.append("span").attr("class", "legend-end").text(low);
  const bar = root.append("canvas").attr("class", "legend-bar").attr("width", 256).attr("height", 1).node();
  bar.getContext("2d").putImageData(viridisBar(), 0, 0);
  root.append("span").attr("class", "legend-end").text(high);
}

// One swatch per class, for maps coloured by class with the probability as opacity.
export function classLegend(container, labels) {
  const root = d3.select(container);
  root.selectAll("*").remove();
  Array.from(labels).forEach((label, i) => {
    root.append("span").attr("class", "class-swatch").style("background", CLASS_COLOURS[i % CLASS_COLOURS.length]);
    root.append("span").text(label);
  });
  root.append("span").attr("class", "caption").text("  (faint = low probability)");
}
