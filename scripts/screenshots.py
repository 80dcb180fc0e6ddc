"""Regenerate every screenshot in docs/ with one command: python scripts/screenshots.py [name ...]

Each shot is a page state (the URL fragment) and the clicks that open it, taken by
scripts/screenshot.py in Debian's headless Chromium with the default model. Names choose a few
shots (e.g. `overview detail`); none takes them all.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from screenshot import main as shoot  # noqa: E402

DETAIL = "#image=chelsea&view=detail&layer=2&token=5"

# docs/<name>.png: (fragment, clicks)
SHOTS = {
    "page": ("#image=chelsea", ()),
    "overview": ("#image=chelsea&view=overview", ()),
    "knowledge-graph": ("#image=chelsea&view=graph", ()),
    "knowledge-modal": ("#image=chelsea&view=graph", ('[aria-label^="Dinov2LayerScale, "]',)),
    "detail": ("#image=chelsea&view=detail&layer=3&tensor=layer.2.attention.probs", ()),
    "patch-embedding": (DETAIL, ("#open-patch", "key:ArrowRight*3")),
    "positions": (DETAIL, ("#open-positions", "key:ArrowRight*20")),
    "layernorm": (DETAIL, ("#open-layernorm", "key:ArrowRight*3")),
    "attention": (DETAIL, ("#open-attention", "key:ArrowRight*3")),
    "gelu": (DETAIL, ("#open-gelu",)),
    "interpretation": ("#image=chelsea&view=interpretation&layer=12", ()),
    "logit-lens": ("#image=chelsea&view=interpretation&layer=12", ("#interp-kind=lens", "full")),
}


def run(names: list[str]) -> None:
    unknown = [name for name in names if name not in SHOTS]
    if unknown:
        raise SystemExit(f"error: no screenshot {', '.join(unknown)}; choose from {', '.join(SHOTS)}")
    for name in names or SHOTS:
        fragment, clicks = SHOTS[name]
        shoot(fragment, f"docs/{name}.png", *clicks)


if __name__ == "__main__":
    run(sys.argv[1:])
