"""Real images shipped with every exported model, each with its source and licence: ours, or the
user's (--samples DIR: every image with a NAME.txt beside it saying at least `licence: ...`)."""
from __future__ import annotations

from dataclasses import dataclass
import re
import shutil
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

ASSETS = Path(__file__).parent / "assets" / "samples"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_SOURCE = "CIFAR-10 test split (Krizhevsky, 2009), image 0007 of its class, JPEG re-encoded"
CIFAR10_LICENCE = "no explicit licence; published by the authors for research use"
MAX_SIDE = 512  # big enough for any model's input, small enough for a quick page load


@dataclass(frozen=True)
class Sample:
    id: str
    title: str
    source: str
    licence: str
    label: str | None  # the true class, where the image comes from a labelled data set
    path: Path | None = None  # a user's image (--samples), as given

    def load(self) -> Image.Image:
        if self.path:
            return open_image(self.path)
        if (ASSETS / f"{self.id}.jpg").exists():
            return Image.open(ASSETS / f"{self.id}.jpg").convert("RGB")
        from skimage import data
        return Image.fromarray(getattr(data, self.id)()).convert("RGB")


SAMPLES = [
    Sample("chelsea", "Chelsea the cat", "scikit-image data.chelsea(), photo by Stefan van der Walt",
           "CC0", None),
    Sample("coffee", "A cup of coffee", "scikit-image data.coffee(), photo by Rachel Michetti, Pikolo Espresso Bar",
           "CC0", None),
    Sample("astronaut", "Astronaut Eileen Collins", "scikit-image data.astronaut(), NASA",
           "public domain", None),
    Sample("rocket", "Falcon 9 launching DSCOVR", "scikit-image data.rocket(), SpaceX",
           "public domain", None),
] + [
    Sample(f"cifar10-{c}", f"CIFAR-10 {c}", CIFAR10_SOURCE, CIFAR10_LICENCE, c) for c in CIFAR10_CLASSES
]


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
FIELDS = {"licence", "source", "title", "label"}
EXAMPLE = "licence: CC BY 4.0\nsource: photo by Jane Doe, https://example.org/cat"


class SampleError(ValueError):
    """A --samples folder the user can fix: said in one line."""


def open_image(path: Path) -> Image.Image:
    """RGB, turned upright as its EXIF orientation says (a browser shows it so)."""
    try:
        with Image.open(path) as image:
            return ImageOps.exif_transpose(image).convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError) as error:
        raise SampleError(f"cannot read {path} as an image: {error}") from None


def read_samples(folder: Path) -> list[Sample]:
    """The user's sample images in folder, each described by NAME.txt beside NAME.jpg (or .png, ...):
    `key: value` lines, `licence` required, `source`, `title` and `label` (a class of the model) optional."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SampleError(f"--samples {folder}: no such folder")
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
    if not images:
        raise SampleError(f"--samples {folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    unlicensed = [p.name for p in images if not p.with_suffix(".txt").is_file()]
    if unlicensed:
        raise SampleError(f"--samples {folder}: no licence for {', '.join(unlicensed)}; write NAME.txt beside each "
                          f"image, e.g. {unlicensed[0].rsplit('.', 1)[0]}.txt holding:\n{EXAMPLE}")
    samples, ids = [], set()
    for path in images:
        fields = describe(path.with_suffix(".txt"))
        sample_id = re.sub(r"[^a-z0-9._-]+", "-", path.stem.lower()).strip("-.") or "image"
        if sample_id in ids:
            raise SampleError(f"--samples {folder}: two images are named {path.stem!r}")
        ids.add(sample_id)
        open_image(path)  # a clear error now rather than after minutes of export
        samples.append(Sample(sample_id, fields.get("title", path.stem.replace("-", " ").replace("_", " ")),
                              fields.get("source", path.name), fields["licence"], fields.get("label"), path))
    return samples


def describe(text_file: Path) -> dict[str, str]:
    fields = {}
    for number, line in enumerate(text_file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        key = "licence" if key.strip().lower() == "license" else key.strip().lower()
        if not colon or key not in FIELDS or not value.strip():
            raise SampleError(f"{text_file}, line {number}: expected `key: value` with a key among "
                              f"{', '.join(sorted(FIELDS))}, got {line.strip()!r}")
        fields[key] = value.strip()
    if "licence" not in fields:
        raise SampleError(f"{text_file} has no `licence: ...` line: say under which terms the image may be shipped")
    return fields


def save_image(image: Image.Image, target: Path) -> Image.Image:
    """A JPEG no larger than MAX_SIDE, without the original's metadata (a photo's GPS position stays home)."""
    image = image.convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    image.save(target, quality=92)
    return image


def write_samples(out_dir: Path, samples: list[Sample] = SAMPLES) -> list[dict]:
    """Save every sample as a JPEG under out_dir; return their manifest entries."""
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for sample in samples:
        file = f"{sample.id}.jpg"
        if not sample.path and (ASSETS / file).exists():
            shutil.copyfile(ASSETS / file, out_dir / file)  # already a JPEG: no second lossy encoding
            image = Image.open(out_dir / file)
        else:
            image = save_image(sample.load(), out_dir / file)
        entries.append({"id": sample.id, "file": f"samples/{file}", "title": sample.title,
                        "width": image.width, "height": image.height, "source": sample.source,
                        "licence": sample.licence, "label": sample.label})
    return entries
