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

from . import viridis

MAPS = ("relevance", "similarity", "attention", "rollout", "lens")
OPACITY = 0.7  # the page's default (web/py/state.py)
SCALE = 2  # the figure is the model's input at twice its size, as the page saves at twice the screen's
TEXT_WIDTH = 448  # the text's width at the least (px): a small model's map does not squeeze it


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
            block: int | None = None, head: str = "mean", token: int = 0) -> dict:
    """The map as the page computes it: {'probabilities', 'grid', 'map', 'classes' (lens), 'asked' (what
    was asked), 'fragment' (the page's URL for it)}. `model`: a folder written by vit-lens export, or a
    model's name in this checkout's web/model; `image`: a PIL image or a path."""
    return compute(model, image, kind, chosen, versus, block, head, token)[0]


def compute(model, image, kind, chosen, versus, block, head, token):
    """explain()'s result, the model's manifest and its input (pixel_values), which the figure shows."""
    from export import analysis, fidelity, relevance
    from .site import SiteError, find_model, read_manifest
    try:
        folder = find_model(model)
        data = read_manifest(folder)
    except SiteError as error:
        raise ExplainError(str(error)) from None
    interpret, names, tensors = _page("interpret"), _page("tensor_names"), _page("tensors")
    manifest = _page("manifest").Manifest.from_json(data)
    block, picked, chosen_index, versus_index = _choose(kind, manifest, chosen, versus, block, head, token)
    values = fidelity.run_parts(folder, data["stages"], pixel_values(folder, data["preprocessing"], _rgba(image)))
    probabilities = values[names.PROBABILITIES][0]
    if chosen_index is None:
        chosen_index = int(np.argmax(probabilities))
    if kind == "relevance":
        if manifest.relevance is None:
            raise ExplainError(f"{manifest.name} was exported before class relevance: export it again with "
                               "vit-lens export")
        target = np.array([interpret.target(len(manifest.labels), chosen_index, versus_index)], np.float32)
        outputs = relevance.run(folder / manifest.relevance.file, values[names.EMBEDDINGS_OUTPUT], target)
    else:
        outputs = {**values, **analysis.run(folder / manifest.analysis.file, values)}

    def read(name):
        return tensors.as_floats(np.ascontiguousarray(outputs[name], np.float32).tobytes())
    fusion = picked if isinstance(picked, str) else "mean"
    one = interpret.map_of(kind, read, manifest, block, picked, fusion, token)
    result = {"model": manifest.name, "map": one["values"], "grid": list(manifest.grid),
              "probabilities": {label: float(p) for label, p in zip(manifest.labels, probabilities)},
              "asked": {"map": kind, "class": manifest.labels[chosen_index] if kind == "relevance" else None,
                        "versus": None if versus_index is None else manifest.labels[versus_index],
                        "block": block, "head": head, "token": token}}
    if "classes" in one:
        result["classes"] = [manifest.labels[c] for c in one["classes"]]
    result["fragment"] = _fragment(manifest, result["asked"])
    return result, data, values[names.PIXELS]


def _fragment(manifest, asked) -> str:
    """The page's URL fragment that shows the same map (web/py/state.py's keys)."""
    pairs = [("model", manifest.name), ("view", "interpretation"), ("kind", asked["map"])]
    if asked["map"] == "relevance":
        pairs += [("class", asked["class"])] + ([("versus", asked["versus"])] if asked["versus"] else [])
    else:
        pairs += [("layer", max(1, asked["block"])), ("block", asked["block"]), ("token", asked["token"])]
        if asked["map"] in ("attention", "rollout"):
            pairs.append(("head" if asked["map"] == "attention" else "fusion", asked["head"]))
    return "#" + urlencode(pairs, safe=":")


def figure(result: dict, manifest: dict, model_input: np.ndarray, image_name: str):
    """The figure the page saves of its Interpretation view, drawn here: what the map shows, its colour
    scale with its two ends, the map over the model's input at twice its size (each patch a block of
    exact pixels, the opacity the page's default), and the page's caption lines under it (the model and
    what the map shows, the image, the URL that reopens it). A PIL image."""
    from PIL import Image, ImageDraw, ImageFont
    notes, operations, tensors = _page("interpret_notes"), _page("operations"), _page("tensors")
    height, width = manifest["image_size"]
    recipe = manifest["preprocessing"]
    rgba = operations.image_bytes(tensors.as_floats(model_input.astype(np.float32).tobytes()), height, width,
                                  recipe["mean"], recipe["std"])
    size = (SCALE * width, SCALE * height)
    base = Image.frombytes("RGBA", (width, height), bytes(rgba)).convert("RGB").resize(size, Image.LANCZOS)
    rows, cols = result["grid"]
    values, asked = result["map"], result["asked"]
    lens = "classes" in result
    levels = tensors.levels(values, 0, 1) if lens else tensors.levels(values, min(values), max(values))
    colours = ([viridis.class_colour(manifest["labels"].index(c)) for c in result["classes"]] if lens
               else [viridis.colour(level) for level in levels])
    cells = Image.new("RGB", (cols, rows))
    cells.putdata(colours)
    weight = Image.new("L", (cols, rows))  # the map's share of each pixel: the opacity, times the probability (lens)
    weight.putdata([round(OPACITY * (level if lens else 255)) for level in levels])
    picture = Image.composite(cells.resize(size, Image.NEAREST), base, weight.resize(size, Image.NEAREST))
    font = ImageFont.load_default(size=12)
    margin, line, text_width = 16, 18, max(size[0], TEXT_WIDTH)
    meaning = _wrap(notes.MEANINGS[asked["map"]], font, text_width)
    if asked["map"] == "relevance":
        what = f"class relevance (Chefer et al.), {asked['class']}" + (
            f" versus {asked['versus']}" if asked["versus"] else "") + ", every block"
    else:
        place = "embeddings output" if asked["block"] == 0 else f"block {asked['block']}"
        what = f"{asked['map']}, {place}, token {asked['token']}"
    caption = [part for text in (f"ViT Lens · {manifest['title']} · Interpretation: {what}", f"Image: {image_name}",
                                 result["fragment"]) for part in _wrap(text, font, text_width)]
    top = margin + line * len(meaning) + 8
    swatches, x, y = [], margin, top  # the lens's legend: one swatch per class, in rows as wide as the map
    for index, label in enumerate(manifest["labels"] if lens else []):
        step = 22 + round(font.getlength(label))
        if x + step > margin + text_width and x > margin:
            x, y = margin, y + line
        swatches.append((index, label, x, y))
        x += step
    image_top = y + line + 8
    out = Image.new("RGB", (text_width + 2 * margin, image_top + size[1] + margin + line * len(caption) + margin),
                    "white")
    draw = ImageDraw.Draw(out)
    for i, text in enumerate(meaning):
        draw.text((margin, margin + i * line), text, fill=(40, 40, 40), font=font)
    for index, label, x, y in swatches:
        draw.rectangle((x, y + 3, x + 10, y + 13), fill=viridis.class_colour(index))
        draw.text((x + 14, y), label, fill=(40, 40, 40), font=font)
    if not lens:
        low, high = f"{min(values):.3g}", f"{max(values):.3g}"
        draw.text((margin, top), low, fill=(40, 40, 40), font=font)
        left = margin + round(font.getlength(low)) + 6
        bar = Image.new("RGB", (256, 1))
        bar.putdata([viridis.colour(level) for level in range(256)])
        out.paste(bar.resize((256, 10)), (left, top + 3))
        draw.text((left + 262, top), high, fill=(40, 40, 40), font=font)
    out.paste(picture, (margin, image_top))
    for i, text in enumerate(caption):
        draw.text((margin, image_top + size[1] + margin + i * line), text, fill=(40, 40, 40), font=font)
    return out


def _wrap(text: str, font, width: int) -> list[str]:
    """Lines no wider than `width` px: broken between words, and inside a word (a URL) when it must."""
    lines, current = [], ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        while font.getlength(word) > width:  # a word longer than the line
            cut = max(1, max(i for i in range(1, len(word) + 1) if font.getlength(word[:i]) <= width))
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    return [*lines, current] if current else lines


DESCRIPTION = """Compute one of the page's maps for an image, natively: the same ONNX graphs and the same
Python as the page, for papers, scripts and batch use.

The JSON holds the probabilities (label -> probability), the patch grid [rows, cols], the map (one
number per patch, row-major), what was asked, and the page's URL fragment for the same map. The
PNG is the map over the model's input at twice its size with its colour scale and caption, as the
page saves it. Blocks count from 1 (0 is the embeddings' output), heads from 1, tokens from 0 (CLS)."""
EXAMPLES = """examples:
  vit-lens explain dinov2-s14-cifar10 cat.jpg --png cat-relevance.png
  vit-lens explain ./exports/my-vit photo.png --map relevance --class dog --versus cat --json out.json
  vit-lens explain dinov2-s14-cifar10 cat.jpg --map attention --block 12 --head 3 --token 0 --png a.png"""


def add_arguments(parser) -> None:
    parser.add_argument("model", help="a folder written by vit-lens export, or a model's name in web/model")
    parser.add_argument("image", type=Path, help="the image (any format Pillow reads)")
    parser.add_argument("--map", choices=MAPS, default="relevance", dest="kind")
    parser.add_argument("--class", dest="chosen", metavar="NAME", help="relevance: the class (default: the predicted one)")
    parser.add_argument("--versus", metavar="NAME", help="relevance: the class it is compared with (A versus B)")
    parser.add_argument("--block", type=int, help="1 to the model's blocks (0: the embeddings' output); default: the last")
    parser.add_argument("--head", default="mean", help="attention: a head from 1, or mean, max, min (rollout: the fusion)")
    parser.add_argument("--token", type=int, default=0, help="the token whose map it is (0: CLS)")
    parser.add_argument("--png", type=Path, metavar="OUT.png", help="write the figure")
    parser.add_argument("--json", type=Path, metavar="OUT.json", dest="json_path", help="write the numbers")


def run(args) -> int:
    """The command: the JSON on standard output when neither --png nor --json is given."""
    import sys
    try:
        result, manifest, model_input = compute(args.model, args.image, args.kind, args.chosen, args.versus,
                                                args.block, args.head, args.token)
    except (ExplainError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    text = json.dumps(result, indent=1)
    if args.json_path is None and args.png is None:
        print(text)
    if args.json_path is not None:
        args.json_path.write_text(text)
    if args.png is not None:
        figure(result, manifest, model_input, args.image.name).save(args.png)
    written = [str(p) for p in (args.png, args.json_path) if p is not None]
    if written:
        print(f"{args.kind} for {args.image.name}: wrote {', '.join(written)}", file=sys.stderr)
    return 0
