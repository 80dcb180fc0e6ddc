"""Model detail (EL-VIT V-C): any exposed tensor as small multiples, one map per channel (Fig. 6).

Standard library only. A tensor's layout says how its flat float32 values map to (map, cell):
tokens x channels activations give one map per channel over the token grid (special tokens
first, then the patch grid); per-head tensors (batch, heads, tokens, x) give one map per head and
x; channel-first maps (batch, channels, rows, cols) one map per channel. Values are turned into
0..255 levels, normalised per map (the paper), per tensor, or between the tensor's 1st and 99th
percentiles (robust to the few outlier channels and tokens ViTs grow).
"""
from array import array

import overview
import tensors

MODES = ("channel", "tensor", "robust")


def layout(shape, manifest):
    """How a tensor of this shape (batch first) is drawn: kind, maps, cells and the grid."""
    dims = list(shape[1:])
    special = len(manifest.special_tokens)
    tokens = manifest.tokens
    if len(dims) == 2 and dims[0] == tokens:
        return {"kind": "tokens", "maps": dims[1], "heads": 1, "per_head": dims[1], "cells": tokens,
                "special": special, "grid": list(manifest.grid)}
    if len(dims) == 3 and dims[1] == tokens == dims[2]:  # attention scores, probabilities: one matrix per head
        return {"kind": "matrix", "maps": dims[0], "heads": dims[0], "per_head": 1, "cells": tokens * tokens,
                "special": 0, "grid": [tokens, tokens]}
    if len(dims) == 3 and dims[1] == tokens:
        return {"kind": "heads", "maps": dims[0] * dims[2], "heads": dims[0], "per_head": dims[2],
                "cells": tokens, "special": special, "grid": list(manifest.grid)}
    if len(dims) == 3:
        return {"kind": "planes", "maps": dims[0], "heads": 1, "per_head": dims[0], "cells": dims[1] * dims[2],
                "special": 0, "grid": dims[1:]}
    raise ValueError(f"a tensor of shape {shape} has no map layout")


def encoder_layout(manifest, channel):
    """Every block's output as one map each, for one channel (the encoder level of the data flow)."""
    return {"kind": "blocks", "maps": manifest.num_layers, "heads": 1, "per_head": 1, "cells": manifest.tokens,
            "special": len(manifest.special_tokens), "grid": list(manifest.grid), "channel": channel}


def encoder_channel(outputs, tokens, dim, channel):
    """Channel `channel` of each block's (tokens, dim) output, block after block: (blocks, tokens) flat."""
    flat = array("f")
    for output in outputs:
        flat.extend(tensors.channel(output, tokens, dim, channel))
    return memoryview(flat)


def value_index(lay, map_index, cell):
    """Flat index of map `map_index`, cell `cell` (a token, or a pixel of a plane)."""
    if not 0 <= map_index < lay["maps"] or not 0 <= cell < lay["cells"]:
        raise IndexError(f"map {map_index}, cell {cell} is outside {lay['maps']} maps of {lay['cells']} cells")
    if lay["kind"] in ("planes", "matrix", "blocks"):
        return map_index * lay["cells"] + cell
    head, channel = divmod(map_index, lay["per_head"])
    return (head * lay["cells"] + cell) * lay["per_head"] + channel


def map_values(flat, lay, map_index):
    """The values of one map, in cell order."""
    start = value_index(lay, map_index, 0)
    if lay["kind"] in ("planes", "matrix", "blocks"):
        return flat[start:start + lay["cells"]].tolist()
    step = lay["per_head"]
    return flat[start:start + lay["cells"] * step:step].tolist()


def levels(flat, lay, first, count, mode):
    """0..255 levels for maps first..first+count-1 (bytes, map-major), and each map's (low, high)."""
    if mode not in MODES:
        raise ValueError(f"unknown normalisation {mode!r}; use one of {', '.join(MODES)}")
    count = max(0, min(count, lay["maps"] - first))
    if mode == "tensor":
        shared = (min(flat), max(flat))
    elif mode == "robust":
        shared = tuple(tensors.percentiles(flat.tolist(), [1, 99]))
    out = bytearray()
    ranges = []
    for m in range(first, first + count):
        values = map_values(flat, lay, m)
        low, high = (min(values), max(values)) if mode == "channel" else shared
        out += tensors.levels(values, low, high)
        ranges.append((low, high))
    return bytes(out), ranges


def map_label(lay, map_index):
    if lay["kind"] == "blocks":
        return f"block {map_index + 1} output, channel {lay['channel']}"
    if lay["kind"] == "matrix":
        return f"head {map_index + 1}"
    if lay["kind"] == "heads":
        head, x = divmod(map_index, lay["per_head"])
        return f"head {head + 1}, {x}"
    return f"channel {map_index}"


def token_label(manifest, token):
    """A token as the views name it: 'token 0 (CLS)', 'token 21: patch at row 1, column 4'."""
    lay = layout([1, manifest.tokens, manifest.hidden_size], manifest)
    return cell_label(lay, token, manifest.special_tokens)


def cell_label(lay, cell, special_names):
    """What a cell is: a special token, or a patch at (row, column), or a pixel."""
    if lay["kind"] == "planes":
        row, col = divmod(cell, lay["grid"][1])
        return f"row {row}, column {col}"
    if lay["kind"] == "matrix":
        query, key = divmod(cell, lay["grid"][1])
        return f"query token {query}, key token {key}"
    if cell < lay["special"]:
        return f"token {cell} ({special_names[cell]})"
    row, col = divmod(cell - lay["special"], lay["grid"][1])
    return f"token {cell}: patch at row {row}, column {col}"


def flow(manifest, level_id):
    """The focus+context strip above the maps: one level of the data flow (the overview's levels),
    left to right, each step with its Fig. 8 annotation: what it does and how the shape changes."""
    level = overview.level(manifest, level_id)
    into = {e["target"]: e["shape"] for e in level["edges"]}
    out_of = {e["source"]: e["shape"] for e in level["edges"]}
    steps = []
    for node in level["nodes"]:  # listed in data-flow order
        shapes = [into.get(node["id"]), out_of.get(node["id"])]
        if shapes[0] and shapes[1] and shapes[0] != shapes[1]:
            change = f" Shape {shapes[0]} → {shapes[1]}."
        elif shapes[1] or shapes[0]:
            change = f" Shape {shapes[1] or shapes[0]}."
        else:
            change = ""
        steps.append({"id": node["id"], "label": node["label"], "sub": node["sub"], "tensor": node["detail"],
                      "layer": node["layer"], "children": node["children"], "note": node["explain"] + change})
    return {"steps": steps, "trail": overview.trail(manifest, level_id), "up": overview.parent(level_id)}
