"""vit-lens explain: one of the page's maps for one image, computed natively, as JSON and as a figure.

The page's arithmetic, in CPython: the image's RGBA bytes through the model's preprocess.onnx (with
the sizes the page's geometry.py computes), the chain of ONNX parts, analysis.onnx or relevance.onnx
in onnxruntime, and the page's own Python (web/py/interpret.py) to read one map out of them.
"""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

import numpy as np


MAPS = ("relevance", "similarity", "attention", "rollout", "lens")


class ExplainError(ValueError):
    """Input that cannot be explained, said in one line that names what is valid."""


def _page(name):
    from export.shared import page_module
    return page_module(name)


def _choose(kind, manifest, chosen, versus, block, head, token):
    """The request checked against the model; returns (block, head or fusion, class index, versus index)."""
    names, labels = _page("tensor_names"), manifest.labels
    if kind not in MAPS:
        raise ExplainError(f"map {kind!r}: choose one of {', '.join(MAPS)}")

    def label(name, what):
        if name is None:
            return None
        if name not in labels:
            raise ExplainError(f"{what} {name!r} is not one of the model's classes: {', '.join(labels)}")
        return labels.index(name)
    chosen_index, versus_index = label(chosen, "class"), label(versus, "versus")
    if versus_index is not None and versus_index == chosen_index:
        raise ExplainError(f"class {chosen!r} cannot be compared with itself")
    first = 1 if kind in ("attention", "rollout") else 0
    if kind == "relevance":
        if block is not None:
            raise ExplainError("--block: the relevance map chains every block (Chefer et al.); leave it out")
    elif block is None:
        block = manifest.num_layers
    elif not first <= block <= manifest.num_layers:
        raise ExplainError(f"block {block}: {manifest.name} has blocks {first} to {manifest.num_layers}"
                           + (" (0 is the embeddings' output)" if first == 0 else ""))
    if head in names.FUSIONS:
        picked = head
    elif str(head).isdigit() and 1 <= int(head) <= manifest.num_heads:
        picked = int(head) - 1
    else:
        raise ExplainError(f"head {head!r}: a head 1 to {manifest.num_heads} or one of {', '.join(names.FUSIONS)}")
    if not 0 <= token < manifest.tokens:
        raise ExplainError(f"token {token}: {manifest.name} has tokens 0 to {manifest.tokens - 1} (0 is CLS)")
    return block, picked, chosen_index, versus_index


def _rgba(image):
    """A PIL image or a path as RGBA bytes (1, height, width, 4), turned upright as its EXIF says."""
    from PIL import Image, ImageOps

    from export.samples import open_image
    if isinstance(image, (str, Path)):
        image = open_image(Path(image))  # a clear ValueError for a missing or unreadable file
    if not isinstance(image, Image.Image):
        raise ExplainError(f"image: a PIL image or the path of an image file, not {type(image).__name__}")
    return np.asarray(ImageOps.exif_transpose(image).convert("RGBA"), np.uint8)[None]


def pixel_values(folder: Path, recipe: dict, rgba: np.ndarray) -> np.ndarray:
    """preprocess.onnx on the image, fed as the page feeds it (web/js/boot.js's preprocessFeeds)."""
    from export import fidelity
    geometry = _page("geometry")
    sizes = geometry.graph_inputs(recipe, rgba.shape[2], rgba.shape[1])
    feeds = {name: np.asarray(values, np.int64) for name, values in sizes.items()}
    feeds.update(image=rgba, rescale=np.array(recipe["rescale"], np.float32), mean=np.asarray(recipe["mean"], np.float32),
                 std=np.asarray(recipe["std"], np.float32))
    session = fidelity.open_session(folder / recipe["graph"])
    return session.run(None, feeds)[0]


def explain(model, image, kind: str = "relevance", chosen: str | None = None, versus: str | None = None,
            block: int | None = None, head: str = "mean", token: int = 0, remove: str = "", knock: str = "",
            order: str = "relevance") -> dict:
    """The map as the page computes it: {'probabilities', 'grid', 'map', 'classes' (lens), 'asked' (what
    was asked), 'fragment' (the page's URL for it)}; with `remove` (patches, "12,13,40") or `knock`
    (heads, "3.2,5.1"), of the edited run, with 'edit' and 'unedited_probabilities'. `kind` "deletion"
    or "insertion": the curve of the top class's probability as patches go in `order`'s order
    ({'curve', 'area', ...}). `model`: a folder written by vit-lens export, or a model's name in this
    checkout's web/model; `image`: a PIL image or a path."""
    return compute(model, image, kind, chosen, versus, block, head, token, remove, knock, order)[0]


def _open(model):
    from .site import SiteError, find_model, read_manifest
    try:
        folder = find_model(model)
        data = read_manifest(folder)
    except SiteError as error:
        raise ExplainError(str(error)) from None
    return folder, data, _page("manifest").Manifest.from_json(data)


def compute(model, image, kind, chosen, versus, block, head, token, remove="", knock="", order="relevance"):
    """explain()'s result, the model's manifest and its input (pixel_values), which the figure shows."""
    from export import fidelity
    edits, names = _page("edits"), _page("tensor_names")
    folder, data, manifest = _open(model)
    curve = kind in edits.CURVES
    if curve and order not in edits.ORDERS:
        raise ExplainError(f"order {order!r}: choose one of {', '.join(edits.ORDERS)}")
    if curve and remove:
        raise ExplainError("--remove-patches: a deletion or insertion curve removes patches itself; leave it out")
    try:
        edit = edits.make(manifest, removed=remove or "", knocked=knock or "")
    except edits.EditError as error:
        raise ExplainError(str(error)) from None
    map_kind = ("relevance" if order == "random" else order) if curve else kind
    block, picked, chosen_index, versus_index = _choose(map_kind, manifest, chosen, versus, block, head, token)
    chain = fidelity.Chain(folder, data["stages"])
    special, patches = len(manifest.special_tokens), manifest.num_patches
    kept = edit.kept_tokens(special, patches) if edit.removed else None
    mask = np.array(edit.head_mask(manifest.num_layers, manifest.num_heads), np.float32) if edit.knocked else None
    pixels = pixel_values(folder, data["preprocessing"], _rgba(image))
    values = chain.run(pixels, kept, mask)
    probabilities = values[names.PROBABILITIES][0]
    if chosen_index is None:
        chosen_index = int(np.argmax(probabilities))
    asked = {"map": kind, "class": manifest.labels[chosen_index] if map_kind == "relevance" else None,
             "versus": None if versus_index is None else manifest.labels[versus_index], "block": block, "head": head,
             "token": token}
    result = {"model": manifest.name, "grid": list(manifest.grid),
              "probabilities": {label: float(p) for label, p in zip(manifest.labels, probabilities)}}
    if edit:
        unedited = chain.run(pixels)[names.PROBABILITIES][0]
        result["unedited_probabilities"] = {label: float(p) for label, p in zip(manifest.labels, unedited)}
        result["edit"] = {"removed": list(edit.removed), "knocked": [f"{b}.{h}" for b, h in edit.knocked],
                          "described": edit.describe()}
    if curve:
        if order == "random":
            ranked = edits.random_order(patches)
            asked.update(order=order, seed=edits.SEED, **dict.fromkeys(("class", "block", "head", "token")))
        else:
            asked["order"] = order
            ranked = edits.order_of(_map(map_kind, folder, manifest, values, kept, mask, block, picked, token,
                                         chosen_index, versus_index)["values"])
        top = int(np.argmax(probabilities))
        steps = []
        for count in edits.removed_counts(patches, not manifest.head_reads_patches):
            step = edits.curve_edit(kind, ranked, count)
            out = chain.run(hidden=values[names.EMBEDDINGS_OUTPUT], kept=step.kept_tokens(special, patches), head_mask=mask)
            steps.append({"removed": count / patches, "probability": float(out[names.PROBABILITIES][0][top])})
        result.update(curve=steps, area=edits.area(steps), **{"class": manifest.labels[top]})
    else:
        one = _map(kind, folder, manifest, values, kept, mask, block, picked, token, chosen_index, versus_index)
        gone = set(edit.removed)
        result["map"] = [None if p in gone else v for p, v in enumerate(one["values"])]
        if "classes" in one:
            result["classes"] = [None if p in gone else manifest.labels[c] for p, c in enumerate(one["classes"])]
    result["asked"] = asked
    result["fragment"] = _fragment(manifest, asked, edit)
    return result, data, values[names.PIXELS]


def _map(kind, folder, manifest, values, kept, mask, block, picked, token, chosen_index, versus_index):
    """One map of a run (edited or not) as interpret.map_of reads it: analysis.onnx or relevance.onnx on
    the run's tensors, spread back to every token when patches were removed (those read 0)."""
    from export import analysis, fidelity, relevance
    interpret, names, tensors = _page("interpret"), _page("tensor_names"), _page("tensors")
    if kind == "relevance":
        if manifest.relevance is None:
            raise ExplainError(f"{manifest.name} was exported before class relevance: export it again with "
                               "vit-lens export")
        target = np.array([interpret.target(len(manifest.labels), chosen_index, versus_index)], np.float32)
        outputs = relevance.run(folder / manifest.relevance.file, values[names.EMBEDDINGS_OUTPUT], target, mask)
    else:
        special = len(manifest.special_tokens)
        read = None if kept is None else [t - special for t in kept[special:]]
        outputs = {**values, **analysis.run(folder / manifest.analysis.file, values, read)}
    if kept is not None:
        outputs = {name: fidelity.spread(name, value, kept, manifest.tokens) for name, value in outputs.items()}

    def read(name):
        return tensors.as_floats(np.ascontiguousarray(outputs[name], np.float32).tobytes())
    fusion = picked if isinstance(picked, str) else "mean"
    return interpret.map_of(kind, read, manifest, block, picked, fusion, token)


def _fragment(manifest, asked, edit) -> str:
    """The page's URL fragment that shows the same map, or the what-if view (web/py/state.py's keys)."""
    edits = _page("edits")
    if asked["map"] in edits.CURVES:
        pairs = [("model", manifest.name), ("view", "whatif")]
    else:
        pairs = [("model", manifest.name), ("view", "interpretation"), ("kind", asked["map"])]
        if asked["map"] == "relevance":
            pairs += [("class", asked["class"])] + ([("versus", asked["versus"])] if asked["versus"] else [])
        else:
            pairs += [("layer", max(1, asked["block"])), ("block", asked["block"]), ("token", asked["token"])]
            if asked["map"] in ("attention", "rollout"):
                pairs.append(("head" if asked["map"] == "attention" else "fusion", asked["head"]))
    pairs += [(key, text) for key, text in (("remove", edits.patch_list(edit.removed)),
                                            ("knock", edits.knockout_list(edit.knocked))) if text]
    return "#" + urlencode(pairs, safe=":,")


DESCRIPTION = """Compute one of the page's maps for an image, natively: the same ONNX graphs and the same
Python as the page, for papers, scripts and batch use. Test a hypothesis with what-if edits: remove
patches (their tokens are left out after the embeddings) or knock out heads (Hugging Face's
head_mask), and measure a map's faithfulness with deletion and insertion curves.

The JSON holds the probabilities (label -> probability), the patch grid [rows, cols], the map (one
number per patch, row-major; null for a removed patch), what was asked, and the page's URL fragment
for the same map. An edited run adds the edit and the unedited probabilities. A curve holds `curve`,
a list of steps {"removed": fraction, "probability": p} of the top class (the first step is the
unedited run), and `area`, the mean probability under it. The PNG is the map over the model's input
at twice its size with its colour scale and caption, as the page saves it, or the curve.
Patches count from 0, row-major; blocks from 1 (0 is the embeddings' output), heads from 1, tokens
from 0 (CLS)."""
EXAMPLES = """examples:
  vit-lens explain dinov2-s14-cifar10 cat.jpg --png cat-relevance.png
  vit-lens explain ./exports/my-vit photo.png --map relevance --class dog --versus cat --json out.json
  vit-lens explain dinov2-s14-cifar10 cat.jpg --map attention --block 12 --head 3 --token 0 --png a.png
  vit-lens explain dinov2-s14-cifar10 cat.jpg --remove-patches 12-15,40 --knock-out 3.2,5.1
  vit-lens explain dinov2-s14-cifar10 cat.jpg --map deletion --order relevance --png deletion.png"""


def add_arguments(parser) -> None:
    edits = _page("edits")
    parser.add_argument("model", help="a folder written by vit-lens export, or a model's name in web/model")
    parser.add_argument("image", type=Path, help="the image (any format Pillow reads)")
    parser.add_argument("--map", choices=MAPS + edits.CURVES, default="relevance", dest="kind",
                        help="a map, or a faithfulness curve (deletion, insertion) in --order's order")
    parser.add_argument("--class", dest="chosen", metavar="NAME", help="relevance: the class (default: the predicted one)")
    parser.add_argument("--versus", metavar="NAME", help="relevance: the class it is compared with (A versus B)")
    parser.add_argument("--block", type=int, help="1 to the model's blocks (0: the embeddings' output); default: the last")
    parser.add_argument("--head", default="mean", help="attention: a head from 1, or mean, max, min (rollout: the fusion)")
    parser.add_argument("--token", type=int, default=0, help="the token whose map it is (0: CLS)")
    parser.add_argument("--remove-patches", metavar="PATCHES", default="", dest="remove",
                        help="leave these patches out, e.g. 12,13,40 or 12-15 (from 0, row-major, as the page shows)")
    parser.add_argument("--knock-out", metavar="BLOCK.HEAD", default="", dest="knock",
                        help="switch off these heads, e.g. 3.2,5.1 (blocks and heads from 1, as the page shows)")
    parser.add_argument("--order", choices=edits.ORDERS, default="relevance",
                        help="deletion and insertion: the map whose order removes the patches (random: seeded)")
    parser.add_argument("--png", type=Path, metavar="OUT.png", help="write the figure")
    parser.add_argument("--json", type=Path, metavar="OUT.json", dest="json_path", help="write the numbers")


def run(args) -> int:
    """The command: the JSON on standard output when neither --png nor --json is given."""
    import sys

    from .figure import curve_figure, map_figure
    try:
        result, manifest, model_input = compute(args.model, args.image, args.kind, args.chosen, args.versus,
                                                args.block, args.head, args.token, args.remove, args.knock, args.order)
    except (ExplainError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    text = json.dumps(result, indent=1)
    if args.json_path is None and args.png is None:
        print(text)
    if args.json_path is not None:
        args.json_path.write_text(text)
    if args.png is not None:
        draw = curve_figure if "curve" in result else map_figure
        draw(result, manifest, model_input, args.image.name).save(args.png)
    written = [str(p) for p in (args.png, args.json_path) if p is not None]
    if written:
        print(f"{args.kind} for {args.image.name}: wrote {', '.join(written)}", file=sys.stderr)
    return 0
