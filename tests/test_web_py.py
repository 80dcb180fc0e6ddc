"""The page's stdlib Python modules (web/py), run under CPython against numpy references."""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "web" / "py"))

import geometry
import overview
import state
import tensors
from manifest import FORMAT, Manifest, ManifestError

RNG = np.random.default_rng(0)


def test_as_floats_reads_bytes_in_place():
    values = RNG.standard_normal(12).astype(np.float32)
    view = tensors.as_floats(values.tobytes())
    assert view.format == "f" and list(view) == pytest.approx(values.tolist())


def test_softmax_and_top_k_match_numpy():
    logits = RNG.standard_normal(10) * 5
    expected = np.exp(logits - logits.max())
    expected /= expected.sum()
    np.testing.assert_allclose(tensors.softmax(logits.tolist()), expected, rtol=1e-12)
    assert [i for i, _ in tensors.top_k(expected.tolist(), 3)] == list(np.argsort(-expected)[:3])
    assert tensors.top_k([1.0, 3.0, 3.0], 2) == [(1, 3.0), (2, 3.0)]


def test_cosine_row_matches_numpy():
    tokens, dim = 17, 32
    x = RNG.standard_normal((tokens, dim)).astype(np.float32)
    flat = tensors.as_floats(x.tobytes())
    got = tensors.cosine_row(flat, tokens, dim, 5)
    unit = x.astype(np.float64) / np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)
    np.testing.assert_allclose(got, unit @ unit[5], rtol=1e-6, atol=1e-7)
    with pytest.raises(IndexError):
        tensors.cosine_row(flat, tokens, dim, tokens)
    with pytest.raises(ValueError):
        tensors.cosine_row(flat, tokens + 1, dim, 0)


def test_channel_matches_numpy():
    tokens, dim = 17, 8
    x = RNG.standard_normal((tokens, dim)).astype(np.float32)
    column = tensors.channel(tensors.as_floats(x.tobytes()), tokens, dim, 3)
    np.testing.assert_allclose(column, x[:, 3])


def percentile(values, q):
    return tensors.percentiles(values, [q])[0]


def test_percentile_and_levels_match_numpy():
    values = RNG.standard_normal(101).tolist()
    for q in (0, 1, 37.5, 99, 100):
        assert percentile(values, q) == pytest.approx(np.percentile(values, q))
    low, high = np.percentile(values, 1), np.percentile(values, 99)
    for bounds in ((low, high), (min(values), max(values)), ()):
        lo, hi = bounds or (min(values), max(values))
        expected = np.floor(255 * np.clip((np.array(values) - lo) / (hi - lo), 0, 1) + 0.5).astype(np.uint8)
        assert list(tensors.levels(values, *bounds)) == expected.tolist()
    assert tensors.levels([2.0, 2.0]) == bytes([128, 128])
    assert tensors.levels([float("nan"), 1.0, -1.0], -1.0, 1.0) == bytes([0, 255, 0])


RECIPES = {
    "squash": {"resize": {"height": 224, "width": 224}, "crop": None},
    "edge-crop": {"resize": {"shortest_edge": 256}, "crop": {"height": 224, "width": 224}},
}


def test_geometry():
    assert geometry.input_size(RECIPES["squash"]) == (224, 224)
    assert geometry.resized_size(RECIPES["squash"], 640, 427) == (224, 224)
    assert geometry.resized_size(RECIPES["edge-crop"], 640, 427) == (383, 256)
    assert geometry.resized_size(RECIPES["edge-crop"], 300, 451) == (256, 384)
    assert geometry.crop_box(RECIPES["edge-crop"], 383, 256) == (16, 79, 224, 224)
    assert geometry.graph_inputs(RECIPES["edge-crop"], 640, 427) == {
        "width": [383], "height": [256], "crop_start": [16, 79, 0], "crop_end": [240, 303, 3]}
    with pytest.raises(ValueError):
        geometry.resized_size(RECIPES["squash"], 0, 10)


MANIFEST = SimpleNamespace(num_layers=12, num_heads=6, tokens=257, num_patches=256, head_reads_patches=True,
                           labels=["cat", "dog", "ship"], tensors=[SimpleNamespace(name="layer.3.mlp.pre_act")])


def test_state_round_trips_through_the_url():
    s = state.State(model="m", image="chelsea", view="detail", layer=3, token=17, tensor="layer.3.mlp.pre_act")
    parsed, problems = state.parse(state.serialize(s))
    assert parsed == s and problems == []
    assert state.serialize(s) == "#model=m&image=chelsea&view=detail&layer=3&token=17&tensor=layer.3.mlp.pre_act"
    chosen = state.replace_fields(s, view="interpretation", mode="robust", kind="attention", head="4", fusion="max",
                                  opacity=0.35, block=0)
    assert state.parse(state.serialize(chosen)) == (chosen, [])
    assert "mode=robust&kind=attention&head=4&fusion=max&opacity=0.35&block=0" in state.serialize(chosen)
    same = state.replace_fields(chosen, block=3)  # Interpretation's block is Model detail's: written once
    assert "block=" not in state.serialize(same) and state.parse(state.serialize(same)) == (same, [])


def test_the_views_choices_are_checked():
    parsed, problems = state.parse("#kind=nope&mode=x&fusion=median&head=first&opacity=2&block=b")
    assert parsed == state.State() and len(problems) == 6, problems
    assert "unknown kind 'nope'; showing 'similarity'" in problems[0]
    fixed, problems = state.validate(state.State(image="a", head="7", block=13), MANIFEST, ["a"])
    assert (fixed.head, fixed.block) == ("mean", None) and len(problems) == 2
    assert state.validate(state.State(image="a", head="6", block=0), MANIFEST, ["a"]) == (
        state.State(image="a", head="6", block=0), [])
    with pytest.raises(ValueError, match="unknown kind"):
        state.replace_fields(state.State(), kind="nope")


def test_the_relevance_classes_are_checked_and_named():
    s = state.State(model="m", image="a", view="interpretation", block=1, kind="relevance", chosen="dog", versus="cat")
    assert "kind=relevance&class=dog&versus=cat" in state.serialize(s) and state.parse(state.serialize(s)) == (s, [])
    fixed, problems = state.validate(state.replace_fields(s, chosen="wolf", versus="dog"), MANIFEST, ["a"])
    assert (fixed.chosen, fixed.versus) == ("", "dog")
    assert problems == ["class 'wolf' is not one of the model's classes (cat, dog, ship); using the predicted class"]
    fixed, problems = state.validate(state.replace_fields(s, versus="dog"), MANIFEST, ["a"])
    assert fixed.versus == "" and "cannot be compared with itself" in problems[0]


def test_a_local_model_reads_as_such_in_the_url():
    s = state.State(model="local:my-vit", image="chelsea")
    assert "model=local:my-vit&" in state.serialize(s) and state.parse(state.serialize(s)) == (s, [])


def test_the_tour_step_lives_in_the_url():
    s = state.State(model="m", image="chelsea", view="tour", step=4, token=40)
    assert "tour=4" in state.serialize(s) and state.parse(state.serialize(s)) == (s, [])
    assert "tour=" not in state.serialize(state.replace_fields(s, view="detail"))
    parsed, problems = state.parse("#tour=4")  # a shared link to one step
    assert (parsed.view, parsed.step, problems) == ("tour", 4, [])
    parsed, problems = state.parse("#view=tour&tour=12")
    assert parsed.step == 1 and "no step 12" in problems[0]


def test_state_problems_are_explained():
    parsed, problems = state.parse("#view=nope&layer=abc&token=&head=2")
    assert parsed.view == "overview" and len(problems) == 3
    fixed, problems = state.validate(state.State(image="upload", layer=13, token=257), MANIFEST, ["a", "b"])
    assert (fixed.image, fixed.layer, fixed.token) == ("a", 1, 0)
    assert len(problems) == 3 and "uploaded images are not kept" in problems[0]
    fixed, problems = state.validate(state.State(image="b", layer=12, token=256), MANIFEST, ["a", "b"])
    assert problems == [] and fixed.image == "b"
    fixed, problems = state.validate(state.State(image="b", tensor="layer.99.nothing"), MANIFEST, ["a", "b"])
    assert fixed.tensor == "" and "no tensor 'layer.99.nothing'" in problems[0]
    assert state.validate(state.State(image="b", tensor="layer.3.mlp.pre_act"), MANIFEST, ["a", "b"])[0].tensor


def test_overview_shapes_come_from_the_manifest(exported):
    import json
    _, folders = exported
    for kind, folder in folders.items():
        manifest = json.loads((folder / "manifest.json").read_text())
        typed = Manifest.from_json(manifest)
        top = overview.level(typed, "model")
        shapes = [e["shape"] for e in top["edges"]]
        assert shapes[0] == "32×32×3" and shapes[1] == "4×4×32"
        assert shapes[2] == f"{manifest['tokens']}×32" and shapes[-1] == "3"
        block = overview.level(typed, "block.1")
        assert ("ls1" in [n["id"] for n in block["nodes"]]) == (kind == "dinov2")
        attention = overview.level(typed, "attention.1")
        tokens = manifest["tokens"]
        assert {e["shape"] for e in attention["edges"]} >= {f"4×{tokens}×8", f"4×{tokens}×{tokens}"}
        for level_id in ("model", "encoder", "block.0", "attention.1"):
            level = overview.level(typed, level_id)
            ids = {n["id"] for n in level["nodes"]}
            assert all(e["source"] in ids and e["target"] in ids for e in level["edges"])
            assert all(n["explain"] for n in level["nodes"])
            assert len({(n["col"], n["row"]) for n in level["nodes"]}) == len(level["nodes"])
        assert overview.parent("attention.1") == "block.1" and overview.parent("model") is None
        assert [t for t, _ in overview.trail(typed, "attention.1")] == ["model", "encoder", "block.1", "attention.1"]
    import pytest
    with pytest.raises(ValueError):
        overview.level(typed, "block.9")


import detail  # noqa: E402

FIG6 = SimpleNamespace(special_tokens=["CLS"], tokens=17, grid=[4, 4])


def test_a_manifest_of_another_format_or_kind_is_refused(exported):
    import json
    _, folders = exported
    manifest = json.loads((folders["vit"] / "manifest.json").read_text())
    assert manifest["format"] == FORMAT and Manifest.from_json(manifest).name == "tiny-vit"
    with pytest.raises(ManifestError, match=f"manifest.json is of format {FORMAT + 1} and this page reads format {FORMAT}"):
        Manifest.from_json({**manifest, "format": FORMAT + 1})
    with pytest.raises(ManifestError, match="not a JSON object"):
        Manifest.from_json([manifest])


def test_detail_layouts_index_like_numpy():
    x = RNG.standard_normal((1, 17, 8)).astype(np.float32)
    lay = detail.layout(x.shape, FIG6)
    flat = tensors.as_floats(x.tobytes())
    assert (lay["kind"], lay["maps"], lay["cells"]) == ("tokens", 8, 17)
    np.testing.assert_allclose(detail.map_values(flat, lay, 5), x[0, :, 5])
    assert flat[detail.value_index(lay, 5, 9)] == x[0, 9, 5]
    heads = RNG.standard_normal((1, 2, 17, 3)).astype(np.float32)
    lay = detail.layout(heads.shape, FIG6)
    flat = tensors.as_floats(heads.tobytes())
    assert lay["maps"] == 6 and detail.map_label(lay, 4) == "head 2, 1"
    np.testing.assert_allclose(detail.map_values(flat, lay, 4), heads[0, 1, :, 1])
    planes = RNG.standard_normal((1, 8, 4, 4)).astype(np.float32)
    lay = detail.layout(planes.shape, FIG6)
    flat = tensors.as_floats(planes.tobytes())
    np.testing.assert_allclose(detail.map_values(flat, lay, 3), planes[0, 3].ravel())
    assert detail.cell_label(lay, 6, []) == "row 1, column 2"
    scores = RNG.standard_normal((1, 2, 17, 17)).astype(np.float32)
    lay = detail.layout(scores.shape, FIG6)
    flat = tensors.as_floats(scores.tobytes())
    assert (lay["kind"], lay["maps"], lay["grid"], detail.map_label(lay, 1)) == ("matrix", 2, [17, 17], "head 2")
    np.testing.assert_allclose(detail.map_values(flat, lay, 1), scores[0, 1].ravel())
    assert flat[detail.value_index(lay, 1, 3 * 17 + 5)] == scores[0, 1, 3, 5]
    assert detail.cell_label(lay, 3 * 17 + 5, ["CLS"]) == "query token 3, key token 5"
    assert detail.cell_label(detail.layout((1, 17, 8), FIG6), 0, ["CLS"]) == "token 0 (CLS)"
    assert detail.cell_label(detail.layout((1, 17, 8), FIG6), 6, ["CLS"]) == "token 6: patch at row 1, column 1"
    assert detail.token_label(SimpleNamespace(**vars(FIG6), hidden_size=8), 6) == "token 6: patch at row 1, column 1"
    with pytest.raises(ValueError):
        detail.layout((1, 10), FIG6)
    with pytest.raises(IndexError):
        detail.value_index(lay, 8, 0)


@pytest.mark.parametrize("mode", detail.MODES)
def test_detail_levels_match_numpy(mode):
    x = RNG.standard_normal((1, 17, 8)).astype(np.float32)
    x[0, 3, 2] = 40.0  # one outlier, as ViTs have
    lay = detail.layout(x.shape, FIG6)
    got, ranges = detail.levels(tensors.as_floats(x.tobytes()), lay, 2, 4, mode)
    maps = x[0, :, 2:6].T  # (maps, tokens)
    if mode == "channel":
        low, high = maps.min(1, keepdims=True), maps.max(1, keepdims=True)
    elif mode == "tensor":
        low, high = x.min(), x.max()
    else:
        low, high = np.percentile(x, 1), np.percentile(x, 99)
    expected = np.clip(np.round((maps - low) / (high - low) * 255), 0, 255)
    np.testing.assert_allclose(np.frombuffer(got, np.uint8).reshape(4, 17), expected, atol=1)
    assert len(ranges) == 4
    with pytest.raises(ValueError):
        detail.levels(tensors.as_floats(x.tobytes()), lay, 0, 1, "nope")


def test_token_substitution_matches_numpy():
    x = RNG.standard_normal((17, 8)).astype(np.float32)
    got = np.frombuffer(tensors.substitute_token(tensors.as_floats(x.tobytes()), 17, 8, 5).tobytes(), np.float32)
    expected = x.copy()
    expected[0] = x[5]
    np.testing.assert_array_equal(got.reshape(17, 8), expected)
    with pytest.raises(IndexError):
        tensors.substitute_token(tensors.as_floats(x.tobytes()), 17, 8, 17)


def test_gelu_and_curve_match_torch():
    import torch
    xs = np.linspace(-6, 6, 101)
    expected = torch.nn.functional.gelu(torch.from_numpy(xs)).numpy()
    np.testing.assert_allclose([tensors.gelu(v) for v in xs], expected, atol=1e-12)
    points = tensors.curve(tensors.gelu, -3, 3, 7)
    assert len(points) == 7 and points[0][0] == -3 and points[-1][0] == pytest.approx(3)


def test_patch_embedding_equals_a_strided_convolution():
    import torch
    import operations
    height, width, patch, hidden = 28, 42, 14, 5
    image = RNG.standard_normal((3, height, width)).astype(np.float32)
    kernel = RNG.standard_normal((hidden, 3, patch, patch)).astype(np.float32)
    bias = RNG.standard_normal(hidden).astype(np.float32)
    conv = torch.nn.functional.conv2d(torch.from_numpy(image[None]), torch.from_numpy(kernel),
                                      torch.from_numpy(bias), stride=patch).numpy()[0]  # (hidden, 2, 3)
    pixels, weights = tensors.as_floats(image.tobytes()), tensors.as_floats(kernel.tobytes())
    for unit in (0, 3):
        steps = operations.patch_embedding(pixels, weights, bias.tolist(), unit, height, width, patch)
        np.testing.assert_allclose([out for _, out in steps], conv[unit].ravel(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose([s for s, _ in steps], conv[unit].ravel() - bias[unit], rtol=1e-5, atol=1e-5)
    block = operations.patch_pixels(pixels, height, width, patch, 1, 2)
    np.testing.assert_array_equal(block, image[:, 14:28, 28:42].ravel())
    with pytest.raises(IndexError):
        operations.patch_pixels(pixels, height, width, patch, 2, 0)
    with pytest.raises(IndexError):
        operations.patch_embedding(pixels, weights, bias.tolist(), hidden, height, width, patch)


def test_image_bytes_undo_the_normalisation():
    import operations
    rgb = RNG.integers(0, 256, (3, 4, 5))
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    normalised = ((rgb / 255 - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]).astype(np.float32)
    got = np.frombuffer(operations.image_bytes(tensors.as_floats(normalised.tobytes()), 4, 5, mean, std), np.uint8)
    np.testing.assert_array_equal(got.reshape(4, 5, 4)[..., :3], rgb.transpose(1, 2, 0))
    assert (got[3::4] == 255).all()


def test_layer_norm_matches_torch():
    import torch
    import operations
    x = (RNG.standard_normal(48) * 3 + 1).astype(np.float32)
    gamma, beta = RNG.standard_normal(48).astype(np.float32), RNG.standard_normal(48).astype(np.float32)
    expected = torch.nn.functional.layer_norm(torch.from_numpy(x), (48,), torch.from_numpy(gamma),
                                              torch.from_numpy(beta), eps=1e-6).numpy()
    got = operations.layer_norm(tensors.as_floats(x.tobytes()), gamma.tolist(), beta.tolist(), 1e-6)
    np.testing.assert_allclose(got["output"], expected, rtol=1e-5, atol=1e-5)
    wide = x.astype(np.float64)
    assert got["mean"] == pytest.approx(wide.mean()) and got["variance"] == pytest.approx(wide.var())
    with pytest.raises(ValueError):
        operations.layer_norm([1.0, 2.0], [1.0], [0.0], 1e-6)


def test_attention_row_matches_numpy():
    import operations
    heads, tokens, d = 3, 7, 8
    q = RNG.standard_normal((heads, tokens, d)).astype(np.float32)
    k = RNG.standard_normal((heads, tokens, d)).astype(np.float32)
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(d)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    got_scores, got_probs = operations.attention_row(tensors.as_floats(q.tobytes()), tensors.as_floats(k.tobytes()),
                                                     heads, tokens, d, 2, 4)
    np.testing.assert_allclose(got_scores, scores[2, 4], rtol=1e-5)
    np.testing.assert_allclose(got_probs, probs[2, 4], rtol=1e-5)
    with pytest.raises(IndexError):
        operations.attention_row(tensors.as_floats(q.tobytes()), tensors.as_floats(k.tobytes()), heads, tokens, d, 3, 0)


def test_detail_flow_annotates_every_step_of_a_level(exported):
    import json as json_module
    _, folders = exported
    manifest = Manifest.from_json(json_module.loads((folders["dinov2"] / "manifest.json").read_text()))
    top = detail.flow(manifest, "model")
    assert [s["id"] for s in top["steps"]][:3] == ["image", "patch", "tokens"] and top["up"] is None
    patch = next(s for s in top["steps"] if s["id"] == "patch")
    assert "Shape" in patch["note"] and "→" in patch["note"]
    block = detail.flow(manifest, "block.1")
    assert block["up"] == "encoder" and [t[0] for t in block["trail"]] == ["model", "encoder", "block.1"]
    assert next(s for s in block["steps"] if s["id"] == "attention")["children"] == "attention.1"
    assert [s["tensor"] for s in block["steps"]][-1] == "layer.1.output"
    attention = detail.flow(manifest, "attention.0")
    assert [s["id"] for s in attention["steps"]][:4] == ["in", "query", "key", "value"]


def test_encoder_level_puts_every_block_output_side_by_side():
    manifest = SimpleNamespace(num_layers=3, tokens=17, special_tokens=["CLS"], grid=[4, 4])
    outputs = RNG.standard_normal((3, 17, 8)).astype(np.float32)
    flat = detail.encoder_channel([tensors.as_floats(o.tobytes()) for o in outputs], 17, 8, 5)
    lay = detail.encoder_layout(manifest, 5)
    assert (lay["maps"], lay["cells"]) == (3, 17) and detail.map_label(lay, 2) == "block 3 output, channel 5"
    for block in range(3):
        np.testing.assert_array_equal(detail.map_values(flat, lay, block), outputs[block, :, 5])
    assert flat[detail.value_index(lay, 1, 9)] == outputs[1, 9, 5]
    assert detail.cell_label(lay, 0, ["CLS"]) == "token 0 (CLS)"
    state_, problems = state.validate(state.State(model="m", image="a", tensor="encoder.outputs"),
                                      SimpleNamespace(num_layers=3, num_heads=2, tokens=17, num_patches=16, tensors=[],
                                                      labels=["cat"], head_reads_patches=False), ["a"])
    assert state_.tensor == "encoder.outputs" and not problems


def test_a_what_if_edit_lives_in_the_url_compactly_and_a_bad_one_is_named():
    s = state.State(model="m", image="a", view="whatif", remove="12-15,40", replace="3", fill="blur", knock="3.2,5.1")
    assert state.serialize(s).endswith("&remove=12-15,40&replace=3&knock=3.2,5.1&fill=blur")
    assert state.parse(state.serialize(s)) == (s, [])
    fitted, problems = state.validate(state.parse("#model=m&image=a&remove=40,12-15,13&knock=5.1,3.2")[0], MANIFEST, ["a"])
    assert (fitted.remove, fitted.knock, problems) == ("12-15,40", "3.2,5.1", [])  # in their compact, sorted form
    assert state.edit_of(fitted, MANIFEST, ["a"]).kept_tokens(1, 256)[:14] == [0, *range(1, 13), 17]
    for link, message in (("remove=0-255", "removing every patch leaves nothing to classify"),
                          ("knock=13.1", "there is no head 13.1: blocks are 1 to 12 and heads 1 to 6"),
                          ("remove=1-x", "write patch numbers like 12,13,40"),
                          ("replace=4&fill=sample:zebra", "fill 'sample:zebra': use mean, blur or sample:<id>")):
        fitted, problems = state.validate(state.parse(f"#model=m&image=a&view=whatif&kind=rollout&{link}")[0],
                                          MANIFEST, ["a"])
        assert problems == [f"the link's what-if edit is not used: {problems[0].split(': ', 1)[1]}"]
        assert message in problems[0]
        assert (fitted.remove, fitted.replace, fitted.knock, fitted.view, fitted.kind) == ("", "", "", "whatif", "rollout")
    assert state.for_model(state.State(model="m", remove="3", knock="1.1"), "other").remove == ""


def test_a_url_that_names_a_block_is_told_from_the_default():
    assert state.parse("#model=m&view=interpretation&layer=11")[0].block == 11  # Interpretation opens there too
    assert state.parse("#model=m&view=interpretation")[0].block is None and state.parse("")[0].block is None
    assert state.parse("#model=m&view=detail&layer=11")[0].block is None  # Model detail's block alone
    assert state.parse("#model=m&view=interpretation&layer=11&block=0")[0].block == 0


def test_another_model_keeps_image_and_view_but_not_the_previous_models_block():
    before = state.State(model="a", image="chelsea", view="interpretation", layer=12, token=200, tensor="layer.11.output")
    after = state.for_model(before, "b")
    assert (after.model, after.image, after.view) == ("b", "chelsea", "interpretation")
    assert (after.layer, after.token, after.tensor) == (state.State.layer, state.State.token, "")
    styled = state.replace_fields(before, kind="rollout", fusion="min", head="3", mode="tensor", opacity=0.5, block=4)
    after = state.for_model(styled, "b")
    assert (after.kind, after.fusion, after.mode, after.opacity) == ("rollout", "min", "tensor", 0.5)
    assert (after.head, after.block) == ("mean", None)  # the previous model's head and block


def test_the_page_ships_every_python_file_it_has():
    """py/files.json is what web/js/python.js loads and scripts/snapshot.mjs imports: all of web/py."""
    import json
    folder = Path(__file__).resolve().parent.parent / "web" / "py"
    listed = json.loads((folder / "files.json").read_text())["files"]
    assert listed[0] == "main.py" and sorted(listed) == sorted(p.name for p in folder.glob("*.py"))
