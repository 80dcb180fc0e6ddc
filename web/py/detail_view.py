"""Model detail (EL-VIT V-C): every tensor as Fig. 6's small multiples, the data-flow strip, the
classification end (Fig. 11), and the buttons that open the operation views.

Browser-only. The layouts and 0..255 levels come from the stdlib module `detail`; web/js/detail.js
draws them.
"""
import js
from pyodide.ffi import to_js

import describe
import detail
from manifest import Tensor
from modals import Modals
from page import element, make
import tensors
import tensor_names as names
from runtime import js_object, plain
from view import View

JS = js.vitlensJS


class DetailView(View):
    name = "detail"

    def __init__(self, page):
        super().__init__(page)
        self.tensor = None  # the tensor drawn
        self.map_page = 0  # the page of maps drawn (or, for the encoder, the channel)
        self.shown_maps = None  # (flat values, layout, first map) of the drawn maps
        self.flow_level = None  # the data-flow level; follows the drawn tensor until navigated
        self.modals = Modals(page)

    def bind(self):
        on = self.page.on
        on(element("detail-block"), "change", self.on_detail_block)
        on(element("detail-tensor"), "change", self.on_detail_tensor)
        on(element("detail-mode"), "change", self.on_detail_mode)
        on(element("detail-prev"), "click", self.on_detail_prev)
        on(element("detail-next"), "click", self.on_detail_next)
        on(element("substitution-token"), "change", self.on_substitution)
        on(element("detail-token"), "change", self.on_detail_token, read=lambda e: e.target.value)
        for name, handler in (("open-patch", self.modals.open_patch_embedding),
                              ("open-positions", self.modals.open_positions),
                              ("open-layernorm", self.modals.open_layer_norm),
                              ("open-attention", self.modals.open_attention),
                              ("open-gelu", self.modals.open_gelu)):
            on(element(name), "click", handler)
        self.hover_proxy = self.page.proxy(self.on_detail_hover)
        self.flow_step_proxy = self.page.proxy(self.on_flow_step)
        self.flow_goto_proxy = self.page.proxy(self.on_flow_goto)

    MAPS_PER_PAGE = 96  # maps drawn at once

    def choices(self):
        return self.choices_for(self.page.state.layer)

    def choices_for(self, layer):
        """The tensors that can be drawn as maps: the embeddings', the block's (1-based), the head's."""
        manifest = self.manifest
        encoder = Tensor(names.ENCODER_OUTPUTS, [1, manifest.num_layers, manifest.tokens], "encoder",
                         "every block's output side by side, one channel at a time (the pager steps the channel)")
        return [t for t in manifest.tensors if len(t.shape) in (3, 4) and t.name != names.PIXELS
                and names.block_of(t.name) in (None, layer - 1)] + [encoder]

    async def show(self):
        manifest = self.manifest
        if self.page.probabilities is None:
            return
        choices = self.choices()
        state = self.page.state
        spec = next((t for t in choices if t.name == state.tensor), None)
        if spec is None:
            spec = next(t for t in choices if t.name == names.in_block(state.layer - 1, names.OUTPUT))
        tensor = spec.name
        blocks = element("detail-block")
        if blocks.options.length != manifest.num_layers:
            blocks.replaceChildren(*[make("option", text=str(n), value=str(n))
                                     for n in range(1, manifest.num_layers + 1)])
        blocks.value = str(state.layer)
        select = element("detail-tensor")
        select.replaceChildren(*[make("option", text=f"{t.name}  ({'×'.join(map(str, t.shape[1:]))})", value=t.name)
                                 for t in choices])
        select.value = tensor
        if tensor == names.ENCODER_OUTPUTS:
            tokens, dim = manifest.tokens, manifest.hidden_size
            self.map_page = min(self.map_page, dim - 1)
            outputs = [self.page.runtime.floats(names.in_block(i, names.OUTPUT)) for i in range(manifest.num_layers)]
            flat = detail.encoder_channel(outputs, tokens, dim, self.map_page)
            lay = detail.encoder_layout(manifest, self.map_page)
            pages, first, per_page = dim, 0, lay["maps"]
            page_text = f"channel {self.map_page} of 0–{dim - 1}"
        else:
            flat = await self.page.runtime.values(tensor)
            lay = detail.layout(spec.shape, manifest)
            pages = max(1, -(-lay["maps"] // self.MAPS_PER_PAGE))
            self.map_page = min(self.map_page, pages - 1)
            first, per_page = self.map_page * self.MAPS_PER_PAGE, self.MAPS_PER_PAGE
            page_text = None
        mode = state.mode
        element("detail-mode").value = mode
        levels, ranges = detail.levels(flat, lay, first, per_page, mode)
        count = len(ranges)
        JS.detail.drawMaps(element("detail-canvas"), to_js(memoryview(levels)), count,
                           plain(lay), self.hover_proxy)
        if mode == "channel":
            JS.detail.legend(element("detail-legend"), "each map's minimum", "its maximum")
        else:
            JS.detail.legend(element("detail-legend"), f"{ranges[0][0]:.4g}", f"{ranges[0][1]:.4g}")
        element("detail-page").textContent = page_text or f"maps {first + 1}–{first + count} of {lay['maps']}"
        element("detail-prev").disabled = self.map_page == 0
        element("detail-next").disabled = self.map_page >= pages - 1
        shape = " × ".join(map(str, spec.shape[1:]))
        element("detail-meaning").textContent = f"{tensor}: {spec.meaning}. Shape {shape}."
        element("detail-token").max = str(manifest.tokens - 1)
        element("detail-token").value = str(self.page.state.token)
        element("detail-canvas").setAttribute("aria-label", describe.small_maps(f"{tensor}, shape {shape}", first,
                                                                                ranges, lay["maps"]))
        element("detail-canvas").dataset.tensor = tensor
        element("detail-canvas").dataset.first = str(first)
        self.tensor, self.shown_maps = tensor, (flat, lay, first)
        self.render_flow(tensor)
        await self.render_substitution()

    @staticmethod
    def level_of(tensor):
        """The data-flow level a tensor is drawn in: its attention, its block, or the whole model."""
        if tensor == names.ENCODER_OUTPUTS:
            return "encoder"
        block = names.block_of(tensor)
        if block is None:
            return "model"
        attention = tensor.startswith(names.in_block(block, names.ATTENTION))
        inside = attention and tensor != names.in_block(block, names.ATTENTION_OUTPUT)  # the output leaves it
        return f"attention.{block}" if inside else f"block.{block}"

    def render_flow(self, tensor):
        level = self.flow_level or self.level_of(tensor)
        handlers = js.Object.new()
        handlers.onStep, handlers.onGoto = self.flow_step_proxy, self.flow_goto_proxy
        JS.detail.drawFlow(element("detail-flow"), plain(detail.flow(self.manifest, level)),
                           tensor, element("detail-annotation"), handlers)
        element("detail-flow").dataset.level = level

    def on_flow_step(self, step):
        step = step.to_py()
        if step["children"] == "encoder":  # the encoder level draws every block's output side by side
            self.flow_level = "encoder"
            self.page.update(tensor=names.ENCODER_OUTPUTS)
            self.map_page = 0
            self.page.schedule(self.show())
            return
        if step["children"]:
            self.flow_level = step["children"]
            self.render_flow(self.tensor)
            return
        tensor = step["tensor"]
        block = names.block_of(tensor)
        layer = self.page.state.layer if block is None else block + 1
        if tensor not in [t.name for t in self.choices_for(layer)]:
            where = ("the image card on the left" if tensor == names.PIXELS
                     else "the prediction card and the classification end below")
            element("detail-annotation").textContent = f"{step['label']}: this tensor is shown in {where}."
            if tensor != names.PIXELS:
                element("substitution-heading").scrollIntoView()
            return
        self.page.update(tensor=tensor, layer=layer)
        self.map_page = 0
        self.page.schedule(self.show())

    def on_flow_goto(self, level_id):
        self.flow_level = level_id
        self.render_flow(self.tensor)

    async def render_substitution(self):
        """Fig. 11: pass token i through the final LayerNorm and the head in CLS's place."""
        manifest = self.manifest
        field = element("substitution-token")
        field.max = str(manifest.tokens - 1)
        box = element("substitution-message")
        try:
            token = int(field.value)
            if not 0 <= token < manifest.tokens:
                raise ValueError
        except ValueError:
            box.textContent = f"Type a token index from 0 (CLS) to {manifest.tokens - 1}."
            box.hidden = False
            return
        box.hidden = True
        head = manifest.stages[-1]
        hidden = self.page.runtime.floats(head.input)
        swapped = tensors.substitute_token(hidden, manifest.tokens, manifest.hidden_size, token)
        feeds = {head.input: JS.tensor("float32", to_js(memoryview(swapped)),
                                       to_js([1, manifest.tokens, manifest.hidden_size]))}
        out = await self.page.runtime.sessions[head.name].run(js_object(feeds), to_js([names.LOGITS]))
        logits = js.Reflect.get(out, names.LOGITS)
        probabilities = tensors.softmax(list(tensors.as_floats(logits.data.to_memoryview())))
        JS.draw.probabilities("#substitution-list", plain(manifest.labels), plain(probabilities))
        where = detail.token_label(manifest, token)
        mean_note = (" DINOv2's head reads CLS together with the mean of the patch tokens: the substitution "
                     "replaces only the CLS half, the patch mean stays." if manifest.family == "dinov2" else "")
        element("substitution-note").textContent = (
            f"The head's probabilities when {where} is put where CLS was, after the final LayerNorm.{mean_note}")
        element("substitution-list").dataset.token = str(token)

    async def on_detail_token(self, typed, target):
        try:
            token = int(typed)
        except ValueError:
            token = -1
        self.page.set_token(token, field=target, typed=typed)

    async def on_substitution(self, event, target):
        await self.render_substitution()

    def on_detail_hover(self, map_index, cell):
        readout = element("detail-readout")
        if map_index < 0 or self.shown_maps is None:
            readout.textContent = "Hover a map to read a value."
            return
        flat, lay, first = self.shown_maps
        m = first + map_index
        value = flat[detail.value_index(lay, m, cell)]
        where = detail.cell_label(lay, cell, self.manifest.special_tokens)
        self.page.read_out(readout, f"{detail.map_label(lay, m)} · {where} · value {value:.6g}", "detail-canvas")
        readout.dataset.map, readout.dataset.cell, readout.dataset.value = str(m), str(cell), repr(value)

    async def on_detail_block(self, event, target):
        self.page.update(layer=int(target.value))
        self.map_page = 0
        self.flow_level = None
        await self.show()

    async def on_detail_tensor(self, event, target):
        self.page.update(tensor=target.value)
        self.map_page = 0
        self.flow_level = None
        await self.show()

    async def on_detail_mode(self, event, target):
        self.page.update(mode=target.value)
        await self.show()

    async def on_detail_prev(self, event, target):
        self.map_page = max(0, self.map_page - 1)
        await self.show()

    async def on_detail_next(self, event, target):
        self.map_page += 1
        await self.show()
