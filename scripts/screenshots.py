"""Regenerate every screenshot in docs/ with one command: python scripts/screenshots.py [name ...]

Each shot is a page state (the URL fragment) and the clicks that open it, taken by
scripts/screenshot.py in Debian's headless Chromium with the default model. Names choose a few
shots (e.g. `overview detail`, or `tour` for the tour's twenty); none takes them all.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from screenshot import main as shoot

DETAIL = "#image=chelsea&view=detail&layer=2&token=5"
INTERPRETED = "wait:document.getElementById('interp-canvas').dataset.kind === '{}'"  # the map is drawn
WHATIF = "remove=0-20,40-45,100-110&knock=12.1"  # an edit: patches removed, a head knocked out
EDITED = "wait:document.body.dataset.edited === 'true'"

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
    "interpretation": ("#image=chelsea&view=interpretation&layer=12", (INTERPRETED.format("similarity"),)),
    "logit-lens": ("#image=chelsea&view=interpretation&layer=12", ("#interp-kind=lens", "full")),
    "relevance": ("#image=chelsea&view=interpretation&kind=relevance", (INTERPRETED.format("relevance"), "full")),
    "whatif": (f"#image=chelsea&view=whatif&{WHATIF}", (EDITED, "wait:!!document.querySelector('.atlas-cell')", "full")),
    "whatif-relevance": (f"#image=chelsea&view=interpretation&kind=relevance&{WHATIF}",
                         (EDITED, INTERPRETED.format("relevance"))),
    "whatif-curves": ("#image=chelsea&view=whatif", ("#curves-run", "wait:document.querySelectorAll('#curves-chart svg')"
                                                     ".length === 2", "full")),
}


# The tour, every step at a laptop's and a phone's size: docs/tour/NN-<step>[-phone].png
TOUR_STEPS = ("image", "patches", "embedding", "positions", "attention", "residual", "depth", "decision", "takeaway",
              "try", "next")
DESKTOP, PHONE = (1366, 900), (390, 844)
for number, step in enumerate(TOUR_STEPS, 1):
    drawn = (f"wait:document.getElementById('tour-step').dataset.step === '{step}' && "
             "document.getElementById('tour-step').dataset.classified === document.body.dataset.classified"
             + (" && !!document.querySelector('#tour-step canvas[data-relevance=drawn]')" if step == "decision" else ""))
    for suffix, size in (("", DESKTOP), ("-phone", PHONE)):
        SHOTS[f"tour/{number:02d}-{step}{suffix}"] = (f"#image=chelsea&tour={number}", (drawn,), size)


# A phone and a tablet (docs/devices/): every view, and on the phone every operation view.
VIEW_DRAWN = {"tour": "#tour-step[data-step]", "overview": "#overview-diagram svg",
              "graph": "#knowledge-graph[data-ready=true]", "detail": "#detail-canvas[data-tensor]",
              "interpretation": "#interp-canvas[data-kind]", "whatif": "#whatif-heads button"}
TABLET = (820, 1180)
for device, size in (("phone", PHONE), ("tablet", TABLET)):
    for view, drawn in VIEW_DRAWN.items():
        drawn_first = f"wait:!!document.querySelector('{drawn}')"
        SHOTS[f"devices/{device}-{view}"] = (f"#image=chelsea&view={view}", (drawn_first, "full"), size)
for button in ("open-patch", "open-positions", "open-layernorm", "open-attention", "open-gelu"):
    SHOTS[f"devices/phone-{button[5:]}"] = (DETAIL, (f"#{button}", "key:ArrowRight*3"), PHONE)

# The dark theme (docs/dark/), chosen with the page's own switch, at a laptop's and a phone's size.
for view, drawn in VIEW_DRAWN.items():
    for suffix, size in (("", DESKTOP), ("-phone", PHONE)):
        SHOTS[f"dark/{view}{suffix}"] = (f"#image=chelsea&view={view}", ("#theme-picker=dark",
                                                                          f"wait:!!document.querySelector('{drawn}')"), size)


def run(names: list[str]) -> None:
    groups = ("tour", "devices", "dark")  # a folder's name takes all its shots
    chosen = [n for n in SHOTS if n in names or n.split("/")[0] in names] if names else list(SHOTS)
    unknown = [name for name in names if name not in SHOTS and name not in groups]
    if unknown:
        raise SystemExit(f"error: no screenshot {', '.join(unknown)}; choose from {', '.join(SHOTS)}")
    for group in groups:
        (Path(__file__).resolve().parent.parent / "docs" / group).mkdir(exist_ok=True)
    for name in chosen:
        fragment, clicks, *size = SHOTS[name]
        shoot(fragment, f"docs/{name}.png", *clicks, viewport=size[0] if size else (1280, 900))


if __name__ == "__main__":
    run(sys.argv[1:])
