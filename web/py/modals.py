"""Operation views (EL-VIT V-C): gather one operation's real tensors and open its animated modal.

Browser-only. The arithmetic is redone by the stdlib module `operations` from the model's inputs
and learned parameters; the drawing is web/js/operations/. Every modal also receives the
model's own result, so the page shows both and the tests compare them.
"""
import asyncio

import js
from pyodide.ffi import create_proxy, to_js

import operations
import tensors
import tensor_names as names
from runtime import plain

JS = js.vitlensJS


class Modals:
    def __init__(self, page):
        self.page = page
        self.callbacks = []  # proxies of the open modal, freed when the next one opens

    @property
    def runtime(self):
        return self.page.runtime

    @property
    def manifest(self):
        return self.page.runtime.manifest

    def callback(self, function):
        proxy = create_proxy(function)
        self.callbacks.append(proxy)
        return proxy

    def fresh(self):
        for proxy in self.callbacks:
            proxy.destroy()
        self.callbacks = []

    def fail(self, error):
        self.page.notify([f"This operation view cannot open: {error}"], error=True)

    # ---- 1. patch embedding ---------------------------------------------------------------

    async def open_patch_embedding(self, event=None, target=None, start=0):
        """The patch embedding of every patch, one hidden unit at a time; the player starts at patch `start`."""
        m = self.manifest
        try:
            kernel = await self.runtime.parameter(names.PATCH_KERNEL)
            bias = await self.runtime.parameter(names.PATCH_BIAS)
        except RuntimeError as error:
            return self.fail(error)
        height, width = m.image_size
        pixels = self.runtime.floats(names.PIXELS)  # (3, height, width)
        conv = self.runtime.floats(names.PATCH_CONV)  # (hidden, rows, cols)
        cells = m.num_patches

        def unit_data(unit):
            steps = operations.patch_embedding(pixels, kernel, bias, unit, height, width, m.patch_size)
            size = 3 * m.patch_size ** 2
            return {"unit": unit, "kernel": kernel[unit * size:(unit + 1) * size].tolist(), "bias": bias[unit],
                    "sums": [s for s, _ in steps], "outputs": [y for _, y in steps],
                    "model": conv[unit * cells:(unit + 1) * cells].tolist()}

        recipe = m.preprocessing
        rgba = operations.image_bytes(pixels, height, width, recipe["mean"], recipe["std"])
        data = {"title": "Patch embedding: one kernel sliding over the patches",
                "note": (f"The patch embedding is a convolution with {m.hidden_size} kernels of "
                         f"3×{m.patch_size}×{m.patch_size} and stride {m.patch_size}: each hidden unit's "
                         "kernel meets every patch once, and the weighted sum of that patch's pixels plus the bias "
                         "is one value of the unit's output map. Kernel colours: red positive, blue negative. "
                         "The sums are recomputed here from the model's input and weights."),
                "size": [height, width], "patch": m.patch_size, "grid": m.grid, "units": m.hidden_size,
                "tensor": names.PATCH_CONV,
                "start": start, **unit_data(0)}
        self.fresh()
        data_js = plain(data)
        data_js.rgba = to_js(memoryview(rgba))
        JS.operations.openPatchEmbedding(data_js, self.callback(lambda unit: plain(unit_data(int(unit)))))

    # ---- 2. GELU ------------------------------------------------------------------------------

    async def open_gelu(self, event=None, target=None):
        """The chosen block's MLP activation for the chosen token, unit by unit, on the GELU graph."""
        m = self.manifest
        block = self.page.state.layer - 1
        width, t = m.mlp_size, self.page.state.token
        inputs = (await self.runtime.values(names.in_block(block, names.MLP_PRE_ACT)))[t * width:(t + 1) * width]
        outputs = (await self.runtime.values(names.in_block(block, names.MLP_POST_ACT)))[t * width:(t + 1) * width]
        low, high = min(inputs), max(inputs)
        data = {"title": f"GELU in block {block + 1}, {self.page.token_label(t)}",
                "note": (f"The MLP's {width} hidden units of this token before (x) and after GELU, as the model "
                         "computed them, placed on the graph of GELU(x) = x·Φ(x). Step with ◀ ▶|, the arrow keys, "
                         "or play; Escape closes."),
                "curve": tensors.curve(tensors.gelu, min(low, -3.0), max(high, 3.0)),
                "points": [[x, y] for x, y in zip(inputs.tolist(), outputs.tolist())]}
        self.fresh()
        JS.operations.openGelu(plain(data))

    # ---- 3. position embeddings ------------------------------------------------------------

    def position_row(self, patch):
        """Cosine similarity of one patch's position embedding to every patch's (CLS left out)."""
        m = self.manifest
        special, dim = len(m.special_tokens), m.hidden_size
        flat = self.runtime.floats(names.POSITION)[special * dim:]
        return to_js(tensors.cosine_row(flat, m.num_patches, dim, patch))

    async def open_positions(self, event=None, target=None):
        m = self.manifest
        first = max(0, self.page.state.token - len(m.special_tokens))
        data = {"title": "Position embeddings: which patches look alike to the model?",
                "note": ("Each patch's learned position embedding (embeddings.position, as added to this image's "
                         f"{m.grid[0]}×{m.grid[1]} grid) compared with every other by cosine "
                         "similarity. Neighbours, and patches in the same row or column, are most alike. Step "
                         "through the patches with ◀ ▶|, the arrow keys or play; hover to read a value."),
                "grid": m.grid, "start": first}
        self.fresh()
        JS.operations.openPositions(plain(data), self.callback(self.position_row))

    # ---- 4. attention ---------------------------------------------------------------------------

    async def open_attention(self, event=None, target=None, head=0):
        m = self.manifest
        block = self.page.state.layer - 1
        values = await self.runtime.block(block)
        heads, tokens, d = m.num_heads, m.tokens, m.head_size
        query = await self.runtime.values(names.in_block(block, names.QUERY))
        key = await self.runtime.values(names.in_block(block, names.KEY))
        square = tokens * tokens
        start, stop = head * square, (head + 1) * square
        scores = values[names.in_block(block, names.SCORES)].data.subarray(start, stop)
        probs = values[names.in_block(block, names.PROBS)].data.subarray(start, stop)

        def row_of(i):
            s, p = operations.attention_row(query, key, heads, tokens, d, head, int(i))
            return plain({"scores": s, "probs": p})

        data = {"title": f"Attention in block {block + 1}, head {head + 1}",
                "note": (f"Each query token's {d}-number query is multiplied with every token's key and divided by "
                         f"√{d}: one row of scores. The softmax turns the row into weights that sum to 1: how much "
                         "of each token's value this token takes in. The rows and the softmax are recomputed here "
                         "from the model's Q and K; the heatmap and hover values are the model's own. Type a "
                         "query token to jump to its row."),
                "head": head, "heads": heads, "tokens": tokens, "grid": m.grid,
                "special": len(m.special_tokens), "specialNames": m.special_tokens,
                "labels": [self.page.token_label(t) for t in range(tokens)], "start": self.page.state.token}
        self.fresh()
        data_js = plain(data)
        data_js.scores, data_js.probs = scores, probs
        reopen = self.callback(lambda h: asyncio.ensure_future(self.open_attention(head=int(h))))
        JS.operations.openAttention(data_js, self.callback(row_of), reopen)

    # ---- 5. LayerNorm ---------------------------------------------------------------------------

    def norm_choices(self, block):
        """(name, label, input tensor) of the LayerNorms around the chosen block, and the final one."""
        before = names.block_input(block)
        last = self.manifest.num_layers - 1
        return [(names.in_block(block, names.NORM_BEFORE), f"block {block + 1}, before attention", before),
                (names.in_block(block, names.NORM_AFTER), f"block {block + 1}, before the MLP",
                 names.in_block(block, names.RESIDUAL)),
                (names.FINAL_NORM, "final, before the head", names.in_block(last, names.OUTPUT))]

    async def open_layer_norm(self, event=None, target=None, choice=None):
        m = self.manifest
        block, t, dim = self.page.state.layer - 1, self.page.state.token, m.hidden_size
        choices = self.norm_choices(block)
        name, label, source = next((c for c in choices if c[0] == choice), choices[0])
        try:
            gamma = await self.runtime.parameter(names.scale(name))
            beta = await self.runtime.parameter(names.shift(name))
        except RuntimeError as error:
            return self.fail(error)
        x = (await self.runtime.values(source))[t * dim:(t + 1) * dim]
        model = (await self.runtime.values(name))[t * dim:(t + 1) * dim]
        result = operations.layer_norm(x, gamma, beta, m.layer_norm_eps)
        data = {"title": f"LayerNorm ({label}), {self.page.token_label(t)}",
                "note": (f"LayerNorm centres and scales one token's {dim} features by their own mean μ and "
                         "variance σ², then applies the learned per-feature scale γ and shift β. Input: "
                         f"{source}. Every number is recomputed here from that input and the learned γ, β; the "
                         f"hollow circles are the model's {name}."),
                "choices": [[c[0], c[1]] for c in choices], "choice": name, "tensor": name,
                "features": dim, "eps": m.layer_norm_eps, "x": x.tolist(), "gamma": gamma.tolist(),
                "beta": beta.tolist(), "model": model.tolist(), **result}
        self.fresh()
        reopen = self.callback(lambda c: asyncio.ensure_future(self.open_layer_norm(choice=str(c))))
        JS.operations.openLayerNorm(plain(data), reopen)
