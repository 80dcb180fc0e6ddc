"""The site the benchmarks serve: the built page plus a ViT-B/16-sized model next to the default one,
and bare.html, a bare Pyodide boot from the same files.

Hard links, not copies or symlinks: serve.py refuses to follow links out of its root, and the
model files are large.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "bench"
VIT_B16 = "vit-b16-random"


def _link_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, copy_function=os.link, dirs_exist_ok=True)


def vit_b16(out: Path) -> Path:
    """The paper's model size, 197 tokens x 768, 12 blocks x 12 heads, with random weights (no hub here)."""
    folder = out / VIT_B16
    if (folder / "manifest.json").exists():
        return folder
    import torch
    import transformers
    from export.pipeline import export_model
    torch.manual_seed(0)
    labels = {i: f"class {i}" for i in range(10)}
    config = transformers.ViTConfig(num_labels=10, id2label=labels, label2id={v: k for k, v in labels.items()})
    checkpoint = BUILD / "checkpoints" / VIT_B16
    transformers.ViTForImageClassification(config).save_pretrained(checkpoint)
    transformers.ViTImageProcessor().save_pretrained(checkpoint)
    return export_model(str(checkpoint), out, name=VIT_B16, title="ViT-B/16 size, random weights (benchmark only)")


def build_site() -> Path:
    from export.pipeline import write_index
    site = BUILD / "site"
    if site.exists():
        shutil.rmtree(site)
    site.mkdir(parents=True)
    for entry in (ROOT / "web").iterdir():
        if entry.name == "model":
            continue
        if entry.is_dir():
            _link_tree(entry, site / entry.name)
        else:
            os.link(entry, site / entry.name)
    for entry in (ROOT / "bench" / "bare").iterdir():  # the bare Pyodide boot the start is compared with
        os.link(entry, site / entry.name)
    models = site / "model"
    models.mkdir()
    default = json.loads((ROOT / "web" / "model" / "index.json").read_text())["default"]
    _link_tree(ROOT / "web" / "model" / default, models / default)
    _link_tree(vit_b16(BUILD / "models"), models / VIT_B16)
    write_index(models, default=default)
    return site
