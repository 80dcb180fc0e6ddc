"""The vit-lens command (vit_lens/cli.py): export with progress, relative --out and the user's own
samples; site assembly and its errors; help that reads like a manual; no builder's path published.
The site in a browser is tests/e2e/test_site.py."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from PIL import Image

from export.default_model import recorded_accuracy
from vit_lens.cli import main
from vit_lens.paths import ROOT, WEB

STEP = re.compile(r"^(.+)\.\.\. (\d+\.\d) s$")


def photos(folder, licences):
    """Images named after licences' keys, each with its NAME.txt (None: no text file)."""
    folder.mkdir()
    for index, (name, text) in enumerate(licences.items()):
        Image.new("RGB", (80 + 10 * index, 60), (40 * index, 120, 200)).save(folder / f"{name}.png")
        if text is not None:
            (folder / f"{name}.txt").write_text(text)
    return folder


def test_export_writes_relative_to_the_current_folder_with_progress_and_own_samples(
        tiny_checkpoints, tmp_path, monkeypatch, capsys):
    photos(tmp_path / "photos", {"my-cat": "licence: CC0\nsource: my garden\nlabel: cat",
                                           "boat": "License: CC BY 4.0, Jane Doe\ntitle: A boat"})
    monkeypatch.chdir(tmp_path)
    code = main(["export", "--model", str(tiny_checkpoints["vit"]), "--out", "models", "--name", "mine",
                 "--weights", "fp32", "--samples", "photos"])
    out, err = capsys.readouterr()
    assert code == 0, err
    folder = tmp_path / "models" / "mine"
    assert out.strip() == f"wrote {folder}"
    steps = [STEP.match(line) for line in err.splitlines()[:-1]]
    assert all(steps), err  # one line per step, with its time
    named = " | ".join(m.group(1) for m in steps)
    for what in ("loading", "tracing", "exporting", "splitting", "checking every exposed tensor"):
        assert what in named, named
    assert re.fullmatch(r"exported mine in \d+\.\d s", err.splitlines()[-1])
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [(s["id"], s["title"], s["source"], s["licence"], s["label"]) for s in manifest["samples"]] == [
        ("boat", "A boat", "boat.png", "CC BY 4.0, Jane Doe", None),
        ("my-cat", "my cat", "my garden", "CC0", "cat")]
    assert manifest["fidelity"]["image"] == "boat"
    for sample in manifest["samples"]:
        assert Image.open(folder / sample["file"]).format == "JPEG" and sample["file"] in manifest["files"]
    assert not (ROOT / "models").exists()


def test_a_published_manifest_carries_no_local_path(exported, tiny_checkpoints):
    _, folders = exported
    for kind, folder in folders.items():
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["source"] == kind  # the checkpoint folder's name, not its path
        for path in folder.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                for local in (str(tiny_checkpoints[kind].parent), str(ROOT), str(tiny_checkpoints[kind].home())):
                    assert local.encode() not in data, (path.name, local)


def test_a_hub_id_stays_the_source():
    from export.pipeline import source_name
    assert source_name("google/vit-base-patch16-224") == "google/vit-base-patch16-224"


@pytest.mark.parametrize("licences, expected", [
    ({"cat": None}, "no licence for cat.png; write NAME.txt beside each image"),
    ({"cat": "source: my garden"}, "has no `licence: ...` line"),
    ({"cat": "licence CC0"}, "line 1: expected `key: value`"),
    ({}, "no images"),
])
def test_samples_without_a_licence_are_refused_before_exporting(licences, expected, tmp_path, capsys):
    samples = photos(tmp_path / "photos", licences)
    code = main(["export", "--model", "anything", "--out", str(tmp_path / "out"), "--samples", str(samples)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and expected in err, err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_an_unreadable_sample_or_a_foreign_label_is_refused(tiny_checkpoints, tmp_path, capsys):
    samples = photos(tmp_path / "photos", {"cat": "licence: CC0"})
    (samples / "cat.png").write_bytes(b"not an image")
    assert main(["export", "--model", "x", "--out", str(tmp_path / "out"), "--samples", str(samples)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read ") and "cat.png as an image" in err, err
    labelled = photos(tmp_path / "labelled", {"cat": "licence: CC0\nlabel: zebra"})
    code = main(["export", "--model", str(tiny_checkpoints["vit"]), "--out", str(tmp_path / "out"),
                 "--samples", str(labelled)])
    err = capsys.readouterr().err
    assert code == 2 and "error: sample labels that are not classes of the model: cat (zebra)" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_site_assembles_the_page_and_any_exported_folder(exported, tmp_path, capsys):
    _, folders = exported
    out = tmp_path / "public"
    assert main(["site", "--out", str(out), "--model", str(folders["dinov2"]), str(folders["vit"])]) == 0
    index = json.loads((out / "model" / "index.json").read_text())
    assert index["default"] == "tiny-dinov2" and [m["name"] for m in index["models"]] == ["tiny-dinov2", "tiny-vit"]
    assert sorted(p.name for p in (out / "model").iterdir()) == ["index.json", "tiny-dinov2", "tiny-vit"]
    listing = json.loads((out / "precache.json").read_text())
    assert "model/tiny-dinov2/manifest.json" in listing["files"] and "model/tiny-vit/manifest.json" not in listing
    assert (out / "index.html").read_bytes() == (WEB / "index.html").read_bytes()
    assert (out / "vendor" / "files.json").is_file()
    assert main(["site", "--out", str(out), "--model", str(folders["vit"])]) == 0  # an earlier site is replaced
    assert json.loads((out / "model" / "index.json").read_text())["default"] == "tiny-vit"
    assert not (out / "model" / "tiny-dinov2").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["public"]  # no staging folder left


def test_site_errors_are_one_clear_line_and_write_nothing(exported, tmp_path, capsys):
    _, folders = exported
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    cases = [
        (["--out", str(tmp_path / "a"), "--model", "no-such-model"], "no exported model 'no-such-model'"),
        (["--out", str(tmp_path / "a"), "--model", str(tmp_path)], "has no manifest.json"),
        (["--out", str(tmp_path / "mine"), "--model", str(folders["vit"])], "is not empty and not a site"),
        (["--out", str(tmp_path / "a"), "--model", str(folders["vit"]), str(folders["vit"])],
         "two models are named tiny-vit"),
    ]
    for argv, expected in cases:
        assert main(["site", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and expected in err and len(err.splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]
    assert (tmp_path / "mine" / "notes.txt").read_text() == "mine"


def test_an_incomplete_model_folder_is_refused(exported, tmp_path, capsys):
    import shutil
    _, folders = exported
    broken = tmp_path / "broken"
    shutil.copytree(folders["vit"], broken)
    (broken / "head.onnx").unlink()
    assert main(["site", "--out", str(tmp_path / "a"), "--model", str(broken)]) == 2
    assert "is incomplete: head.onnx missing" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["", "export", "serve", "site"])
def test_help_describes_and_gives_examples(command):
    result = subprocess.run([sys.executable, "-m", "vit_lens", *command.split(), "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: vit-lens {command}".rstrip())
    assert "\nexamples:\n" in result.stdout and "  vit-lens " in result.stdout


def test_export_keeps_its_errors_under_vit_lens(capsys):
    with pytest.raises(SystemExit):
        main(["export", "--model", "x", "--weights", "int8"])
    assert "invalid choice: 'int8'" in capsys.readouterr().err


def test_the_default_models_accuracy_is_said_to_be_the_recorded_one():
    line = recorded_accuracy(linear=False)
    assert line.startswith("recorded dev top-1 ") and "on the exported ONNX parts" in line and "not now" in line
    assert "export/assets/cifar10_finetuned.json" in line
