"""Bad input to the export step: each case gets one clear error line, a non-zero exit, and no
half-written output (an earlier export of the same model stays as it was)."""
from __future__ import annotations

import errno
import json
import re
import shutil

import pytest
import transformers

from export.__main__ import main


PROGRESS = re.compile(r"\.\.\. [\d.]+ s$|^exported \S+ in [\d.]+ s$")  # export.progress's lines


def export(capsys, *argv):
    """Run `python -m export` in this process; (exit code, stderr lines other than progress)."""
    code = main(list(argv))
    lines = re.split(r"[\r\n]+", capsys.readouterr().err)
    return code, [line for line in lines if line.strip() and "%|" not in line and not PROGRESS.search(line)]


def leftovers(out):
    """Anything in the output folder besides complete models and the index: half-written output."""
    if not out.exists():
        return []
    return sorted(p.name for p in out.iterdir() if p.name.startswith(".") or not (
        p.name == "index.json" or (p / "manifest.json").is_file()))


@pytest.fixture
def earlier(tiny_checkpoints, tmp_path, capsys):
    """An output folder that already holds a good export named `m`, and its manifest's bytes."""
    out = tmp_path / "out"
    assert export(capsys, "--model", str(tiny_checkpoints["vit"]), "--out", str(out), "--name", "m")[0] == 0
    return out, (out / "m" / "manifest.json").read_bytes()


def copy_of(tiny_checkpoints, tmp_path, name="broken"):
    folder = tmp_path / name
    shutil.copytree(tiny_checkpoints["vit"], folder)
    return folder


def assert_refused(capsys, earlier, model, expected, code=2):
    out, before = earlier
    got, lines = export(capsys, "--model", str(model), "--out", str(out), "--name", "m")
    assert got == code, lines
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], lines
    assert "Traceback" not in lines[0]
    assert (out / "m" / "manifest.json").read_bytes() == before
    assert leftovers(out) == []


def test_a_missing_path(capsys, earlier, tmp_path):
    assert_refused(capsys, earlier, tmp_path / "nowhere", "cannot read a Hugging Face config")


def test_an_empty_folder(capsys, earlier, tmp_path):
    (tmp_path / "empty").mkdir()
    assert_refused(capsys, earlier, tmp_path / "empty", "cannot read a Hugging Face config")


def test_a_config_that_is_not_json(capsys, earlier, tiny_checkpoints, tmp_path):
    folder = copy_of(tiny_checkpoints, tmp_path)
    (folder / "config.json").write_text("{ this is not json")
    assert_refused(capsys, earlier, folder, "cannot read a Hugging Face config")


def test_corrupt_weights(capsys, earlier, tiny_checkpoints, tmp_path):
    folder = copy_of(tiny_checkpoints, tmp_path)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    assert_refused(capsys, earlier, folder, "cannot load the weights")


def test_missing_weights(capsys, earlier, tiny_checkpoints, tmp_path):
    folder = copy_of(tiny_checkpoints, tmp_path)
    (folder / "model.safetensors").unlink()
    assert_refused(capsys, earlier, folder, "cannot load the weights")


def test_a_non_vit_architecture(capsys, earlier, tmp_path):
    transformers.ResNetForImageClassification(transformers.ResNetConfig(num_labels=2)).save_pretrained(tmp_path / "r")
    assert_refused(capsys, earlier, tmp_path / "r", "ResNetForImageClassification is not supported")


def test_a_text_model(capsys, earlier, tmp_path):
    config = transformers.BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=64, vocab_size=100)
    transformers.BertForSequenceClassification(config).save_pretrained(tmp_path / "bert")
    assert_refused(capsys, earlier, tmp_path / "bert", "BertForSequenceClassification is not supported")


def test_a_vit_without_a_classification_head(capsys, earlier, tmp_path):
    config = transformers.ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                    intermediate_size=64, image_size=32, patch_size=8)
    transformers.ViTModel(config).save_pretrained(tmp_path / "backbone")
    assert_refused(capsys, earlier, tmp_path / "backbone", "ViTModel is not supported")


def test_missing_preprocessor_config(capsys, earlier, tiny_checkpoints, tmp_path):
    folder = copy_of(tiny_checkpoints, tmp_path)
    (folder / "preprocessor_config.json").unlink()
    assert_refused(capsys, earlier, folder, "has no image processor (preprocessor_config.json)")


def test_an_unwritable_output(capsys, tiny_checkpoints, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, lines = export(capsys, "--model", str(tiny_checkpoints["vit"]), "--out", str(blocker / "out"))
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"error: cannot write to {blocker / 'out'}"), lines
    assert blocker.read_text() == "not a folder"


def test_a_full_disk(capsys, earlier, tiny_checkpoints, monkeypatch):
    from export import pipeline

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(pipeline, "write_parameters", full)
    assert_refused(capsys, earlier, tiny_checkpoints["vit"], "No space left on device")


def test_an_interrupted_run(capsys, earlier, tiny_checkpoints, monkeypatch):
    from export import pipeline

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(pipeline, "write_samples", interrupt)
    assert_refused(capsys, earlier, tiny_checkpoints["vit"], "interrupted; nothing was written", code=130)


def test_a_bad_model_name(capsys, earlier, tiny_checkpoints):
    out, before = earlier
    code, lines = export(capsys, "--model", str(tiny_checkpoints["vit"]), "--out", str(out), "--name", "../escape")
    assert code == 2 and len(lines) == 1 and "model name '../escape'" in lines[0], lines
    assert (out / "m" / "manifest.json").read_bytes() == before and leftovers(out) == []
    assert not (out.parent / "escape").exists()


def test_the_earlier_export_is_still_listed(capsys, earlier, tmp_path):
    out, _ = earlier
    export(capsys, "--model", str(tmp_path / "nowhere"), "--out", str(out), "--name", "m")
    assert [m["name"] for m in json.loads((out / "index.json").read_text())["models"]] == ["m"]
