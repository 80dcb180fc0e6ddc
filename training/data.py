"""Which CIFAR-10 training images a run sees, in which order and view, and which it holds out.

Rows are laid out class by class in chunks of CHUNK images, so a larger --per-class extends a cache
instead of replacing it; the held-out draw is kept by identity across --start-from."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from export import cifar
from export.default_model import HEAD_SETTINGS, LABELS, RECIPE
from export.preprocess import preprocess

CHUNK = 20  # images per class in one cache chunk


PAD = 4  # pixels of mirrored border around a CIFAR-10 image before --augment's random crop


def pixels_of(images: list) -> np.ndarray:
    return np.concatenate([preprocess(image, RECIPE) for image in images])


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
