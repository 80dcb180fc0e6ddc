"""The tensor names, loaded from the page's own module (web/py/tensor_names.py).

The page can only ship files under web/, and the export step must name tensors exactly as the page
reads them: one file, loaded here by its path, is the single definition for both.
"""
import importlib.util
from pathlib import Path

_FILE = Path(__file__).resolve().parent.parent / "web" / "py" / "tensor_names.py"
_spec = importlib.util.spec_from_file_location("tensor_names", _FILE)
names = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(names)
