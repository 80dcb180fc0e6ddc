"""The training views: hidden states cached once per image (and their reference maps), or fresh
augmented views sent through the frozen blocks at every step (see the package's __main__ for why)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import ImageOps
from tqdm import tqdm

from export.default_model import LABELS
from .data import CHUNK, augment, images_by_class, in_cache_order, per_class_label, pixels_of
from .model import BATCH, advance, cls_similarity, embed, embed_all, top_states

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
            states = torch.empty((rows * len(starts), *tuple(chunk.shape[1:])), dtype=torch.float16)
        states[n * rows:(n + 1) * rows] = chunk
    labels = per_class_label(rows * len(starts))
    return states, labels


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
