"""The Model Overview diagram (EL-VIT V-A) as data: levels of nodes and edges, from the manifest.

Standard library only. Every shape on an edge is read from the manifest's tensor list, never
typed for one model size. A node says what it is and where it sits in the data flow (its step and
lane); web/js/overview.js lays the level out and draws it. Levels: the whole model; the encoder's
blocks; one block's composition; one block's multi-head attention.
"""
import tensor_names as names

EXPLAIN = {
    "image": "The photo the model classifies, resized and normalised as the model's preprocessing says.",
    "patch": ("A convolution whose kernel and stride both equal the patch size cuts the image into "
              "non-overlapping patches and projects each patch to one vector of the hidden width."),
    "tokens": ("The patch grid is flattened into a sequence of tokens, and a learned CLS token is put "
               "in front; the classifier later reads it (DeiT also adds a distillation token)."),
    "position": ("A learned position embedding is added to every token, so that attention, which "
                 "ignores order, can tell where each patch came from."),
    "encoder": "A stack of identical Transformer blocks; each mixes information between tokens (attention) "
               "and then transforms each token on its own (MLP).",
    "block": "One Transformer block: LayerNorm, multi-head self-attention and a residual add, then "
             "LayerNorm, an MLP and a second residual add.",
    "norm": "LayerNorm rescales each token to zero mean and unit variance over its channels, then applies "
            "a learned per-channel scale and shift.",
    "attention": "Multi-head self-attention: every token asks (query) every token (key) how relevant it is "
                 "and takes a weighted mix of their values, in several heads in parallel.",
    "layer_scale": "Layer-scale multiplies the branch's output by a learned per-channel factor before "
                   "the residual add, which keeps deep models stable in training.",
    "add": "Residual connection: the branch's output is added to its input, so each block refines the "
           "tokens rather than replacing them.",
    "fc1": "The MLP's first linear layer widens every token, independently of the others.",
    "act": "GELU, the smooth non-linearity x · Φ(x), applied to every hidden unit.",
    "fc2": "The MLP's second linear layer projects every token back to the hidden width.",
    "final_norm": "A last LayerNorm over every token before the classifier reads them.",
    "head": "A linear classifier turns the pooled vector into one score (logit) per class.",
    "probs": "Softmax turns the logits into class probabilities that sum to 1.",
    "qkv": "A linear layer computes this vector for every token; it is split into heads of equal size.",
    "scores": "Each query is compared with every key by a dot product, divided by √(head size): one "
              "tokens × tokens table per head.",
    "softmax": "Softmax over the keys turns each row of scores into attention weights that sum to 1.",
    "context": "Each token's new vector is the attention-weighted sum of the values; the heads' results "
               "are concatenated.",
    "proj": "A linear layer mixes the concatenated heads back into the hidden width.",
}


def _shape(manifest, name):
    """A tensor's shape without the batch axis, as 'a×b×c'; channel-first maps as rows×cols×channels."""
    shape = manifest.tensor(name).shape[1:]
    if len(shape) == 3 and name in (names.PIXELS, names.PATCH_CONV):
        shape = shape[1:] + shape[:1]
    return "×".join(str(s) for s in shape)


def _node(id_, label, sub, explain, col, row=0, children=None, detail=None, layer=None):
    """One box: `col` is its step along the data flow and `row` its lane (a branch, or a block's
    second half); web/js/overview.js turns these into positions."""
    return {"id": id_, "label": label, "sub": sub, "explain": EXPLAIN[explain], "col": col, "row": row,
            "children": children, "detail": detail, "layer": layer}


def _chain(nodes, shapes):
    return [{"source": a["id"], "target": b["id"], "shape": s} for a, b, s in zip(nodes, nodes[1:], shapes)]


def top_level(manifest):
    m = manifest
    patch, hidden = m.patch_size, m.hidden_size
    specials = " + ".join(m.special_tokens)
    nodes = [
        _node("image", "Input image", f"{m.image_size[0]}×{m.image_size[1]} RGB", "image", 0, detail=names.PIXELS),
        _node("patch", "Patch embedding", f"{patch}×{patch} conv → {hidden} ch", "patch", 1,
              detail=names.PATCH_CONV),
        _node("tokens", f"Flatten, + {specials}", f"{m.num_patches} patches + {len(m.special_tokens)}",
              "tokens", 2, detail=names.WITH_CLS),
        _node("position", "+ Position", "learned embedding per token", "position", 3,
              detail=names.EMBEDDINGS_OUTPUT),
        _node("encoder", "Encoder", f"{m.num_layers} Transformer blocks", "encoder", 4, children="encoder"),
        _node("final_norm", "LayerNorm", "final", "final_norm", 5, detail=names.FINAL_NORM),
        _node("head", "Classifier head", f"reads {_shape(m, names.POOLED)} values", "head", 6, detail=names.LOGITS),
        _node("probs", "Class probabilities", f"{len(m.labels)} classes", "probs", 7, detail=names.LOGITS),
    ]
    tensors = [names.PIXELS, names.PATCH_CONV, names.WITH_CLS, names.EMBEDDINGS_OUTPUT,
               names.in_block(m.num_layers - 1, names.OUTPUT), names.FINAL_NORM, names.LOGITS]
    return {"id": "model", "title": m.title, "nodes": nodes, "edges": _chain(nodes, [_shape(m, t) for t in tensors]),
            "skips": []}


def encoder_level(manifest):
    m = manifest
    nodes = [_node("in", "Embeddings", _shape(m, names.EMBEDDINGS_OUTPUT), "position", 0,
                   detail=names.EMBEDDINGS_OUTPUT)]
    for i in range(m.num_layers):
        nodes.append(_node(f"block.{i}", f"Block {i + 1}", f"{m.num_heads} heads", "block", i + 1,
                           children=f"block.{i}", layer=i + 1))
    shapes = [_shape(m, names.in_block(i, names.OUTPUT)) for i in range(m.num_layers)]
    return {"id": "encoder", "title": f"Transformer encoder: {m.num_layers} blocks", "nodes": nodes,
            "edges": _chain(nodes, shapes), "skips": []}


def block_level(manifest, i):
    m = manifest
    n = i + 1
    scale = m.layer_scale
    attention_half = [
        ("in", f"Block {n} input", "tokens", "block"),
        ("norm1", "LayerNorm", "before attention", "norm"),
        ("attention", "Self-attention", f"{m.num_heads} heads × {m.head_size}: Q, K, V", "attention"),
    ] + ([("ls1", "Layer-scale", "× λ per channel", "layer_scale")] if scale else []) + [
        ("add1", "⊕ Residual", "input + attention", "add"),
    ]
    mlp_half = [
        ("norm2", "LayerNorm", "before the MLP", "norm"),
        ("fc1", "Linear", f"{m.hidden_size} → {m.mlp_size}", "fc1"),
        ("act", m.activation.upper(), "activation", "act"),
        ("fc2", "Linear", f"{m.mlp_size} → {m.hidden_size}", "fc2"),
    ] + ([("ls2", "Layer-scale", "× λ per channel", "layer_scale")] if scale else []) + [
        ("add2", "⊕ Residual", "residual + MLP", "add"),
    ]
    parts = {"norm1": names.NORM_BEFORE, "attention": names.ATTENTION_OUTPUT, "ls1": names.LAYER_SCALE1,
             "add1": names.RESIDUAL, "norm2": names.NORM_AFTER, "fc1": names.MLP_PRE_ACT, "act": names.MLP_POST_ACT,
             "fc2": names.MLP_OUTPUT, "ls2": names.LAYER_SCALE2, "add2": names.OUTPUT}
    detail = {"in": names.block_input(i), **{id_: names.in_block(i, part) for id_, part in parts.items()}}
    first = [_node(id_, label, sub, kind, col, 0, children=f"attention.{i}" if id_ == "attention" else None,
                   detail=None if id_ == "attention" else detail[id_], layer=n)
             for col, (id_, label, sub, kind) in enumerate(attention_half)]
    second = [_node(id_, label, sub, kind, col, 1, detail=detail[id_], layer=n)
              for col, (id_, label, sub, kind) in enumerate(mlp_half)]
    nodes = first + second
    skips = [{"source": "in", "target": "add1", "label": "residual"},
             {"source": "add1", "target": "add2", "label": "residual"}]
    return {"id": f"block.{i}", "title": f"Block {n}", "nodes": nodes,
            "edges": _chain(nodes, [_shape(m, detail[a["id"]]) for a in nodes[:-1]]), "skips": skips}


def attention_level(manifest, i):
    m = manifest
    n = i + 1

    def p(part):
        return names.in_block(i, part)
    heads = f"{m.num_heads} heads"
    normed = names.in_block(i, names.NORM_BEFORE)
    nodes = [
        _node("in", "LayerNorm output", "tokens", "norm", 0, 1, detail=normed, layer=n),
        _node("query", "Query Q", f"linear, {heads}", "qkv", 1, 0, detail=p(names.QUERY), layer=n),
        _node("key", "Key K", f"linear, {heads}", "qkv", 1, 1, detail=p(names.KEY), layer=n),
        _node("value", "Value V", f"linear, {heads}", "qkv", 1, 2, detail=p(names.VALUE), layer=n),
        _node("scores", "Q·Kᵀ / √d", f"d = {m.head_size}", "scores", 2, 0, detail=p(names.SCORES), layer=n),
        _node("softmax", "Softmax", "over keys", "softmax", 3, 0, detail=p(names.PROBS), layer=n),
        _node("context", "Weights · V", "heads concatenated", "context", 4, 1, detail=p(names.CONTEXT), layer=n),
        _node("proj", "Linear", "output projection", "proj", 5, 1, detail=p(names.ATTENTION_OUTPUT), layer=n),
    ]
    pairs = [("in", "query", normed), ("in", "key", normed), ("in", "value", normed), ("query", "scores", p(names.QUERY)),
             ("key", "scores", p(names.KEY)), ("scores", "softmax", p(names.SCORES)), ("softmax", "context", p(names.PROBS)),
             ("value", "context", p(names.VALUE)), ("context", "proj", p(names.CONTEXT))]
    edges = [{"source": a, "target": b, "shape": _shape(m, t)} for a, b, t in pairs]
    return {"id": f"attention.{i}", "title": f"Block {n}: multi-head self-attention", "nodes": nodes,
            "edges": edges, "skips": []}


def level(manifest, level_id):
    """Any level by id: 'model', 'encoder', 'block.3', 'attention.3' (blocks count from 0)."""
    if level_id == "model":
        return top_level(manifest)
    if level_id == "encoder":
        return encoder_level(manifest)
    kind, _, index = level_id.partition(".")
    if kind in ("block", "attention") and index.isdigit() and int(index) < manifest.num_layers:
        return (block_level if kind == "block" else attention_level)(manifest, int(index))
    raise ValueError(f"no overview level {level_id!r}")


def parent(level_id):
    """The level one step up (None at the top)."""
    if level_id == "model":
        return None
    if level_id == "encoder":
        return "model"
    kind, _, index = level_id.partition(".")
    return "encoder" if kind == "block" else f"block.{index}"


def trail(manifest, level_id):
    """Breadcrumbs from the top to level_id: [(id, title)]."""
    ids = []
    current = level_id
    while current:
        ids.append(current)
        current = parent(current)
    titles = {"model": "Model", "encoder": "Encoder"}
    return [(i, titles.get(i) or ("Block " if i.startswith("block") else "Attention, block ")
             + str(int(i.split(".")[1]) + 1)) for i in reversed(ids)]
