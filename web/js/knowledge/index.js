// The knowledge background graph (EL-VIT §V-B): the classes, functions and torch.nn blocks behind the
// classifier and the concepts they implement, as a force-directed graph: laid out by layout.js,
// drawn by draw.js; clicking a node opens code_modal.js with its real source code (or a concept's
// explanation and formula). All text is set with textContent: names, docstrings and source come
// from data and are never parsed as HTML.
import { el } from "../dom.js";
import { codeModal } from "./code_modal.js";
import { drawGraph, legend } from "./draw.js";
import { buildLayout } from "./layout.js";

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
  root.append(el("p", "kg-hint", "Drag a node to move it (it stays where you drop it), scroll to zoom, drag the " +
    "background to pan. Click a class or function to read its source, a concept to read what it means."));
  container.append(root);

  const layout = buildLayout(graph, width, height, font);
  const dialog = codeModal(prefix, layout, openNode);
  root.append(dialog.element);
  const { nodeSel, labelSel } = drawGraph(svg, layout, { prefix, width, height, onOpen: openNode });
  function openNode(id) {
    dialog.open(layout.byId.get(id), nodeSel.filter((n) => n.id === id).node());
  }

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
      layout.simulation.stop();
      dialog.close();
      root.remove();
      handles.delete(container);
    },
  };
  handles.set(container, handle);
  window.vitlensKnowledge = handle;
  return handle;
}

// The view's styles live next to its modules, so a page only has to import it; resolves once applied.
function ensureStylesheet() {
  let link = document.querySelector("link[data-knowledge-css]");
  if (!link) {
    link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = new URL("../../knowledge.css", import.meta.url).href;
    link.dataset.knowledgeCss = "";
    document.head.append(link);
  }
  if (link.sheet) return Promise.resolve();
  return new Promise((resolve, reject) => {
    link.addEventListener("load", () => resolve(), { once: true });
    link.addEventListener("error", () => reject(new Error(`cannot load ${link.href}`)), { once: true });
  });
}
