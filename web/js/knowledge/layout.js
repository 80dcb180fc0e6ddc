// The knowledge graph's layout (EL-VIT §V-B): nodes and, as in the paper, one node per label in a
// d3 force simulation. Each label is attracted to its own node and pushed away from every other node
// and label by its measured text box (labels.js), so that no text covers a node or another text.
// The layout runs a fixed number of ticks synchronously, so it is deterministic and complete when
// buildLayout returns; the simulation only runs again while a node is dragged.
import { FONT_SIZE, NODE_KINDS, ROOT_RADIUS } from "./kinds.js";
import { MARGIN, forceRectangles, keepIn, placeLabels } from "./labels.js";

const NODE_PAD = 3;   // clearance around a node's shape, in layout units
const LABEL_PAD = 2;  // clearance around a label's text box

// Nodes, their label nodes and the forces between them, already run to rest.
export function buildLayout(graph, width, height, font) {
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

  const keepInside = () => items.forEach((d) => keepIn(d, width, height));
  const ticks = Math.ceil(Math.log(simulation.alphaMin()) / Math.log(1 - simulation.alphaDecay()));
  for (let i = 0; i < ticks; i++) {
    simulation.tick();
    keepInside();
  }
  // the forces leave labels nearly clear and near their nodes; placeLabels makes it exact
  const place = () => placeLabels(nodes, labels, width, height);
  place();

  const extent = () => ({
    left: Math.min(...items.map((d) => d.x - d.hw)), right: Math.max(...items.map((d) => d.x + d.hw)),
    top: Math.min(...items.map((d) => d.y - d.hh)), bottom: Math.max(...items.map((d) => d.y + d.hh)),
  });
  return { nodes, labels, edges, byId, neighbours, simulation, keepInside, placeLabels: place, extent };
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

// A force acting on a subset of the simulation's nodes.
function only(force, keep) {
  const initialize = force.initialize;
  force.initialize = (items, ...rest) => initialize(items.filter(keep), ...rest);
  return force;
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

function groupBy(values, key) {
  const groups = new Map();
  for (const v of values) groups.set(key(v), [...(groups.get(key(v)) ?? []), v]);
  return groups;
}

function mean(values) {
  return values.reduce((s, v) => s + v, 0) / values.length;
}
