"""show(): the page at a chosen model, image and view, in a notebook's output.

Each call assembles a temporary site as `vit-lens site` does (the page, its runtime and the one
model), adds the image as that model's first sample (with its manifest entry and digest, so the
page reads it like any other sample), and serves the site from a thread on a free loopback port
with serve.py's server (COOP/COEP included). The server and the folder last as long as the Python
process.
"""
from __future__ import annotations

import atexit
import hashlib
import json
import shutil
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlencode

from . import precache
from .serve import make_server
from .site import assemble, find_model, read_manifest
from export.shared import page_module

VIEWS = page_module("state").VIEWS  # the page's own
IMAGE_ID = "notebook"
_running = []  # (server, folder) of every show() so far, closed at exit


def show(model: str | Path, image=None, view: str = "interpretation", block: int = 11, token: int = 0,
         width: str | int = "100%", height: int = 900):
    """An IPython IFrame of the page showing `model` (a folder written by vit-lens export, or the name
    of one in this checkout's web/model) on `image` (a PIL image or a path; None: the model's first
    sample), at `view`, with block (1 = first) and token (0 = CLS) chosen as in the page's URL."""
    from IPython.display import IFrame
    folder = find_model(model)
    manifest = read_manifest(folder)
    if view not in VIEWS:
        raise ValueError(f"view {view!r}: choose one of {', '.join(VIEWS)}")
    for what, value, first, last in (("block", block, 1, manifest["num_layers"]),
                                     ("token", token, 0, manifest["tokens"] - 1)):
        if not isinstance(value, int) or not first <= value <= last:
            raise ValueError(f"{what} {value!r}: {manifest['name']} has {what}s {first} to {last}")
    picture = _open(image) if image is not None else None
    site = Path(tempfile.mkdtemp(prefix="vit-lens-show-"))
    try:
        assemble(site, [folder])
        sample = add_sample(site / "model" / manifest["name"], picture) if picture else manifest["samples"][0]["id"]
        precache.write(site)
        server = make_server(site, port=0, quiet=True, frame_ancestors="*")  # a notebook frames it
    except BaseException:
        shutil.rmtree(site, ignore_errors=True)
        raise
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _running.append((server, site))
    fragment = urlencode([("model", manifest["name"]), ("image", sample), ("view", view), ("layer", block),
                          ("token", token)])
    return IFrame(f"http://127.0.0.1:{server.server_address[1]}/#{fragment}", width=width, height=height)


def _open(image):
    from PIL import Image
    from export.samples import open_image
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, (str, Path)):
        return open_image(Path(image))  # a clear ValueError for a missing or unreadable file
    raise TypeError(f"image: a PIL image or the path of an image file, not {type(image).__name__}")


def add_sample(model: Path, image) -> str:
    """The image as the model's first sample: a JPEG under samples/, its entry (with the inputs the
    page's preprocessing graph needs) and its digest in a new manifest.json, never written through
    the hard link to the exported folder."""
    from export.samples import save_image
    from export.shared import geometry, manifest as page_manifest
    manifest = json.loads((model / "manifest.json").read_text())
    taken = {s["id"] for s in manifest["samples"]}
    sample_id, n = IMAGE_ID, 1
    while sample_id in taken:
        n += 1
        sample_id = f"{IMAGE_ID}-{n}"
    file = f"samples/{sample_id}.jpg"
    saved = save_image(image, model / file)
    manifest["samples"].insert(0, {
        "id": sample_id, "file": file, "title": "The notebook's image", "width": saved.width,
        "height": saved.height, "source": "given to vit_lens.show()", "licence": "yours (kept on this machine)",
        "label": None, "preprocess_inputs": geometry.graph_inputs(manifest["preprocessing"], saved.width,
                                                                  saved.height)})
    data = (model / file).read_bytes()
    manifest["files"][file] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    page_manifest.Manifest.from_json(manifest)  # still a manifest the page reads
    (model / "manifest.json").unlink()
    (model / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return sample_id


@atexit.register
def _close() -> None:
    for server, site in _running:
        server.shutdown()
        server.server_close()
        shutil.rmtree(site, ignore_errors=True)
