"""The head atlas in the What-if view (issue #42): every block × head of the model on the image on screen.

Browser-only. Three measures come with analysis.onnx's run for the image (analysis.heads.*: mean
attention distance in patches, attention entropy in bits, attention to CLS); the fourth, ablation
importance, is one run per head with that head alone knocked out (runtime.probabilities_of, in the
inference worker), on demand, as a job (job.py). web/js/atlas.js draws the grid; a cell opens
its block's attention probabilities in Model detail, where every head is side by side.
"""
import js

import edits
from job import Job
from page import element
from runtime import plain
import tensor_names as names

JS = js.vitlensJS
MEASURES = {  # the select's value -> (what it is, how a value reads)
    "distance": ("mean attention distance, in patches", "{:.2f}"),
    "entropy": ("attention entropy, in bits", "{:.2f}"),
    "cls": ("attention to CLS", "{:.1%}"),
    "ablation": ("drop of the top class's probability with that head alone knocked out", "{:+.1%}"),
}


class AtlasPanel(Job):
    prefix, what = "atlas", "ablation"

    def __init__(self, page):
        super().__init__(page)
        self.open_cell = page.proxy(self.on_open)

    def bind(self):
        super().bind()
        self.page.on(element("atlas-measure"), "change", lambda event, target: self.draw())

    async def show(self):
        """analysis.onnx's run for this image (once, as Interpretation's), then the grid."""
        async with self.page.lock:
            await self.page.runtime.analysis()
        self.draw()

    def draw(self):
        super().draw()
        page, m = self.page, self.page.manifest
        measure = element("atlas-measure").value
        words, form = MEASURES[measure]
        if measure == "ablation":
            values = self.current()
        elif page.runtime.analysed is None:
            values = None
        else:
            values = list(page.runtime.floats(names.analysis(f"heads.{measure}")))
        element("atlas-run").hidden = measure != "ablation" or self.running
        if not self.running:
            element("atlas-status").textContent = (
                "" if values is not None or measure != "ablation" else
                f"One run per head, {m.num_layers * m.num_heads} in all, in the worker: press Compute.")
        cells = [] if values is None else [{"block": b + 1, "head": h + 1, "value": values[b * m.num_heads + h],
                                            "text": form.format(values[b * m.num_heads + h])}
                                           for b in range(m.num_layers) for h in range(m.num_heads)]
        JS.atlas.drawAtlas(element("atlas-grid"), m.num_layers, m.num_heads, plain(cells), words, self.open_cell)

    async def measure(self):
        page, m = self.page, self.page.manifest
        before = page.unedited
        top = max(range(len(m.labels)), key=before.__getitem__)
        drops, total = [], m.num_layers * m.num_heads
        for b in range(1, m.num_layers + 1):
            for h in range(1, m.num_heads + 1):
                if self.stopped():
                    return None
                after = await page.runtime.probabilities_of(edits.Edit(knocked=((b, h),)))
                drops.append(before[top] - after[top])
                self.report(len(drops), total, f"block {b}, head {h} knocked out: {len(drops)} of {total}")
        return drops

    def on_open(self, block, head):
        """A cell: its block's attention probabilities in Model detail (every head of the block)."""
        self.page.update(view="detail", layer=int(block), tensor=names.in_block(int(block) - 1, names.PROBS))
        self.page.open_view("detail")
