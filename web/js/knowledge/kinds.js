// How the knowledge graph shows each kind of node and edge: sizes for its layout, shapes, colours,
// dashes and arrows for its drawing and its legend. Colours are the theme's (web/knowledge.css), so
// they are set as styles, not attributes.
export const FONT_SIZE = 12;  // px in layout units; the fit-to-view zoom never goes below 1
export const ROOT_RADIUS = 14;

export const NODE_KINDS = {
  class: { name: "Class", color: "var(--kg-class)", shape: "circle", r: 10 },
  function: { name: "Function", color: "var(--kg-function)", shape: "diamond", r: 10 },
  torch: { name: "torch.nn block", color: "var(--kg-torch)", shape: "square", r: 8 },
  concept: { name: "Concept", color: "var(--kg-concept)", shape: "hexagon", r: 10 },
};
export const EDGE_KINDS = {
  composes: { name: "has a (composes)", color: "var(--kg-torch)", dash: null, arrow: "filled" },
  calls: { name: "calls", color: "var(--kg-function)", dash: "6 3", arrow: "filled" },
  inherits: { name: "inherits from", color: "var(--kg-class)", dash: null, arrow: "hollow" },
  implements: { name: "concept used in", color: "var(--kg-concept)", dash: "2 3", arrow: null },
};
