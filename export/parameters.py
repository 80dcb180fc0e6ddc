"""The learned parameters the operation views draw: the patch kernel and bias, every LayerNorm's γ and β.

They sit inside the ONNX parts as initialisers too, but a view should not parse ONNX: they are
written once to `parameters.bin` (float32, little-endian) and described in the manifest.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import nn

from .families import Family
from .shared import names


def named_parameters(model: nn.Module, family: Family) -> list[tuple[str, str, np.ndarray]]:
    """(semantic name, meaning, values) for every parameter an operation view shows."""
    base = family.base_model(model)
    conv = base.embeddings.patch_embeddings.projection
    out = [(names.PATCH_KERNEL, "patch-embedding kernels: one (RGB, patch, patch) filter per hidden unit",
            conv.weight),
           (names.PATCH_BIAS, "patch-embedding bias, one per hidden unit", conv.bias)]
    for i, block in enumerate(family.blocks(model)):
        for tensor, attribute, where in ((names.NORM_BEFORE, family.norm_before, "before attention"),
                                         (names.NORM_AFTER, family.norm_after, "before the MLP")):
            norm, name = block.get_submodule(attribute), names.in_block(i, tensor)
            out.append((names.scale(name), f"block {i + 1} LayerNorm {where}: scale γ", norm.weight))
            out.append((names.shift(name), f"block {i + 1} LayerNorm {where}: shift β", norm.bias))
    out.append((names.scale(names.FINAL_NORM), "final LayerNorm: scale γ", base.layernorm.weight))
    out.append((names.shift(names.FINAL_NORM), "final LayerNorm: shift β", base.layernorm.bias))
    return [(name, meaning, value.detach().float().numpy()) for name, meaning, value in out]


def write_parameters(model: nn.Module, family: Family, path: Path) -> list[dict]:
    """Write the values one after another; return their manifest entries (offsets in bytes)."""
    entries, offset = [], 0
    with open(path, "wb") as file:
        for name, meaning, value in named_parameters(model, family):
            data = np.ascontiguousarray(value, dtype="<f4").tobytes()
            file.write(data)
            entries.append({"name": name, "shape": list(value.shape), "offset": offset, "meaning": meaning})
            offset += len(data)
    return entries
