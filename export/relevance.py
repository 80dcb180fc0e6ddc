"""`relevance.onnx`: class-specific relevance (Chefer, Gur & Wolf, ICCV 2021) as plain forward operators.

onnxruntime-web has no gradient kernels and torch.onnx cannot export an autograd call. So the
gradient is traced instead: make_fx records the model from its embeddings' output to its logits,
and torch.autograd.grad of y = target · logits with respect to every block's attention
probabilities, as one graph of aten operators whose backward ones (softmax's, LayerNorm's, GELU's)
are decomposed into primitive ones; the TorchScript exporter writes that graph like any module.
The model's own modules are traced, so every family's head (DeiT's two classifiers, DINOv2's CLS and
patch mean) and layer-scale are in the gradient as they are in the forward pass.

Inputs: `embeddings.output`, which the page keeps from its first pass, and `target` (1, classes):
one-hot for a class, +1/-1 for "A versus B". For what-if edits the graph reads any number of tokens
(traced with a symbolic count, see `_dynamic_sizes`), and `head_mask` (blocks, heads), Hugging Face's
head mask (ones: every head). Outputs, per Chefer et al.: the gradients
`layer.<i>.attention.probs.grad` (checked against torch.autograd at export), each block's
Ā_l = mean over heads of max(0, ∂y/∂A_l ⊙ A_l) as CLS's row (`relevance.blocks`, (blocks, tokens)),
and CLS's row of R = (I + Ā_L) ··· (I + Ā_1) (`relevance`, (tokens,)).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from torch._decomp import core_aten_decompositions, get_decompositions
from torch.fx.experimental.proxy_tensor import make_fx

from .families import Family
from .fidelity import open_session
from .onnx_parts import OPSET, store_fp16
from .probe import Probe
from .shared import names

INPUTS = [names.EMBEDDINGS_OUTPUT, names.TARGET, names.HEAD_MASKS]

# Kept whole by core_aten_decompositions, but with no ONNX symbolic: decomposed into primitives
# (slice_scatter and select_scatter are the backward of slicing out CLS, DIST or the patches).
DECOMPOSED = [torch.ops.aten._softmax, torch.ops.aten.native_layer_norm, torch.ops.aten.gelu,
              torch.ops.aten.slice_scatter, torch.ops.aten.select_scatter]


def _traced_probs(model: torch.nn.Module, family: Family, image_size: tuple[int, int], hidden: torch.Tensor,
                  head_mask: torch.Tensor | None = None):
    """The logits and every block's attention probabilities, the model run from `hidden` (its
    embeddings' output, any number of tokens) on with `head_mask` (blocks, heads): the embeddings' own
    result is replaced, and left to dead-code removal."""
    height, width = image_size
    embeddings = family.base_model(model).embeddings
    replace = embeddings.register_forward_hook(lambda module, inputs, output: hidden)
    try:
        with Probe(model, family) as probe:
            logits = model(pixel_values=torch.zeros(1, 3, height, width), head_mask=head_mask).logits
    finally:
        replace.remove()
    probs = [probe.tensors[names.in_block(i, names.PROBS)] for i in range(len(family.blocks(model)))]
    return logits, probs


def chefer(grads: list[torch.Tensor], probs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(CLS's row of each Ā_l, (blocks, tokens); CLS's row of R, (tokens,)) from ∂y/∂A_l and A_l."""
    blocks = [(g * a).clamp(min=0).mean(dim=1)[0] for g, a in zip(grads, probs)]  # each (tokens, tokens)
    tokens = blocks[0].shape[0]
    row = (torch.arange(tokens) == 0).to(blocks[0].dtype)  # e_CLS, written without an in-place store
    for block in reversed(blocks):  # R's row of CLS is e_CLS (I + Ā_L) ··· (I + Ā_1): from the last block back
        row = row + row @ block
    return torch.stack([b[0] for b in blocks]), row


def autograd_reference(model, family, image_size, hidden: np.ndarray, target: np.ndarray,
                       head_mask: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The outputs of relevance.onnx computed by torch.autograd on the model itself, for the check."""
    x = torch.from_numpy(hidden).requires_grad_()
    mask = None if head_mask is None else torch.from_numpy(head_mask)
    logits, probs = _traced_probs(model, family, image_size, x, mask)
    y = (logits * torch.from_numpy(target)).sum()
    grads = torch.autograd.grad(y, probs)
    blocks, row = chefer(grads, probs)
    out = {names.gradient(names.in_block(i, names.PROBS)): g.detach().numpy() for i, g in enumerate(grads)}
    out[names.RELEVANCE_BLOCKS], out[names.RELEVANCE] = blocks.detach().numpy(), row.detach().numpy()
    return out


class _Relevance(torch.nn.Module):
    def __init__(self, model, family, image_size):
        super().__init__()
        self.model, self.family, self.image_size = model, family, image_size

    def forward(self, hidden: torch.Tensor, target: torch.Tensor, head_mask: torch.Tensor):
        logits, probs = _traced_probs(self.model, self.family, self.image_size, hidden, head_mask)
        y = (logits * target).sum(dim=(0, 1))  # over every dim by name: the exporter's empty axes are refused
        grads = torch.autograd.grad(y, probs)
        blocks, row = chefer(grads, probs)
        return (*grads, blocks, row)


def _simplify(graph: torch.fx.GraphModule) -> None:
    """What the TorchScript exporter cannot write, made plain: aten.alias is its input, and what is
    made from nothing the graph reads (masks, index ranges; aten.full of a bool has no symbolic) is
    computed now and stored as a constant. Work on the weights stays in the graph, so that each
    weight is stored once (not also transposed). Unused nodes (the embeddings' own work) go."""
    constant = {}  # node -> its value, for nodes that read neither a graph input nor a weight
    for node in list(graph.graph.nodes):
        if node.op == "call_function" and node.target == torch.ops.aten.alias.default:
            node.replace_all_uses_with(node.args[0])
            graph.graph.erase_node(node)
        elif node.op == "call_function" and all(n in constant for n in node.all_input_nodes):
            args, kwargs = torch.fx.node.map_arg((node.args, node.kwargs), lambda n: constant[n])
            constant[node] = node.target(*args, **kwargs)
    folded = 0
    for node, value in constant.items():
        if node.op == "call_function" and isinstance(value, torch.Tensor) and node.users:
            name = f"_folded{folded}"
            folded += 1
            graph.register_buffer(name, value)
            with graph.graph.inserting_before(node):
                node.replace_all_uses_with(graph.graph.get_attr(name))
    graph.graph.eliminate_dead_code()
    graph.recompile()


def _as_python(op):
    """An aten operator called through torch's Python API, which the TorchScript tracer records with
    sizes that stay symbolic (aten's own overloads take only plain numbers)."""
    name = op.overloadpacket.__name__
    if name == "view":
        return lambda x, shape: x.view(*shape)
    if name == "expand":
        return lambda x, shape, **_: x.expand(*shape)
    if name == "full":  # aten.full of a bool has no ONNX symbolic: a float fill, cast
        return lambda size, value, dtype=None, **_: (torch.zeros(size) + float(value)).to(dtype or torch.float32)
    if name == "arange":
        return lambda start, end, step=1, dtype=None, **_: torch.arange(start, end, step, dtype=dtype)
    if name == "_to_copy":
        return lambda x, dtype=None, **_: x.to(dtype)
    return getattr(torch, name)


def _dynamic_sizes(graph: torch.fx.GraphModule) -> None:
    """Keep the token count symbolic through the TorchScript exporter: make_fx's symbolic sizes
    (aten.sym_size) become `Tensor.size` calls, which the tracer records, and every operator that reads
    such a size is called through the Python API (`_as_python`)."""
    sizes = set()
    for node in list(graph.graph.nodes):
        if node.op == "call_function" and node.target == torch.ops.aten.sym_size.int:
            with graph.graph.inserting_before(node):
                size = graph.graph.call_method("size", node.args)
            node.replace_all_uses_with(size)
            graph.graph.erase_node(node)
            sizes.add(size)
        elif node.op == "call_function" and not isinstance(node.target, torch._ops.OpOverload):
            if any(n in sizes for n in node.all_input_nodes):  # arithmetic on sizes (operator.mul, ...)
                sizes.add(node)
    for node in graph.graph.nodes:
        if node.op == "call_function" and isinstance(node.target, torch._ops.OpOverload) and (
                node.target == torch.ops.aten._to_copy.default or any(n in sizes for n in node.all_input_nodes)):
            node.target = _as_python(node.target)
    graph.recompile()


def output_names(num_layers: int) -> list[str]:
    return ([names.gradient(names.in_block(i, names.PROBS)) for i in range(num_layers)]
            + [names.RELEVANCE_BLOCKS, names.RELEVANCE])


def build(manifest: dict, model: torch.nn.Module, family: Family, path: Path, fp16: bool) -> None:
    """Trace and write relevance.onnx for an exported model (sizes from its manifest)."""
    tokens, dim, classes = manifest["tokens"], manifest["hidden_size"], len(manifest["labels"])
    layers, heads = manifest["num_layers"], manifest["num_heads"]
    image_size = tuple(manifest["image_size"])
    frozen = [p for p in model.parameters() if p.requires_grad]
    for p in frozen:  # gradients for the attention only, none for the weights
        p.requires_grad_(False)
    try:
        hidden = torch.zeros(1, tokens, dim, requires_grad=True)
        target, head_mask = torch.zeros(1, classes), torch.ones(layers, heads)
        table = {**core_aten_decompositions(), **get_decompositions(DECOMPOSED)}
        graph = make_fx(_Relevance(model, family, image_size), decomposition_table=table, tracing_mode="symbolic",
                        _allow_non_fake_inputs=True)(hidden, target, head_mask)  # the weights stay real
    finally:
        for p in frozen:
            p.requires_grad_(True)
    _simplify(graph)
    _dynamic_sizes(graph)
    torch.onnx.export(graph, (hidden.detach(), target, head_mask), str(path), dynamo=False, opset_version=OPSET,
                      input_names=INPUTS, output_names=output_names(layers),
                      dynamic_axes={names.EMBEDDINGS_OUTPUT: {1: "tokens"}})
    proto = onnx.load(str(path))
    if fp16:
        store_fp16(proto)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def manifest_entry(path: Path, manifest: dict) -> dict:
    layers, tokens, heads = manifest["num_layers"], manifest["tokens"], manifest["num_heads"]
    shapes = {name: [1, heads, tokens, tokens] for name in output_names(layers)[:layers]}
    shapes.update({names.RELEVANCE_BLOCKS: [layers, tokens], names.RELEVANCE: [tokens]})
    return {"file": path.name, "bytes": path.stat().st_size, "inputs": INPUTS,
            "outputs": shapes, "method": "Chefer, Gur and Wolf, ICCV 2021: R = I; R += mean_heads(max(0, dy/dA * A)) R"}


def target(classes: int, chosen: int, versus: int | None = None) -> np.ndarray:
    """The vector y is read with: one-hot for a class, +1 for it and -1 for `versus`."""
    vector = np.zeros((1, classes), np.float32)
    vector[0, chosen] = 1.0
    if versus is not None:
        vector[0, versus] = -1.0
    return vector


def run(path: Path, hidden: np.ndarray, target_vector: np.ndarray, head_mask: np.ndarray | None = None,
        threads: int = 0) -> dict[str, np.ndarray]:
    """relevance.onnx on an embeddings output (any number of tokens); without `head_mask`, every head."""
    session = open_session(path, threads)
    outputs = [o.name for o in session.get_outputs()]
    if head_mask is None:
        head_mask = np.ones(next(i.shape for i in session.get_inputs() if i.name == names.HEAD_MASKS), np.float32)
    feeds = {names.EMBEDDINGS_OUTPUT: hidden, names.TARGET: target_vector, names.HEAD_MASKS: head_mask}
    return dict(zip(outputs, session.run(outputs, feeds)))
