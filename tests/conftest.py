"""Tiny randomly initialised checkpoints of each supported family, saved as a user would have them."""
from __future__ import annotations

from pathlib import Path

import pytest
from transformers import (BitImageProcessor, DeiTConfig, DeiTForImageClassification,
                          DeiTForImageClassificationWithTeacher, Dinov2Config, Dinov2ForImageClassification,
                          ViTConfig, ViTForImageClassification, ViTImageProcessor)

BROWSER_SUITES = ("e2e", "xbrowser")  # the folders whose tests start a browser
LABELS = {0: "cat", 1: "dog", 2: "ship"}
IMAGENET = {"image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}


def _small(config_class, **kw):
    return config_class(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, id2label=LABELS,
                        label2id={v: k for k, v in LABELS.items()}, **kw)


TINY = {
    "vit": lambda: (ViTForImageClassification, _small(ViTConfig, intermediate_size=64, image_size=32, patch_size=8),
                    ViTImageProcessor(size={"height": 32, "width": 32})),
    "deit": lambda: (DeiTForImageClassification, _small(DeiTConfig, intermediate_size=64, image_size=32, patch_size=8),
                     ViTImageProcessor(size={"height": 32, "width": 32}, **IMAGENET)),
    "deit_teacher": lambda: (DeiTForImageClassificationWithTeacher,
                             _small(DeiTConfig, intermediate_size=64, image_size=32, patch_size=8),
                             ViTImageProcessor(size={"height": 32, "width": 32}, **IMAGENET)),
    # DINOv2 as published: position embeddings for a larger grid, resized at run time, and a
    # shortest-edge resize followed by a centre crop.
    "dinov2": lambda: (Dinov2ForImageClassification, _small(Dinov2Config, mlp_ratio=2, image_size=56, patch_size=8),
                       BitImageProcessor(size={"shortest_edge": 36}, crop_size={"height": 32, "width": 32},
                                         do_center_crop=True, resample=3, **IMAGENET)),
}


def save_tiny(kind: str, folder: Path, seed: int = 0) -> Path:
    import torch
    torch.manual_seed(seed)
    model_class, config, processor = TINY[kind]()
    model = model_class(config)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("checkpoints")
    return {kind: save_tiny(kind, root / kind) for kind in TINY}


@pytest.fixture(scope="session")
def exported(tiny_checkpoints, tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    """Float32 weights, so the parts can be held to PyTorch's unmodified model (test_fp16_* covers float16)."""
    from export.pipeline import export_model
    out = tmp_path_factory.mktemp("web-model")
    return out, {kind: export_model(str(folder), out, name=f"tiny-{kind}".replace("_", "-"), weights="fp32")
                 for kind, folder in tiny_checkpoints.items()}


def pytest_collection_modifyitems(items):
    """Every test that starts a browser is marked `browser`: `pytest -m "not browser"` is the fast lane."""
    for item in items:
        if item.path.parent.name in BROWSER_SUITES:
            item.add_marker(pytest.mark.browser)
