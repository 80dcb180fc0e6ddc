"""analysis.onnx: every output against an independent numpy or PyTorch computation.

The graph is fed the exported parts' own tensors, as the page feeds it; the references are
computed from the same tensors, so these tests check the analysis math, not the parts.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from export import analysis, fidelity
from export.pipeline import load
from export.preprocess import preprocess
from export.samples import SAMPLES
from export.shared import names

KINDS = ["vit", "deit", "deit_teacher", "dinov2"]
PHOTO = next(s for s in SAMPLES if s.id == "chelsea")


def run_both(exported, tiny_checkpoints, kind, sample=PHOTO):
    """The manifest, the parts' tensors (pixel_values among them), the analysis outputs, the model."""
    _, folders = exported
    folder = folders[kind]
    manifest = json.loads((folder / "manifest.json").read_text())
    model, recipe, family = load(str(tiny_checkpoints[kind]))
    values = fidelity.run_parts(folder, manifest["stages"], preprocess(sample.load(), recipe))
    return manifest, values, analysis.run(folder / manifest["analysis"]["file"], values), model, family


def hidden_states(values, layers):
    """(layers + 1, tokens, dim) in float64: embeddings output, then every block's output."""
    return np.concatenate([values["embeddings.output"]] + [values[names.in_block(i, "output")] for i in range(layers)]
                          ).astype(np.float64)


@pytest.mark.parametrize("kind", KINDS)
def test_similarity_and_norms_match_numpy(exported, tiny_checkpoints, kind):
    manifest, values, out, _, _ = run_both(exported, tiny_checkpoints, kind)
    states = hidden_states(values, manifest["num_layers"])
    norms = np.linalg.norm(states, axis=-1)  # (states, tokens)
    np.testing.assert_allclose(out["analysis.norms"], norms, rtol=1e-5)
    # a zero token (randomly initialised DeiT's CLS and DIST start at zero) is similar to nothing
    unit = np.divide(states, norms[..., None], out=np.zeros_like(states), where=norms[..., None] > 0)
    np.testing.assert_allclose(out["analysis.similarity"], unit @ unit.transpose(0, 2, 1), atol=2e-6)


def numpy_rollout(probs, fuse):
    """Abnar & Zuidema: fuse heads, add the residual identity, renormalise rows, multiply up the layers."""
    result, rolled = [], None
    for layer in probs:  # (heads, tokens, tokens)
        a = (fuse(layer, axis=0) + np.eye(layer.shape[-1])) / 2
        a = a / a.sum(axis=-1, keepdims=True)
        rolled = a if rolled is None else a @ rolled
        result.append(rolled)
    return np.stack(result)


@pytest.mark.parametrize("kind", KINDS)
def test_rollout_matches_numpy(exported, tiny_checkpoints, kind):
    manifest, values, out, _, _ = run_both(exported, tiny_checkpoints, kind)
    probs = [values[names.in_block(i, "attention.probs")][0].astype(np.float64) for i in range(manifest["num_layers"])]
    for fusion, fuse in (("mean", np.mean), ("max", np.max), ("min", np.min)):
        got = out[names.analysis(f"rollout.{fusion}")]
        np.testing.assert_allclose(got, numpy_rollout(probs, fuse), atol=1e-6, err_msg=fusion)
        np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-5)


def torch_lens(model, family, state, token):
    """Token `token` copied into CLS's place, then the model's own final LayerNorm and head modules."""
    x = torch.from_numpy(state[None].astype(np.float32)).clone()  # (1, tokens, dim)
    x[:, 0] = x[:, token]
    with torch.no_grad():
        seq = family.base_model(model).layernorm(x)
        if family.name == "dinov2":
            logits = model.classifier(torch.cat([seq[:, 0], seq[:, 1:].mean(dim=1)], dim=1))
        elif hasattr(model, "distillation_classifier"):
            logits = (model.cls_classifier(seq[:, 0]) + model.distillation_classifier(seq[:, 1])) / 2
        else:
            logits = model.classifier(seq[:, 0])
        return torch.softmax(logits.double(), dim=-1)[0].numpy()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sample", [PHOTO, SAMPLES[0]], ids=lambda s: s.id)
def test_logit_lens_matches_the_model_with_the_token_in_cls_place(exported, tiny_checkpoints, kind, sample):
    manifest, values, out, model, family = run_both(exported, tiny_checkpoints, kind, sample)
    states = hidden_states(values, manifest["num_layers"])
    lens = out["analysis.lens"]
    assert lens.shape == (manifest["num_layers"] + 1, manifest["tokens"], len(manifest["labels"]))
    np.testing.assert_allclose(lens.sum(-1), 1.0, atol=1e-5)
    special = len(manifest["special_tokens"])
    for s in range(len(states)):
        for token in sorted({0, special - 1, special, manifest["tokens"] // 2, manifest["tokens"] - 1}):
            np.testing.assert_allclose(lens[s, token], torch_lens(model, family, states[s], token), atol=1e-5,
                                       err_msg=f"state {s}, token {token}")
    with torch.no_grad():
        logits = model(pixel_values=torch.from_numpy(values["pixel_values"])).logits
    np.testing.assert_allclose(lens[-1, 0], torch.softmax(logits.double(), -1)[0].numpy(), atol=1e-5)
    assert analysis.lens_error(out, values["logits"]) <= 1e-5


def test_a_zero_token_has_zero_similarity_not_nan(exported, tiny_checkpoints):
    _manifest, values, _, _, _ = run_both(exported, tiny_checkpoints, "vit")
    values = dict(values, **{"embeddings.output": values["embeddings.output"].copy()})
    values["embeddings.output"][0, 3] = 0
    out = analysis.run(exported[1]["vit"] / "analysis.onnx", values)
    similarity = out["analysis.similarity"][0]
    assert np.isfinite(similarity).all() and out["analysis.norms"][0, 3] == 0
    assert not similarity[3].any() and not similarity[:, 3].any()


@pytest.mark.parametrize("kind", KINDS)
def test_manifest_describes_the_analysis_graph(exported, kind):
    folder = exported[1][kind]
    manifest = json.loads((folder / "manifest.json").read_text())
    entry = manifest["analysis"]
    assert entry["file"] == "analysis.onnx" and (folder / "analysis.onnx").stat().st_size == entry["bytes"]
    shapes = {t["name"]: t["shape"] for t in manifest["tensors"]}
    layers, tokens = manifest["num_layers"], manifest["tokens"]
    assert entry["inputs"] == (["embeddings.output"] + [f"layer.{i}.output" for i in range(layers)]
                               + [f"layer.{i}.attention.probs" for i in range(layers)] + ["analysis.patches"])
    assert all(name in shapes for name in entry["inputs"][:-1])
    heads = manifest["num_heads"]
    assert entry["outputs"] == {
        "analysis.similarity": [layers + 1, tokens, tokens], "analysis.norms": [layers + 1, tokens],
        "analysis.rollout.mean": [layers, tokens, tokens], "analysis.rollout.max": [layers, tokens, tokens],
        "analysis.rollout.min": [layers, tokens, tokens], "analysis.lens": [layers + 1, tokens, 3],
        "analysis.heads.distance": [layers, heads], "analysis.heads.entropy": [layers, heads],
        "analysis.heads.cls": [layers, heads]}
    import onnxruntime as ort
    session = ort.InferenceSession(str(folder / "analysis.onnx"), providers=["CPUExecutionProvider"])
    def symbolic(shape, square):  # any token count: a what-if run with patches removed has fewer
        return [shape[0], "tokens", "tokens" if square else shape[2]] if len(shape) == 3 else [shape[0], "tokens"]
    assert [(i.name, i.shape) for i in session.get_inputs()] == [
        (n, [1, shapes[n][1], "tokens", "tokens"] if n.endswith("probs") else [1, "tokens", shapes[n][2]])
        for n in entry["inputs"][:-1]] + [("analysis.patches", ["patches"])]
    assert {o.name: o.shape for o in session.get_outputs()} == {
        n: shape if "heads" in n else symbolic(shape, "lens" not in n) for n, shape in entry["outputs"].items()}


def numpy_heads(probs, positions, special):
    """The head atlas's measures in float64: (distance, entropy, cls), each (layers, heads)."""
    probs = np.asarray(probs, np.float64)  # (layers, heads, tokens, tokens)
    queries = probs[:, :, special:]
    patches = queries[:, :, :, special:]
    apart = np.sqrt(((positions[:, None] - positions[None]) ** 2).sum(-1))
    mass = patches.sum(-1)
    distance = np.divide((patches * apart).sum(-1), mass, out=np.zeros_like(mass), where=mass > 0).mean(-1)
    entropy = -(queries * np.log2(np.where(queries > 0, queries, 1))).sum(-1).mean(-1)
    return distance, entropy, queries[..., 0].mean(-1)


@pytest.mark.parametrize("kind", KINDS)
def test_the_head_atlas_measures_match_numpy(exported, tiny_checkpoints, kind):
    manifest, values, out, _, _ = run_both(exported, tiny_checkpoints, kind)
    layers, special = manifest["num_layers"], len(manifest["special_tokens"])
    probs = np.stack([values[names.in_block(i, names.PROBS)][0] for i in range(layers)])
    rows, cols = manifest["grid"]
    positions = np.array([[r, c] for r in range(rows) for c in range(cols)], np.float64)
    for measure, want in zip(names.HEAD_MEASURES, numpy_heads(probs, positions, special)):
        np.testing.assert_allclose(out[names.analysis(f"heads.{measure}")], want, atol=2e-5, err_msg=measure)
    assert out[names.analysis("heads.distance")].max() <= np.hypot(rows - 1, cols - 1)
