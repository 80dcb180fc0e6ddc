"""Interpretation View (issue #6): one selection's maps, read out of analysis.onnx's outputs.

Standard library only. Everything that needs all hidden states or all attention maps at once
(similarity between all tokens, token norms, rollout, logit lens) is computed once per image by
analysis.onnx; choosing a block, token or head only slices its flat float32 outputs here, so a
click costs a few hundred reads, not a pass over the model.

Indices: a hidden state `state` is 0 for the embeddings output and b for block b's output
(analysis.similarity, analysis.norms, analysis.lens); attention and rollout are per `layer`,
0-based as in the tensor names (block b is layer b - 1). Maps list one value per PATCH token in
grid order (row-major), the `special` leading tokens (CLS, DIST) left out.
"""
import math

from tensor_names import FUSIONS, PROBS, RELEVANCE, RELEVANCE_BLOCKS, analysis, in_block

KINDS = ("similarity", "attention", "rollout", "relevance", "lens", "norms")  # the maps, the paper's first
BY_LAYER = ("attention", "rollout", "relevance")  # these exist per block (1..N), not for the embeddings


def first_block(kind):
    """The first block a kind of map exists for: 0 (the embeddings' output) or block 1."""
    return 1 if kind in BY_LAYER else 0
_FUSE = {"mean": lambda column: math.fsum(column) / len(column), "max": max, "min": min}


def _leading(flat, per, what):
    """The leading dimension of a flat tensor whose trailing dimensions hold `per` values."""
    if per <= 0 or len(flat) % per:
        raise ValueError(f"{len(flat)} values do not divide into {what} of {per}")
    return len(flat) // per


def _check_index(index, count, what):
    if not 0 <= index < count:
        raise IndexError(f"{what} {index} is outside 0..{count - 1}")


def _check_special(special, tokens):
    if not 0 <= special < tokens:
        raise ValueError(f"{special} special tokens leave no patch among {tokens} tokens")


def _patch_row(flat, tokens, index, token, special, what):
    """Row `token` of matrix `index` of a (count, tokens, tokens) tensor, patch columns only."""
    _check_special(special, tokens)
    _check_index(index, _leading(flat, tokens * tokens, f"{tokens}x{tokens} matrices"), what)
    _check_index(token, tokens, "token")
    start = (index * tokens + token) * tokens
    return list(flat[start + special:start + tokens])


def similarity_map(flat, tokens, state, token, special):
    """Cosine similarity of `token` to every patch at hidden state `state` (analysis.similarity)."""
    return _patch_row(flat, tokens, state, token, special, "hidden state")


def rollout_map(flat, tokens, layer, token, special):
    """How much of `token` after `layer` comes from each input patch (one analysis.rollout.* output)."""
    return _patch_row(flat, tokens, layer, token, special, "layer")


def attention_map(probs_flat, heads, tokens, head_or_fusion, token, special):
    """`token`'s attention over the patches in one layer: one head (0-based) or heads fused.

    `probs_flat` is that layer's layer.{i}.attention.probs, (1, heads, tokens, tokens); a fusion is
    "mean", "max" or "min" over heads, the same fusions the rollout uses.
    """
    if len(probs_flat) != heads * tokens * tokens:
        raise ValueError(f"{len(probs_flat)} values cannot be {heads} heads x {tokens} x {tokens} tokens")
    if isinstance(head_or_fusion, str):
        if head_or_fusion not in _FUSE:
            raise ValueError(f"unknown head fusion {head_or_fusion!r}; use a head index or one of {', '.join(FUSIONS)}")
        rows = [_patch_row(probs_flat, tokens, h, token, special, "head") for h in range(heads)]  # (heads, patches)
        return [_FUSE[head_or_fusion](column) for column in zip(*rows)]
    return _patch_row(probs_flat, tokens, head_or_fusion, token, special, "head")


def norm_map(flat, tokens, state, special):
    """L2 norm of every patch token at hidden state `state` (analysis.norms, (states, tokens))."""
    _check_special(special, tokens)
    _check_index(state, _leading(flat, tokens, f"rows of {tokens} tokens"), "hidden state")
    return list(flat[state * tokens + special:(state + 1) * tokens])


def lens_probs(flat, tokens, classes, state, token):
    """The logit lens of one token (any, CLS included): class probabilities at hidden state `state`."""
    _check_index(state, _leading(flat, tokens * classes, f"{tokens} tokens x {classes} classes"), "hidden state")
    _check_index(token, tokens, "token")
    start = (state * tokens + token) * classes
    return list(flat[start:start + classes])


def lens_maps(flat, tokens, classes, state, special):
    """Per patch at hidden state `state`: (class the lens picks, its probability); ties pick the lower class."""
    _check_special(special, tokens)
    result = []
    for token in range(special, tokens):
        probs = lens_probs(flat, tokens, classes, state, token)  # (classes,)
        best = max(range(classes), key=probs.__getitem__)
        result.append((best, probs[best]))
    return result


def relevance_map(flat, tokens, special):
    """Chefer et al.'s map: CLS's row of R (relevance.onnx's `relevance`, (tokens,)) over the patches."""
    _check_special(special, tokens)
    if len(flat) != tokens:
        raise ValueError(f"{len(flat)} relevance values for {tokens} tokens")
    return list(flat[special:])


def relevance_block_map(flat, tokens, layer, special):
    """Where relevance forms: CLS's row of block `layer`'s Ā_l (relevance.blocks, (blocks, tokens))."""
    return norm_map(flat, tokens, layer, special)


def domain(values, removed=()):
    """The range a map is coloured over: its own minimum and maximum, over the patches the run read
    (a what-if run's removed patches read 0 and are hatched instead)."""
    present = ([v for p, v in enumerate(values) if p not in removed] if removed else values) or values
    return [min(present), max(present)]


def share(values, index):
    """A patch's part of the map's total (what a hover reports beside its relevance); 0 for an empty map."""
    total = math.fsum(values)
    return values[index] / total if total else 0.0


def target(classes, chosen, versus=None):
    """relevance.onnx's target over the logits: one-hot for `chosen`, with -1 for `versus` ("A versus B")."""
    _check_index(chosen, classes, "class")
    vector = [0.0] * classes
    vector[chosen] = 1.0
    if versus is not None:
        _check_index(versus, classes, "class")
        if versus == chosen:
            raise ValueError("a class cannot be compared with itself")
        vector[versus] = -1.0
    return vector


def map_of(kind, read, m, block, head, fusion, token):
    """One map of the Interpretation view: {'values': per patch, 'classes': per patch (lens only)}.

    `read(name)` gives the flat float32 values of an exposed tensor or a graph's output (analysis.*,
    layer.<i>.attention.probs, relevance and relevance.blocks for the chosen class); `m` is the
    manifest. `block` counts as the page does: 0 the embeddings' output, b block b; for relevance,
    None is Chefer et al.'s map (every block chained) and b block b's Ā. `head` is 0-based or a fusion.
    """
    tokens, special = m.tokens, len(m.special_tokens)
    if kind == "similarity":
        return {"values": similarity_map(read(analysis("similarity")), tokens, block, token, special)}
    if kind == "norms":
        return {"values": norm_map(read(analysis("norms")), tokens, block, special)}
    if kind == "lens":
        picks = lens_maps(read(analysis("lens")), tokens, len(m.labels), block, special)
        return {"classes": [c for c, _ in picks], "values": [p for _, p in picks]}
    if kind == "attention":
        probs = read(in_block(block - 1, PROBS))
        return {"values": attention_map(probs, m.num_heads, tokens, head, token, special)}
    if kind == "relevance":
        if block is None:
            return {"values": relevance_map(read(RELEVANCE), tokens, special)}
        return {"values": relevance_block_map(read(RELEVANCE_BLOCKS), tokens, block - 1, special)}
    return {"values": rollout_map(read(analysis(f"rollout.{fusion}")), tokens, block - 1, token, special)}
