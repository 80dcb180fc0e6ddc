"""Top-1 accuracy of an exported model (its ONNX parts, chained as the page runs them) on CIFAR-10.

python -m export.evaluate --model web/model/dinov2-s14-cifar10 --data ../shared/data
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import cifar
from .fidelity import open_session, part_feeds
from .preprocess import preprocess
from .samples import CIFAR10_CLASSES
from .shared import names

BATCH = 25


class Chain:
    """The model's parts as ONNX Runtime sessions, asked only for the tensors the next part needs."""

    def __init__(self, folder: Path):
        self.manifest = json.loads((folder / "manifest.json").read_text())
        self.sessions = [(stage, open_session(folder / stage["file"]))
                         for stage in self.manifest["stages"]]

    def logits(self, pixel_values: np.ndarray) -> np.ndarray:
        value = pixel_values
        for stage, session in self.sessions:
            wanted = names.LOGITS if stage["name"] == names.HEAD else stage["outputs"][-1]
            value = session.run([wanted], part_feeds(stage, value, self.manifest["num_heads"]))[0]
        return value


def evaluate(folder: Path, archive: Path, per_class: int | None = None) -> dict:
    chain = Chain(folder)
    labels = chain.manifest["labels"]
    if sorted(labels) != sorted(CIFAR10_CLASSES):
        raise ValueError(f"{folder.name} does not classify CIFAR-10 (labels {labels})")
    to_model = [labels.index(c) for c in CIFAR10_CLASSES]
    items = cifar.read_archive(archive, per_class)
    correct = np.zeros(len(CIFAR10_CLASSES))
    total = np.zeros(len(CIFAR10_CLASSES))
    for start in tqdm(range(0, len(items), BATCH), desc=f"evaluate {folder.name}", unit="batch"):
        batch = items[start:start + BATCH]
        pixels = np.concatenate([preprocess(image, chain.manifest["preprocessing"]) for image, _ in batch])
        predicted = chain.logits(pixels).argmax(1)
        for (_, label), guess in zip(batch, predicted):
            total[label] += 1
            correct[label] += guess == to_model[label]
    return {"model": folder.name, "archive": archive.name, "images": int(total.sum()),
            "top1": float(correct.sum() / total.sum()),
            "per_class": {c: float(correct[i] / total[i]) for i, c in enumerate(CIFAR10_CLASSES)}}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m export.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="an exported model folder")
    parser.add_argument("--data", type=Path, required=True, help="folder with the CIFAR-10 archives")
    parser.add_argument("--per-class", type=int, help="only the first N images of each class")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    result = evaluate(args.model, args.data / cifar.DEV, args.per_class)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{result['model']}: top-1 {result['top1']:.2%} on {result['images']} dev images")
    for name, value in result["per_class"].items():
        print(f"  {name:<10} {value:.1%}")


if __name__ == "__main__":
    main()
