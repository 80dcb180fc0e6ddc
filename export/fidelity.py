"""Run exported parts as the page does, and measure how far they are from PyTorch."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from .probe import Probe, ProbedModel
from .shared import edits, names


def open_session(path: Path, threads: int = 0) -> ort.InferenceSession:
    """An onnxruntime session on the CPU, logging errors only."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class Chain:
    """The page's chain of parts, natively, with its sessions kept (a faithfulness curve is many runs).

    An edited run leaves tokens out after the embeddings (`kept`: the token indices the blocks read)
    and knocks heads out (`head_mask`, (blocks, heads), fed to each block's part); its tensors after
    the embeddings have len(kept) tokens (see `spread`).
    """

    def __init__(self, model_dir: Path, stages: list[dict]):
        self.stages = stages
        self.sessions = [open_session(model_dir / stage["file"]) for stage in stages]
        self.heads = next((i.shape[1] for stage, s in zip(stages, self.sessions) for i in s.get_inputs()
                           if i.name == stage.get("head_mask")), 0)  # per block, from its head mask's shape

    def run(self, pixel_values: np.ndarray | None = None, kept: list[int] | None = None,
            head_mask: np.ndarray | None = None, hidden: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Every output of every part; from `hidden` (a full embeddings output) instead of the pixels if given.
        With `kept`, the embeddings output is the kept tokens'."""
        values = {names.PIXELS: pixel_values} if hidden is None else {names.EMBEDDINGS_OUTPUT: hidden}
        for stage, session in zip(self.stages, self.sessions):
            if hidden is not None and stage["name"] == names.EMBEDDINGS:
                continue
            if stage["input"] == names.EMBEDDINGS_OUTPUT and kept is not None:  # the tokens block 1 reads
                values[names.EMBEDDINGS_OUTPUT] = np.ascontiguousarray(values[names.EMBEDDINGS_OUTPUT][:, kept])
            feeds = part_feeds(stage, values[stage["input"]], self.heads, head_mask)
            outputs = [o.name for o in session.get_outputs()]
            values.update(zip(outputs, session.run(outputs, feeds)))
        return values


def part_feeds(stage: dict, value: np.ndarray, heads: int, head_mask: np.ndarray | None = None) -> dict:
    """A part's feeds: its input, and a block's head mask (row `block` of `head_mask`, (blocks, heads);
    ones, every head, without one)."""
    feeds = {stage["input"]: value}
    if "head_mask" in stage:
        block = names.block_of(stage["name"])
        row = np.ones(heads, np.float32) if head_mask is None else np.asarray(head_mask[block], np.float32)
        feeds[stage["head_mask"]] = row.reshape(1, heads, 1, 1)
    return feeds


def run_parts(model_dir: Path, stages: list[dict], pixel_values: np.ndarray) -> dict[str, np.ndarray]:
    """Chain the stage parts: each part's input is the previous part's last output."""
    return Chain(model_dir, stages).run(pixel_values)


def spread(name: str, value: np.ndarray, kept: list[int], total: int) -> np.ndarray:
    """An edited run's tensor at the full token count: the tokens left out read 0 (web/py/edits.py's
    token_axes say which axes run over tokens)."""
    axes = edits.token_axes(name, value.ndim)
    if not axes:
        return value
    index = [np.arange(n) for n in value.shape]
    shape = list(value.shape)
    for axis in axes:
        index[axis], shape[axis] = np.asarray(kept), total
    out = np.zeros(shape, value.dtype)
    out[np.ix_(*index)] = value
    return out


def run_torch(probed: ProbedModel, pixel_values: np.ndarray) -> dict[str, np.ndarray]:
    with torch.no_grad():
        out = probed(torch.from_numpy(pixel_values))
    return {name: t.detach().numpy() for name, t in out.items()}


def run_torch_edited(model, family, pixel_values: np.ndarray, kept: list[int], head_mask: np.ndarray) -> dict[str, np.ndarray]:
    """The oracle of an edited run: the Hugging Face model itself, its embeddings' output cut to the `kept`
    tokens (its blocks and head then run on those alone) and its own `head_mask`. Every tensor from the
    first block on, under the exposed names."""
    cut = family.base_model(model).embeddings.register_forward_hook(lambda module, inputs, output: output[:, kept])
    try:
        with torch.no_grad(), Probe(model, family) as probe:
            logits = model(pixel_values=torch.from_numpy(pixel_values), head_mask=torch.from_numpy(head_mask)).logits
    finally:
        cut.remove()
    values = {name: t.detach().numpy() for name, t in probe.tensors.items()
              if names.block_of(name) is not None or name in (names.FINAL_NORM, names.POOLED, names.POOLED_DISTILLATION)}
    values[names.LOGITS] = logits.detach().numpy()
    return values


def relative_diff(reference: np.ndarray, value: np.ndarray) -> float:
    """Max absolute difference relative to the reference tensor's range."""
    if reference.shape != value.shape:
        raise ValueError(f"shape {value.shape} differs from the reference {reference.shape}")
    span = float(reference.max() - reference.min()) or float(np.abs(reference).max()) or 1.0
    return float(np.abs(reference.astype(np.float64) - value).max()) / span


def compare(reference: dict[str, np.ndarray], values: dict[str, np.ndarray]) -> dict[str, float]:
    return {name: relative_diff(ref, values[name]) for name, ref in reference.items()}
