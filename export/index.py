"""model/index.json, the page's list of models: standard library only, so assembling a site
(vit-lens site, vit_lens.show) does not load the export stack."""
from __future__ import annotations

import json
import os
from pathlib import Path

FORMAT = 1


def write_index(out_root: Path, default: str | None = None) -> dict:
    """index.json lists every complete model folder; it is rebuilt, never edited."""
    index_path = out_root / "index.json"
    previous = json.loads(index_path.read_text()).get("default") if index_path.exists() else None
    models = []
    for manifest_path in sorted(out_root.glob("*/manifest.json")):
        if manifest_path.parent.name.startswith("."):
            continue
        manifest = json.loads(manifest_path.read_text())
        models.append({"name": manifest["name"], "title": manifest["title"], "family": manifest["family"],
                       "architecture": manifest["architecture"], "manifest": f"{manifest['name']}/manifest.json"})
    listed = [m["name"] for m in models]
    chosen = next((d for d in (default, previous) if d in listed), listed[0] if listed else None)
    index = {"format": FORMAT, "default": chosen, "models": models}
    tmp = index_path.with_name(f".index.json.{os.getpid()}")
    tmp.write_text(json.dumps(index, indent=1))
    os.replace(tmp, index_path)
    return index
