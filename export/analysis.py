"""`analysis.onnx`: the Interpretation View's heavy math, a fixed function of one forward pass.

Token similarity, token norms, attention rollout and the logit lens need every hidden state or
every attention map at once; the page would spend seconds on them in Python. This graph reads the
tensors the page already holds (inputs named like the exposed tensors) and returns them in one
run; per-selection slicing is left to web/py/interpret.py.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from .families import Family
from .fidelity import open_session
from .shared import names
from .onnx_parts import OPSET

TINY = 1e-12  # a zero token gets cosine 0 with everything, not NaN


PATCHES_READ = names.PATCHES_READ
GRID = names.analysis("grid")  # constant: (row, column) of every patch, for the heads' attention distance


def input_names(num_layers: int) -> list[str]:
    """Hidden states in order (embeddings output, then each block's), then each block's attention, then
    the patches the run read."""
    return ([names.EMBEDDINGS_OUTPUT] + [names.in_block(i, names.OUTPUT) for i in range(num_layers)]
            + [names.in_block(i, names.PROBS) for i in range(num_layers)] + [PATCHES_READ])


def output_shapes(manifest: dict, tokens: int | str | None = None) -> dict[str, list]:
    """Each output's shape; `tokens` (default: the manifest's count) may be a symbol, for the graph."""
    layers, tokens = manifest["num_layers"], manifest["tokens"] if tokens is None else tokens
    states = layers + 1
    return {
        names.analysis("similarity"): [states, tokens, tokens],
        names.analysis("norms"): [states, tokens],
        **{names.analysis(f"rollout.{f}"): [layers, tokens, tokens] for f in names.FUSIONS},
        names.analysis("lens"): [states, tokens, len(manifest["labels"])],
        **{names.analysis(f"heads.{m}"): [layers, manifest["num_heads"]] for m in names.HEAD_MEASURES},
    }


class _Graph:
    """Collects nodes and initialisers; each op call returns the name of its output."""

    def __init__(self):
        self.nodes, self.initializers, self._count = [], [], 0

    def const(self, value, dtype=np.float32) -> str:
        name = f"c{len(self.initializers)}"
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, *inputs: str, out: str | None = None, **attrs) -> str:
        self._count += 1
        out = out or f"{op_type.lower()}{self._count}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out


def _similarity_and_norms(g: _Graph, states: str) -> None:
    norm = g.op("ReduceL2", states, axes=[2], keepdims=1)  # (states, tokens, 1)
    g.op("Squeeze", norm, g.const([2], np.int64), out=names.analysis("norms"))
    unit = g.op("Div", states, g.op("Max", norm, g.const(TINY)))  # (states, tokens, dim)
    g.op("MatMul", unit, g.op("Transpose", unit, perm=[0, 2, 1]), out=names.analysis("similarity"))


def _rollout(g: _Graph, stacked: str, layers: int) -> None:
    """Abnar & Zuidema's rollout for the three head fusions at once, as a batch of 3."""
    fused = g.op("Concat", *(g.op(f"Reduce{f.capitalize()}", stacked, axes=[1], keepdims=1)
                             for f in names.FUSIONS), axis=1)  # (layers, 3, tokens, tokens)
    square = g.op("Gather", g.op("Gather", stacked, g.const(0, np.int64), axis=0), g.const(0, np.int64), axis=0)
    identity = g.op("EyeLike", square)  # (tokens, tokens), made at run time rather than stored
    residual = g.op("Mul", g.op("Add", fused, identity), g.const(0.5))
    rows = g.op("ReduceSum", residual, g.const([-1], np.int64), keepdims=1)  # (layers, 3, tokens, 1)
    layer = g.op("Div", residual, rows)
    chain = []  # rollout up to each layer, (1, 3, tokens, tokens) each
    for i in range(layers):
        a = g.op("Slice", layer, g.const([i], np.int64), g.const([i + 1], np.int64), g.const([0], np.int64))
        chain.append(g.op("MatMul", a, chain[-1]) if chain else a)
    rollout = g.op("Concat", *chain, axis=0)  # (layers, 3, tokens, tokens)
    for k, f in enumerate(names.FUSIONS):
        g.op("Gather", rollout, g.const(k, np.int64), axis=1, out=names.analysis(f"rollout.{f}"))


def _heads(g: _Graph, stacked: str, grid: list[int], special: int) -> None:
    """The head atlas's measures, each (blocks, heads), over the patch tokens as queries:
    distance: the mean attention distance in patches (each query's attention over the patches,
    renormalised, times the distance between the two patches); entropy: of each query's attention over
    every token, in bits; cls: the attention a patch pays to CLS (token 0). A knocked-out head reads 0."""
    rows, cols = grid
    positions = np.array([[r, c] for r in range(rows) for c in range(cols)], np.float32)  # (patches, 2)
    g.initializers.append(numpy_helper.from_array(positions, GRID))
    read = g.op("Gather", GRID, PATCHES_READ, axis=0)  # (patches read, 2)
    diff = g.op("Sub", g.op("Unsqueeze", read, g.const([1], np.int64)), g.op("Unsqueeze", read, g.const([0], np.int64)))
    distance = g.op("Sqrt", g.op("ReduceSum", g.op("Mul", diff, diff), g.const([-1], np.int64), keepdims=0))  # (p, p)
    end = g.const([np.iinfo(np.int64).max], np.int64)
    queries = g.op("Slice", stacked, g.const([special], np.int64), end, g.const([2], np.int64))  # (layers, heads, p, tokens)
    patches = g.op("Slice", queries, g.const([special], np.int64), end, g.const([3], np.int64))  # (layers, heads, p, p)
    weighted = g.op("ReduceSum", g.op("Mul", patches, distance), g.const([-1], np.int64), keepdims=0)
    mass = g.op("ReduceSum", patches, g.const([-1], np.int64), keepdims=0)  # (layers, heads, p)
    g.op("ReduceMean", g.op("Div", weighted, g.op("Max", mass, g.const(TINY))), axes=[-1], keepdims=0,
         out=names.analysis("heads.distance"))
    surprise = g.op("Mul", queries, g.op("Log", g.op("Max", queries, g.const(TINY))))  # p log p, 0 where p is 0
    bits = g.op("Mul", g.op("ReduceSum", surprise, g.const([-1], np.int64), keepdims=0), g.const(-1 / np.log(2)))
    g.op("ReduceMean", bits, axes=[-1], keepdims=0, out=names.analysis("heads.entropy"))
    to_cls = g.op("Gather", queries, g.const(0, np.int64), axis=3)  # (layers, heads, p)
    g.op("ReduceMean", to_cls, axes=[-1], keepdims=0, out=names.analysis("heads.cls"))


def _linear(g: _Graph, x: str, layer: nn.Linear, columns=slice(None)) -> str:
    """x @ W[:, columns]^T, without the bias."""
    weight = layer.weight.detach().float().numpy()[:, columns]
    return g.op("MatMul", x, g.const(weight.T.copy()))


def _lens(g: _Graph, states: str, model: nn.Module, family: Family, special: int, dim: int) -> None:
    """The head applied to every token as if it stood in CLS's place; the other head inputs stay."""
    final = family.base_model(model).layernorm
    normed = g.op("LayerNormalization", states, g.const(final.weight.detach().float().numpy()),
                  g.const(final.bias.detach().float().numpy()), axis=-1, epsilon=float(final.eps))
    if family.name == "dinov2":  # classifier(concat(CLS, mean of patch tokens))
        head = model.classifier
        patches = g.op("Slice", normed, g.const([special], np.int64), g.const([np.iinfo(np.int64).max], np.int64),
                       g.const([1], np.int64))  # (states, patches, dim)
        patch_mean = g.op("ReduceMean", patches, axes=[1], keepdims=1)  # (states, 1, dim)
        logits = g.op("Add", _linear(g, normed, head, slice(0, dim)), _linear(g, patch_mean, head, slice(dim, None)))
        logits = g.op("Add", logits, g.const(head.bias.detach().float().numpy()))
    elif hasattr(model, "distillation_classifier"):  # (cls_classifier(CLS) + distillation_classifier(DIST)) / 2
        dist = g.op("Slice", normed, g.const([1], np.int64), g.const([2], np.int64), g.const([1], np.int64))
        bias = (model.cls_classifier.bias + model.distillation_classifier.bias).detach().float().numpy()
        logits = g.op("Add", _linear(g, normed, model.cls_classifier),
                      g.op("Add", _linear(g, dist, model.distillation_classifier), g.const(bias)))
        logits = g.op("Mul", logits, g.const(0.5))
    else:  # classifier(CLS)
        logits = g.op("Add", _linear(g, normed, model.classifier),
                      g.const(model.classifier.bias.detach().float().numpy()))
    g.op("Softmax", logits, axis=-1, out=names.analysis("lens"))  # (states, tokens, classes)


def build(manifest: dict, model: nn.Module, family: Family) -> onnx.ModelProto:
    """The analysis graph for an exported model; sizes from its manifest, weights from `model`."""
    layers, dim = manifest["num_layers"], manifest["hidden_size"]
    heads, special = manifest["num_heads"], len(manifest["special_tokens"])
    wanted = input_names(layers)
    hidden, probs = wanted[:layers + 1], wanted[layers + 1:-1]
    g = _Graph()
    states = g.op("Concat", *hidden, axis=0)  # (layers + 1, tokens, dim)
    _similarity_and_norms(g, states)
    stacked = g.op("Concat", *probs, axis=0)  # (layers, heads, tokens, tokens)
    _rollout(g, stacked, layers)
    _heads(g, stacked, manifest["grid"], special)
    _lens(g, states, model, family, special, dim)
    symbol = "tokens"  # any count: a what-if run with patches removed has fewer tokens
    inputs = ([helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, symbol, dim]) for n in hidden]
              + [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, heads, symbol, symbol]) for n in probs]
              + [helper.make_tensor_value_info(PATCHES_READ, TensorProto.INT64, ["patches"])])
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape)
               for n, shape in output_shapes(manifest, symbol).items()]
    graph = helper.make_graph(g.nodes, "vitlens_analysis", inputs, outputs, g.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="vit-lens")
    proto.ir_version = 9  # what onnxruntime(-web) of this project reads; opset 17 needs 8
    onnx.checker.check_model(proto, full_check=True)
    return proto


def manifest_entry(path: Path, manifest: dict) -> dict:
    return {"file": path.name, "bytes": path.stat().st_size, "inputs": input_names(manifest["num_layers"]),
            "outputs": output_shapes(manifest)}


def run(path: Path, values: dict[str, np.ndarray], patches: list[int] | None = None,
        threads: int = 0) -> dict[str, np.ndarray]:
    """Feed the graph from exposed tensors (e.g. `fidelity.run_parts` output), as the page does;
    `patches`: the patches the run read (a what-if run's kept ones), by default all of them."""
    session = open_session(path, threads)
    outputs = [o.name for o in session.get_outputs()]
    if patches is None:
        patches = range(_patch_count(path))
    feeds = {i.name: values[i.name] for i in session.get_inputs() if i.name != PATCHES_READ}
    feeds[PATCHES_READ] = np.asarray(list(patches), np.int64)
    return dict(zip(outputs, session.run(outputs, feeds)))


def _patch_count(path: Path) -> int:
    """The patches of the model's grid (the GRID constant's rows)."""
    return next(i.dims[0] for i in onnx.load(str(path)).graph.initializer if i.name == GRID)


def lens_error(outputs: dict[str, np.ndarray], logits: np.ndarray) -> float:
    """Largest difference between the lens at the last state for CLS and the model's probabilities."""
    e = np.exp(logits[0].astype(np.float64) - logits[0].max())
    return float(np.abs(outputs[names.analysis("lens")][-1, 0] - e / e.sum()).max())
