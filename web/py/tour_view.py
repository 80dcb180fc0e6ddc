"""The guided tour in the browser: eleven steps through the image on screen, Back / Next, keys, URL.

Browser-only. The stdlib module `tour` words each step from the model's tensors; this view gathers
those tensors, draws each step with the views' own drawing code (interpret.js maps, the operation
modals, the prediction rows) and web/js/tour.js, and keeps the step and the patch in the page's
state, so a reload or a shared link lands on the same step.
"""
import json

import js
from pyodide.ffi import to_js

import detail
import geometry
from modals import Modals
from page import element
from runtime import plain
import tensors
import tensor_names as names
import tour
from tour_decision import FIGURE, MAP_OPACITY, DecisionSteps, level_map
from view import View

JS = js.vitlensJS
document = js.document
class TourView(DecisionSteps, View):
    name = "tour"

    def __init__(self, page):
        super().__init__(page)
        self.modals = Modals(page)
        self.drawing = 0  # bumped by every draw: an older one still awaiting its tensors gives way
        self.hover = page.proxy(self.on_hover)
        self.pick = page.proxy(self.on_pick)
        self.act = page.proxy(self.on_action)
        self.ignore = page.proxy(lambda *args: None)

    def bind(self):
        on = self.page.on
        on(element("tour-back"), "click", lambda event, target: self.go(self.page.state.step - 1))
        on(element("tour-next"), "click", lambda event, target: self.go(self.page.state.step + 1))
        on(element("take-tour"), "click", lambda event, target: self.open(1))
        on(document, "keydown", self.on_key)
        dots = element("tour-dots")
        for number, (_key, title) in enumerate(tour.STEPS, 1):
            dot = document.createElement("button")
            dot.type, dot.className, dot.textContent = "button", "tour-dot", str(number)
            dot.setAttribute("aria-label", f"Step {number}: {title}")
            dot.dataset.step = str(number)
            on(dot, "click", lambda event, target: self.go(int(target.dataset.step)))
            dots.appendChild(dot)

    # ---- navigation ---------------------------------------------------------------------------

    def open(self, step):
        self.page.update(view="tour", step=step)
        self.page.open_view("tour")

    def go(self, step):
        if 1 <= step <= len(tour.STEPS) and step != self.page.state.step:
            self.page.update(step=step)
            self.page.schedule(self.show())

    def leave(self, view="overview"):
        self.page.update(view=view)
        self.page.open_view(view)

    def on_key(self, event, target):
        if not self.shown or event.altKey or event.ctrlKey or event.metaKey:
            return
        if event.target.closest("input, select, textarea, dialog, [role=tab]") or document.querySelector("dialog[open]"):
            return
        step = self.page.state.step
        moves = {"ArrowRight": step + 1, "ArrowLeft": step - 1, "Home": 1, "End": len(tour.STEPS)}
        if event.key in moves:
            event.preventDefault()
            self.go(moves[event.key])
        elif event.key == "Escape":
            event.preventDefault()
            self.leave()

    def patch(self):
        """The patch the tour follows: the page's token, or, on a special token, the centre patch."""
        m, state = self.manifest, self.page.state
        special = len(m.special_tokens)
        if state.token >= special:
            return state.token - special
        patch = tour.default_patch(m)
        self.page.update(token=patch + special)
        return patch

    def on_pick(self, patch):
        if patch >= 0 and patch != self.page.state.token - len(self.manifest.special_tokens):
            if self.page.set_token(patch + len(self.manifest.special_tokens)):
                self.page.schedule(self.show())

    def on_hover(self, patch):
        if self.page.state.step == 2:  # choosing the patch is that step's point; elsewhere a click picks
            self.on_pick(patch)

    def on_action(self, action):
        kind, _, value = action.partition(":")
        if kind == "sample":
            self.page.schedule(self.page.select_sample(value))
        elif kind == "upload":
            element("file-input").click()  # during the click's dispatch, so the browser allows the file dialog
        elif kind == "view":
            self.leave(value)
        elif kind == "whatif":  # the step's edit, made the page's, in the What-if view
            self.page.schedule(self.open_edit(value))
        elif kind == "animate":
            opening = (self.modals.open_patch_embedding(start=self.patch()) if value == "patch"
                       else self.modals.open_positions())
            self.page.schedule(opening)

    # ---- drawing ------------------------------------------------------------------------------

    async def show(self):
        page = self.page
        if page.probabilities is None or not self.shown:
            return
        self.drawing += 1
        mine = self.drawing
        number = page.state.step
        key, title = tour.STEPS[number - 1]
        patch = self.patch()
        try:
            step, draw = await getattr(self, f"step_{key}")(patch)
        except Exception as error:
            page.notify([f"This step of the tour could not be computed: {error}"], error=True)
            return
        if mine != self.drawing or not self.shown:
            return
        panel = element("tour-step")
        element("tour-title").textContent = f"{number}. {title}"
        element("tour-text").textContent = step["text"]
        visual = element("tour-visual")
        JS.tour.clear(visual)
        draw(visual)
        element("tour-position").textContent = f"Step {number} of {len(tour.STEPS)}"
        element("tour-back").disabled = number == 1
        element("tour-next").disabled = number == len(tour.STEPS)
        for dot in document.querySelectorAll("#tour-dots .tour-dot"):
            dot.setAttribute("aria-current", "step" if dot.dataset.step == str(number) else "false")
        panel.dataset.step, panel.dataset.patch = key, str(patch)
        panel.dataset.numbers = json.dumps(step["numbers"], separators=(",", ":"))  # for the tests
        panel.dataset.classified = str(page.classified)

    def floats(self, name):
        return self.page.runtime.floats(name)

    async def analysed(self, output):
        """An output of analysis.onnx for the image on screen, run once per image (as Interpretation does)."""
        async with self.page.lock:
            await self.page.runtime.analysis()
        return self.floats(names.analysis(output))

    def map_figure(self, visual, caption, values, selected):
        canvas = JS.tour.figure(visual, caption, FIGURE, FIGURE)
        JS.interpret.drawMain(canvas, self.page.input_image(), level_map(values), to_js(self.manifest.grid),
                              MAP_OPACITY, selected, self.ignore, self.pick)
        return canvas

    async def step_image(self, patch):
        m, image = self.manifest, self.page.image
        resized = geometry.resized_size(m.preprocessing, image.width, image.height)
        step = tour.image(m, image.width, image.height, resized)
        height, width = m.image_size

        def draw(visual):
            JS.tour.drawImage(JS.tour.figure(visual, f"your photo, {image.width}×{image.height}", FIGURE, FIGURE),
                              image.bitmap)
            JS.tour.drawImage(JS.tour.figure(visual, f"what the model reads, {width}×{height}", FIGURE, FIGURE),
                              self.page.input_image())
        return step, draw

    async def step_patches(self, patch):
        m = self.manifest

        def draw(visual):
            canvas = JS.tour.figure(visual, f"the {m.grid[0]}×{m.grid[1]} patches; hover or tap to choose one",
                                    2 * FIGURE, 2 * FIGURE)
            JS.interpret.drawMain(canvas, self.page.input_image(), level_map([0.0] * m.num_patches), to_js(m.grid),
                                  0, patch, self.hover, self.pick)
            JS.tour.gridOver(canvas, to_js(m.grid), patch)
        return tour.patches(m, patch), draw

    async def step_embedding(self, patch):
        m, runtime = self.manifest, self.page.runtime
        kernel = await runtime.parameter(names.PATCH_KERNEL)
        bias = await runtime.parameter(names.PATCH_BIAS)
        step = tour.embedding(m, self.floats(names.PIXELS), kernel, bias, self.floats(names.PATCH_CONV), patch)

        def draw(visual):
            zoom = JS.tour.figure(visual, f"patch {patch}: {m.patch_size}×{m.patch_size} pixels", 168, 168)
            JS.tour.patchZoom(zoom, self.page.input_image(), m.patch_size, to_js(m.grid), patch)
            vector = JS.tour.figure(visual, f"patch {patch} as {m.hidden_size} numbers (embeddings.patch_conv), "
                                    "dark = low, yellow = high", 2 * FIGURE, 40)
            JS.tour.strip(vector, to_js(memoryview(tensors.levels(step["numbers"]["vector"]))))
            JS.tour.actions(visual, plain([{"label": "See it animated ▶", "action": "animate:patch",
                                            "text": "every patch, one kernel at a time"}]), self.act)
        return step, draw

    async def step_positions(self, patch):
        m = self.manifest
        step = tour.positions(m, self.floats(names.POSITION), patch)

        def draw(visual):
            self.map_figure(visual, f"how alike patch {patch}'s position is to each patch's (cosine)",
                            step["numbers"]["similarity"], patch)
            JS.tour.actions(visual, plain([{"label": "See it animated ▶", "action": "animate:positions",
                                            "text": "step through every patch"}]), self.act)
        return step, draw

    async def step_attention(self, patch):
        m = self.manifest
        last = m.num_layers - 1
        step = tour.attention(m, self.floats(names.in_block(0, names.PROBS)),
                              self.floats(names.in_block(last, names.PROBS)), patch)

        def draw(visual):
            for key, block in (("first", 1), ("last", m.num_layers)):
                self.map_figure(visual, f"block {block}, head 1: patch {patch}'s attention",
                                step["numbers"][key]["map"], patch)
        return step, draw

    async def step_residual(self, patch):
        m = self.manifest
        states = [self.floats(names.block_input(i)) for i in range(m.num_layers)]
        states.append(self.floats(names.in_block(m.num_layers - 1, names.OUTPUT)))
        step = tour.residual(m, states, patch)
        flow = detail.flow(m, "block.0")["steps"]

        def draw(visual):
            JS.tour.chips(visual, "one block, as in the Model overview; every block is built the same way",
                          plain([{"label": s["label"], "text": s["sub"], "colour": -1} for s in flow]), True)
            labels = ["emb"] + [str(b) for b in range(1, m.num_layers + 1)]
            JS.tour.bars(visual, f"length of patch {patch}'s vector after the embeddings and after each block",
                         to_js(labels), to_js(step["numbers"]["norms"]))
        return step, draw

    async def step_depth(self, patch):
        m = self.manifest
        step = tour.depth(m, await self.analysed("similarity"))

        def draw(visual):
            maps = []
            for block, values in enumerate(step["numbers"]["maps"], 1):
                one = level_map(values)
                one.block, one.label = block, f"block {block}"
                maps.append(one)
            host = JS.tour.box(visual, "div", "interp-multiples tour-multiples")
            JS.interpret.drawMultiples(host, self.page.input_image(), to_js(maps), to_js(m.grid), MAP_OPACITY, -1, None)
        return step, draw

    async def step_try(self, patch):
        m = self.manifest
        runtime = self.page.runtime

        def draw(visual):
            samples = [{"label": s.title, "action": f"sample:{s.id}", "image": runtime.url(s.file)} for s in m.samples]
            JS.tour.actions(visual, plain(samples), self.act)
            JS.tour.actions(visual, plain([{"label": "Your own photo…", "action": "upload",
                                            "text": "it stays in this browser"}]), self.act)
        return tour.try_it(m, self.page.probabilities), draw

    async def step_next(self, patch):
        def draw(visual):
            JS.tour.actions(visual, plain([{"label": title, "text": text, "action": f"view:{view}"}
                                           for view, title, text in tour.VIEWS]), self.act)
        return tour.next_steps(self.manifest, patch), draw
