"""Where this checkout keeps the built page: the commands read it from here wherever they run."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"  # the page, its runtime in vendor/ (scripts/build_web.py) and model/ (the export)
MODELS = WEB / "model"
