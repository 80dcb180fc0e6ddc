"""Preprocessing: the recipe equals Hugging Face's processors, and preprocess.onnx equals the recipe."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image
from transformers import BitImageProcessor, ViTImageProcessor

from export import preprocess_graph
from export.preprocess import preprocess, recipe_from_processor
from export.shared import geometry
from export.samples import SAMPLES

def run_graph(graph_path: Path, image: Image.Image, recipe: dict) -> np.ndarray:
    """preprocess.onnx on an image, fed as the page feeds it (RGBA bytes plus the recipe's numbers)."""
    rgba = np.asarray(image.convert("RGBA"))[None]  # (1, height, width, 4)
    feeds = {name: np.asarray(value, np.int64)
             for name, value in geometry.graph_inputs(recipe, image.width, image.height).items()}
    feeds.update(image=rgba, rescale=np.asarray(recipe["rescale"], np.float32),
                 mean=np.asarray(recipe["mean"], np.float32), std=np.asarray(recipe["std"], np.float32))
    session = ort.InferenceSession(str(graph_path), providers=["CPUExecutionProvider"])
    return session.run(["pixel_values"], feeds)[0]


IMAGENET = {"image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}
PROCESSORS = {
    "vit-squash-bilinear": ViTImageProcessor(size={"height": 224, "width": 224}, **IMAGENET),
    "dinov2-edge-crop-bicubic": BitImageProcessor(size={"shortest_edge": 256}, crop_size={"height": 224, "width": 224},
                                                  do_center_crop=True, resample=3, **IMAGENET),
}
IMAGES = ["chelsea", "astronaut", "rocket", "cifar10-ship"]


def image(name):
    return next(s for s in SAMPLES if s.id == name).load()


@pytest.mark.parametrize("kind", PROCESSORS)
@pytest.mark.parametrize("name", IMAGES)
def test_recipe_equals_hugging_face(kind, name):
    processor = PROCESSORS[kind]
    recipe = recipe_from_processor(processor)
    expected = processor(images=image(name), return_tensors="np")["pixel_values"]
    np.testing.assert_allclose(preprocess(image(name), recipe), expected, atol=1e-5)


def variants():
    """The same photo as the browser may meet it: modes, odd and very large sizes."""
    photo = image("chelsea")
    rgba = photo.convert("RGBA")
    rgba.putalpha(200)
    return {
        "rgb": photo, "rgba": rgba, "grey": photo.convert("L"), "palette": photo.convert("P"),
        "tall": photo.resize((90, 400)), "one-pixel": photo.resize((1, 1)),
        "large": photo.resize((3000, 2000), Image.Resampling.BICUBIC), "cifar": image("cifar10-cat"),
    }


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("graphs")
    paths = {}
    for mode in preprocess_graph.MODES:
        paths[mode] = folder / f"{mode}.onnx"
        paths[mode].write_bytes(preprocess_graph.build(mode).SerializeToString())
    return paths


@pytest.mark.parametrize("kind", PROCESSORS)
@pytest.mark.parametrize("variant", list(variants()))
def test_graph_equals_recipe_within_one_level(graphs, kind, variant):
    recipe = recipe_from_processor(PROCESSORS[kind])
    picture = variants()[variant]
    if kind.startswith("dinov2") and variant == "one-pixel":
        picture = picture.resize((1, 1))
    expected = preprocess(picture, recipe)
    got = run_graph(graphs[recipe["resample"]], picture, recipe)
    assert got.shape == expected.shape
    one_level = 1 / 255 / min(recipe["std"])
    assert np.abs(got - expected).max() <= one_level * 1.01
    assert np.abs(got - expected).mean() <= one_level * 0.15  # off by one level only at rounding ties


def test_upscaled_cifar_is_exact(graphs):
    recipe = recipe_from_processor(PROCESSORS["vit-squash-bilinear"])
    picture = image("cifar10-truck")
    np.testing.assert_allclose(run_graph(graphs["bilinear"], picture, recipe), preprocess(picture, recipe), atol=1e-5)


def test_unsupported_resampling_is_refused():
    with pytest.raises(ValueError, match="lanczos"):
        preprocess_graph.build("lanczos")
