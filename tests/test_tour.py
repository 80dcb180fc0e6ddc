"""The tour's narration (web/py/tour.py) against numpy, on ViT, DeiT (two special tokens) and DINOv2."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "web" / "py"))

import tour
from manifest import Manifest
import tensors
import tensor_names as names
from export import analysis, fidelity
from export.parameters import named_parameters
from export.pipeline import load
from export.preprocess import preprocess
from export.samples import SAMPLES

KINDS = ("vit", "deit_teacher", "dinov2")


@pytest.fixture(scope="module", params=KINDS)
def run(request, exported, tiny_checkpoints):
    """(kind, typed manifest, exposed tensors, analysis outputs, learned parameters) for a photo."""
    folder = exported[1][request.param]
    raw = json.loads((folder / "manifest.json").read_text())
    model, recipe, family = load(str(tiny_checkpoints[request.param]))
    values = fidelity.run_parts(folder, raw["stages"], preprocess(SAMPLES[0].load(), recipe))
    params = {name: value for name, _, value in named_parameters(model, family)}
    return request.param, Manifest.from_json(raw), values, analysis.run(folder / "analysis.onnx", values), params


def flat(x):
    """The float32 memoryview the page hands to Python."""
    return tensors.as_floats(np.ascontiguousarray(x, dtype=np.float32).tobytes())


def words(step):
    return len(step["text"].split())


def test_every_step_is_short_and_numbers_match_numpy(run):
    kind, m, values, out, params = run
    special = len(m.special_tokens)
    probs_last = values[names.in_block(m.num_layers - 1, "attention.probs")][0]
    patch = tour.default_patch(m)
    assert divmod(patch, m.grid[1]) == (m.grid[0] // 2, m.grid[1] // 2)

    steps = [tour.image(m, 640, 480, (224, 224)), tour.patches(m, patch)]
    conv = values[names.PATCH_CONV][0]
    step = tour.embedding(m, flat(values[names.PIXELS][0]), flat(params[names.PATCH_KERNEL]),
                          flat(params[names.PATCH_BIAS]), flat(conv), patch)
    row, col = divmod(patch, m.grid[1])
    p = m.patch_size
    pixels = values[names.PIXELS][0][:, row * p:(row + 1) * p, col * p:(col + 1) * p]
    for u, total, _bias, y, model in step["numbers"]["units"]:
        assert total == pytest.approx(float((params[names.PATCH_KERNEL][u] * pixels).sum()), abs=1e-4)
        assert y == pytest.approx(model, abs=1e-4) and model == conv[u, row, col]
    np.testing.assert_array_equal(step["numbers"]["vector"], conv[:, row, col])
    steps.append(step)

    position = values[names.POSITION][0][special:].astype(np.float64)
    length = np.linalg.norm(position, axis=1, keepdims=True)
    unit = np.divide(position, length, out=np.zeros_like(position), where=length > 0)  # tiny DeiT's are zeros
    step = tour.positions(m, flat(values[names.POSITION][0]), patch)
    np.testing.assert_allclose(step["numbers"]["similarity"], unit @ unit[patch], atol=1e-5)
    assert patch not in [q for q, _ in step["numbers"]["nearest"]]
    assert ("DIST" in step["text"]) == (kind == "deit_teacher")
    steps.append(step)

    first = values[names.in_block(0, "attention.probs")][0]
    step = tour.attention(m, flat(first), flat(probs_last), patch)
    token = patch + special
    for key, probs in (("first", first), ("last", probs_last)):
        np.testing.assert_array_equal(step["numbers"][key]["map"], probs[0, token, special:])
        assert step["numbers"][key]["top"][0][0] == int(np.argmax(probs[0, token, special:]))
        assert step["numbers"][key]["cls"] == probs[0, token, 0]
    steps.append(step)

    states = [values[names.block_input(i)][0] for i in range(m.num_layers)] + [
        values[names.in_block(m.num_layers - 1, "output")][0]]
    step = tour.residual(m, [flat(s) for s in states], patch)
    np.testing.assert_allclose(step["numbers"]["norms"], [np.linalg.norm(s[token]) for s in states], rtol=1e-5)
    assert ("layer-scale" in step["text"]) == (kind == "dinov2")
    steps.append(step)

    similarity = out[names.analysis("similarity")]
    step = tour.depth(m, flat(similarity))
    np.testing.assert_array_equal(step["numbers"]["maps"], similarity[1:, 0, special:])
    steps.append(step)

    logits = values[names.LOGITS][0]
    probabilities = tensors.softmax(logits.tolist())
    step = tour.decision(m, probabilities, flat(out[names.analysis("lens")]))
    lens = out[names.analysis("lens")][:, 0]  # (states, classes) for CLS
    assert [c for c, _ in step["numbers"]["lens"]] == np.argmax(lens, 1).tolist()
    final = int(np.argmax(logits))
    assert step["numbers"]["top"][0][0] == final
    later = np.argmax(lens, 1)[step["numbers"]["wins"]:]
    assert (later == final).all() and (step["numbers"]["wins"] == 0 or np.argmax(lens[step["numbers"]["wins"] - 1]) != final)
    agrees = np.argmax(lens, 1) == final
    assert step["numbers"]["first"] == min(int(np.argmax(agrees)) if agrees.any() else 99, step["numbers"]["wins"])
    steps.append(step)
    removed = tuple(range(m.num_patches // 4))
    after = [p / 2 for p in probabilities[:-1]] + [probabilities[-1] / 2 + 0.5]  # any other decision
    step = tour.take_away(m, probabilities, after, removed, "class relevance")
    assert step["numbers"]["removed"] == list(removed) and step["numbers"]["before"] == [final, probabilities[final]]
    assert f"the {len(removed)} patches class relevance ranks highest" in step["text"]
    steps.append(step)
    steps += [tour.try_it(m, probabilities), tour.next_steps(m, patch)]

    assert len(steps) == len(tour.STEPS)
    for (name, _), step in zip(tour.STEPS, steps):
        assert words(step) <= 90, (name, words(step), step["text"])
        assert "nan" not in step["text"].lower().split()


def test_image_step_names_the_resize(run):
    _, m, *_ = run
    text = tour.image(m, 640, 480, (298, 224))["text"]
    assert "640×480" in text and f"{m.image_size[1]}×{m.image_size[0]}" in text
