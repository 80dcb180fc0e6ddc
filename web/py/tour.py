"""The guided tour's narration: eleven steps, each a short text with the model's own numbers in it.

Standard library only, shared by the page and the CPython tests. Each step function takes the
manifest (manifest.Manifest) and the tensors of the image on screen, flat as the page holds them,
and returns {"text": ..., "numbers": {...}}: the numbers are the ones the text quotes and the
visual draws, so the tests can hold them to numpy. The views' own computing modules do the
arithmetic (interpret, operations, tensors); this module only picks and words it.
"""
import math

import interpret
import operations
import tensors

STEPS = (
    ("image", "What the model sees"),
    ("patches", "The image becomes patches"),
    ("embedding", "A patch becomes a vector"),
    ("positions", "The CLS token and positions"),
    ("attention", "Attention: where a patch looks"),
    ("residual", "The MLP and the residual stream"),
    ("depth", "Depth: CLS finds the object"),
    ("decision", "The decision"),
    ("takeaway", "Take patches away"),
    ("try", "Try it yourself"),
    ("next", "Where to go next"),
)
UNITS = 3  # hidden units of the patch embedding worked through in the text


def special(m):
    return len(m.special_tokens)


def place(m, patch):
    """'row r, column c' of a patch, counting from 0 as every view does."""
    row, col = divmod(patch, m.grid[1])
    return f"row {row}, column {col}"


def patch_list(m, ranked):
    """'patch 37 (34.1%), patch 38 (12.0%) and patch 21 (8.3%)' from (patch, weight) pairs."""
    words = [f"patch {p} ({w:.1%})" for p, w in ranked]
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else words[0]


def special_words(m):
    """The special tokens and what they are, e.g. 'a CLS token: a learned vector with no patch of its own, which
    gathers'."""
    if special(m) == 1:
        return f"a {m.special_tokens[0]} token: a learned vector with no patch of its own, which gathers"
    return " and ".join(m.special_tokens) + " tokens: learned vectors with no patch of their own, which gather"


def default_patch(m):
    """The patch the tour starts on: the centre of the grid, where a photo's subject usually is."""
    rows, cols = m.grid
    return (rows // 2) * cols + cols // 2


def image(m, width, height, resized):
    """Step 1: the photo, the model's fixed input size, and how one became the other."""
    in_h, in_w = m.image_size
    recipe = m.preprocessing
    how = (f"squashed to {in_w}×{in_h}" if recipe["crop"] is None else
           f"resized to {resized[0]}×{resized[1]} and its centre {in_w}×{in_h} cut out")
    text = (f"This photo is {width}×{height} pixels. The model was trained on {in_w}×{in_h} images and its "
            f"grid of patches is fixed, so the photo is {how}. Each colour value is then scaled to 0–1 and "
            "shifted and scaled by the training photos' average colour and its spread. The second picture: "
            f"exactly the {in_w}×{in_h}×3 = {3 * in_w * in_h:,} numbers the model reads.")
    return {"text": text, "numbers": {"image": [width, height], "resized": list(resized), "input": [in_w, in_h]}}


def patches(m, patch):
    """Step 2: the grid of patches, one of them chosen."""
    rows, cols = m.grid
    p = m.patch_size
    text = (f"The model cuts its input into a {rows}×{cols} grid of {p}×{p}-pixel patches: {m.num_patches} "
            f"patches, the words of the sentence it reads. Each holds {p}×{p}×3 = {3 * p * p} numbers. The framed "
            f"one is patch {patch} ({place(m, patch)}). Hover or tap another patch: the next steps follow it.")
    return {"text": text, "numbers": {"patches": m.num_patches, "patch": patch, "per_patch": 3 * p * p}}


def embedding(m, pixels, kernel, bias, conv, patch):
    """Step 3: the patch's pixels times each learned kernel, plus a bias: one number per hidden unit."""
    height, width = m.image_size
    p, dim, cells = m.patch_size, m.hidden_size, m.num_patches
    row, col = divmod(patch, m.grid[1])
    values = operations.patch_pixels(pixels, height, width, p, row, col)
    size = 3 * p * p
    units = []
    for u in range(UNITS):
        total = tensors.sumprod(kernel[u * size:(u + 1) * size], values)
        units.append([u, total, bias[u], total + bias[u], conv[u * cells + patch]])
    sums = "; ".join(f"unit {u}: {s:.3f} + {b:.3f} = {y:.3f} (the model: {model:.3f})"
                     for u, s, b, y, model in units)
    text = (f"The patch's {size} numbers become one vector of {dim}. Each of {dim} learned kernels weighs every "
            f"pixel number, the products are summed and a bias added. For patch {patch}: {sums}; and "
            f"{dim - UNITS} more. Below, all {dim} values as colours.")
    vector = [conv[u * cells + patch] for u in range(dim)]
    return {"text": text, "numbers": {"units": units, "vector": vector}}


def positions(m, position, patch):
    """Step 4: the special tokens, and how alike the chosen patch's position embedding is to the others'."""
    n, dim = m.num_patches, m.hidden_size
    row = tensors.cosine_row(position[special(m) * dim:], n, dim, patch)
    ranked = [(q, row[q]) for q in sorted(range(n), key=lambda q: -row[q]) if q != patch][:3]
    dist = (" DeiT's DIST token learns to copy a teacher model's answer." if "DIST" in m.special_tokens else "")
    text = (f"In front of the {n} patch vectors the model puts {special_words(m)} the whole image for the "
            f"decision.{dist} Attention alone ignores order, so "
            f"each token also gets a learned position vector added. Patch {patch}'s is most like those of "
            + ", ".join(f"patch {q} (cosine {c:.2f})" for q, c in ranked) + ".")
    return {"text": text, "numbers": {"similarity": list(row), "nearest": [list(r) for r in ranked]}}


def attention(m, probs_first, probs_last, patch, head=0):
    """Step 5: where the chosen patch looks with one head, in the first block and in the last."""
    token = patch + special(m)
    numbers = {}
    for key, probs in (("first", probs_first), ("last", probs_last)):
        weights = interpret.attention_map(probs, m.num_heads, m.tokens, head, token, special(m))
        ranked = tensors.top_k(weights, 3)
        start = (head * m.tokens + token) * m.tokens
        numbers[key] = {"map": list(weights), "top": [list(r) for r in ranked], "cls": probs[start]}
    first, last = numbers["first"], numbers["last"]
    text = (f"In each block every token looks at every other and takes in a weighted mix of them. The weights "
            "compare the token's query with each token's key and pass through softmax, so they add up to 1. "
            f"Head {head + 1} of block 1 sends patch {patch}'s weight mostly to {patch_list(m, first['top'])}. "
            f"In block {m.num_layers}: {patch_list(m, last['top'])}, and {last['cls']:.1%} to CLS.")
    return {"text": text, "numbers": numbers}


def residual(m, states, patch):
    """Step 6: a block's two halves, and the length of the chosen token's vector after each block.

    `states` are the embeddings' output and every block's output, each (tokens, dim) flat.
    """
    token, dim = patch + special(m), m.hidden_size
    norms = [math.sqrt(math.fsum(v * v for v in state[token * dim:(token + 1) * dim])) for state in states]
    scale = " DINOv2 first scales each half's result per channel (layer-scale)." if m.layer_scale else ""
    text = (f"A block has two halves, each added back onto the token: LayerNorm then attention; LayerNorm then an "
            f"MLP, which takes each token alone from {dim} to {m.mlp_size} numbers, through "
            f"{m.activation.upper()}, and back to {dim}.{scale} This running sum is the residual stream. Patch "
            f"{patch}'s vector has length {norms[0]:.1f} after the embeddings and {norms[-1]:.1f} after block "
            f"{m.num_layers}.")
    return {"text": text, "numbers": {"norms": norms}}


def depth(m, similarity):
    """Step 7 (the paper's usage scenario): CLS's cosine similarity to every patch, block by block."""
    maps = [interpret.similarity_map(similarity, m.tokens, b, 0, special(m)) for b in range(1, m.num_layers + 1)]
    spans = [[min(one), max(one)] for one in maps]
    top = tensors.top_k(maps[-1], 3)
    text = (f"How alike is CLS to each patch after every block? Bright means most alike; each small map has its "
            f"own scale. After block 1 the similarities run from {spans[0][0]:.2f} to {spans[0][1]:.2f}; after "
            f"block {m.num_layers} from {spans[-1][0]:.2f} to {spans[-1][1]:.2f}, highest at "
            + ", ".join(f"patch {p}" for p, _ in top) + ". Watch where the bright patches settle.")
    return {"text": text, "numbers": {"maps": [list(one) for one in maps], "spans": spans,
                                      "top": [list(t) for t in top]}}


def decision(m, probabilities, lens):
    """Step 8: the head's probabilities, and the block from which CLS's logit lens keeps the final class."""
    classes = len(m.labels)
    top = tensors.top_k(probabilities, 3)
    final = top[0][0]
    per_state = []
    for state in range(m.num_layers + 1):
        probs = interpret.lens_probs(lens, m.tokens, classes, state, 0)
        best = max(range(classes), key=probs.__getitem__)
        per_state.append([best, probs[best]])
    wins = m.num_layers + 1
    while wins > 0 and per_state[wins - 1][0] == final:
        wins -= 1
    reads = {"dinov2": "CLS with the mean of the patch tokens", "deit": "the CLS and DIST tokens"}.get(
        m.family, "the CLS token")
    first = next((s for s, (c, _) in enumerate(per_state) if c == final), wins)
    since = ("already after the embeddings" if wins == 0 else f"from block {wins} on"
             if wins <= m.num_layers else "at no block")
    if first < wins:
        since = f"first at {'the embeddings' if first == 0 else f'block {first}'}, and for good {since}"
    text = (f"After the last block a final LayerNorm and a linear head turn {reads} into {classes} scores; "
            "softmax makes them probabilities: " + ", ".join(f"{m.labels[c]} {p:.1%}" for c, p in top)
            + f". The logit lens sends CLS through the same LayerNorm and head after every block: "
            f"{m.labels[final]} leads {since}. It knows only these {classes} classes: it names one of them "
            "whatever the photo shows.")
    return {"text": text, "numbers": {"top": [list(t) for t in top], "lens": per_state, "wins": wins, "first": first}}


def take_away(m, before, after, removed, order):
    """Step 9: the patches a map ranks highest taken away, and the decision again without them."""
    top, now = (max(range(len(p)), key=p.__getitem__) for p in (before, after))
    kept = m.num_patches - len(removed)
    if now == top:
        verdict = (f"it still says {m.labels[top]}, now {after[top]:.1%} (was {before[top]:.1%}): the rest of the "
                   "image still carries the evidence" if after[top] >= 0.5 else
                   f"{m.labels[top]} is still first but falls to {after[top]:.1%} (was {before[top]:.1%})")
    else:
        verdict = (f"the decision changes: {m.labels[now]} {after[now]:.1%}, and {m.labels[top]} falls from "
                   f"{before[top]:.1%} to {after[top]:.1%}")
    text = (f"A map is a claim about what the decision rests on; test it. Take away the {len(removed)} patches "
            f"{order} ranks highest: their tokens are left out after the embeddings, and every block runs on the "
            f"other {kept} alone. Without them {verdict}. The What-if view lets you remove or replace any patches, "
            "switch heads off, and measure which map is the most faithful.")
    return {"text": text, "numbers": {"removed": list(removed), "before": [top, before[top]],
                                      "after": [now, after[now]], "order": order}}


def try_it(m, probabilities):
    """Step 10: every number was this image's; another image recomputes them all."""
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    text = (f"Every number in this tour was computed just now, in this browser, by the model on this image: it says "
            f"{m.labels[best]} ({probabilities[best]:.1%}). Pick another sample or drop in your own photo: the model "
            "runs again, and every step, its pictures and its numbers follow. Your photo never leaves this browser.")
    return {"text": text, "numbers": {"top": [best, probabilities[best]]}}


def next_steps(m, patch):
    """Step 11: the views, each opening on the tour's patch."""
    text = (f"You have followed one image through {m.num_layers} blocks. Each view below opens on patch {patch} "
            "(token " f"{patch + special(m)}), where the tour left off. Press Escape to leave the tour at any time.")
    return {"text": text, "numbers": {"token": patch + special(m)}}


VIEWS = (
    ("overview", "Model overview", "the whole model as boxes, with the real shape on every arrow"),
    ("graph", "Knowledge graph", "the library's source classes behind each part, with their code"),
    ("detail", "Model detail", "every tensor of this image, and the five operations animated"),
    ("interpretation", "Interpretation", "similarity, attention, rollout and the logit lens over the image"),
    ("whatif", "What if", "edit the image or the model, run it again, and test which map is faithful"),
)
