"""relevance.onnx against torch.autograd on the unmodified Hugging Face model, for every family.

The oracle is independent of the export's tracing: the model's own forward with its attention maps
(output_attentions), torch.autograd.grad of y = target · logits with respect to them, and Chefer et
al.'s rule in numpy.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from export import fidelity, relevance
from export.pipeline import load
from export.preprocess import preprocess
from export.samples import SAMPLES
from export.shared import names

from .test_interpret import flat  # the float32 memoryview the page hands to Python

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "web" / "py"))
import interpret  # the page's arithmetic, run here in CPython

KINDS = ("vit", "deit", "deit_teacher", "dinov2")


def autograd_gradients(model, pixel_values, target):
    """∂y/∂A_l for every block, and A_l, from the Hugging Face model itself."""
    out = model(pixel_values=torch.from_numpy(pixel_values), output_attentions=True)
    y = (out.logits * torch.from_numpy(target)).sum()
    grads = torch.autograd.grad(y, out.attentions)
    return [g.numpy() for g in grads], [a.detach().numpy() for a in out.attentions]


def chefer_numpy(grads, probs):
    """R = I; for each block in order R += mean_heads(max(0, ∂y/∂A ⊙ A)) R; CLS's rows."""
    tokens = probs[0].shape[-1]
    relevance_matrix = np.eye(tokens)
    blocks = []
    for g, a in zip(grads, probs):
        cam = np.clip(g[0].astype(np.float64) * a[0], 0, None).mean(axis=0)  # (tokens, tokens)
        relevance_matrix = relevance_matrix + cam @ relevance_matrix
        blocks.append(cam[0])
    return np.stack(blocks), relevance_matrix[0]


@pytest.mark.parametrize("kind", KINDS)
def test_relevance_equals_torch_autograd_for_a_class_and_for_a_versus_b(exported, tiny_checkpoints, kind):
    _, folders = exported
    folder = folders[kind]
    manifest = json.loads((folder / "manifest.json").read_text())
    model, recipe, _ = load(str(tiny_checkpoints[kind]))
    pixel_values = preprocess(SAMPLES[0].load(), recipe)
    values = fidelity.run_parts(folder, manifest["stages"], pixel_values)
    hidden = values[names.EMBEDDINGS_OUTPUT]
    ranked = values[names.LOGITS][0].argsort()[::-1]
    tokens, special, classes = manifest["tokens"], len(manifest["special_tokens"]), len(manifest["labels"])
    maps = []
    for chosen, versus in ((int(ranked[0]), None), (int(ranked[-1]), None), (int(ranked[0]), int(ranked[1]))):
        target = np.array([interpret.target(classes, chosen, versus)], np.float32)  # as the page asks
        np.testing.assert_array_equal(target, relevance.target(classes, chosen, versus))
        got = relevance.run(folder / manifest["relevance"]["file"], hidden, target)
        grads, probs = autograd_gradients(model, pixel_values, target)
        for i, g in enumerate(grads):
            assert fidelity.relative_diff(g, got[names.gradient(names.in_block(i, names.PROBS))]) <= 1e-4
        blocks, row = chefer_numpy(grads, probs)
        assert fidelity.relative_diff(blocks, got[names.RELEVANCE_BLOCKS]) <= 1e-4
        assert fidelity.relative_diff(row, got[names.RELEVANCE]) <= 1e-4
        shown = interpret.relevance_map(flat(got[names.RELEVANCE]), tokens, special)  # what the page draws
        assert fidelity.relative_diff(row[special:], np.array(shown)) <= 1e-4
        for layer in range(manifest["num_layers"]):
            block = interpret.relevance_block_map(flat(got[names.RELEVANCE_BLOCKS]), tokens, layer, special)
            assert fidelity.relative_diff(blocks[layer, special:], np.array(block)) <= 1e-4
        best = int(np.argmax(shown))
        assert interpret.share(shown, best) == pytest.approx(row[special + best] / row[special:].sum(), rel=1e-4)
        maps.append(shown)
    assert not np.allclose(maps[0], maps[1])  # another class, another map


def test_the_manifest_lists_the_graph_and_its_check(exported):
    _, folders = exported
    for kind in KINDS:
        manifest = json.loads((folders[kind] / "manifest.json").read_text())
        entry, layers, tokens = manifest["relevance"], manifest["num_layers"], manifest["tokens"]
        assert entry["inputs"] == [names.EMBEDDINGS_OUTPUT, names.TARGET, "head_mask"]
        assert entry["outputs"][names.RELEVANCE] == [tokens] and entry["outputs"][names.RELEVANCE_BLOCKS] == [layers, tokens]
        assert entry["file"] in manifest["files"]
        record = manifest["fidelity"]["relevance"]
        assert record["max_relative_diff"] <= 1e-4 and record["reference"] == "torch.autograd"
        assert len(record["targets"]) == 2 and " versus " in record["targets"][1]


def test_the_graph_is_made_of_forward_operators_onnxruntime_web_runs(exported):
    import onnx
    _, folders = exported
    model = onnx.load(str(folders["dinov2"] / "relevance.onnx"))
    assert {node.domain for node in model.graph.node} <= {""}  # no training or contrib kernels
    assert {node.op_type for node in model.graph.node}.isdisjoint({"SoftmaxGrad", "Gradient", "YieldOp"})


def test_a_target_names_its_classes():
    assert interpret.target(3, 1) == [0.0, 1.0, 0.0] and interpret.target(3, 1, 2) == [0.0, 1.0, -1.0]
    with pytest.raises(IndexError, match=r"class 3 is outside 0\.\.2"):
        interpret.target(3, 3)
    with pytest.raises(ValueError, match="cannot be compared with itself"):
        interpret.target(3, 1, 1)
