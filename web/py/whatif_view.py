"""The What-if view (issue #42): edit the image and the model, run it again, and see what changes.

Browser-only. The edit lives in the store and the URL (state.py: remove, replace, fill, knock),
edits.py holds its rules, the runtime runs it (every view then shows the edited run) and
web/js/whatif.js draws the patches and the heads. The selection is the view's own: it becomes an
edit only by Remove or Replace.
"""
import js
from pyodide.ffi import to_js

from atlas_view import AtlasPanel
from curves_view import CurvesPanel
import edits
from page import element, make
from view import View

JS = js.vitlensJS


def effect(labels, before, after):
    """The decision's change in words: the top class before and after, and the largest changes."""
    top_before = max(range(len(labels)), key=before.__getitem__)
    top_after = max(range(len(labels)), key=after.__getitem__)
    changes = sorted(range(len(labels)), key=lambda i: -abs(after[i] - before[i]))[:2]
    moved = ", ".join(f"{labels[i]} {100 * (after[i] - before[i]):+.1f} points" for i in changes
                      if abs(after[i] - before[i]) >= 0.0005)
    if top_after == top_before:
        head = f"Still {labels[top_after]}: {before[top_before]:.1%} → {after[top_after]:.1%}."
    else:
        head = (f"The decision changes: {labels[top_before]} ({before[top_before]:.1%}) becomes "
                f"{labels[top_after]} ({after[top_after]:.1%}).")
    return head + (f" Largest changes: {moved}." if moved else " No class moves by 0.05 points or more.")


class WhatIfView(View):
    name = "whatif"

    def __init__(self, page):
        super().__init__(page)
        self.selected = []  # patch numbers chosen on the canvas, not yet an edit
        self.history = []  # the edits before the current one, for Undo
        self.drawn_edit = None  # the edit drawn last
        self.curves = CurvesPanel(page)
        self.atlas = AtlasPanel(page)
        self.on_select_proxy = page.proxy(self.on_select)
        self.on_hover_proxy = page.proxy(self.on_hover)
        self.on_toggle_proxy = page.proxy(self.on_toggle)

    def bind(self):
        on = self.page.on
        on(element("whatif-remove"), "click", self.on_remove)
        on(element("whatif-replace"), "click", self.on_replace)
        on(element("whatif-clear"), "click", self.on_clear)
        on(element("whatif-all"), "click", self.on_all)
        on(element("whatif-invert"), "click", self.on_invert)
        on(element("whatif-undo"), "click", self.on_undo)
        on(element("whatif-reset"), "click", self.on_reset)
        on(element("prediction-reset"), "click", self.on_reset)
        self.curves.bind()
        self.atlas.bind()

    def reset(self):
        """A new model: its samples as fills; the selection and the history were the previous model's."""
        self.selected, self.history = [], []
        self.curves.reset()
        self.atlas.reset()
        samples = [make("option", text=f"the same patch of {s.title}", value=f"sample:{s.id}")
                   for s in self.manifest.samples]
        element("whatif-fill").replaceChildren(make("option", text="the image's mean colour", value="mean"),
                                               make("option", text="a blurred copy", value="blur"), *samples)

    def show(self):
        """Draw; the head atlas's measures follow once analysis.onnx has run for this run (a task)."""
        if self.shown and self.page.probabilities is not None:
            self.draw()
            return self.atlas.show()
        return None

    def draw(self):
        page, m = self.page, self.manifest
        edit = page.edit()
        JS.whatif.drawPatches(element("whatif-canvas"), page.input_image(), to_js(m.grid), to_js(self.selected),
                              to_js(list(edit.removed)), to_js(list(edit.replaced)), self.on_select_proxy,
                              self.on_hover_proxy)
        JS.whatif.drawHeads(element("whatif-heads"), m.num_layers, m.num_heads, to_js([list(k) for k in edit.knocked]),
                            self.on_toggle_proxy)
        if edit.replaced and edit != self.drawn_edit:  # the fill in use; the user's next choice stays until then
            element("whatif-fill").value = edit.fill
        self.drawn_edit = edit
        count = len(self.selected)
        element("whatif-selection").textContent = (
            f"{count} patch{'es' if count != 1 else ''} selected." if count else
            "No patch selected: click or drag over the image, or use the arrow keys and Space.")
        for id_, enabled in (("whatif-remove", count), ("whatif-replace", count), ("whatif-clear", count),
                             ("whatif-undo", self.history), ("whatif-reset", edit)):
            element(id_).disabled = not enabled
        element("whatif-edit").textContent = f"Edit now: {edit.describe()}."
        element("whatif-effect").textContent = (effect(m.labels, page.unedited, page.probabilities) if edit else
                                                "The image as it is: edit it to see the decision change.")
        self.curves.draw()
        self.atlas.draw()
        canvas = element("whatif-canvas")
        canvas.dataset.selected = ",".join(map(str, self.selected))  # for the tests
        canvas.dataset.edit = edit.describe()

    async def change(self, edit):
        """Run `edit` (checked first: a sentence says why one cannot be run, and nothing is lost)."""
        current = self.page.edit()
        try:
            edits.check(edit, self.manifest)
        except edits.EditError as error:
            self.page.notify([f"{str(error)[0].upper()}{str(error)[1:]}."], error=True)
            return
        self.history.append(current)
        if await self.page.apply_edit(edit):
            self.selected = []
            self.page.notify([])
        else:
            self.history.pop()
        if self.shown:
            self.draw()

    # ---- events ---------------------------------------------------------------------------------

    def on_select(self, patches):
        self.selected = sorted(int(p) for p in patches)
        self.draw()

    def on_hover(self, patch):
        readout = element("whatif-readout")
        if patch < 0:
            readout.textContent = "Hover, tap or move to a patch to read it."
            return
        m, edit = self.manifest, self.page.edit()
        row, col = divmod(int(patch), m.grid[1])
        status = ("removed" if patch in edit.removed else "replaced" if patch in edit.replaced else
                  "selected" if patch in self.selected else "kept")
        self.page.read_out(readout, f"patch {patch} (row {row}, column {col}), token {patch + len(m.special_tokens)}: "
                                    f"{status}", "whatif-canvas")
        readout.dataset.patch = str(patch)

    async def on_remove(self, event, target):
        edit, chosen = self.page.edit(), set(self.selected)
        await self.change(edits.Edit(removed=tuple(sorted(set(edit.removed) | chosen)),
                                     replaced=tuple(p for p in edit.replaced if p not in chosen),
                                     fill=edit.fill, knocked=edit.knocked))

    async def on_replace(self, event, target):
        edit, chosen = self.page.edit(), set(self.selected)
        await self.change(edits.Edit(removed=tuple(p for p in edit.removed if p not in chosen),
                                     replaced=tuple(sorted(set(edit.replaced) | chosen)),
                                     fill=element("whatif-fill").value, knocked=edit.knocked))

    def on_clear(self, event, target):
        self.selected = []
        self.draw()

    def on_all(self, event, target):
        self.selected = list(range(self.manifest.num_patches))
        self.draw()

    def on_invert(self, event, target):
        """Every patch not selected: select the object, invert, remove, and only the object is left."""
        chosen = set(self.selected)
        self.selected = [p for p in range(self.manifest.num_patches) if p not in chosen]
        self.draw()

    async def on_undo(self, event, target):
        if not self.history:
            return
        previous = self.history.pop()
        if await self.page.apply_edit(previous):
            self.page.notify([])
        else:
            self.history.append(previous)
        if self.shown:
            self.draw()

    async def on_reset(self, event, target):
        if self.page.edit():
            await self.change(edits.Edit())

    def on_toggle(self, block, head):
        self.page.schedule(self.toggle(block, head))

    async def toggle(self, block, head):
        edit = self.page.edit()
        knocked = set(edit.knocked) ^ {(int(block), int(head))}
        await self.change(edits.Edit(removed=edit.removed, replaced=edit.replaced, fill=edit.fill,
                                     knocked=tuple(sorted(knocked))))
