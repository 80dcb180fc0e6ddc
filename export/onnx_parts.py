"""Export a probed classifier with optimum, then cut the graph into one part per stage.

The page runs the parts as a chain (embeddings -> block 1 -> ... -> block N -> head) and re-runs a
single block for its details. Every boundary tensor is a named output of the whole graph, so the
parts compute exactly what the whole graph computes.

For what-if edits, the parts after the embeddings read any number of tokens (a removed patch is a
token left out), and each block's part has a head mask input (the stage's `head_mask`): fed ones,
it computes what it computed before, value for value. It is a plain input that every run feeds
(`fidelity.part_feeds`, the page's chain): onnxruntime-web refuses to feed an initialiser.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import onnx
import onnx.utils
from onnx import helper, numpy_helper
from optimum.exporters.onnx.convert import export_pytorch
from optimum.exporters.tasks import TasksManager
from optimum.utils import DummyVisionInputGenerator
import torch

from .probe import ProbedModel
from .shared import names

OPSET = 17  # first opset with LayerNormalization as one op
FP16_MIN_SIZE = 1024  # weights this large are stored as float16; small vectors (norms, biases) stay float32


class _SizedVisionInputGenerator(DummyVisionInputGenerator):
    """Optimum's vision dummy input, at the size the page will feed rather than the config's."""

    def __init__(self, task, normalized_config, height: int, width: int, **kwargs):
        super().__init__(task, normalized_config, height=height, width=width, **kwargs)
        self.height, self.width = self.image_size = (height, width)


def _onnx_config(probed: ProbedModel):
    """The family's own optimum config, with a fixed image size and every probed tensor as output."""
    base = TasksManager.get_exporter_config_constructor(
        exporter="onnx", model=probed.model, task="image-classification", library_name="transformers"
    ).func
    outputs = OrderedDict((s.name, {0: "batch_size"}) for s in probed.specs)

    class ProbedOnnxConfig(base):
        DUMMY_INPUT_GENERATOR_CLASSES = (_SizedVisionInputGenerator,)

        @property
        def inputs(self):
            return {names.PIXELS: {0: "batch_size"}}

        @property
        def outputs(self):
            return outputs

    return ProbedOnnxConfig(probed.model.config, task="image-classification")


def export_whole(probed: ProbedModel, image_size: tuple[int, int], path: Path) -> None:
    height, width = image_size
    export_pytorch(
        probed, _onnx_config(probed), OPSET, path,
        input_shapes={"batch_size": 1, "height": height, "width": width},
    )


def stage_plan(probed: ProbedModel) -> list[dict]:
    """Name, input and outputs of each part, in the order the chain runs them."""
    stages: list[dict] = []
    for spec in probed.specs:
        if not stages or stages[-1]["name"] != spec.stage:
            previous = stages[-1]["outputs"][-1] if stages else names.PIXELS
            stages.append({"name": spec.stage, "input": previous, "outputs": []})
        stages[-1]["outputs"].append(spec.name)
    for stage in stages:
        block = names.block_of(stage["name"])
        if block is not None and stage["outputs"][-1] != names.in_block(block, names.OUTPUT):
            raise RuntimeError(f"{stage['name']} must end with its block output")
    return stages


def first_pass(stage: dict) -> list[str]:
    """What the page's pass over a new image keeps of a part: every output of the embeddings and the
    head, a block's attention probabilities and output (what analysis.onnx and the views read without
    re-running the block). Written into the manifest: the page, its preview and the benchmark read it."""
    block = names.block_of(stage["name"])
    return list(stage["outputs"]) if block is None else [names.in_block(block, names.PROBS), names.in_block(block, names.OUTPUT)]


def split(whole: Path, stages: list[dict], out_dir: Path, tokens: int, heads: int, fp16: bool = False) -> list[dict]:
    """Write one ONNX file per stage; return the stage list with file names. `tokens` is the traced
    token count (see `free_tokens`), `heads` the attention heads of a block (see `add_head_mask`).

    The head part also outputs the class probabilities (softmax of the logits), so the page shows
    the model's own numbers rather than computing them. fp16: store the large weights as float16
    (see `store_fp16`).
    """
    parts = []
    for stage in stages:
        file = f"{stage['name']}.onnx"
        onnx.utils.extract_model(str(whole), str(out_dir / file), [stage["input"]], stage["outputs"],
                                 check_model=False)
        model = onnx.load(str(out_dir / file))
        if stage["name"] == names.HEAD:
            add_probabilities(model)
            stage = {**stage, "outputs": stage["outputs"] + [names.PROBABILITIES]}
        if stage["name"] != names.EMBEDDINGS:
            free_tokens(model, tokens)
        block = names.block_of(stage["name"])
        if block is not None:
            add_head_mask(model, block, heads)
            stage = {**stage, "head_mask": names.in_block(block, names.HEAD_MASK)}
        if fp16:
            store_fp16(model)
        onnx.checker.check_model(model)
        onnx.save(model, str(out_dir / file))
        parts.append({**stage, "file": file, "first_pass": first_pass(stage)})
    return parts


def free_tokens(model: onnx.ModelProto, tokens: int) -> None:
    """Let a part after the embeddings read any number of tokens: the token axes of its inputs and
    outputs, fixed at the traced count, become the symbol "tokens" (the graph's reshapes already take
    their sizes from their inputs). Token axes: 1 of (batch, tokens, dim); 2 of (batch, heads, tokens, x),
    and 3 too of the square (batch, heads, tokens, tokens) scores and probabilities."""
    square = (names.SCORES, names.PROBS)
    for value in (*model.graph.input, *model.graph.output):
        dims = value.type.tensor_type.shape.dim
        axes = {3: (1,), 4: (2, 3) if value.name.endswith(square) else (2,)}
        for axis in axes.get(len(dims), ()):
            if dims[axis].dim_value == tokens:
                dims[axis].dim_param = "tokens"
    del model.graph.value_info[:]  # shapes inferred at the traced count


def add_head_mask(model: onnx.ModelProto, block: int, heads: int) -> None:
    """Hugging Face's head_mask in a block's part: the attention probabilities times the input
    `layer.<i>.attention.head_mask`, (1, heads, 1, 1), before they weigh the values, and the exposed
    probabilities are the product (as the model's own attentions are). Fed ones, it keeps every head:
    x * 1 is x, so unedited runs are unchanged."""
    graph, probs, mask = model.graph, names.in_block(block, names.PROBS), names.in_block(block, names.HEAD_MASK)
    unmasked = f"{probs}.unmasked"
    nodes = list(graph.node)
    at = next(i for i, node in enumerate(nodes) if probs in node.output)
    nodes[at].output[:] = [unmasked if o == probs else o for o in nodes[at].output]
    nodes.insert(at + 1, helper.make_node("Mul", [unmasked, mask], [probs], name=f"{probs}.masked"))
    del graph.node[:]
    graph.node.extend(nodes)
    graph.input.append(helper.make_tensor_value_info(mask, onnx.TensorProto.FLOAT, [1, heads, 1, 1]))


def add_probabilities(model: onnx.ModelProto) -> None:
    """softmax(logits) over the classes, as one more output of the head."""
    graph = model.graph
    logits = next(o for o in graph.output if o.name == names.LOGITS)
    graph.node.append(helper.make_node("Softmax", [names.LOGITS], [names.PROBABILITIES], axis=-1,
                                       name=names.PROBABILITIES))
    output = graph.output.add()
    output.CopyFrom(logits)
    output.name = names.PROBABILITIES


def store_fp16(model: onnx.ModelProto) -> None:
    """Store the part's large float32 initialisers as float16, each cast back to float32 in the graph.

    Only values float16 represents exactly are converted (the exporter rounds the weights first,
    see `round_weights_fp16`), so the part computes exactly what it computed before, in float32:
    onnxruntime folds the casts when it creates the session.
    """
    graph = model.graph
    casts, kept = [], []
    for initializer in graph.initializer:
        values = numpy_helper.to_array(initializer)
        if (initializer.data_type == onnx.TensorProto.FLOAT and values.size >= FP16_MIN_SIZE
                and np.array_equal(values.astype(np.float16).astype(np.float32), values)):
            half = numpy_helper.from_array(values.astype(np.float16), initializer.name + ".fp16")
            kept.append(half)
            casts.append(helper.make_node("Cast", [half.name], [initializer.name], to=onnx.TensorProto.FLOAT,
                                          name=f"{initializer.name}.to_fp32"))
        else:
            kept.append(initializer)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)


def round_weights_fp16(model) -> int:
    """Round the model's large weights to float16 precision in place; return how many were rounded.

    The rounded model is the one the float16-stored parts compute, so the fidelity check against
    PyTorch stays exact (1e-4), and the rounding's own effect is measured separately.
    """
    count = 0
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dtype == torch.float32 and parameter.numel() >= FP16_MIN_SIZE:
                parameter.copy_(parameter.half().float())
                count += 1
    return count
