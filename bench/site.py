"""The site the benchmarks serve: the built page plus a ViT-B/16-sized model next to the default one,
and bare.html, a bare Pyodide boot from the same files."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "bench"
VIT_B16 = "vit-b16-random"


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
    """The page, the default model (the site's default) and the ViT-B/16-sized one, as vit-lens site writes it."""
    from vit_lens.site import build_site as assemble, default_model, link_or_copy
    site = BUILD / "site"
    assemble(site, [default_model(), vit_b16(BUILD / "models")])
    for entry in (ROOT / "bench" / "bare").iterdir():  # the bare Pyodide boot the start is compared with
        link_or_copy(entry, site / entry.name)
    return site
