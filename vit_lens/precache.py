"""precache.json: what the service worker (web/sw.js) keeps for offline use, with digests.

Written by scripts/precache.py for this checkout's web/ (scripts/setup.sh runs it after
build_web.py and the export step) and by `vit-lens site` for every site it assembles.

Generated, never written by hand, so it cannot go stale: the page and its icons, every stylesheet,
script and Python file, the runtime in vendor/ (all of it but licences and readmes: PyScript
loads its chunks lazily, and a chunk missing offline would break the page), model/index.json and
the default model (its manifest.json and every file it lists). "version" is the digest of the list;
the worker names its cache after it, so a new build or export replaces the whole cache.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

SHELL = ["index.html", "app.webmanifest", "favicon.svg", "*.css", "icons/*.png", "py/files.json",
         "js/**/*.js", "py/*.py", "vendor/**/*"]
DOCS = {"README.md", "LICENSE"}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def shell(web: Path) -> list[Path]:
    found = {p for pattern in SHELL for p in web.glob(pattern) if p.is_file() and p.name not in DOCS}
    return sorted(found)


def default_model(web: Path) -> list[Path]:
    index = json.loads((web / "model" / "index.json").read_text())
    entry = next(m for m in index["models"] if m["name"] == index["default"])
    manifest = web / "model" / entry["manifest"]
    data = json.loads(manifest.read_text())
    # relevance.onnx holds the weights again (tens of MB): fetched, and kept by digest, when first shown
    on_demand = {data["relevance"]["file"]} if data.get("relevance") else set()
    return [web / "model" / "index.json", manifest,
            *(manifest.parent / name for name in sorted(data["files"]) if name not in on_demand)]


def build(web: Path) -> dict:
    files = {p.relative_to(web).as_posix(): digest(p) for p in shell(web) + default_model(web)}
    version = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]
    return {"version": version, "files": files}


def write(web: Path) -> dict:
    """Replace web/precache.json at once (a new file, never written through a hard link)."""
    listing = build(web)
    target = web / "precache.json"
    tmp = target.with_suffix(f".{os.getpid()}")
    tmp.write_text(json.dumps(listing, indent=1) + "\n")
    os.replace(tmp, target)
    return listing
