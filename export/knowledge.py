"""The knowledge background graph (EL-VIT §V-B): the classes behind a classifier, and the concepts they implement.

Every class, function and relation is read from the *installed* transformers source with `ast`, so the graph
shows the code the exported model actually ran, never a hand-typed diagram that drifts from it. Nodes keep
their exact source text (what `inspect.getsource` returns) so the viewer can show it verbatim, and its
tokens as Pygments reads them, so the viewer only wraps each in a coloured span; the concept nodes carry a
short explanation and formula for students and are linked to the code by detection rules over the syntax
tree.
"""
from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
from pathlib import Path
from collections.abc import Callable

import transformers
from pygments.lexers import PythonLexer
from pygments.token import Comment, Keyword, Name, Number, Operator, String

from .families import SUPPORTED

# torch.nn building blocks worth a node of their own; containers (ModuleList) and fallbacks (Identity) are not.
TORCH_BLOCKS = ("nn.Linear", "nn.Conv2d", "nn.LayerNorm", "nn.Dropout", "nn.Parameter")

Code = ast.ClassDef | ast.FunctionDef

# Pygments' token types, in order, to the few kinds the viewer colours (.kg-tok-<kind> in web/knowledge.css)
HIGHLIGHT = ((Keyword, "keyword"), (Operator.Word, "keyword"), (String, "string"), (Comment, "comment"),
             (Number, "number"), (Name.Decorator, "decorator"), (Name.Class, "name"), (Name.Function, "name"),
             (Name.Builtin.Pseudo, "self"))


def _name(expr: ast.expr) -> str:
    """`nn.functional.softmax` for the callee of a call; a leading `torch.` is dropped so both spellings match."""
    return ast.unparse(expr).removeprefix("torch.")


def _method(node: Code, name: str) -> ast.FunctionDef | None:
    return next((f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == name), None)


def _self_assignments(node: Code) -> list[tuple[str, ast.expr]]:
    """(attribute, value) for every `self.attribute = value` in `__init__`, in source order, branches included."""
    init = _method(node, "__init__")
    if init is None:
        return []
    found = [(n.lineno, n.col_offset, t.attr, n.value) for n in ast.walk(init)
             if isinstance(n, ast.Assign) for t in n.targets
             if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"]
    return [(attr, value) for *_, attr, value in sorted(found, key=lambda f: f[:2])]


def _constructed(value: ast.expr) -> list[tuple[str, bool]]:
    """(callee, many) for each call in an assigned value; many when built inside a comprehension (ModuleList)."""
    in_loop = {id(c) for comp in ast.walk(value) if isinstance(comp, (ast.ListComp, ast.GeneratorExp))
               for c in ast.walk(comp.elt)}
    calls = sorted((c for c in ast.walk(value) if isinstance(c, ast.Call)), key=lambda c: (c.lineno, c.col_offset))
    return [(_name(c.func), id(c) in in_loop) for c in calls]


def _calls(node: Code) -> set[str]:
    return {_name(c.func) for c in ast.walk(node) if isinstance(c, ast.Call)}


def _constructs(node: Code, block: str) -> bool:
    return any(callee == block for _, value in _self_assignments(node) for callee, _ in _constructed(value))


def _parameter(node: Code, attribute: str) -> bool:
    """True when `__init__` sets `self.<attribute> = nn.Parameter(...)` (possibly inside a conditional)."""
    return any(attr == attribute and any(c == "nn.Parameter" for c, _ in _constructed(value))
               for attr, value in _self_assignments(node))


def _adds_input(node: Code) -> bool:
    """A residual: `forward` adds one of its own inputs back onto a computed tensor (`out + hidden_states`)."""
    forward = _method(node, "forward")
    if forward is None:
        return False
    inputs = {a.arg for a in forward.args.args[1:]}  # skip self
    return any(isinstance(b, ast.BinOp) and isinstance(b.op, ast.Add) and
               any(isinstance(side, ast.Name) and side.id in inputs for side in (b.left, b.right))
               for b in ast.walk(forward))


def _concept(title: str, explanation: str, formula: str, rule: Callable[[Code], bool]) -> dict:
    return {"title": title, "explanation": explanation, "formula": formula, "rule": rule}


# id -> teaching text and the syntax-tree rule that finds the code implementing it. A concept whose rule
# matches nothing (layer scale in ViT, distillation token outside DeiT) is left out of that family's graph.
CONCEPTS = {
    "patch": _concept(
        "Patch",
        "The image is cut into a grid of non-overlapping P×P squares called patches. A convolution whose kernel "
        "size and stride both equal P maps every patch to one D-dimensional vector in a single step.",
        "N = (H / P) · (W / P);  e_i = E · vec(x_i) + b",
        lambda n: _constructs(n, "nn.Conv2d")),
    "token": _concept(
        "Token",
        "A token is one vector in the sequence the Transformer reads. The grid of patch embeddings is flattened "
        "row by row into a sequence, so each patch becomes one token.",
        "(B, D, H/P, W/P) → flatten → (B, D, N) → transpose → (B, N, D)",
        lambda n: any(c.endswith(".flatten") for c in _calls(n))),
    "CLS token": _concept(
        "CLS token",
        "A learned vector placed in front of the patch tokens. It belongs to no patch, so through attention it "
        "collects information from all of them, and the classifier reads its final state.",
        "z₀ = [x_cls; e_1; …; e_N] + E_pos",
        lambda n: _parameter(n, "cls_token")),
    "distillation token": _concept(
        "Distillation token",
        "DeiT adds a second learned token after CLS, trained to reproduce the predictions of a teacher network "
        "(knowledge distillation). DeiTForImageClassificationWithTeacher averages a CLS head and a distillation "
        "head; DeiTForImageClassification reads only the CLS token.",
        "z₀ = [x_cls; x_dist; e_1; …; e_N] + E_pos;  with teacher: logits = (W_cls·z_L[0] + W_dist·z_L[1]) / 2",
        lambda n: _parameter(n, "distillation_token")),
    "position embedding": _concept(
        "Position embedding",
        "Attention by itself ignores order, so a learned vector for each position is added to the token there. "
        "This tells the model where in the image each patch came from; for a different image size the table is "
        "resized by bicubic interpolation.",
        "z₀ = [x_cls; e_1; …; e_N] + E_pos,  one learned row of E_pos per token",
        lambda n: _parameter(n, "position_embeddings")),
    "attention head": _concept(
        "Attention head",
        "Each head projects the tokens to its own queries, keys and values of size d = D / heads and lets every "
        "token take a weighted average of all values. Several heads run in parallel and their outputs are "
        "concatenated.",
        "Attention(Q,K,V) = softmax(Q·Kᵀ / √d) · V",
        lambda n: any(attr == "num_attention_heads" for attr, _ in _self_assignments(n))),
    "softmax": _concept(
        "Softmax",
        "Softmax turns a row of raw attention scores into positive weights that sum to 1. Larger scores get "
        "exponentially more weight.",
        "softmax(x)_i = exp(x_i) / Σ_j exp(x_j)",
        lambda n: any(c.split(".")[-1] == "softmax" for c in _calls(n))),
    "residual connection": _concept(
        "Residual connection",
        "The input of a sub-block is added back to its output, so each block only learns a correction. This "
        "keeps gradients flowing through deep stacks of blocks.",
        "x′ = x + F(LN(x))",
        _adds_input),
    "layer scale": _concept(
        "Layer scale",
        "DINOv2 multiplies the output of each residual branch by a learned per-channel vector λ (lambda1) before "
        "adding it back. In training λ starts small, so every block begins close to the identity, which "
        "stabilises deep models.",
        "x′ = x + λ ⊙ F(LN(x))",
        lambda n: _parameter(n, "lambda1")),
    "LayerNorm": _concept(
        "Layer normalization",
        "LayerNorm rescales every token vector to zero mean and unit variance over its D channels, then applies "
        "a learned scale γ and shift β. It is applied before attention and before the MLP (pre-norm).",
        "LN(x) = γ ⊙ (x − μ) / √(σ² + ε) + β",
        lambda n: _constructs(n, "nn.LayerNorm")),
    "GELU": _concept(
        "GELU activation",
        "The MLP applies the activation named by config.hidden_act, GELU by default in ViT, DeiT and DINOv2. "
        "GELU weights each input by the probability that a standard normal variable is below it, a smooth "
        "version of ReLU.",
        "GELU(x) = x · Φ(x)",
        lambda n: any(isinstance(a, ast.Attribute) and a.attr == "hidden_act" for a in ast.walk(n))),
}


def build_graph(architecture: str) -> dict:
    """The JSON-ready graph for one supported classifier: code nodes reachable from it, torch blocks, concepts."""
    if architecture not in SUPPORTED:
        raise ValueError(f"no knowledge graph for {architecture!r}; supported: {', '.join(SUPPORTED)}")
    module = importlib.import_module(getattr(transformers, architecture).__module__)
    path = Path(inspect.getsourcefile(module))
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    defs: dict[str, Code] = {n.name: n for n in ast.parse(text).body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    functions = {name for name, n in defs.items() if isinstance(n, ast.FunctionDef)}

    def out_edges(node: Code) -> list[dict]:
        edges = [_edge(node.name, b.id, "inherits") for b in getattr(node, "bases", [])
                 if isinstance(b, ast.Name) and b.id in defs]
        edges += [_edge(node.name, callee, "composes", attr, many)
                  for attr, value in _self_assignments(node) for callee, many in _constructed(value)
                  if callee in defs or callee in TORCH_BLOCKS]
        # a function counts as called when referenced at all: ViTSelfAttention binds eager_attention_forward
        # to `attention_interface` and calls that
        edges += [_edge(node.name, n.id, "calls") for n in ast.walk(node)
                  if isinstance(n, ast.Name) and n.id in functions and n.id != node.name]
        return edges

    # everything reachable from the classifier over code relations; torch blocks are leaves
    reached, edges, todo = set(), [], [architecture]
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached.add(name)
        found = out_edges(defs[name])
        edges += found
        todo += [e["target"] for e in found if e["target"] in defs]

    code = sorted((defs[name] for name in reached), key=lambda n: n.lineno)
    file = path.relative_to(Path(transformers.__file__).parent).as_posix()
    nodes = [_code_node(n, module.__name__, file, lines) for n in code]
    nodes += [_torch_node(block) for block in TORCH_BLOCKS if any(e["target"] == block for e in edges)]
    for concept, info in CONCEPTS.items():
        implementers = [n.name for n in code if info["rule"](n)]
        if implementers:
            nodes.append({"id": concept, "kind": "concept",
                          **{k: info[k] for k in ("title", "explanation", "formula")}})
            edges += [_edge(concept, target, "implements") for target in implementers]

    # order: code nodes by position in the file; edges grouped by source node, then in discovery order
    rank = {n["id"]: i for i, n in enumerate(nodes)}
    unique = {tuple(e.values()): e for e in edges}.values()
    return {"architecture": architecture, "transformers_version": transformers.__version__, "nodes": nodes,
            "edges": sorted(unique, key=lambda e: rank[e["source"]])}


def _edge(source: str, target: str, kind: str, attribute: str | None = None, many: bool = False) -> dict:
    return {"source": source, "target": target, "kind": kind, "attribute": attribute, "many": many}


def _code_node(node: Code, module: str, file: str, lines: list[str]) -> dict:
    """A class or function with its exact source, decorators included, as `inspect.getsource` gives it.

    `line` is where that text starts (the first decorator, if any), so the viewer can number it from there.
    """
    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    source = "".join(lines[first - 1:node.end_lineno])
    return {"id": node.name, "kind": "class" if isinstance(node, ast.ClassDef) else "function",
            "module": module, "file": file, "line": first, "source": source, "tokens": _tokens(source),
            "docstring": ast.get_docstring(node) or "", "sha256": hashlib.sha256(source.encode()).hexdigest()}


def _torch_node(block: str) -> dict:
    """A torch.nn building block: named, not expanded (its source is PyTorch's, not the model's)."""
    return {"id": block, "kind": "torch", "module": "torch.nn", "file": None, "line": None, "source": "",
            "docstring": "", "sha256": None}


def _tokens(source: str) -> list[list[str]]:
    """The source as [kind, text] runs for the viewer's highlighting: Pygments' Python tokens mapped to the
    kinds of HIGHLIGHT ("" for plain text), neighbours of one kind merged. Their texts joined are the source."""
    runs: list[list[str]] = []
    for token_type, text in PythonLexer(stripnl=False, ensurenl=False).get_tokens(source):
        kind = next((kind for types, kind in HIGHLIGHT if token_type in types), "")
        if runs and runs[-1][0] == kind:
            runs[-1][1] += text
        else:
            runs.append([kind, text])
    return runs
