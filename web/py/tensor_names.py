"""The names of the tensors the export step exposes and the page reads, made in one place.

`layer.<i>.<part>` is a tensor of block i, counted from 0 as in Hugging Face's modules (the page
shows block i + 1). Standard library only: the page ships this file (pyscript.json), the export
step loads it from here (export/shared.py), and the tests import it like the page's other modules.
"""
PIXELS = "pixel_values"
EMBEDDINGS = "embeddings"  # the embeddings' stage
EMBEDDINGS_OUTPUT = "embeddings.output"
FINAL_NORM = "final_norm"
LOGITS = "logits"
BLOCK_PREFIX = "layer."


def block(i):
    """The stage (ONNX part) of block i."""
    return f"layer.{i}"


def in_block(i, part):
    """A tensor of block i, e.g. in_block(3, "attention.probs") is "layer.3.attention.probs"."""
    return f"layer.{i}.{part}"


def block_input(i):
    """What enters block i: the embeddings' output or the previous block's."""
    return EMBEDDINGS_OUTPUT if i == 0 else in_block(i - 1, "output")


def block_of(name):
    """The block a tensor belongs to, or None for the embeddings' and the head's."""
    return int(name.split(".")[1]) if name.startswith(BLOCK_PREFIX) else None
