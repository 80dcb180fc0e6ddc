"""The Model Overview (EL-VIT V-A): the model as a diagram one level at a time, drilled by clicks.

Browser-only. The levels, labels and shapes come from the stdlib module `overview`; web/js/overview.js
draws them.
"""
import js

import overview
import tensors
from page import element
from runtime import plain
from view import View

JS = js.vitlensJS


class OverviewView(View):
    name = "overview"
    drawn_hidden = True  # the start screen: ready the moment the first image is classified

    def __init__(self, page):
        super().__init__(page)
        self.level = "model"  # the level drawn: model, encoder, block.<i> or attention.<i>
        self.callbacks = {}

    def bind(self):
        for name, function in (("onDrill", self.drill), ("onUp", self.up), ("onGoto", self.goto),
                               ("onDetail", self.open_detail)):
            self.callbacks[name] = self.page.proxy(function)

    def reset(self):
        self.level = "model"

    def show(self, focus=None):
        page = self.page
        manifest, probabilities = page.manifest, page.probabilities
        if probabilities is None:
            return
        top = [{"label": manifest.labels[i], "p": p} for i, p in tensors.top_k(probabilities, 3)]
        options = plain({"image": page.image_url, "prediction": top, "focus": focus})
        for name, proxy in self.callbacks.items():
            setattr(options, name, proxy)
        JS.overview.renderOverview(element("overview-diagram"), plain(overview.level(manifest, self.level)),
                                   plain(overview.trail(manifest, self.level)), options)

    def drill(self, level_id):
        self.level = level_id
        self.show(focus=overview.level(self.manifest, level_id)["nodes"][0]["id"])

    def up(self):
        parent = overview.parent(self.level)
        if parent:
            self.level = parent
            self.show(focus=None)

    def goto(self, level_id):
        self.level = level_id
        self.show()

    def open_detail(self, tensor, layer):
        """A leaf of the diagram opens Model detail at its block (Model detail reads the state)."""
        changes = {"view": "detail", "tensor": tensor}
        if layer:
            changes["layer"] = layer
        self.page.update(**changes)
        self.page.open_view("detail")
