"""Real images shipped with every exported model, each with its source and licence."""
from __future__ import annotations

from dataclasses import dataclass
import shutil
from pathlib import Path

from PIL import Image

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

    def load(self) -> Image.Image:
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


def write_samples(out_dir: Path) -> list[dict]:
    """Save every sample as a JPEG under out_dir; return their manifest entries."""
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for sample in SAMPLES:
        file = f"{sample.id}.jpg"
        if (ASSETS / file).exists():
            shutil.copyfile(ASSETS / file, out_dir / file)  # already a JPEG: no second lossy encoding
            image = Image.open(out_dir / file)
        else:
            image = sample.load()
            image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
            image.save(out_dir / file, quality=92)
        entries.append({"id": sample.id, "file": f"samples/{file}", "title": sample.title,
                        "width": image.width, "height": image.height, "source": sample.source,
                        "licence": sample.licence, "label": sample.label})
    return entries
