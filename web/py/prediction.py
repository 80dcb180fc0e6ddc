"""The prediction card: the run on screen's class probabilities (beside the unedited ones after a
what-if edit), what the run took, and what the model can answer at all: its classes.

Browser-only; web/js/draw.js draws the bars.
"""
import js

import describe
from page import element
from runtime import plain

JS = js.vitlensJS


def show_classes(manifest):
    """Honest about what the model can answer: it names one of its classes whatever the image shows."""
    labels = list(manifest.labels)
    element("prediction-classes").textContent = (
        f"This model knows {len(labels)} classes: {describe.listing(labels)}. Whatever the image shows, it answers "
        "with one of them.")


def show(page, elapsed_ms):
    """The card for page.probabilities, and the prediction said once to a screen reader."""
    threads = JS.threads
    why = ""
    if threads == 1:
        why = (" (the page is not cross-origin isolated: the server sends no COOP/COEP headers and no service "
               "worker could add them, so it cannot share memory between threads)"
               if not JS.isolated else " (this browser offers the page no SharedArrayBuffer)")
    edit, probabilities, labels = page.runtime.edit, page.probabilities, page.manifest.labels
    pass_ = (f"What-if run ({edit.describe()}) {elapsed_ms:.0f} ms" if edit else
             f"Forward pass {elapsed_ms:.0f} ms in this browser: preprocessing and {len(page.manifest.stages)} "
             "ONNX parts")
    JS.draw.predictionCard(plain(labels), plain(probabilities),
                           f"{pass_}, WebAssembly, {threads} thread{'s' if threads != 1 else ''}{why}",
                           plain(page.unedited) if edit else None, edit.describe() if edit else "")
    top = max(range(len(probabilities)), key=probabilities.__getitem__)
    page.announce(f"{'After the edit' if edit else 'Prediction'}: {labels[top]}, {probabilities[top]:.0%}.")
