"""The Interpretation view in the browser: controls, the map over the image, every block at once.

Browser-only. analysis.onnx computes what needs the whole forward pass once per image, and
relevance.onnx a class's relevance (one run per class); the stdlib module `interpret` slices one
selection out of them; this view turns each map into 0..255 levels and web/js/interpret.js colours
and draws them.
"""
import json

import js
from pyodide.ffi import to_js

import describe
import interpret
from interpret_notes import ABOUT, MEANINGS, NAMES
from page import element, make
import tensors
import tensor_names as names
from view import View

JS = js.vitlensJS

def write(node, attribute, value):
    """Set a DOM property only when it changes: every draw states the controls, few change them."""
    if getattr(node, attribute) != value:
        setattr(node, attribute, value)


def js_map(one, removed=()):
    """A map for web/js/interpret.js: its block and label, and per patch a 0..255 level (a viridis step,
    or for the logit lens the opacity of the class's colour) as typed arrays; a what-if run's removed
    patches, which it hatches."""
    out = js.Object.new()
    out.block, out.label = one["block"], one["label"]
    if removed:
        out.removed = to_js(list(removed))
    if "classes" in one:
        out.levels = to_js(memoryview(tensors.levels(one["values"], 0, 1)))
        out.classes = to_js(memoryview(bytes(one["classes"])))
    else:
        out.levels = to_js(memoryview(tensors.levels(one["values"], *one["domain"])))
    return out


class InterpretationView(View):
    name = "interpretation"

    def __init__(self, page):
        super().__init__(page)
        self.shown_map = None  # the main map's values and classes, for the hover readout
        self.drawn = None  # (what was chosen, every block's map) as the small multiples show them
        self.hover = page.proxy(self.on_hover)
        self.pick_patch = page.proxy(self.on_pick_patch)
        self.pick_block = page.proxy(self.on_pick_block)
        self.pick_head = page.proxy(self.on_pick_head)

    def bind(self):
        for id_ in ("interp-kind", "interp-head", "interp-fusion", "interp-block", "interp-class", "interp-versus"):
            self.page.on(element(id_), "change", self.on_change)
        self.page.on(element("interp-opacity"), "input", self.on_change)
        # The typed value is read during dispatch: a render running first rewrites the field.
        self.page.on(element("interp-token"), "change", self.on_token, read=lambda e: e.target.value)

    def reset(self):
        """A new model: options for its blocks and heads."""
        m = self.manifest
        element("interp-block").replaceChildren(*[
            make("option", text="embeddings" if b == 0 else f"block {b}", value=b) for b in range(m.num_layers + 1)])
        element("interp-head").replaceChildren(
            *[make("option", text=f"{f} of all heads", value=f) for f in interpret.FUSIONS],
            *[make("option", text=f"head {h + 1}", value=h) for h in range(m.num_heads)])
        element("interp-token").max = str(m.tokens - 1)
        for id_, first in (("interp-class", "the predicted class"), ("interp-versus", "nothing: this class alone")):
            element(id_).replaceChildren(make("option", text=first, value=""),
                                         *[make("option", text=label, value=label) for label in m.labels])

    def choice(self):
        """(kind, head: a fusion or a 0-based head, fusion) as the store holds them."""
        state = self.page.state
        return state.kind, (state.head if state.head in interpret.FUSIONS else int(state.head) - 1), state.fusion

    def chosen_block(self, kind):
        """The block shown: the store's (the last if none was chosen), at least block 1 for a map that
        exists per block only. Written back to the store, with Model detail's block following it."""
        state = self.page.state
        block = max(interpret.first_block(kind), self.manifest.num_layers if state.block is None else state.block)
        layer = block if block >= 1 else state.layer
        if (block, layer) != (state.block, state.layer):
            self.page.update(block=block, layer=layer)
        return block

    def target(self):
        """(relevance.onnx's target, its words, a note): the chosen class (or the predicted one), versus another."""
        m, state = self.manifest, self.page.state
        predicted = max(range(len(m.labels)), key=self.page.probabilities.__getitem__)
        chosen = m.labels.index(state.chosen) if state.chosen else predicted
        versus = m.labels.index(state.versus) if state.versus else None
        note = ""
        if versus == chosen:  # the link compared a class with the predicted one, which it is for this image
            versus, note = None, f" {m.labels[chosen]} is the predicted class here: it is shown alone."
        words = m.labels[chosen] + ("" if versus is None else f" versus {m.labels[versus]}")
        return interpret.target(len(m.labels), chosen, versus), words, note

    def map_for(self, kind, block, head, fusion, token):
        """One block's map (interpret.map_of), read from the runtime's tensors and graph outputs."""
        runtime = self.page.runtime
        relevance = runtime.relevances.get(tuple(self.target()[0])) if kind == "relevance" else None
        return interpret.map_of(kind, lambda name: relevance[name] if relevance else runtime.floats(name),
                                self.manifest, block, head, fusion, token)

    async def show(self):
        """Run analysis.onnx for a new image, and relevance.onnx for a new class, if need be; then draw."""
        page = self.page
        if page.probabilities is None or not self.shown:
            return
        async with page.lock:
            try:
                await page.runtime.analysis()
            except Exception as error:
                element("interp-meaning").textContent = f"The Interpretation view cannot run: {error}"
                return
            if page.state.kind == "relevance":
                try:
                    await page.runtime.relevance(self.target()[0])
                except Exception as error:  # an older export: the other maps stay as they are
                    element("interp-meaning").textContent = f"The relevance map is unavailable: {error}."
                    element("interp-about-text").textContent = ABOUT["relevance"]
                    return
            self.draw()

    def at_hand(self):
        """Whether everything the chosen map reads is computed for this image (a draw needs no task)."""
        runtime = self.page.runtime
        if runtime.analysed is None:
            return False
        return self.page.state.kind != "relevance" or tuple(self.target()[0]) in runtime.relevances

    def refresh(self):
        """An interaction: draw at once when the analysis is at hand (no task, no timer hop)."""
        if self.at_hand() and not self.page.lock.locked():
            if self.shown:
                self.draw()
        else:
            self.page.schedule(self.show())

    def draw(self):
        page = self.page
        m = self.manifest
        kind, head, fusion = self.choice()
        token, opacity = page.state.token, page.state.opacity
        first = interpret.first_block(kind)
        relevance = kind == "relevance"  # one map of every block chained; the small ones are the blocks'
        block = None if relevance else self.chosen_block(kind)
        self.show_controls(kind, head, block, first)
        image = page.input_image()
        target, words, note = self.target() if relevance else (None, "", "")
        key = (page.classified, kind, head, fusion, token, opacity, words)
        removed = page.runtime.removed
        if self.drawn is None or self.drawn[0] != key:  # a new set of maps; else only the block changed
            maps = []
            for b in range(first, m.num_layers + 1):
                one = self.map_for(kind, b, head, fusion, token)
                one.update(block=b, label="embeddings" if b == 0 else f"block {b}",
                           domain=interpret.domain(one["values"], removed))
                maps.append(one)
            JS.interpret.drawMultiples(element("interp-multiples"), image, to_js([js_map(one, removed) for one in maps]),
                                       to_js(m.grid), opacity, -1 if block is None else block, self.pick_block)
            self.drawn = (key, maps)
        else:
            JS.interpret.markMultiple(element("interp-multiples"), -1 if block is None else block)
        if relevance:
            main = self.map_for(kind, None, head, fusion, token)
            main.update(block=-1, label="every block", domain=interpret.domain(main["values"], removed))
        else:
            main = self.drawn[1][block - first]
        special = len(m.special_tokens)
        selected = token - special if token >= special and kind not in ("norms", "lens", "relevance") else -1
        JS.interpret.drawMain(element("interp-canvas"), image, js_map(main, removed), to_js(m.grid), opacity,
                              selected, self.hover, self.pick_patch)
        self.shown_map = main
        if kind == "lens":
            JS.interpret.legend(element("interp-legend"), "", "", to_js(m.labels))
        else:
            low, high = main["domain"]
            JS.interpret.legend(element("interp-legend"), f"{low:.3g}", f"{high:.3g}", None)
        scale = "" if kind == "lens" else " Each map is coloured between its own minimum and maximum."
        if relevance:
            now = f"{words}, every block.{note}"
        else:
            now = f"{'embeddings output' if block == 0 else f'block {block}'}, {page.token_label(token)}."
        element("interp-meaning").textContent = f"{MEANINGS[kind]} Now: {now}{scale}"
        element("interp-canvas").setAttribute("aria-label", self.alternative(kind, main, now, removed))
        write(element("interp-about-text"), "textContent", ABOUT[kind])
        write(element("interp-multiples-title"), "textContent",
              "Where relevance forms: each block's gradient-weighted attention, CLS's row" if relevance
              else "Every block at once")
        if relevance:
            self.render_relevance_side(target)
        else:
            self.render_side(block, token)
        self.render_heads(kind, block, head, token, image, opacity)
        canvas = element("interp-canvas")
        canvas.dataset.values = json.dumps(main["values"], separators=(",", ":"))  # for the tests
        if "classes" in main:
            canvas.dataset.classes = json.dumps(main["classes"], separators=(",", ":"))
        else:
            canvas.removeAttribute("data-classes")
        canvas.dataset.kind, canvas.dataset.token = kind, str(token)
        canvas.dataset.block = "all" if relevance else str(block)
        canvas.dataset.target = words

    def alternative(self, kind, shown, now, removed):
        """The main map in words (describe.py): its canvas's text alternative."""
        m, title = self.manifest, f"{NAMES[kind]}, {now.rstrip('.')}"
        if kind == "lens":
            return describe.class_map(title, shown["classes"], shown["values"], m.labels, m.grid[1], removed)
        return describe.grid_map(title, shown["values"], m.grid[0], m.grid[1], removed)

    def show_controls(self, kind, head, block, first):
        """The controls say what the store holds (a link or another view may have changed it)."""
        state = self.page.state
        element("interp-kind").value = kind
        if block is not None:
            element("interp-block").value = str(block)
        for id_, hidden in (("interp-block-label", block is None), ("interp-token-label", kind == "relevance"),
                            ("interp-class-label", kind != "relevance"), ("interp-versus-label", kind != "relevance")):
            write(element(id_), "hidden", hidden)
        write(element("interp-class"), "value", state.chosen)
        write(element("interp-versus"), "value", state.versus)
        element("interp-head").value = str(head)
        element("interp-fusion").value = state.fusion
        element("interp-opacity").value = str(state.opacity)
        element("interp-token").value = str(state.token)
        element("interp-head-label").hidden = kind != "attention"
        element("interp-fusion-label").hidden = kind != "rollout"
        for option in element("interp-block").options:
            option.disabled = int(option.value) < first

    def render_heads(self, kind, block, chosen, token, image, opacity):
        """Raw attention: every head of the chosen block side by side; click one to choose it."""
        section = element("interp-heads-section")
        section.hidden = kind != "attention"
        if section.hidden:
            return
        m = self.manifest
        probs = self.page.runtime.floats(names.in_block(block - 1, names.PROBS))
        maps = []
        for head in range(m.num_heads):
            values = interpret.attention_map(probs, m.num_heads, m.tokens, head, token, len(m.special_tokens))
            maps.append({"values": values, "block": head, "label": f"head {head + 1}",
                         "domain": interpret.domain(values, self.page.runtime.removed)})
        JS.interpret.drawMultiples(element("interp-heads"), image,
                                   to_js([js_map(one, self.page.runtime.removed) for one in maps]),
                                   to_js(m.grid), opacity, -1 if chosen in interpret.FUSIONS else chosen, self.pick_head)

    def on_pick_head(self, head):
        self.page.update(head=str(int(head) + 1))
        self.refresh()

    def render_side(self, block, token):
        """The chosen token's own logit lens at this block: what it would predict if it were CLS."""
        m = self.manifest
        probs = interpret.lens_probs(self.page.runtime.floats(names.analysis("lens")), m.tokens, len(m.labels), block, token)
        title = f"{self.page.token_label(token)} through the final LayerNorm and head at this block:"
        items = [f"{m.labels[index]}: {p:.1%}" for index, p in tensors.top_k(probs, 3)]
        JS.interpret.drawSide(element("interp-side"), title, to_js(items))

    def render_relevance_side(self, target):
        """The classes the map is made for, with the model's own probabilities for them."""
        m, probabilities = self.manifest, self.page.probabilities
        items = [f"{'for' if weight > 0 else 'against'} {m.labels[index]}: probability {probabilities[index]:.1%}"
                 for index, weight in enumerate(target) if weight]
        JS.interpret.drawSide(element("interp-side"), "The score this map explains:", to_js(items))

    def on_hover(self, patch):
        readout = element("interp-readout")
        if patch < 0 or self.shown_map is None:
            readout.textContent = "Hover a patch to read its value."
            return
        m = self.manifest
        row, col = divmod(patch, m.grid[1])
        value = self.shown_map["values"][patch]
        token = patch + len(m.special_tokens)
        if patch in self.page.runtime.removed:
            text = "removed by the what-if edit: this run did not read it"
        elif "classes" in self.shown_map:
            text = f"{m.labels[self.shown_map['classes'][patch]]}, probability {value:.4f}"
        elif self.page.state.kind == "relevance":
            share = interpret.share(self.shown_map["values"], patch)
            text = f"relevance {value:.6g}, {share:.1%} of all the patches' relevance"
        else:
            text = f"value {value:.6g}"
        self.page.read_out(readout, f"token {token}: patch at row {row}, column {col} · {text}", "interp-canvas")
        readout.dataset.patch, readout.dataset.value = str(patch), repr(value)

    def on_pick_patch(self, patch):
        if self.page.set_token(patch + len(self.manifest.special_tokens)):
            self.refresh()

    def on_pick_block(self, block):
        if self.page.state.kind == "relevance":  # its main map chains every block: none to choose
            return
        self.page.update(block=int(block))
        self.refresh()

    def on_change(self, event, target):
        """A control changed: the store takes its value (the head's options are 0-based, the URL's 1-based)."""
        value = target.value
        if target.id == "interp-head":
            self.page.update(head=value if value in interpret.FUSIONS else str(int(value) + 1))
        elif target.id == "interp-block":
            self.page.update(block=int(value))
        elif target.id == "interp-opacity":
            self.page.update(opacity=float(value))
        elif target.id == "interp-class":
            self.page.update(chosen=value)
        else:
            self.page.update(**{target.id.removeprefix("interp-"): value})  # kind, fusion, versus
        self.refresh()

    def on_token(self, typed, target):
        try:
            token = int(typed)
        except ValueError:
            token = -1
        if self.page.set_token(token, field=target, typed=typed):
            self.refresh()
