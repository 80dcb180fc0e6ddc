// How the knowledge graph shows each kind of node and edge: sizes for its layout, shapes, colours,
// dashes and arrows for its drawing and its legend.
export const FONT_SIZE = 12;  // px in layout units; the fit-to-view zoom never goes below 1
export const ROOT_RADIUS = 14;

export const NODE_KINDS = {
  class: { name: "Class", color: "#3b4cc0", shape: "circle", r: 10 },
  function: { name: "Function", color: "#0d7f73", shape: "diamond", r: 10 },
  torch: { name: "torch.nn block", color: "#6b7485", shape: "square", r: 8 },
  concept: { name: "Concept", color: "#c8620a", shape: "hexagon", r: 10 },
};
export const EDGE_KINDS = {
  composes: { name: "has a (composes)", color: "#6b7485", dash: null, arrow: "filled" },
  calls: { name: "calls", color: "#0d7f73", dash: "6 3", arrow: "filled" },
  inherits: { name: "inherits from", color: "#3b4cc0", dash: null, arrow: "hollow" },
  implements: { name: "concept used in", color: "#c8620a", dash: "2 3", arrow: null },
};
