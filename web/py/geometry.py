"""Where an image lands in the model's input: the resize and crop of a preprocessing recipe.

Standard library only: the page (Pyodide) and the export step (CPython) share this module, so the
two runtimes cannot disagree about sizes. The pixel arithmetic itself runs in ONNX
(`preprocess.onnx`), fed with the numbers computed here.
"""
import math


def input_size(recipe):
    """(height, width) of the model input."""
    box = recipe["crop"] or recipe["resize"]
    if "height" not in box:
        raise ValueError("a shortest-edge resize needs a centre crop to give a fixed input size")
    return box["height"], box["width"]


def resized_size(recipe, width, height):
    """(width, height) after the resize step, rounding as Hugging Face image processors do."""
    if width < 1 or height < 1:
        raise ValueError(f"image of {width}x{height} pixels")
    resize = recipe["resize"]
    if "height" in resize:
        return resize["width"], resize["height"]
    short, long_ = (width, height) if width <= height else (height, width)
    new_short = resize["shortest_edge"]
    new_long = int(new_short * long_ / short)
    return (new_short, new_long) if width <= height else (new_long, new_short)


def crop_box(recipe, width, height):
    """(top, left, height, width) of the centre crop inside the resized image."""
    out_h, out_w = input_size(recipe)
    top, left = (height - out_h) // 2, (width - out_w) // 2
    if top < 0 or left < 0:
        raise ValueError(f"resized image {width}x{height} is smaller than the crop {out_w}x{out_h}")
    return top, left, out_h, out_w


def graph_inputs(recipe, width, height):
    """The integer inputs of preprocess.onnx for an image of width x height pixels."""
    new_w, new_h = resized_size(recipe, width, height)
    top, left, out_h, out_w = crop_box(recipe, new_w, new_h)
    return {
        "width": [new_w],
        "height": [new_h],
        "crop_start": [top, left, 0],
        "crop_end": [top + out_h, left + out_w, 3],
    }


def patch_box(recipe, width, height, patch_size, columns, patch):
    """(left, top, right, bottom) in an image of width x height pixels of the region that becomes patch
    `patch` (row-major in a grid of `columns`) after the resize and crop: where a what-if edit replaces
    pixels. Rounded outwards, so the boxes of neighbouring patches touch."""
    new_w, new_h = resized_size(recipe, width, height)
    top, left, _, _ = crop_box(recipe, new_w, new_h)
    row, col = divmod(patch, columns)
    sx, sy = width / new_w, height / new_h
    x0, x1 = (left + col * patch_size) * sx, (left + (col + 1) * patch_size) * sx
    y0, y1 = (top + row * patch_size) * sy, (top + (row + 1) * patch_size) * sy
    return (max(0, math.floor(x0)), max(0, math.floor(y0)), min(width, math.ceil(x1)), min(height, math.ceil(y1)))
