// The head atlas: blocks x heads, each cell one head's measure on the image on screen, coloured on
// viridis between the grid's own minimum and maximum, its value written in it. Python
// (web/py/atlas_view.py) hands over the cells; a click or Enter on one calls `onOpen(block, head)`.
import { VIRIDIS, inkOn } from "./colours.js";

const d3 = window.d3;

export function drawAtlas(container, blocks, heads, cells, words, onOpen) {
  cells = Array.from(cells);
  const root = d3.select(container).style("--heads", heads).attr("aria-label", `Every head: ${words}`);
  const values = cells.map((c) => c.value);
  const low = Math.min(...values), high = Math.max(...values);
  const level = (v) => (high > low ? Math.round(255 * (v - low) / (high - low)) : 0);
  const byBlock = d3.range(1, blocks + 1).map((b) => cells.filter((c) => c.block === b));
  const rows = root.selectAll("div.atlas-row").data(cells.length ? byBlock : []).join((enter) => {
    const row = enter.append("div").attr("class", "atlas-row").attr("role", "group");
    row.append("span").attr("class", "head-block");
    return row;
  });
  rows.attr("aria-label", (_, i) => `block ${i + 1}`).select(".head-block").text((_, i) => `block ${i + 1}`);
  rows.selectAll("button").data((row) => row).join("button")
    .attr("type", "button").attr("class", "atlas-cell")
    .attr("data-head", (c) => `${c.block}.${c.head}`)
    .attr("data-value", (c) => c.value)
    .attr("aria-label", (c) => `block ${c.block} head ${c.head}: ${c.text}; open in Model detail`)
    .attr("title", (c) => `block ${c.block}, head ${c.head}: ${c.text}`)
    .style("background", (c) => VIRIDIS[level(c.value)].formatHex())
    .style("color", (c) => inkOn(VIRIDIS[level(c.value)]))
    .text((c) => c.text)
    .on("click", (event, c) => onOpen(c.block, c.head));
  const legend = root.selectAll("p.atlas-legend").data(cells.length ? [words] : []).join("p").attr("class", "atlas-legend caption");
  legend.text(`${words}: from ${d3.format(".3~g")(low)} (dark) to ${d3.format(".3~g")(high)} (yellow). A cell opens its block's heads in Model detail.`);
}
