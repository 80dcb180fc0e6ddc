// The knowledge graph's node details: one modal per graph (modal.js) that shows a class's or a
// function's real source code, highlighted by the export step (Pygments' tokens in knowledge.json),
// or a concept's explanation and formula, with buttons to the node's neighbours. Focus goes back
// to the node that opened it.
import { el } from "../dom.js";
import { closeOnBackdrop, modal } from "../modal.js";

// Returns { element, open(node, from), close() }; `openNode(id)` follows a link to a neighbour.
export function codeModal(prefix, layout, openNode) {
  const { dialog, title, close } = modal("kg", "h2", `${prefix}-title`);
  const body = dialog.appendChild(el("div", "kg-body"));
  closeOnBackdrop(dialog);
  let opener = null;
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
    parts.push(el("p", "kg-meta", "Concept"), el("p", "kg-explanation", data.explanation));
    const formula = el("p", "kg-formula", data.formula);
    formula.setAttribute("aria-label", `Formula: ${data.formula}`);
    parts.push(formula);
  } else if (node.kind === "torch") {
    parts.push(el("p", "kg-meta", "torch.nn building block"),
               el("p", "kg-explanation", "A layer from PyTorch itself; its code is PyTorch's, not the model's."));
  } else {
    parts.push(el("p", "kg-meta", `${node.kind} in ${data.module} · transformers/${data.file}:${data.line}`));
    if (data.docstring) parts.push(el("p", "kg-docstring", data.docstring));
    parts.push(codeBlock(data));
  }
  parts.push(relations(node, layout, openNode));
  return parts;
}

// Buttons to the node's neighbours, so the modal can be read as a walk through the code.
function relations(node, layout, openNode) {
  const section = el("div", "kg-related");
  const list = el("ul");
  for (const e of layout.edges.filter((edge) => edge.source === node || edge.target === node)) {
    const other = e.source === node ? e.target : e.source;
    const button = el("button", `kg-link kg-link-${other.kind}`, other.text);
    button.type = "button";
    button.dataset.id = other.id;
    button.addEventListener("click", () => openNode(other.id));
    const item = el("li");
    item.append(document.createTextNode(relationText(e, e.source === node) + " "), button);
    list.append(item);
  }
  section.append(el("h3", null, "Connected to"), list);
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

// Line numbers in a separate gutter, so the <code> element's text is exactly the source: the
// tokens' texts, in order, are the source, each [kind, text] a span of class kg-tok-<kind> (plain
// text when kind is ""). A knowledge.json exported before the tokens shows its source unhighlighted.
function codeBlock({ source, line, tokens = [["", source]] }) {
  const wrapper = el("div", "kg-code");
  const count = source.replace(/\n$/, "").split("\n").length;
  const gutter = el("pre", "kg-gutter", Array.from({ length: count }, (_, i) => line + i).join("\n"));
  gutter.setAttribute("aria-hidden", "true");
  const code = el("code");
  code.append(...tokens.map(([kind, text]) => (kind ? el("span", `kg-tok-${kind}`, text)
                                                    : document.createTextNode(text))));
  const pre = el("pre", "kg-source");
  pre.append(code);
  wrapper.append(gutter, pre);
  return wrapper;
}
