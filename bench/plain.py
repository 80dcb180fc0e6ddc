"""The peer of the page's forward pass: the plain optimum export of the same checkpoint (one ONNX
graph, only the logits), run natively by onnxruntime with every graph optimisation (its fusions)."""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from export.shared import names

from .site import BUILD


def plain_model(checkpoint: Path) -> Path:
    """`optimum-cli export onnx --task image-classification`, once (build/bench/plain/<name>)."""
    folder = BUILD / "plain" / checkpoint.name
    if not (folder / "model.onnx").exists():
        from optimum.exporters.onnx import main_export
        main_export(str(checkpoint), folder, task="image-classification")
    return folder / "model.onnx"


def plain_forward(model: Path, image_size: list[int], threads: int, runs: int, warmup: int = 2) -> dict:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    height, width = image_size
    pixel_values = np.random.default_rng(0).standard_normal((1, 3, height, width)).astype(np.float32)
    times = []
    for i in range(warmup + runs):
        started = time.perf_counter()
        session.run(None, {names.PIXELS: pixel_values})
        if i >= warmup:
            times.append((time.perf_counter() - started) * 1000)
    return {"median_ms": statistics.median(times), "runs": runs, "threads": threads}
