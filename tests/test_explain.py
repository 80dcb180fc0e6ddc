"""vit-lens explain: each map against numpy on the same ONNX outputs, the files it writes, bad input."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from export import analysis, fidelity, relevance
from export.samples import SAMPLES
from export.shared import names
from vit_lens import explain, figure
from vit_lens.cli import main


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    path = tmp_path_factory.mktemp("photo") / "chelsea.png"
    SAMPLES[0].load().save(path)
    return path


def reference(folder, photo):
    manifest = json.loads((folder / "manifest.json").read_text())
    rgba = np.asarray(Image.open(photo).convert("RGBA"), np.uint8)[None]
    values = fidelity.run_parts(folder, manifest["stages"], explain.pixel_values(folder, manifest["preprocessing"], rgba))
    return manifest, values


@pytest.mark.parametrize("kind", ["dinov2", "deit_teacher"])
def test_every_map_is_the_graphs_output_sliced_as_numpy_slices_it(exported, photo, kind):
    folder = exported[1][kind]
    manifest, values = reference(folder, photo)
    special, layers, labels = len(manifest["special_tokens"]), manifest["num_layers"], manifest["labels"]
    out = analysis.run(folder / "analysis.onnx", values)
    got = explain.explain(folder, photo, "similarity", block=1, token=3)
    np.testing.assert_allclose(got["map"], out["analysis.similarity"][1, 3, special:], rtol=1e-6)
    got = explain.explain(folder, photo, "attention", block=2, head="2", token=0)
    np.testing.assert_allclose(got["map"], values[names.in_block(1, names.PROBS)][0, 1, 0, special:], rtol=1e-6)
    got = explain.explain(folder, photo, "rollout", head="max", token=5)
    np.testing.assert_allclose(got["map"], out["analysis.rollout.max"][layers - 1, 5, special:], rtol=1e-6)
    got = explain.explain(folder, photo, "lens", block=0)
    assert got["classes"] == [labels[c] for c in out["analysis.lens"][0, special:].argmax(1)]
    for chosen, versus in ((None, None), (labels[2], labels[0])):
        got = explain.explain(folder, photo, "relevance", chosen=chosen, versus=versus)
        index = int(values[names.PROBABILITIES][0].argmax()) if chosen is None else labels.index(chosen)
        target = relevance.target(len(labels), index, None if versus is None else labels.index(versus))
        want = relevance.run(folder / "relevance.onnx", values[names.EMBEDDINGS_OUTPUT], target)[names.RELEVANCE]
        np.testing.assert_allclose(got["map"], want[special:], rtol=1e-6)
        assert got["asked"]["class"] == labels[index] and got["asked"]["versus"] == versus
    assert got["grid"] == manifest["grid"] and len(got["map"]) == manifest["num_patches"]
    assert got["probabilities"] == pytest.approx(dict(zip(labels, values[names.PROBABILITIES][0].tolist())))


def test_the_command_writes_the_json_and_the_figure(exported, photo, tmp_path, capsys):
    folder = exported[1]["vit"]
    manifest = json.loads((folder / "manifest.json").read_text())
    png, numbers = tmp_path / "out.png", tmp_path / "out.json"
    assert main(["explain", str(folder), str(photo), "--map", "relevance", "--class", "dog", "--versus", "cat",
                 "--png", str(png), "--json", str(numbers)]) == 0
    data = json.loads(numbers.read_text())
    assert set(data) >= {"probabilities", "grid", "map", "asked", "fragment"}
    assert data["asked"] == {"map": "relevance", "class": "dog", "versus": "cat", "block": None, "head": "mean",
                             "token": 0}
    assert "kind=relevance&class=dog&versus=cat" in data["fragment"]
    height, width = manifest["image_size"]
    with Image.open(png) as picture:
        assert picture.width == max(2 * width, figure.TEXT_WIDTH) + 32 and picture.height > 2 * height
        assert len(picture.getcolors(maxcolors=1 << 16)) > 100  # the map over the photo, not text alone
    assert main(["explain", str(folder), str(photo), "--map", "similarity", "--block", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["asked"]["block"] == 0  # no file asked for: JSON on stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--class", "wolf"], "class 'wolf' is not one of the model's classes: cat, dog, ship"),
    (["--class", "cat", "--versus", "cat"], "class 'cat' cannot be compared with itself"),
    (["--map", "attention", "--block", "0"], "block 0: tiny-vit has blocks 1 to 2"),
    (["--map", "similarity", "--block", "3"], "block 3: tiny-vit has blocks 0 to 2 (0 is the embeddings' output)"),
    (["--map", "attention", "--head", "5"], "head '5': a head 1 to 4 or one of mean, max, min"),
    (["--map", "similarity", "--token", "17"], "token 17: tiny-vit has tokens 0 to 16 (0 is CLS)"),
    (["--block", "1"], "--block: the relevance map chains every block (Chefer et al.); leave it out"),
    (["--remove-patches", "3,16"], "there is no patch 16: patches are numbered 0 to 15"),
    (["--remove-patches", "three"], "remove 'three': write patch numbers like 12,13,40 or a range like 12-15"),
    (["--knock-out", "3.1"], "there is no head 3.1: blocks are 1 to 2 and heads 1 to 4"),
    (["--knock-out", "1-2"], "knock-out '1-2': write BLOCK.HEAD pairs like 3.2,5.1 (blocks 1 to 2, heads 1 to 4)"),
    (["--map", "deletion", "--remove-patches", "3"],
     "--remove-patches: a deletion or insertion curve removes patches itself; leave it out"),
])
def test_bad_input_is_one_line_naming_what_is_valid(exported, photo, capsys, args, message):
    folder = exported[1]["vit"]
    assert main(["explain", str(folder), str(photo), *args]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: {message}", err


def test_a_missing_image_or_model_and_an_older_export_are_named(exported, photo, tmp_path, capsys):
    folder = exported[1]["vit"]
    assert main(["explain", str(folder), str(tmp_path / "none.jpg")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["explain", str(tmp_path / "nothing"), str(photo)]) == 2
    assert "no exported model" in capsys.readouterr().err
    older = tmp_path / "older"
    shutil.copytree(folder, older)
    manifest = json.loads((older / "manifest.json").read_text())
    del manifest["relevance"]
    (older / "manifest.json").write_text(json.dumps(manifest))
    assert main(["explain", str(older), str(photo)]) == 2
    assert "was exported before class relevance: export it again with vit-lens export" in capsys.readouterr().err
    assert main(["explain", str(older), str(photo), "--map", "rollout"]) == 0  # the other maps still work


def test_an_edited_run_is_hugging_faces_given_the_same_edit(exported, tiny_checkpoints, photo):
    """The command's edited run natively: its probabilities against the Hugging Face model with the
    same patches left out and the same head_mask, and its map against relevance.onnx on that run."""
    from export.pipeline import load
    folder = exported[1]["dinov2"]
    manifest = json.loads((folder / "manifest.json").read_text())
    got = explain.explain(folder, photo, "relevance", remove="0-3,9", knock="2.1")
    assert got["edit"] == {"removed": [0, 1, 2, 3, 9], "knocked": ["2.1"], "described": "5 patches removed, 1 head knocked out"}
    kept = [0] + [1 + p for p in range(16) if p not in (0, 1, 2, 3, 9)]
    mask = np.ones((2, 4), np.float32)
    mask[1, 0] = 0
    rgba = np.asarray(Image.open(photo).convert("RGBA"), np.uint8)[None]
    pixels = explain.pixel_values(folder, manifest["preprocessing"], rgba)
    model, _, family = load(str(tiny_checkpoints["dinov2"]))
    logits = fidelity.run_torch_edited(model, family, pixels, kept, mask)[names.LOGITS][0].astype(np.float64)
    want = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    np.testing.assert_allclose(list(got["probabilities"].values()), want, atol=1e-5)
    assert got["unedited_probabilities"] == pytest.approx(explain.explain(folder, photo, "relevance")["probabilities"])
    assert got["map"][:4] == [None] * 4 and got["map"][9] is None and None not in got["map"][4:9]
    run = fidelity.Chain(folder, manifest["stages"]).run(pixels, kept, mask)
    target = relevance.target(3, int(np.argmax(want)))
    row = relevance.run(folder / "relevance.onnx", run[names.EMBEDDINGS_OUTPUT], target, mask)[names.RELEVANCE]
    np.testing.assert_allclose([v for v in got["map"] if v is not None], row[1:], rtol=1e-6)
    assert got["fragment"].endswith("&remove=0-3,9&knock=2.1")


@pytest.mark.parametrize("kind", ["vit", "dinov2"])
def test_deletion_and_insertion_curves_remove_patches_in_the_maps_order(exported, photo, tmp_path, kind):
    folder = exported[1][kind]
    manifest = json.loads((folder / "manifest.json").read_text())
    unedited = explain.explain(folder, photo, "rollout")
    top = max(unedited["probabilities"], key=unedited["probabilities"].get)
    ranked = sorted(range(16), key=lambda p: (-unedited["map"][p], p))
    rgba = np.asarray(Image.open(photo).convert("RGBA"), np.uint8)[None]
    pixels = explain.pixel_values(folder, manifest["preprocessing"], rgba)
    chain = fidelity.Chain(folder, manifest["stages"])
    special = len(manifest["special_tokens"])
    for curve in ("deletion", "insertion"):
        got = explain.explain(folder, photo, curve, order="rollout")
        steps = got["curve"]
        assert got["class"] == top and got["asked"]["order"] == "rollout"
        assert steps[0] == {"removed": 0.0, "probability": pytest.approx(unedited["probabilities"][top], abs=1e-6)}
        last = 16 if kind == "dinov2" else 17  # DINOv2's head reads the patches: not all of them removed
        assert [s["removed"] for s in steps] == [k / 16 for k in range(last)]
        gone = ranked[:5] if curve == "deletion" else ranked[-5:]
        kept = list(range(special)) + [special + p for p in range(16) if p not in gone]
        probability = chain.run(pixels, kept)[names.PROBABILITIES][0][manifest["labels"].index(top)]
        assert steps[5]["probability"] == pytest.approx(float(probability), abs=1e-6)
        assert got["area"] == pytest.approx(np.trapezoid([s["probability"] for s in steps], [s["removed"] for s in steps])
                                            / steps[-1]["removed"])
    out = tmp_path / "curve.png"
    assert main(["explain", str(folder), str(photo), "--map", "insertion", "--order", "random", "--png", str(out),
                 "--json", str(tmp_path / "curve.json")]) == 0
    data = json.loads((tmp_path / "curve.json").read_text())
    assert data["asked"]["seed"] == 0 and data["asked"]["class"] is None and len(data["curve"]) >= 16
    with Image.open(out) as picture:
        assert picture.width > 400 and len(picture.getcolors(maxcolors=1 << 16)) > 2
