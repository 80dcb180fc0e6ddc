"""The page's stdlib modules (web/py) that the export step and the command line use too: one
definition for both runtimes.

The page can only ship files under web/, so they are imported from there rather than packaged
(pyproject's py-modules would install them as top-level modules named like any other `state` or
`manifest`): web/py is on sys.path only while a module and the siblings it imports load, and they
stay in sys.modules under `vitlens_web_<name>`, so no generic name is left importable.
"""
import importlib
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parent.parent / "web" / "py"


def page_module(name: str):
    key = f"vitlens_web_{name}"
    if key in sys.modules:
        return sys.modules[key]
    before = set(sys.modules)
    sys.path.insert(0, str(PAGE))
    try:
        module = importlib.import_module(name)
    finally:
        sys.path.remove(str(PAGE))
    for plain in set(sys.modules) - before:
        if Path(getattr(sys.modules[plain], "__file__", None) or "/").parent == PAGE:
            sys.modules[f"vitlens_web_{plain}"] = sys.modules.pop(plain)
    return module


geometry = page_module("geometry")  # input sizes and crops
names = page_module("tensor_names")  # the exposed tensors' names
manifest = page_module("manifest")  # manifest.json as the page reads it
edits = page_module("edits")  # what-if edits: kept tokens, head masks, curves
