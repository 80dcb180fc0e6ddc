"""The names of the tensors the export step exposes and the page reads, made in one place.

`layer.<i>.<part>` is a tensor of block i, counted from 0 as in Hugging Face's modules (the page
shows block i + 1). Standard library only: the page ships this file (py/files.json), the export
step loads it from here (export/shared.py), and the tests import it like the page's other modules.
"""
PIXELS = "pixel_values"
EMBEDDINGS = "embeddings"  # the embeddings' stage
PATCH_CONV = "embeddings.patch_conv"
PATCHES = "embeddings.patches"
WITH_CLS = "embeddings.with_cls"
POSITION = "embeddings.position"
EMBEDDINGS_OUTPUT = "embeddings.output"
HEAD = "head"  # the head's stage
FINAL_NORM = "final_norm"
POOLED = "pooled"
POOLED_DISTILLATION = "pooled_distillation"  # DeiT with its teacher: what the distillation classifier reads
LOGITS = "logits"
PROBABILITIES = "probabilities"  # the head's softmax, added to its part by the export step
BLOCK_PREFIX = "layer."
ENCODER_OUTPUTS = "encoder.outputs"  # not a tensor: Model detail's every block output side by side

# The parts of a block, in the order it computes them: block i's tensor is in_block(i, PART).
NORM_BEFORE = "norm_before"
ATTENTION = "attention."  # the prefix of every tensor inside the attention
QUERY = "attention.query"
KEY = "attention.key"
VALUE = "attention.value"
SCORES = "attention.scores"
PROBS = "attention.probs"
HEAD_MASK = "attention.head_mask"  # an input of each block's part, (1, heads, 1, 1): 1 keeps a head, 0 knocks it out
CONTEXT = "attention.context"
ATTENTION_OUTPUT = "attention.output"
LAYER_SCALE1 = "layer_scale1"  # families with layer-scale (DINOv2)
RESIDUAL = "residual"
NORM_AFTER = "norm_after"
MLP_PRE_ACT = "mlp.pre_act"
MLP_POST_ACT = "mlp.post_act"
MLP_OUTPUT = "mlp.output"
LAYER_SCALE2 = "layer_scale2"
OUTPUT = "output"

PATCH_KERNEL = "embeddings.patch.kernel"  # learned parameters (parameters.bin), not tensors of a pass
PATCH_BIAS = "embeddings.patch.bias"

RELEVANCE = "relevance"  # relevance.onnx: CLS's row of Chefer et al.'s R, per token
RELEVANCE_BLOCKS = "relevance.blocks"  # CLS's row of each block's Ā_l
HEAD_MASKS = "head_mask"  # relevance.onnx's input (blocks, heads): every block's head mask at once
TARGET = "target"  # relevance.onnx's input: the vector over the logits that y = target · logits reads

PATCHES_READ = "analysis.patches"  # analysis.onnx's input (int64): the patches the run read, all or a what-if run's kept
HEAD_MEASURES = ("distance", "entropy", "cls")  # analysis.heads.<measure>: the head atlas, (blocks, heads)

FUSIONS = ("mean", "max", "min")  # how the rollout fuses heads: one analysis.rollout.<fusion> each


def block(i):
    """The stage (ONNX part) of block i."""
    return f"layer.{i}"


def in_block(i, part):
    """A tensor of block i, e.g. in_block(3, PROBS) is "layer.3.attention.probs"."""
    return f"{block(i)}.{part}"


def block_input(i):
    """What enters block i: the embeddings' output or the previous block's."""
    return EMBEDDINGS_OUTPUT if i == 0 else in_block(i - 1, OUTPUT)


def block_of(name):
    """The block a tensor belongs to, or None for the embeddings' and the head's."""
    return int(name.split(".")[1]) if name.startswith(BLOCK_PREFIX) else None


def scale(norm):
    """The learned scale γ of a LayerNorm, named by the LayerNorm's output tensor."""
    return f"{norm}.gamma"


def shift(norm):
    """The learned shift β of a LayerNorm, named by the LayerNorm's output tensor."""
    return f"{norm}.beta"


def analysis(output):
    """An output of analysis.onnx: "similarity", "norms", "lens" or "rollout.<fusion>"."""
    return f"analysis.{output}"


def gradient(name):
    """The gradient of the relevance's y with respect to a tensor, e.g. "layer.3.attention.probs.grad"."""
    return f"{name}.grad"
