"""CIFAR-10 read straight from the gzip'd tar archives of JPEGs (`<split>/<class>/<NNNN>.jpg`)."""
from __future__ import annotations

import io
import tarfile
from pathlib import Path

from PIL import Image

from .samples import CIFAR10_CLASSES

TRAIN = "cifar10-train.tar.gz"
DEV = "cifar10-test-dev.tar.gz"


def read_archive(path: Path, per_class: int | None = None) -> list[tuple[Image.Image, int]]:
    """(image, class index) pairs, the first `per_class` of each class by file name.

    One sequential pass: a gzip'd tar has no index, so opening members out of order would
    decompress the archive again and again.
    """
    if not path.is_file():
        raise FileNotFoundError(f"no CIFAR-10 archive at {path}")
    found: dict[str, list[tuple[str, bytes]]] = {c: [] for c in CIFAR10_CLASSES}
    with tarfile.open(path, "r|gz") as archive:
        for member in archive:
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 3 and parts[1] in found:
                found[parts[1]].append((member.name, archive.extractfile(member).read()))
    items = []
    for label, name in enumerate(CIFAR10_CLASSES):
        for _, data in sorted(found[name])[:per_class]:
            items.append((Image.open(io.BytesIO(data)).convert("RGB"), label))
    return items
