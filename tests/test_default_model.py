"""The default model as scripts/setup.sh builds it: a real DINOv2 ViT-S/14 fine-tuned on CIFAR-10."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from export import fidelity
from export.default_model import HEAD_SETTINGS, NAME, ROOT, WEIGHTS_FILE, WEIGHTS_SETTINGS, finetuned_title
from export.preprocess import preprocess
from export.samples import SAMPLES

FOLDER = ROOT / "web" / "model" / NAME


@pytest.fixture(scope="module")
def manifest():
    if not (FOLDER / "manifest.json").is_file():
        pytest.fail(f"{FOLDER} is missing: run scripts/setup.sh (or python -m export.default_model)")
    return json.loads((FOLDER / "manifest.json").read_text())


def test_shapes_are_dinov2_s14(manifest):
    assert manifest["architecture"] == "Dinov2ForImageClassification"
    assert (manifest["image_size"], manifest["patch_size"], manifest["grid"]) == ([224, 224], 14, [16, 16])
    assert (manifest["tokens"], manifest["hidden_size"], manifest["num_heads"], manifest["num_layers"]) == (257, 384, 6, 12)
    assert manifest["labels"] == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    assert manifest["fidelity"]["max_relative_diff"] <= 1e-4
    assert len(manifest["stages"]) == 14


def test_it_sees_the_cat(manifest):
    chelsea = next(s for s in SAMPLES if s.id == "chelsea")
    values = fidelity.run_parts(FOLDER, manifest["stages"], preprocess(chelsea.load(), manifest["preprocessing"]))
    assert manifest["labels"][int(values["logits"].argmax())] == "cat"


def test_head_reached_its_target():
    settings = json.loads(HEAD_SETTINGS.read_text())
    assert settings["dev_top1_pytorch_features"] >= 0.75
    assert settings["dev_images"] == 5000


def test_the_page_runs_the_fine_tuned_weights(manifest):
    assert manifest["title"] == finetuned_title()
    record = json.loads(WEIGHTS_SETTINGS.read_text())
    assert hashlib.sha256(WEIGHTS_FILE.read_bytes()).hexdigest() == record["sha256"]
    assert WEIGHTS_FILE.stat().st_size < 50 * 2**20
    assert record["dev_images"] == 5000 and len(record["dev_per_class_onnx"]) == 10
    assert record["dev_top1_onnx"] > json.loads(HEAD_SETTINGS.read_text())["dev_top1_pytorch_features"]
    assert record["history"][-1]["chelsea_cat_minus_background"] > 0


def test_samples_match_the_manifest(manifest):
    ids = [s["id"] for s in manifest["samples"]]
    assert ids == [s.id for s in SAMPLES]
    for sample in manifest["samples"]:
        assert (FOLDER / sample["file"]).stat().st_size > 500
    index = json.loads((FOLDER.parent / "index.json").read_text())
    assert NAME in {m["name"] for m in index["models"]}
    assert np.isfinite(manifest["fidelity"]["max_relative_diff"])


def test_the_fine_tuned_variant_needs_its_weights(tmp_path, monkeypatch):
    from export import default_model
    monkeypatch.setattr(default_model, "WEIGHTS_FILE", tmp_path / "missing.safetensors")
    with pytest.raises(RuntimeError, match="run python -m training"):
        default_model.build_checkpoint(tmp_path / "checkpoint", finetuned=True)
