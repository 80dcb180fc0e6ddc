"""Copy the page's runtime from node_modules/ into web/vendor/, so web/ is self-contained.

python scripts/build_web.py

After it, web/ can be served by serve.py or uploaded as it is to any static host or CDN, under
any sub-path: the page uses relative URLs only. web/vendor/files.json lists every runtime file
with its size, which the loading screen uses to show real download progress. Last, Python's memory
snapshot is made (scripts/snapshot.mjs), so the page's Python starts without a cold boot.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "node_modules"
VENDOR = ROOT / "web" / "vendor"

# (folder under web/vendor, folder in node_modules, files; None = every file but source maps)
RUNTIME = [
    ("pyodide", "pyodide", ["pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip",
                            "pyodide-lock.json"]),
    ("ort", "onnxruntime-web/dist", ["ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"]),
    ("d3", "d3/dist", ["d3.min.js"]),
]
LICENCES = [("pyodide", "pyodide/README.md"), ("ort", "onnxruntime-web/README.md"), ("d3", "d3/LICENSE")]
# Python's files, fetched by the loading screen while the model loads, so their bytes show on the
# progress bar. Not onnxruntime-web's: its worker fetches them itself, and a second fetch of the
# same file from the page held the worker back (measured: warm prediction 3.0 s with, 1.8 s without).
PRELOAD = ["pyodide/pyodide.asm.wasm", "pyodide/python_stdlib.zip", "pyodide/pyodide.asm.mjs",
           "pyodide/pyodide.mjs", "pyodide/pyodide-lock.json"]


# Written here, not copied: the preload listing, and Python's memory snapshot (scripts/snapshot.mjs).
KEPT = {"files.json", "python-snapshot.gz", "python-snapshot.json"}


def copy(source: Path, target: Path) -> None:
    """Copy when missing or changed, so a second build does nothing."""
    stat = source.stat()
    if target.exists() and target.stat().st_size == stat.st_size and target.stat().st_mtime >= stat.st_mtime:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


def build() -> dict:
    if not MODULES.is_dir():
        raise SystemExit("error: node_modules/ is missing: run `npm ci` first (scripts/setup.sh does)")
    wanted = set()
    for folder, package, files in RUNTIME:
        source = MODULES / package
        names = files if files is not None else sorted(
            p.name for p in source.iterdir() if p.is_file() and not p.name.endswith(".map"))
        for name in names:
            copy(source / name, VENDOR / folder / name)
            wanted.add(VENDOR / folder / name)
    for folder, licence in LICENCES:
        copy(MODULES / licence, VENDOR / folder / Path(licence).name)
        wanted.add(VENDOR / folder / Path(licence).name)
    for stale in [p for p in VENDOR.rglob("*") if p.is_file() and p not in wanted and p.name not in KEPT]:
        stale.unlink()
    listing = {"preload": [{"path": path, "bytes": (VENDOR / path).stat().st_size} for path in PRELOAD]}
    text = json.dumps(listing, indent=1) + "\n"
    files_json = VENDOR / "files.json"
    if not files_json.exists() or files_json.read_text() != text:
        tmp = files_json.with_suffix(f".{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, files_json)
    return listing


if __name__ == "__main__":
    listing = build()
    subprocess.run(["node", str(ROOT / "scripts" / "snapshot.mjs")], check=True)
    total = sum(f["bytes"] for f in listing["preload"])
    print(f"web/vendor ready ({total / 1e6:.1f} MB of runtime)", file=sys.stderr)
