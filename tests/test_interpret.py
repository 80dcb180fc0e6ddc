"""web/py/interpret.py against numpy, on a tiny exported model's real attention and analysis outputs."""
from __future__ import annotations

import json
import sys
from array import array
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "web" / "py"))

import interpret
import tensors
import tensor_names as names
from export import analysis, fidelity
from export.pipeline import load
from export.preprocess import preprocess
from export.samples import SAMPLES


@pytest.fixture(scope="module", params=["dinov2", "deit_teacher"])
def outputs(request, exported, tiny_checkpoints):
    """(manifest, exposed tensors, analysis outputs) for a photo; DeiT teacher has two special tokens."""
    folder = exported[1][request.param]
    manifest = json.loads((folder / "manifest.json").read_text())
    _, recipe, _ = load(str(tiny_checkpoints[request.param]))
    values = fidelity.run_parts(folder, manifest["stages"], preprocess(SAMPLES[0].load(), recipe))
    return manifest, values, analysis.run(folder / "analysis.onnx", values)


def flat(x):
    """The float32 memoryview the page hands to Python."""
    return tensors.as_floats(np.ascontiguousarray(x, dtype=np.float32).tobytes())


def test_similarity_map_is_the_token_row_over_patches(outputs):
    manifest, values, out = outputs
    tokens, special, dim = manifest["tokens"], len(manifest["special_tokens"]), manifest["hidden_size"]
    similarity = out["analysis.similarity"]
    for state, token in ((0, 0), (1, special), (manifest["num_layers"], tokens - 1)):
        got = interpret.similarity_map(flat(similarity), tokens, state, token, special)
        np.testing.assert_array_equal(got, similarity[state, token, special:])
    # the same as recomputing from the hidden state with the stdlib cosine
    hidden = values[names.in_block(manifest["num_layers"] - 1, "output")]
    recomputed = tensors.cosine_row(flat(hidden), tokens, dim, 3)[special:]
    got = interpret.similarity_map(flat(similarity), tokens, manifest["num_layers"], 3, special)
    np.testing.assert_allclose(got, recomputed, atol=1e-5)


def test_norm_and_rollout_maps(outputs):
    manifest, _, out = outputs
    tokens, special = manifest["tokens"], len(manifest["special_tokens"])
    norms = out["analysis.norms"]
    np.testing.assert_array_equal(interpret.norm_map(flat(norms), tokens, 2, special), norms[2, special:])
    for fusion in interpret.FUSIONS:
        rollout = out[names.analysis(f"rollout.{fusion}")]
        got = interpret.rollout_map(array("f", rollout.ravel()), tokens, 1, 0, special)  # array('f') works too
        np.testing.assert_array_equal(got, rollout[1, 0, special:])


def test_attention_map_per_head_and_fused(outputs):
    manifest, values, _ = outputs
    tokens, heads, special = manifest["tokens"], manifest["num_heads"], len(manifest["special_tokens"])
    probs = values["layer.1.attention.probs"]  # (1, heads, tokens, tokens)
    view = flat(probs)
    for token in (0, tokens - 1):
        np.testing.assert_array_equal(interpret.attention_map(view, heads, tokens, 2, token, special),
                                      probs[0, 2, token, special:])
        for fusion, fuse in (("mean", np.mean), ("max", np.max), ("min", np.min)):
            np.testing.assert_allclose(interpret.attention_map(view, heads, tokens, fusion, token, special),
                                       fuse(probs[0, :, token, special:].astype(np.float64), axis=0), rtol=1e-6)


def test_lens_maps_pick_the_top_class_per_patch(outputs):
    manifest, _, out = outputs
    tokens, special, classes = manifest["tokens"], len(manifest["special_tokens"]), len(manifest["labels"])
    lens = out["analysis.lens"]  # (states, tokens, classes)
    for state in range(manifest["num_layers"] + 1):
        got = interpret.lens_maps(flat(lens), tokens, classes, state, special)
        assert [c for c, _ in got] == lens[state, special:].argmax(-1).tolist()
        np.testing.assert_array_equal([p for _, p in got], lens[state, special:].max(-1))
    np.testing.assert_array_equal(interpret.lens_probs(flat(lens), tokens, classes, 1, 0), lens[1, 0])
    assert interpret.lens_maps([0.5, 0.5] * 3, 3, 2, 0, 1) == [(0, 0.5), (0, 0.5)]


def test_out_of_range_selections_are_explained(outputs):
    manifest, values, out = outputs
    tokens, heads, classes = manifest["tokens"], manifest["num_heads"], len(manifest["labels"])
    states = manifest["num_layers"] + 1
    similarity, probs = flat(out["analysis.similarity"]), flat(values["layer.0.attention.probs"])
    with pytest.raises(IndexError, match=f"hidden state {states} is outside 0..{states - 1}"):
        interpret.similarity_map(similarity, tokens, states, 0, 1)
    with pytest.raises(IndexError, match=f"token {tokens} is outside"):
        interpret.similarity_map(similarity, tokens, 0, tokens, 1)
    with pytest.raises(IndexError, match="token -1 is outside"):
        interpret.rollout_map(flat(out["analysis.rollout.mean"]), tokens, 0, -1, 1)
    with pytest.raises(IndexError, match=f"layer {states - 1} is outside"):
        interpret.rollout_map(flat(out["analysis.rollout.mean"]), tokens, states - 1, 0, 1)
    with pytest.raises(ValueError, match="do not divide"):
        interpret.similarity_map(similarity, tokens + 1, 0, 0, 1)
    with pytest.raises(ValueError, match="leave no patch"):
        interpret.norm_map(flat(out["analysis.norms"]), tokens, 0, tokens)
    with pytest.raises(IndexError, match=f"head {heads} is outside"):
        interpret.attention_map(probs, heads, tokens, heads, 0, 1)
    with pytest.raises(ValueError, match="unknown head fusion 'median'"):
        interpret.attention_map(probs, heads, tokens, "median", 0, 1)
    with pytest.raises(ValueError, match="cannot be"):
        interpret.attention_map(probs, heads + 1, tokens, 0, 0, 1)
    with pytest.raises(IndexError, match="hidden state -1"):
        interpret.lens_maps(flat(out["analysis.lens"]), tokens, classes, -1, 1)
