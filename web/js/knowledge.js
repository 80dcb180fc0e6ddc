// The knowledge background graph (EL-VIT §V-B): the classes, functions and torch.nn blocks behind the
// classifier and the concepts they implement, as a force-directed graph. As in the paper, every label is
// a node of the simulation too: attracted to its own node, pushed away from every other node and label by
// its measured text box, so that no text covers a node or another text. Clicking a node opens a modal
// with its real source code (or a concept's explanation and formula).
//
// The layout runs a fixed number of ticks synchronously, so the drawing is deterministic and complete
// when renderKnowledgeGraph returns; the simulation only animates while a node is dragged. All text is
// set with textContent: names, docstrings and source come from data and are never parsed as HTML.

const FONT_SIZE = 12;          // px in layout units; the fit-to-view zoom never goes below 1
const NODE_PAD = 3;            // clearance around a node's shape, in layout units
const LABEL_PAD = 2;           // clearance around a label's text box
const LABEL_CLEARANCE = 12;   // no other node this close to a label, so its owner is unmistakable
const MARGIN = 8;              // nothing is laid out closer than this to the panel's edge
const MAX_FIT_SCALE = 1.5;     // a small graph is enlarged, but not to poster size

const NODE_KINDS = {
  class: { name: "Class", color: "#3b4cc0", shape: "circle", r: 10 },
  function: { name: "Function", color: "#0d7f73", shape: "diamond", r: 10 },
  torch: { name: "torch.nn block", color: "#6b7485", shape: "square", r: 8 },
  concept: { name: "Concept", color: "#c8620a", shape: "hexagon", r: 10 },
};
const EDGE_KINDS = {
  composes: { name: "has a (composes)", color: "#6b7485", dash: null, arrow: "filled" },
  calls: { name: "calls", color: "#0d7f73", dash: "6 3", arrow: "filled" },
  inherits: { name: "inherits from", color: "#3b4cc0", dash: null, arrow: "hollow" },
  implements: { name: "concept used in", color: "#c8620a", dash: "2 3", arrow: null },
};
const ROOT_RADIUS = 14;

let renders = 0;  // makes marker ids unique when several graphs share a document
const handles = new WeakMap();  // container -> the graph drawn in it, replaced on the next render

// Draw `graph` (the parsed knowledge.json) into `container` and return a handle:
// { settled: Promise, labelBoxes(), nodeBoxes(), open(id), destroy() }; also window.vitlensKnowledge.
// options: width/height of the layout (default: the container's width, 0.68 of it high).
export function renderKnowledgeGraph(container, graph, options = {}) {
  const d3 = window.d3;
  handles.get(container)?.destroy();
  const styled = ensureStylesheet();
  const prefix = `kg${++renders}`;
  const width = Math.round(options.width ?? (container.clientWidth || 880));
  const height = Math.round(options.height ?? Math.max(460, Math.min(640, width * 0.68)));
  const font = getComputedStyle(container).fontFamily || "sans-serif";

  const root = el("div", "kg-root");
  root.append(legend());
  const svg = d3.select(root).append("svg")
    .attr("class", "kg-svg")
    .attr("viewBox", `0 0 ${width} ${height}`)
    .attr("role", "group")
    .attr("aria-label", `Knowledge graph of ${graph.architecture}: ${graph.nodes.length} nodes`)
    .style("font-family", font);
  const hint = el("p", "kg-hint");
  hint.textContent = "Drag a node to move it (it stays where you drop it), scroll to zoom, drag the " +
    "background to pan. Click a class or function to read its source, a concept to read what it means.";
  root.append(hint);
  container.append(root);

  const layout = buildLayout(graph, width, height, font);
  const dialog = createDialog(prefix, layout, (id) => openNode(id));
  root.append(dialog.element);

  defineMarkers(svg.append("defs"), prefix);
  const view = svg.append("g").attr("class", "kg-view");
  const edgeSel = view.append("g").attr("class", "kg-edges").selectAll("line")
    .data(layout.edges).join("line")
    .attr("class", (e) => `kg-edge kg-edge-${e.kind}`)
    .attr("data-source", (e) => e.source.id)
    .attr("data-target", (e) => e.target.id)
    .attr("stroke", (e) => EDGE_KINDS[e.kind].color)
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
    .attr("fill", (n) => NODE_KINDS[n.kind].color);

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
  function openNode(id) {
    dialog.open(layout.byId.get(id), nodeSel.filter((n) => n.id === id).node());
  }
  for (const selection of [nodeSel, labelSel]) {
    const owner = (d) => d.owner ?? d;
    selection
      .on("mouseenter", (event, d) => highlight(owner(d)))
      .on("mouseleave", () => highlight(null))
      .on("click", (event, d) => openNode(owner(d).id));
  }
  nodeSel
    .on("focus", (event, n) => highlight(n))
    .on("blur", () => highlight(null))
    .on("keydown", (event, n) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        openNode(n.id);
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

  const boxes = (selection) => selection.nodes().map((element) => {
    const r = element.getBoundingClientRect();
    return { id: element.dataset.id, left: r.left, top: r.top, right: r.right, bottom: r.bottom };
  });
  const handle = {
    settled: styled,  // the layout is final already; this waits for the stylesheet that sizes the panel
    labelBoxes: () => boxes(labelSel),
    nodeBoxes: () => boxes(nodeSel.select("path")),
    open: openNode,
    destroy() {
      simulation.stop();
      dialog.close();
      root.remove();
      handles.delete(container);
    },
  };
  handles.set(container, handle);
  window.vitlensKnowledge = handle;
  return handle;
}

// ---------------------------------------------------------------- layout

// Nodes, their label nodes and the forces between them, already run to rest.
function buildLayout(graph, width, height, font) {
  const d3 = window.d3;
  const measure = textMeasurer(font);
  const nodes = graph.nodes.map((data) => {
    const root = data.id === graph.architecture;
    return { id: data.id, kind: data.kind, data, root, text: data.kind === "concept" ? data.title : data.id,
             r: root ? ROOT_RADIUS : NODE_KINDS[data.kind].r };
  });
  const byId = new Map(nodes.map((n) => [n.id, n]));
  nodes.forEach((n) => { n.hw = n.hh = n.r + NODE_PAD; });

  // one drawn edge per (source, target, kind): nn.Linear as query, key and value is a single arrow
  const grouped = new Map();
  for (const e of graph.edges) {
    const key = `${e.source}\u0000${e.target}\u0000${e.kind}`;
    if (!grouped.has(key)) grouped.set(key, { source: byId.get(e.source), target: byId.get(e.target),
                                             kind: e.kind, attributes: [], many: false });
    const edge = grouped.get(key);
    if (e.attribute && !edge.attributes.includes(e.attribute)) edge.attributes.push(e.attribute);
    edge.many ||= e.many;
  }
  const edges = [...grouped.values()];
  const neighbours = new Map(nodes.map((n) => [n.id, new Set([n.id])]));
  for (const e of edges) {
    neighbours.get(e.source.id).add(e.target.id);
    neighbours.get(e.target.id).add(e.source.id);
  }

  const labels = nodes.map((owner) => {
    const box = measure(owner.text, owner.root ? 700 : 400);
    const label = { owner, isLabel: true, hw: box.width / 2 + LABEL_PAD, hh: box.height / 2 + LABEL_PAD,
                    baseline: box.baseline };
    owner.label = label;
    return label;
  });

  const columnX = columnTargets(edges, graph.architecture, width);
  seedPositions(nodes, edges, columnX, width, height);
  labels.forEach((l) => { l.x = l.owner.x; l.y = l.owner.y + l.owner.hh + l.hh; });

  const items = [...nodes, ...labels];
  const simulation = d3.forceSimulation(items)
    .force("edges", d3.forceLink(edges).distance((e) => (e.kind === "implements" ? 50 : 70)))
    // labels take no part in the charge: they would be pushed off their own node
    .force("charge", only(d3.forceManyBody().strength(-260).distanceMax(360), (d) => !d.isLabel))
    // a node keeps room around it for its own label, so labels need not wander off to find space
    .force("room", only(d3.forceCollide((n) => Math.max(n.hw, 0.7 * n.label.hw) + 4).strength(0.5),
                        (d) => !d.isLabel))
    // the paper's text-node force: each label on a short spring to its own node
    .force("labels", d3.forceLink(labels.map((l) => ({ source: l.owner, target: l })))
      .distance((link) => link.source.hh + link.target.hh).strength(0.9))
    .force("collide", d3.forceCollide((d) => (d.isLabel ? d.hh : d.hw)).strength(0.8))
    .force("boxes", forceRectangles(items, 0.6))
    // a gentle left-to-right reading order, from the classifier down to the functions it ends up calling
    .force("columns", d3.forceX((d) => columnX.get(d.id) ?? 0).strength((d) => (columnX.has(d.id) ? 0.2 : 0)))
    .force("middle", d3.forceY(height / 2).strength((d) => (d.isLabel ? 0 : 0.04)))
    .stop();

  const inside = (d) => {
    d.x = Math.max(MARGIN + d.hw, Math.min(width - MARGIN - d.hw, d.x));
    d.y = Math.max(MARGIN + d.hh, Math.min(height - MARGIN - d.hh, d.y));
  };
  const keepInside = () => items.forEach(inside);
  const ticks = Math.ceil(Math.log(simulation.alphaMin()) / Math.log(1 - simulation.alphaDecay()));
  for (let i = 0; i < ticks; i++) {
    simulation.tick();
    keepInside();
  }

  // The forces leave labels nearly clear and near their nodes; this makes it exact. First every remaining
  // overlap is pushed apart (labels move, nodes stay). Then a label that still overlaps something, or does
  // not plainly belong to its own node, moves to the nearest free spot around it, preferably one where no
  // other node is close enough to be mistaken for its owner. A few rounds, since each move frees space.
  function placeLabels() {
    keepInside();
    separateLabels(items, 100);
    labels.forEach(inside);
    const free = (spot, label) => fits(spot, width, height) && !items.some((o) => o !== label && overlaps(spot, o));
    const alone = (spot, owner) => !nodes.some((m) => m !== owner && distance(spot, m) < LABEL_CLEARANCE);
    for (let round = 0; round < 4; round++) {
      let moved = false;
      for (const label of labels) {
        const n = label.owner;
        const clear = free(label, label);
        if (clear && attached(label, n) && alone(label, n)) continue;
        const limit = clear ? Math.max(12, distance(label, n) - 2) : 400;  // a clear label only moves closer
        const spot = nearestSpot(n, label, limit, (s) => free(s, label) && alone(s, n)) ??
          nearestSpot(n, label, limit, (s) => free(s, label));
        if (spot) {
          label.x = spot.x;
          label.y = spot.y;
          moved = true;
        }
      }
      if (!moved) break;
    }
  }
  placeLabels();

  const extent = () => ({
    left: Math.min(...items.map((d) => d.x - d.hw)), right: Math.max(...items.map((d) => d.x + d.hw)),
    top: Math.min(...items.map((d) => d.y - d.hh)), bottom: Math.max(...items.map((d) => d.y + d.hh)),
  });
  return { nodes, labels, edges, byId, neighbours, simulation, keepInside, placeLabels, extent };
}

// Code nodes start in columns by depth from the classifier; torch blocks and concepts next to the code
// that uses them. Starting near the reading order lets the forces refine a layout rather than untangle one.
function seedPositions(nodes, edges, targets, width, height) {
  const columns = groupBy(nodes.filter((n) => targets.has(n.id)), (n) => targets.get(n.id));
  for (const [x, column] of columns) {
    column.forEach((n, i) => { n.x = x; n.y = (height * (i + 1)) / (column.length + 1); });
  }
  for (const n of nodes.filter((m) => !targets.has(m.id))) {
    const anchors = edges.filter((e) => e.source === n || e.target === n)
      .map((e) => (e.source === n ? e.target : e.source)).filter((m) => targets.has(m.id));
    n.x = anchors.length ? mean(anchors.map((m) => m.x)) + 20 : width / 2;
    n.y = anchors.length ? mean(anchors.map((m) => m.y)) + 30 : height / 2;
  }
}

// x target of each class/function node: its depth below the classifier over code relations, left to right
function columnTargets(edges, rootId, width) {
  const depth = new Map([[rootId, 0]]);
  const queue = [rootId];
  while (queue.length) {
    const id = queue.shift();
    for (const e of edges) {
      const code = e.target.kind === "class" || e.target.kind === "function";
      if (e.source.id === id && e.kind !== "implements" && code && !depth.has(e.target.id)) {
        depth.set(e.target.id, depth.get(id) + 1);
        queue.push(e.target.id);
      }
    }
  }
  const deepest = Math.max(1, ...depth.values());
  const span = width - 2 * MARGIN - 160;  // room for the widest labels at both ends
  return new Map([...depth].map(([id, d]) => [id, MARGIN + 80 + (span * d) / deepest]));
}

// Pushes apart any two boxes (nodes and labels alike) that overlap, along the axis of least overlap.
// Labels give way more than nodes, so the graph's shape comes from its edges and labels fit around it.
function forceRectangles(items, strength) {
  const give = (d) => (d.isLabel ? 1 : 0.25);
  return () => {
    for (let i = 0; i < items.length; i++) {
      for (let j = i + 1; j < items.length; j++) {
        const a = items[i], b = items[j];
        const push = overlap(a.x + a.vx, a.y + a.vy, a, b.x + b.vx, b.y + b.vy, b);
        if (!push) continue;
        const share = give(a) / (give(a) + give(b));
        a.vx -= push[0] * strength * share;
        a.vy -= push[1] * strength * share;
        b.vx += push[0] * strength * (1 - share);
        b.vy += push[1] * strength * (1 - share);
      }
    }
  };
}

// The same push applied to positions until nothing overlaps a label: nodes stay put, labels move.
function separateLabels(items, rounds) {
  for (let round = 0; round < rounds; round++) {
    let moved = false;
    for (let i = 0; i < items.length; i++) {
      for (let j = i + 1; j < items.length; j++) {
        const a = items[i], b = items[j];
        const push = (a.isLabel || b.isLabel) && overlap(a.x, a.y, a, b.x, b.y, b);
        if (!push) continue;
        const share = !b.isLabel ? 1 : !a.isLabel ? 0 : 0.5;  // the fraction of the push that moves a
        const [px, py] = push.map((v) => v + Math.sign(v) * 0.5);  // a little past touching
        a.x -= px * share;
        a.y -= py * share;
        b.x += px * (1 - share);
        b.y += py * (1 - share);
        moved = true;
      }
    }
    if (!moved) return;
  }
}

// How far b must move away from a, along the axis of least overlap, for their boxes (centred at the
// given points) to stop overlapping: [x, y] with one of them 0, or null when they do not overlap.
function overlap(ax, ay, a, bx, by, b) {
  const dx = bx - ax, dy = by - ay;
  const ox = a.hw + b.hw - Math.abs(dx), oy = a.hh + b.hh - Math.abs(dy);
  if (ox <= 0 || oy <= 0) return null;
  return ox < oy ? [(dx < 0 ? -1 : 1) * ox, 0] : [0, (dy < 0 ? -1 : 1) * oy];
}

// A force acting on a subset of the simulation's nodes.
function only(force, keep) {
  const initialize = force.initialize;
  force.initialize = (items, ...rest) => initialize(items.filter(keep), ...rest);
  return force;
}

// A label reads as its node's when it touches it and is level with it or spans it from above or below.
function attached(label, n) {
  const level = Math.abs(label.y - n.y) <= label.hh / 2;
  const spans = Math.abs(label.x - n.x) <= label.hw - n.hw;
  return distance(label, n) <= 4 && (level || spans);
}

// Where a label may go, `gap` away from its node: centred below or above, beside, then slid sideways
// above or below (still spanning the node), then beside but a little higher or lower (still level).
function spotsAround(n, label, gap) {
  const dx = n.hw + label.hw + gap, dy = n.hh + label.hh + gap;
  const slide = Math.max(0, label.hw - n.hw);
  const offsets = [[0, dy], [0, -dy], [dx, 0], [-dx, 0]];
  for (const f of [0.5, 1]) offsets.push([f * slide, dy], [-f * slide, dy], [f * slide, -dy], [-f * slide, -dy]);
  const lift = label.hh / 2;
  offsets.push([dx, lift], [dx, -lift], [-dx, lift], [-dx, -lift]);
  return offsets.map(([x, y]) => ({ x: n.x + x, y: n.y + y, hw: label.hw, hh: label.hh }));
}

function nearestSpot(n, label, limit, ok) {
  for (let gap = 0; gap <= limit; gap += 2) {
    const spot = spotsAround(n, label, gap).find(ok);
    if (spot) return spot;
  }
  return null;
}

// The gap between two boxes (0 when they touch or overlap).
function distance(a, b) {
  return Math.max(0, Math.abs(a.x - b.x) - a.hw - b.hw, Math.abs(a.y - b.y) - a.hh - b.hh);
}

function overlaps(a, b) {
  return Math.abs(a.x - b.x) < a.hw + b.hw && Math.abs(a.y - b.y) < a.hh + b.hh;
}

function fits(box, width, height) {
  return box.x - box.hw >= MARGIN && box.x + box.hw <= width - MARGIN &&
    box.y - box.hh >= MARGIN && box.y + box.hh <= height - MARGIN;
}

// Text boxes measured on a canvas with the svg's font: works even while the panel is hidden.
function textMeasurer(font) {
  const context = document.createElement("canvas").getContext("2d");
  return (text, weight) => {
    context.font = `${weight} ${FONT_SIZE}px ${font}`;
    const m = context.measureText(text);
    const ascent = m.fontBoundingBoxAscent, descent = m.fontBoundingBoxDescent;
    // baseline: offset from the box's centre to the text's baseline
    return { width: m.width, height: ascent + descent, baseline: (ascent - descent) / 2 };
  };
}

function fitTransform(box, width, height, d3) {
  const w = box.right - box.left, h = box.bottom - box.top;
  const k = Math.min(MAX_FIT_SCALE, Math.max(1, 0.98 * Math.min(width / w, height / h)));
  return d3.zoomIdentity.translate(width / 2, height / 2).scale(k)
    .translate(-(box.left + box.right) / 2, -(box.top + box.bottom) / 2);
}

function groupBy(values, key) {
  const groups = new Map();
  for (const v of values) groups.set(key(v), [...(groups.get(key(v)) ?? []), v]);
  return groups;
}

function mean(values) {
  return values.reduce((s, v) => s + v, 0) / values.length;
}

// ---------------------------------------------------------------- drawing helpers

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
      .attr("fill", style.arrow === "filled" ? style.color : "white")
      .attr("stroke", style.color)
      .attr("stroke-width", 1.2);
  }
}

function edgeTitle(e) {
  const what = { composes: "has", calls: "calls", inherits: "inherits from", implements: "is used in" }[e.kind];
  const source = e.source.text, target = e.target.text;
  const attributes = e.attributes.length ? ` as ${e.attributes.join(", ")}` : "";
  return `${source} ${what} ${target}${attributes}${e.many ? " (a list of them)" : ""}`;
}

function legend() {
  const list = el("ul", "kg-legend");
  list.setAttribute("aria-label", "Legend");
  for (const kind of Object.values(NODE_KINDS)) {
    const item = el("li");
    const icon = svgEl("svg", { width: 16, height: 16, viewBox: "-8 -8 16 16", "aria-hidden": "true" });
    icon.append(svgEl("path", { d: shapePath(kind.shape, 7), fill: kind.color }));
    item.append(icon, document.createTextNode(kind.name));
    list.append(item);
  }
  for (const kind of Object.values(EDGE_KINDS)) {
    const item = el("li");
    const icon = svgEl("svg", { width: 30, height: 12, viewBox: "0 0 30 12", "aria-hidden": "true" });
    icon.append(svgEl("line", { x1: 1, y1: 6, x2: kind.arrow ? 21 : 29, y2: 6, stroke: kind.color,
                                "stroke-width": 1.5, "stroke-dasharray": kind.dash ?? "none" }));
    if (kind.arrow) {
      icon.append(svgEl("path", { d: "M20,1.5L29,6L20,10.5Z", stroke: kind.color,
                                  fill: kind.arrow === "filled" ? kind.color : "white" }));
    }
    item.append(icon, document.createTextNode(kind.name));
    list.append(item);
  }
  return list;
}

// ---------------------------------------------------------------- the modal

// One <dialog> per graph: showModal gives role=dialog, a focus trap and Escape; we return focus ourselves.
function createDialog(prefix, layout, openNode) {
  const dialog = el("dialog", "kg-dialog");
  dialog.setAttribute("aria-labelledby", `${prefix}-title`);
  dialog.setAttribute("aria-modal", "true");
  const close = el("button", "kg-close");
  close.type = "button";
  close.textContent = "×";
  close.setAttribute("aria-label", "Close");
  const title = el("h2", "kg-title");
  title.id = `${prefix}-title`;
  const body = el("div", "kg-body");
  dialog.append(close, title, body);
  let opener = null;

  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("click", (event) => {
    const r = dialog.getBoundingClientRect();  // a click outside the box is a click on the backdrop
    const inside = event.clientX >= r.left && event.clientX <= r.right && event.clientY >= r.top &&
      event.clientY <= r.bottom;
    if (event.target === dialog && !inside) dialog.close();
  });
  dialog.addEventListener("close", () => {
    opener?.focus();
    opener = null;
  });

  return {
    element: dialog,
    open(node, from) {
      opener ??= from;
      title.textContent = node.text;
      body.replaceChildren(...details(node, layout, openNode));
      dialog.dataset.id = node.id;
      dialog.dataset.kind = node.kind;
      if (!dialog.open) dialog.showModal();
      body.scrollTop = 0;
      close.focus();
    },
    close() {
      if (dialog.open) dialog.close();
    },
  };
}

function details(node, layout, openNode) {
  const parts = [];
  const data = node.data;
  if (node.kind === "concept") {
    parts.push(paragraph("kg-meta", "Concept"), paragraph("kg-explanation", data.explanation));
    const formula = paragraph("kg-formula", data.formula);
    formula.setAttribute("aria-label", `Formula: ${data.formula}`);
    parts.push(formula);
  } else if (node.kind === "torch") {
    parts.push(paragraph("kg-meta", "torch.nn building block"),
               paragraph("kg-explanation", "A layer from PyTorch itself; its code is PyTorch's, not the model's."));
  } else {
    parts.push(paragraph("kg-meta", `${node.kind} in ${data.module} · transformers/${data.file}:${data.line}`));
    if (data.docstring) parts.push(paragraph("kg-docstring", data.docstring));
    parts.push(codeBlock(data.source, data.line));
  }
  parts.push(relations(node, layout, openNode));
  return parts;
}

// Buttons to the node's neighbours, so the modal can be read as a walk through the code.
function relations(node, layout, openNode) {
  const section = el("div", "kg-related");
  const heading = el("h3");
  heading.textContent = "Connected to";
  const list = el("ul");
  for (const e of layout.edges.filter((edge) => edge.source === node || edge.target === node)) {
    const other = e.source === node ? e.target : e.source;
    const item = el("li");
    const button = el("button", `kg-link kg-link-${other.kind}`);
    button.type = "button";
    button.dataset.id = other.id;
    button.textContent = other.text;
    button.addEventListener("click", () => openNode(other.id));
    item.append(document.createTextNode(relationText(e, e.source === node) + " "), button);
    list.append(item);
  }
  section.append(heading, list);
  return section;
}

function relationText(e, outgoing) {
  const text = {
    composes: outgoing ? `has${e.attributes.length ? ` (${e.attributes.join(", ")})` : ""}` : "is part of",
    calls: outgoing ? "calls" : "is called by",
    inherits: outgoing ? "inherits from" : "is the base of",
    implements: outgoing ? "is used in" : "uses the concept",
  };
  return text[e.kind];
}

// Line numbers in a separate gutter, so the <code> element's text is exactly the source.
function codeBlock(source, firstLine) {
  const wrapper = el("div", "kg-code");
  const lines = source.replace(/\n$/, "").split("\n").length;
  const gutter = el("pre", "kg-gutter");
  gutter.setAttribute("aria-hidden", "true");
  gutter.textContent = range(lines).map((i) => firstLine + i).join("\n");
  const pre = el("pre", "kg-source");
  const code = el("code");
  code.append(...highlightPython(source));
  pre.append(code);
  wrapper.append(gutter, pre);
  return wrapper;
}

// ---------------------------------------------------------------- syntax highlighting

const KEYWORDS = new Set(("False None True and as assert async await break class continue def del elif else " +
  "except finally for from global if import in is lambda nonlocal not or pass raise return try while with " +
  "yield match case").split(" "));
// comment | string (any prefix, triple or single quoted) | decorator at a line's start | number | name
const TOKEN = new RegExp([
  /(#[^\n]*)/.source,
  /((?:[rRbBuUfF]{1,2})?(?:"""[\s\S]*?"""|'''[\s\S]*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))/.source,
  /((?<=^[ \t]*)@[A-Za-z_][\w.]*)/.source,
  /(\b(?:0[xXoObB][\da-fA-F_]+|\d[\d_]*(?:\.[\d_]*)?(?:[eE][+-]?\d+)?j?)|\.\d[\d_]*(?:[eE][+-]?\d+)?)/.source,
  /([A-Za-z_]\w*)/.source,
].join("|"), "gm");

// Text and <span class="kg-tok-*"> nodes whose concatenated text is exactly `source`.
function highlightPython(source) {
  const out = [];
  let last = 0;
  let afterDef = false;  // the name after `def` or `class` is the thing being defined
  const push = (text, kind) => {
    if (!kind) {
      out.push(document.createTextNode(text));
      return;
    }
    const span = el("span", `kg-tok-${kind}`);
    span.textContent = text;
    out.push(span);
  };
  for (const match of source.matchAll(TOKEN)) {
    if (match.index > last) push(source.slice(last, match.index));
    const [text, comment, string, decorator, number, name] = match;
    let kind = null;
    if (comment) kind = "comment";
    else if (string) kind = "string";
    else if (decorator) kind = "decorator";
    else if (number) kind = "number";
    else if (name && KEYWORDS.has(name)) kind = "keyword";
    else if (name && afterDef) kind = "name";
    else if (name === "self") kind = "self";
    afterDef = name === "def" || name === "class";
    push(text, kind);
    last = match.index + text.length;
  }
  if (last < source.length) push(source.slice(last));
  return out;
}

// ---------------------------------------------------------------- DOM helpers

function el(tag, className) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  return element;
}

function svgEl(tag, attributes) {
  const element = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  return element;
}

function paragraph(className, text) {
  const p = el("p", className);
  p.textContent = text;
  return p;
}

// The view's styles live next to this module, so a page only has to import it; resolves once applied.
function ensureStylesheet() {
  let link = document.querySelector("link[data-knowledge-css]");
  if (!link) {
    link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = new URL("../knowledge.css", import.meta.url).href;
    link.dataset.knowledgeCss = "";
    document.head.append(link);
  }
  if (link.sheet) return Promise.resolve();
  return new Promise((resolve, reject) => {
    link.addEventListener("load", () => resolve(), { once: true });
    link.addEventListener("error", () => reject(new Error(`cannot load ${link.href}`)), { once: true });
  });
}
