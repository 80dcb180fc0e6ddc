// Model Overview (EL-VIT V-A): lays out and draws one level of the diagram that web/py/overview.py
// describes. Focus + context: a node with children drills down, a leaf opens its tensor in Model
// detail, the empty background or Escape goes one level up. Text is always set with .text().
import { motion } from "./dom.js";

const d3 = window.d3;
const NODE_W = 150;
const NODE_H = 60;
const COL_GAP = 96;
const ROW_H = 128;
const MARGIN = { top: 40, left: 16 };
const PER_ROW = 4;  // a long chain snakes over rows of at most this many boxes, so the diagram stays legible
const MIN_SCALE = 0.6;  // a level wider than its host is drawn at least this large, and scrolls

// Each node's grid cell and its top-left corner (x, y) below `top`. Python gives its step along the
// data flow (col) and its lane (row); a single chain longer than a row snakes: left to right, then
// right to left, ... A row holds as many boxes as the host's width allows (two on a phone), at most PER_ROW.
function place(nodes, hostWidth, top) {
  const fits = Math.floor((hostWidth - 2 * MARGIN.left + COL_GAP) / (NODE_W + COL_GAP) / MIN_SCALE);
  const perRow = Math.max(2, Math.min(PER_ROW, fits || PER_ROW));
  const chain = nodes.length > perRow && nodes.every((n) => n.row === 0);
  return nodes.map((n) => {
    const row = chain ? Math.floor(n.col / perRow) : n.row;
    const col = !chain ? n.col : row % 2 === 0 ? n.col % perRow : perRow - 1 - n.col % perRow;
    return { ...n, col, row, x: MARGIN.left + col * (NODE_W + COL_GAP), y: top + row * ROW_H };
  });
}

// A path from one node's side to another's: straight along a row, curved between rows.
function edgePath(p, q) {
  if (p.row === q.row) {
    const forward = q.col > p.col;
    const x1 = forward ? p.x + NODE_W : p.x;
    const x2 = forward ? q.x : q.x + NODE_W;
    return `M${x1},${p.y + NODE_H / 2} L${x2},${q.y + NODE_H / 2}`;
  }
  const x1 = p.x + NODE_W / 2;
  const y1 = p.y + NODE_H;
  const x2 = q.x + NODE_W / 2;
  const y2 = q.y;
  return `M${x1},${y1} C${x1},${(y1 + y2) / 2} ${x2},${(y1 + y2) / 2} ${x2},${y2}`;
}

function skipPath(p, q) {
  const x1 = p.x + NODE_W / 2;
  const x2 = q.x + NODE_W / 2;
  const arc = Math.min(p.y, q.y) - 34;
  return `M${x1},${p.y} C${x1},${arc} ${x2},${arc} ${x2},${q.y}`;
}

export function renderOverview(container, level, trail, options) {
  const root = d3.select(container);
  let svg = root.select("svg.overview");
  if (svg.empty()) {
    root.append("nav").attr("class", "crumbs").attr("aria-label", "Overview level");
    svg = root.append("svg").attr("class", "overview").attr("role", "group");
    svg.append("defs").append("marker").attr("id", "overview-arrow").attr("viewBox", "0 0 10 10")
      .attr("refX", 9).attr("refY", 5).attr("markerWidth", 7).attr("markerHeight", 7)
      .attr("orient", "auto-start-reverse").append("path").attr("d", "M0,0 L10,5 L0,10 z");
    svg.append("rect").attr("class", "background").attr("width", "100%").attr("height", "100%");
    root.append("div").attr("class", "overview-tip").attr("role", "tooltip").attr("id", "overview-tip").attr("hidden", "");
  }
  svg.attr("aria-label", level.title);
  svg.select("rect.background").on("click", () => options.onUp());
  svg.on("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      options.onUp();
    }
  });

  const crumbs = root.select("nav.crumbs");
  crumbs.selectAll("*").remove();
  Array.from(trail).forEach(([id, title], i, all) => {
    if (i) crumbs.append("span").attr("class", "crumb-sep").text("›");
    const last = i === all.length - 1;
    crumbs.append(last ? "span" : "button").attr("class", "crumb").attr("type", last ? null : "button")
      .attr("aria-current", last ? "step" : null).text(title)
      .on("click", last ? null : () => options.onGoto(id));
  });

  // The top level has the image above its first box. Before the page is first shown the host has no
  // width yet: the window's, less the card's padding.
  const ends = Array.from(level.nodes).some((n) => n.id === "image") && options.image;
  const top = ends ? 120 : MARGIN.top;
  const nodes = place(Array.from(level.nodes), container.clientWidth || window.innerWidth - 60, top);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const cols = d3.max(nodes, (n) => n.col) + 1;
  const rows = d3.max(nodes, (n) => n.row) + 1;
  const width = MARGIN.left * 2 + cols * NODE_W + (cols - 1) * COL_GAP;
  const height = top + rows * ROW_H + (ends ? 40 : -40);
  svg.attr("viewBox", `0 0 ${width} ${height}`).attr("width", width).attr("height", height)
    .style("min-width", `${Math.round(MIN_SCALE * width)}px`);

  svg.selectAll("g.level").interrupt().transition().duration(motion(180)).style("opacity", 0).remove();
  const g = svg.append("g").attr("class", "level").attr("data-level", level.id).style("opacity", 0);
  g.transition().duration(motion(350)).style("opacity", 1);

  g.selectAll("path.skip").data(Array.from(level.skips)).join("path").attr("class", "skip")
    .attr("d", (s) => skipPath(byId.get(s.source), byId.get(s.target)))
    .attr("marker-end", "url(#overview-arrow)");
  g.selectAll("text.skip-label").data(Array.from(level.skips)).join("text").attr("class", "skip-label")
    .attr("x", (s) => (byId.get(s.source).x + byId.get(s.target).x) / 2 + NODE_W / 2)
    .attr("y", (s) => Math.min(byId.get(s.source).y, byId.get(s.target).y) - 30)
    .text((s) => s.label);

  const edges = Array.from(level.edges);
  g.selectAll("path.edge").data(edges).join("path").attr("class", "edge")
    .attr("d", (e) => edgePath(byId.get(e.source), byId.get(e.target)))
    .attr("marker-end", "url(#overview-arrow)");
  g.selectAll("text.shape").data(edges).join("text").attr("class", "shape")
    .attr("data-edge", (e) => `${e.source}-${e.target}`)
    .attr("x", (e) => {
      const a = byId.get(e.source);
      const b = byId.get(e.target);
      return a.row === b.row ? (a.x + b.x + NODE_W) / 2 : (a.x + b.x) / 2 + NODE_W / 2 + 6;
    })
    .attr("y", (e) => {
      const a = byId.get(e.source);
      const b = byId.get(e.target);
      return a.row === b.row ? a.y + NODE_H / 2 - 8 : (a.y + b.y + NODE_H) / 2;
    })
    .attr("text-anchor", (e) => (byId.get(e.source).row === byId.get(e.target).row ? "middle" : "start"))
    .text((e) => e.shape);

  const tip = root.select("div.overview-tip");
  // A finger has no hover: its first tap on a box shows the box's tip, the second opens the box.
  let tipFor = null;
  let firstTap = false;
  const showTip = (event, n) => {
    tipFor = n.id;
    const box = svg.node().getBoundingClientRect();
    const scale = box.width / width;
    const host = container.getBoundingClientRect();
    tip.attr("hidden", null).style("left", `${box.left - host.left + n.x * scale}px`)
      .style("top", `${box.top - host.top + (n.y + NODE_H + 8) * scale}px`);
    tip.selectAll("*").remove();
    tip.append("strong").text(n.label);
    tip.append("p").text(n.explain);
    const how = firstTap ? "Tap again" : "Click or press Enter";
    tip.append("p").attr("class", "tip-hint").text(n.children ? `${how} to look inside.`
      : `${how} to see this tensor in Model detail.`);
  };
  const hideTip = () => { tip.attr("hidden", ""); tipFor = null; };
  const activate = (n) => {
    hideTip();
    if (n.children) options.onDrill(n.children);
    else options.onDetail(n.detail, n.layer || 0);
  };

  const node = g.selectAll("g.node").data(nodes, (n) => n.id).join("g")
    .attr("class", (n) => `node ${n.children ? "has-children" : "leaf"} kind-${n.id.split(".")[0]}`)
    .attr("data-node", (n) => n.id)
    .attr("transform", (n) => `translate(${n.x},${n.y})`)
    .attr("tabindex", 0).attr("role", "button").attr("aria-describedby", "overview-tip")  // named by its text
    .on("pointerdown", (event, n) => { firstTap = event.pointerType === "touch" && tipFor !== n.id; })
    .on("click", (event, n) => {
      event.stopPropagation();
      if (firstTap) showTip(event, n);
      else activate(n);
      firstTap = false;
    })
    .on("keydown", (event, n) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); activate(n); }
    })
    .on("mouseenter focus", showTip)
    .on("mouseleave blur", hideTip);
  node.append("rect").attr("width", NODE_W).attr("height", NODE_H).attr("rx", 9);
  node.append("text").attr("class", "node-label").attr("x", NODE_W / 2).attr("y", 24).text((n) => n.label);
  node.append("text").attr("class", "node-sub").attr("x", NODE_W / 2).attr("y", 43).text((n) => n.sub);
  node.filter((n) => n.children).append("text").attr("class", "node-more").attr("x", NODE_W - 12).attr("y", 15)
    .attr("aria-hidden", "true").text("+");  // said by the tip: "look inside"

  // The two ends of the diagram: the image in, the live prediction out.
  const imageNode = byId.get("image");
  if (imageNode && options.image) {
    g.append("image").attr("class", "overview-image").attr("href", options.image)
      .attr("x", imageNode.x + (NODE_W - 96) / 2).attr("y", imageNode.y - 104).attr("width", 96).attr("height", 96)
      .attr("preserveAspectRatio", "xMidYMid meet");
  }
  const probsNode = byId.get("probs");
  if (probsNode && options.prediction) {
    const rows = g.append("g").attr("class", "overview-prediction")
      .attr("transform", `translate(${probsNode.x},${probsNode.y + NODE_H + 22})`);
    Array.from(options.prediction).forEach((r, i) => {
      rows.append("rect").attr("class", i ? "pbar" : "pbar top").attr("y", i * 22 - 11)
        .attr("width", Math.max(1, NODE_W * r.p)).attr("height", 14).attr("rx", 2);
      rows.append("text").attr("class", i ? "plabel" : "plabel top").attr("x", 2).attr("y", i * 22)
        .text(`${i ? "" : "★ "}${r.label} ${(100 * r.p).toFixed(1)}%`);
    });
  }
  if (options.focus) {
    const target = g.select(`g.node[data-node="${options.focus}"]`).node();
    if (target) target.focus({ preventScroll: true });
  }
}
