"""The page's stdlib modules (web/py) that the export step uses too: one definition for both runtimes.

The page can only ship files under web/, so the export step loads these from there by path rather
than packaging web/py (pyproject's py-modules would install them as top-level modules named like
any other `state` or `manifest`). Only self-contained modules (no imports of their web/py siblings)
can be loaded so.
"""
import importlib.util
from pathlib import Path


def page_module(name: str):
    path = Path(__file__).resolve().parent.parent / "web" / "py" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"vitlens_web_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


geometry = page_module("geometry")  # input sizes and crops
names = page_module("tensor_names")  # the exposed tensors' names
manifest = page_module("manifest")  # manifest.json as the page reads it
