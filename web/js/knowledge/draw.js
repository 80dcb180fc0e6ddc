// The knowledge graph's drawing (EL-VIT §V-B): its nodes, labels and edges in an svg, where the
// layout (layout.js) put them, with zoom and pan, hover that dims all but a node's neighbours, and
// dragging, which runs the layout's simulation again. Opening a node is the caller's (onOpen).
import { el, svgEl } from "../dom.js";
import { EDGE_KINDS, FONT_SIZE, NODE_KINDS } from "./kinds.js";

const MAX_FIT_SCALE = 1.5;  // a small graph is enlarged, but not to poster size

// Draws `layout` into `svg` (width x height layout units); marker ids start with `prefix`, and
// clicking a node or its label (or Enter on a node) calls onOpen(id). Returns the nodes and labels.
export function drawGraph(svg, layout, { prefix, width, height, onOpen }) {
  const d3 = window.d3;
  defineMarkers(svg.append("defs"), prefix);
  const view = svg.append("g").attr("class", "kg-view");
  const edgeSel = view.append("g").attr("class", "kg-edges").selectAll("line")
    .data(layout.edges).join("line")
    .attr("class", (e) => `kg-edge kg-edge-${e.kind}`)
    .attr("data-source", (e) => e.source.id)
    .attr("data-target", (e) => e.target.id)
    .style("stroke", (e) => EDGE_KINDS[e.kind].color)
    .attr("stroke-width", (e) => (e.many ? 2.6 : 1.3))
    .attr("stroke-dasharray", (e) => EDGE_KINDS[e.kind].dash)
    .attr("marker-end", (e) => (EDGE_KINDS[e.kind].arrow ? `url(#${prefix}-${e.kind})` : null));
  edgeSel.append("title").text((e) => edgeTitle(e));

  const nodeSel = view.append("g").attr("class", "kg-nodes").selectAll("g")
    .data(layout.nodes).join("g")
    .attr("class", (n) => `kg-node kg-node-${n.kind}${n.root ? " kg-root-node" : ""}`)
    .attr("data-id", (n) => n.id)
    .attr("data-kind", (n) => n.kind)
    .attr("tabindex", 0)
    .attr("role", "button")
    .attr("aria-label", (n) => `${n.text}, ${NODE_KINDS[n.kind].name.toLowerCase()}: open details`);
  nodeSel.append("path")
    .attr("class", "kg-shape")
    .attr("data-id", (n) => n.id)
    .attr("d", (n) => shapePath(NODE_KINDS[n.kind].shape, n.r))
    .style("fill", (n) => NODE_KINDS[n.kind].color);

  const labelSel = view.append("g").attr("class", "kg-labels").selectAll("text")
    .data(layout.labels).join("text")
    .attr("class", (l) => `kg-label kg-label-${l.owner.kind}`)
    .attr("data-id", (l) => l.owner.id)
    .attr("text-anchor", "middle")
    .attr("font-size", FONT_SIZE)
    .attr("font-weight", (l) => (l.owner.root ? 700 : 400))
    .attr("aria-hidden", "true")
    .text((l) => l.owner.text);

  function draw() {
    nodeSel.attr("transform", (n) => `translate(${n.x},${n.y})`);
    labelSel.attr("x", (l) => l.x).attr("y", (l) => l.y + l.baseline);
    edgeSel.each(function (e) {
      // end the line at the target's rim so the arrowhead stays visible
      const dx = e.target.x - e.source.x, dy = e.target.y - e.source.y;
      const length = Math.hypot(dx, dy) || 1;
      const start = e.source.r, end = e.target.r + (EDGE_KINDS[e.kind].arrow ? 2 : 0);
      this.setAttribute("x1", e.source.x + (dx * start) / length);
      this.setAttribute("y1", e.source.y + (dy * start) / length);
      this.setAttribute("x2", e.target.x - (dx * end) / length);
      this.setAttribute("y2", e.target.y - (dy * end) / length);
    });
  }
  draw();

  // zoom and pan on the whole svg, starting from a view that fits the laid-out graph
  const zoom = d3.zoom().scaleExtent([0.3, 4]).on("zoom", (event) => view.attr("transform", event.transform));
  svg.call(zoom).on("dblclick.zoom", null);
  svg.call(zoom.transform, fitTransform(layout.extent(), width, height, d3));

  // hover (or keyboard focus) highlights a node's neighbours and dims the rest
  function highlight(node) {
    const near = node ? layout.neighbours.get(node.id) : null;
    const dim = (id) => near !== null && !near.has(id);
    nodeSel.classed("kg-dim", (n) => dim(n.id));
    labelSel.classed("kg-dim", (l) => dim(l.owner.id));
    edgeSel.classed("kg-dim", (e) => near !== null && e.source !== node && e.target !== node);
  }
  for (const selection of [nodeSel, labelSel]) {
    const owner = (d) => d.owner ?? d;
    selection
      .on("mouseenter", (event, d) => highlight(owner(d)))
      .on("mouseleave", () => highlight(null))
      .on("click", (event, d) => onOpen(owner(d).id));
  }
  nodeSel
    .on("focus", (event, n) => highlight(n))
    .on("blur", () => highlight(null))
    .on("keydown", (event, n) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        onOpen(n.id);
      }
    });

  // Dragging animates the simulation and the node stays where it is dropped, so a reader can arrange the
  // graph; a click without movement never disturbs the layout.
  const simulation = layout.simulation.on("tick", () => { layout.keepInside(); draw(); })
    .on("end", () => { layout.placeLabels(); draw(); });
  nodeSel.call(d3.drag()
    .on("drag", (event, n) => {
      simulation.alphaTarget(0.3).restart();
      n.fx = event.x;
      n.fy = event.y;
    })
    .on("end", () => simulation.alphaTarget(0)));
  return { nodeSel, labelSel };
}

function fitTransform(box, width, height, d3) {
  const w = box.right - box.left, h = box.bottom - box.top;
  const k = Math.min(MAX_FIT_SCALE, Math.max(1, 0.98 * Math.min(width / w, height / h)));
  return d3.zoomIdentity.translate(width / 2, height / 2).scale(k)
    .translate(-(box.left + box.right) / 2, -(box.top + box.bottom) / 2);
}

// Every shape fits in the square [-r, r]², the box the layout keeps clear.
function shapePath(shape, r) {
  if (shape === "circle") return `M${r},0A${r},${r} 0 1 1 ${-r},0A${r},${r} 0 1 1 ${r},0Z`;
  if (shape === "diamond") return `M0,${-r}L${r},0L0,${r}L${-r},0Z`;
  if (shape === "square") return `M${-r},${-r}H${r}V${r}H${-r}Z`;
  const pts = range(6).map((i) => [r * Math.cos((Math.PI / 3) * i), r * Math.sin((Math.PI / 3) * i)]);
  return `M${pts.map((p) => p.map((v) => v.toFixed(2)).join(",")).join("L")}Z`;
}

function range(n) {
  return Array.from({ length: n }, (_, i) => i);
}

function defineMarkers(defs, prefix) {
  for (const [kind, style] of Object.entries(EDGE_KINDS)) {
    if (!style.arrow) continue;
    defs.append("marker")
      .attr("id", `${prefix}-${kind}`)
      .attr("viewBox", "0 -5 10 10")
      .attr("refX", 10)
      .attr("markerUnits", "userSpaceOnUse")
      .attr("markerWidth", 9)
      .attr("markerHeight", 9)
      .attr("orient", "auto")
      .append("path")
      .attr("d", "M0,-4.5L10,0L0,4.5Z")
      .style("fill", style.arrow === "filled" ? style.color : "var(--kg-paper)")
      .style("stroke", style.color)
      .attr("stroke-width", 1.2);
  }
}

function edgeTitle(e) {
  const what = { composes: "has", calls: "calls", inherits: "inherits from", implements: "is used in" }[e.kind];
  const source = e.source.text, target = e.target.text;
  const attributes = e.attributes.length ? ` as ${e.attributes.join(", ")}` : "";
  return `${source} ${what} ${target}${attributes}${e.many ? " (a list of them)" : ""}`;
}

// An element with its colours set as styles (the theme's custom properties; the page's
// Content-Security-Policy refuses a style attribute, not the CSSOM).
function styled(element, styles) {
  Object.assign(element.style, styles);
  return element;
}

// The key to the node and edge kinds, above the graph.
export function legend() {
  const list = el("ul", "kg-legend");
  list.setAttribute("aria-label", "Legend");
  for (const kind of Object.values(NODE_KINDS)) {
    const item = el("li");
    const icon = svgEl("svg", { width: 16, height: 16, viewBox: "-8 -8 16 16", "aria-hidden": "true" });
    icon.append(styled(svgEl("path", { d: shapePath(kind.shape, 7) }), { fill: kind.color }));
    item.append(icon, document.createTextNode(kind.name));
    list.append(item);
  }
  for (const kind of Object.values(EDGE_KINDS)) {
    const item = el("li");
    const icon = svgEl("svg", { width: 30, height: 12, viewBox: "0 0 30 12", "aria-hidden": "true" });
    icon.append(styled(svgEl("line", { x1: 1, y1: 6, x2: kind.arrow ? 21 : 29, y2: 6,
                                       "stroke-width": 1.5, "stroke-dasharray": kind.dash ?? "none" }), { stroke: kind.color }));
    if (kind.arrow) {
      icon.append(styled(svgEl("path", { d: "M20,1.5L29,6L20,10.5Z" }),
                         { stroke: kind.color, fill: kind.arrow === "filled" ? kind.color : "var(--kg-paper)" }));
    }
    item.append(icon, document.createTextNode(kind.name));
    list.append(item);
  }
  return list;
}
