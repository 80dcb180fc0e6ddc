"""Run exported parts as the page does, and measure how far they are from PyTorch."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from .probe import ProbedModel
from .shared import names


def run_parts(model_dir: Path, stages: list[dict], pixel_values: np.ndarray) -> dict[str, np.ndarray]:
    """Chain the stage parts: each part's input is the previous part's last output."""
    values = {names.PIXELS: pixel_values}
    for stage in stages:
        session = ort.InferenceSession(str(model_dir / stage["file"]), providers=["CPUExecutionProvider"])
        outputs = [o.name for o in session.get_outputs()]
        values.update(zip(outputs, session.run(outputs, {stage["input"]: values[stage["input"]]})))
    return values


def run_torch(probed: ProbedModel, pixel_values: np.ndarray) -> dict[str, np.ndarray]:
    with torch.no_grad():
        out = probed(torch.from_numpy(pixel_values))
    return {name: t.detach().numpy() for name, t in out.items()}


def relative_diff(reference: np.ndarray, value: np.ndarray) -> float:
    """Max absolute difference relative to the reference tensor's range."""
    if reference.shape != value.shape:
        raise ValueError(f"shape {value.shape} differs from the reference {reference.shape}")
    span = float(reference.max() - reference.min()) or float(np.abs(reference).max()) or 1.0
    return float(np.abs(reference.astype(np.float64) - value).max()) / span


def compare(reference: dict[str, np.ndarray], values: dict[str, np.ndarray]) -> dict[str, float]:
    return {name: relative_diff(ref, values[name]) for name, ref in reference.items()}
