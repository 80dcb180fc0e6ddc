"""Faithfulness curves in the What-if view (issue #42): does a map point at what the decision rests on?

Browser-only. Each map kind is ranked (edits.order_of: CLS's map at the last block, the mean of the
heads; relevance of the predicted class; a seeded random order as the baseline) and patches are taken
away in its order, most important first (deletion), or put back in it (insertion), in edits.STEPS
steps. Every step is one run of the chain in the inference worker (runtime.probabilities_of), as a
job (job.py): progress, Cancel, and a new image stops it.
"""
import js

import edits
import interpret
from job import Job
from page import element
from runtime import plain

JS = js.vitlensJS
LABELS = {"similarity": "similarity", "attention": "raw attention", "rollout": "rollout",
          "relevance": "class relevance", "random": "random (baseline)"}


class CurvesPanel(Job):
    prefix, what = "curves", "faithfulness curves"

    def draw(self):
        """The curves measured for this very run, if any; the button says what pressing it does."""
        super().draw()
        edited = self.page.runtime.edit is not None
        element("curves-run").disabled = self.running or edited
        measured = self.current()
        if not self.running:
            element("curves-status").textContent = (
                "Reset the edit first: the curves measure the maps of the image as it is." if edited else
                f"Curves of {measured['class']}, the top class." if measured else
                f"{len(edits.ORDERS)} orders × 2 curves × {edits.STEPS} steps, each a run of the model in the "
                "worker: about half a minute here.")
        JS.whatif.drawCurves(element("curves-chart"), plain(measured["curves"] if measured else []))

    def orders(self):
        """Each map's patch order for the image as it is (analysis.onnx and relevance.onnx ran for it)."""
        page, m = self.page, self.page.manifest
        runtime = page.runtime
        top = max(range(len(m.labels)), key=page.unedited.__getitem__)
        relevance = runtime.relevances[tuple(interpret.target(len(m.labels), top))]
        orders = {}
        for kind in edits.ORDERS:
            if kind == "random":
                orders[kind] = edits.random_order(m.num_patches)
                continue
            read = (lambda name: relevance[name]) if kind == "relevance" else runtime.floats
            block = None if kind == "relevance" else m.num_layers
            values = interpret.map_of(kind, read, m, block, "mean", "mean", 0)["values"]
            orders[kind] = edits.order_of(values)
        return top, orders

    async def measure(self):
        page, m = self.page, self.page.manifest
        runtime = page.runtime
        async with page.lock:  # the maps the orders follow: computed once for this image
            await runtime.analysis()
            top = max(range(len(m.labels)), key=page.unedited.__getitem__)
            await runtime.relevance(interpret.target(len(m.labels), top))
        top, orders = self.orders()
        patches = m.num_patches
        counts = edits.removed_counts(patches, not m.head_reads_patches)
        tasks = [(curve, kind) for curve in edits.CURVES for kind in edits.ORDERS]
        total, done = len(tasks) * (len(counts) - 1), 0
        curves = []
        for curve, kind in tasks:
            points = [{"removed": 0.0, "probability": page.unedited[top]}]  # the first step: the image as it is
            for count in counts[1:]:
                if self.stopped():
                    return None
                step = edits.curve_edit(curve, orders[kind], count)
                points.append({"removed": count / patches, "probability": (await runtime.probabilities_of(step))[top]})
                done += 1
                self.report(done, total, f"{curve} curve, {LABELS[kind]} order: step {done} of {total}")
            curves.append({"curve": curve, "order": kind, "label": LABELS[kind], "points": points,
                           "area": edits.area(points)})
        return {"class": m.labels[top], "curves": curves}

    def finished(self, result):
        return f"Curves of {result['class']}, the top class." if result else super().finished(result)
