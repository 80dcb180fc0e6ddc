"""The tour's steps about the decision (8: the decision and what it rests on, 9: take patches away),
for TourView (tour_view.py), which draws every step the same way: a step returns its words (tour.py)
and a function that draws its figures.
"""
import js
from pyodide.ffi import to_js

import edits
import interpret
from runtime import plain
import tensors
import tensor_names as names
import tour

JS = js.vitlensJS
MAP_OPACITY = 0.75  # of every map over the image in the tour
FIGURE = 320  # canvas pixels of a map over the image; CSS scales it down on a phone


def level_map(values, low=None, high=None):
    """A map for interpret.js: a 0..255 viridis level per patch."""
    out = js.Object.new()
    out.levels = to_js(memoryview(tensors.levels(values, low, high)))
    return out


class DecisionSteps:
    async def draw_relevance(self, canvas, chosen):
        """Class relevance of `chosen` on its figure, once relevance.onnx has run (the step's text and
        other figures do not wait for it); nothing if the image or the step changed meanwhile."""
        m, classified = self.manifest, self.page.classified
        async with self.page.lock:
            maps = await self.page.runtime.relevance(interpret.target(len(m.labels), chosen))
        if self.page.classified != classified or not canvas.isConnected:
            return
        values = interpret.relevance_map(maps[names.RELEVANCE], m.tokens, len(m.special_tokens))
        JS.interpret.drawMain(canvas, self.page.input_image(), level_map(values), to_js(m.grid), MAP_OPACITY, -1,
                              self.ignore, self.pick)
        canvas.dataset.relevance = "drawn"  # for the tests

    async def step_decision(self, patch):
        m = self.manifest
        step = tour.decision(m, self.page.probabilities, await self.analysed("lens"))
        final = step["numbers"]["top"][0][0]

        def draw(visual):
            JS.tour.box(visual, "ol", "prediction tour-prediction", "tour-prediction")
            JS.draw.probabilities("#tour-prediction", plain(m.labels), plain(self.page.probabilities))
            wins = step["numbers"]["wins"]
            chips = [{"label": "embeddings" if s == 0 else f"block {s}", "text": f"{m.labels[c]} {p:.0%}",
                      "colour": c, "current": s >= wins} for s, (c, p) in enumerate(step["numbers"]["lens"])]
            JS.tour.chips(visual, "the logit lens: what CLS would predict after each block (shaded: the final "
                          "class from here on)", plain(chips), False)
            if m.relevance is not None:  # what the decision rests on (Interpretation has the rest)
                canvas = JS.tour.figure(visual, f"what “{m.labels[final]}” rests on: class relevance (Chefer et "
                                        "al.), every block", FIGURE, FIGURE)
                self.page.schedule(self.draw_relevance(canvas, final))
        return step, draw

    async def step_takeaway(self, patch):
        """The patches class relevance (or, in an older export, rollout) ranks highest, taken away: the
        image as it is run again without them in the worker. The page's own run stays as it is."""
        m, page = self.manifest, self.page
        runtime = page.runtime
        if runtime.edit is not None:
            step = {"text": "A what-if edit is on screen: reset it (the prediction's Reset) to take patches away from "
                            "the image as it is.", "numbers": {}}
            return step, lambda visual: None
        top = max(range(len(m.labels)), key=page.probabilities.__getitem__)
        if m.relevance is not None:
            async with page.lock:
                maps = await runtime.relevance(interpret.target(len(m.labels), top))
            values, order = interpret.relevance_map(maps[names.RELEVANCE], m.tokens, len(m.special_tokens)), "class relevance"
        else:
            values = interpret.rollout_map(await self.analysed("rollout.mean"), m.tokens, m.num_layers - 1, 0,
                                           len(m.special_tokens))
            order = "attention rollout"
        removed = tuple(sorted(edits.order_of(values)[:m.num_patches // 4]))
        before = page.probabilities
        after = await runtime.probabilities_of(edits.Edit(removed=removed))
        step = tour.take_away(m, before, after, removed, order)

        def draw(visual):
            canvas = JS.tour.figure(visual, f"the {len(removed)} patches {order} ranks highest, taken away", FIGURE, FIGURE)
            shown = level_map(values)
            shown.removed = to_js(list(removed))
            JS.interpret.drawMain(canvas, page.input_image(), shown, to_js(m.grid), MAP_OPACITY, -1, self.ignore, self.pick)
            JS.tour.box(visual, "ol", "prediction tour-prediction", "tour-takeaway")
            JS.draw.probabilities("#tour-takeaway", plain(m.labels), plain(after), plain(before))
            JS.tour.actions(visual, plain([{"label": "Open it in What if", "action": f"whatif:{edits.patch_list(removed)}",
                                            "text": "the same edit, for every view"}]), self.act)
        return step, draw

    async def open_edit(self, removed):
        edit = edits.Edit(removed=edits.parse_patches(removed, self.manifest.num_patches))
        self.leave("whatif")
        await self.page.apply_edit(edit)
