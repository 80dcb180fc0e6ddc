"""The checkpoint's image preprocessing, written down as data the browser can follow.

`recipe_from_processor` turns a Hugging Face image processor into the manifest's recipe;
`preprocess` applies a recipe with PIL and numpy only. It is the reference the page's own
preprocessing is tested against, and it matches the Hugging Face processor it came from.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

RESAMPLE = {Image.Resampling.NEAREST: "nearest", Image.Resampling.BILINEAR: "bilinear",
            Image.Resampling.BICUBIC: "bicubic", Image.Resampling.LANCZOS: "lanczos",
            Image.Resampling.BOX: "box", Image.Resampling.HAMMING: "hamming"}
PIL_RESAMPLE = {name: mode for mode, name in RESAMPLE.items()}


def recipe_from_processor(processor, config) -> dict:
    """Resize, optional centre crop, rescale and normalise, as the processor would do them."""
    if processor is None:
        size = config.image_size
        return {"resize": {"height": size, "width": size}, "resample": "bilinear", "crop": None,
                "rescale": 1 / 255, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
                "note": "the checkpoint has no image processor; ViT's defaults were assumed"}
    size = dict(processor.size)
    if "height" in size and "width" in size:
        resize = {"height": size["height"], "width": size["width"]}
    elif "shortest_edge" in size:
        resize = {"shortest_edge": size["shortest_edge"]}
    else:
        raise ValueError(f"unsupported image processor size {size}")
    if not getattr(processor, "do_resize", True):
        raise ValueError("image processors without resizing are not supported")
    crop = None
    if getattr(processor, "do_center_crop", False):
        crop = {"height": processor.crop_size["height"], "width": processor.crop_size["width"]}
    return {
        "resize": resize,
        "resample": RESAMPLE[Image.Resampling(processor.resample)],
        "crop": crop,
        "rescale": processor.rescale_factor if processor.do_rescale else 1.0,
        "mean": list(map(float, processor.image_mean)) if processor.do_normalize else [0.0, 0.0, 0.0],
        "std": list(map(float, processor.image_std)) if processor.do_normalize else [1.0, 1.0, 1.0],
    }


def input_size(recipe: dict) -> tuple[int, int]:
    box = recipe["crop"] or recipe["resize"]
    if "height" not in box:
        raise ValueError("a shortest-edge resize needs a centre crop to give a fixed input size")
    return box["height"], box["width"]


def resized_size(recipe: dict, width: int, height: int) -> tuple[int, int]:
    """(width, height) after the resize step, rounding as Hugging Face does."""
    resize = recipe["resize"]
    if "height" in resize:
        return resize["width"], resize["height"]
    short, long_ = (width, height) if width <= height else (height, width)
    new_short = resize["shortest_edge"]
    new_long = int(new_short * long_ / short)
    return (new_short, new_long) if width <= height else (new_long, new_short)


def preprocess(image: Image.Image, recipe: dict) -> np.ndarray:
    """A decoded image of any mode and size -> pixel_values (1, 3, height, width) float32."""
    rgb = image.convert("RGB")
    rgb = rgb.resize(resized_size(recipe, *rgb.size), PIL_RESAMPLE[recipe["resample"]])
    pixels = np.asarray(rgb, dtype=np.float32)  # (height, width, 3)
    if recipe["crop"]:
        pixels = _center_crop(pixels, recipe["crop"]["height"], recipe["crop"]["width"])
    pixels = pixels * np.float32(recipe["rescale"])
    pixels = (pixels - np.asarray(recipe["mean"], np.float32)) / np.asarray(recipe["std"], np.float32)
    return pixels.transpose(2, 0, 1)[None].astype(np.float32)


def _center_crop(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    top = (pixels.shape[0] - height) // 2
    left = (pixels.shape[1] - width) // 2
    if top < 0 or left < 0:
        raise ValueError(f"image {pixels.shape[:2]} is smaller than the crop {(height, width)}")
    return pixels[top:top + height, left:left + width]
