// Where the knowledge graph's labels go. Every node and label is a box (centre x, y and half sizes
// hw, hh); these keep the boxes apart, during the simulation (forceRectangles) and after it
// (placeLabels), so that no text covers a node or another text and each label reads as its node's.
export const MARGIN = 8;  // nothing is laid out closer than this to the panel's edge
const LABEL_CLEARANCE = 12;  // no other node this close to a label, so its owner is unmistakable

// A box moved inside the panel, MARGIN from its edges.
export function keepIn(d, width, height) {
  d.x = Math.max(MARGIN + d.hw, Math.min(width - MARGIN - d.hw, d.x));
  d.y = Math.max(MARGIN + d.hh, Math.min(height - MARGIN - d.hh, d.y));
}

// The forces leave labels nearly clear and near their nodes; this makes it exact. First every remaining
// overlap is pushed apart (labels move, nodes stay). Then a label that still overlaps something, or does
// not plainly belong to its own node, moves to the nearest free spot around it, preferably one where no
// other node is close enough to be mistaken for its owner. A few rounds, since each move frees space.
export function placeLabels(nodes, labels, width, height) {
  const items = [...nodes, ...labels];
  items.forEach((d) => keepIn(d, width, height));
  separateLabels(items, 100);
  labels.forEach((d) => keepIn(d, width, height));
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

// Pushes apart any two boxes (nodes and labels alike) that overlap, along the axis of least overlap.
// Labels give way more than nodes, so the graph's shape comes from its edges and labels fit around it.
export function forceRectangles(items, strength) {
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

