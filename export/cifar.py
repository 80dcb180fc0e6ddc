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
    """(image, class index) pairs, the first `per_class` of each class by file name."""
    if not path.is_file():
        raise FileNotFoundError(f"no CIFAR-10 archive at {path}")
    members: dict[str, list[tarfile.TarInfo]] = {c: [] for c in CIFAR10_CLASSES}
    with tarfile.open(path) as archive:
        for member in archive.getmembers():
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 3 and parts[1] in members:
                members[parts[1]].append(member)
        items = []
        for label, name in enumerate(CIFAR10_CLASSES):
            chosen = sorted(members[name], key=lambda m: m.name)[:per_class]
            for member in chosen:
                data = archive.extractfile(member).read()
                items.append((Image.open(io.BytesIO(data)).convert("RGB"), label))
    return items
