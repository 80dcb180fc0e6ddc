"""The page shell: model and image selection, the prediction, the URL state, and switching views.

Browser-only (Pyodide, started by web/js/python.js). The page's state lives in one store (page.py)
that every view gets; each view (tour_view, overview_view, graph_view, detail_view, interpret_view,
whatif_view) owns its controls and drawing. Adding a view is one entry in VIEWS. The model picker (picker.py)
also opens models from the user's disk.
"""
import json

import js

from detail_view import DetailView
from graph_view import GraphView
from interpret_view import InterpretationView
from manifest import Manifest, ModelIndex
from overview_view import OverviewView
from page import Page, element, fetch_json, make
from picker import ModelPicker, is_local, reload_forgot
import prediction
import state as url_state
from runtime import MAX_SIDE, ModelError, ModelRuntime, js_message, plain
from tour_view import TourView
from whatif_view import WhatIfView

JS = js.vitlensJS
document = js.document
VIEWS = (TourView, OverviewView, GraphView, DetailView, InterpretationView, WhatIfView)


class App:
    def __init__(self):
        self.index = None
        self.page = Page()
        self.picker = ModelPicker(self.page, self.switch_model)
        self.page.open_view = self.show_view
        self.page.select_sample = self.select_sample
        self.page.rerun = self.rerun
        self.views = {view.name: view for view in (View(self.page) for View in VIEWS)}

    # ---- start-up -------------------------------------------------------------------------

    async def start(self):
        js.performance.mark("vitlens:python-started")  # the marks time the start-up for the benchmarks
        try:
            self.index = self.picker.index = ModelIndex.from_json(await fetch_json("model/index.json"))
        except Exception as error:
            self.fail(f"No model found (model/index.json): {error}. Build one with python -m export.")
            return
        default = self.index.default
        requested, problems = url_state.parse(js.location.hash)
        if is_local(requested.model):
            problems.append(reload_forgot(requested.model, default))
        elif requested.model and self.index.entry(requested.model) is None:
            problems.append(f"there is no model {requested.model!r}; showing {default}")
        model = requested.model if self.index.entry(requested.model) else default
        self.bind()
        try:
            await self.load_model(model, requested, problems)
        except Exception as error:
            if model == default:
                self.fail(f"Could not load the model {model!r}: {error}")
                return
            try:  # a model the URL names is broken: the default one may still work
                problems = [f"Could not load the model {model!r}: {error}; showing {default!r}."]
                await self.load_model(default, requested, problems)
            except Exception as error:
                self.fail(f"Could not load the model {default!r}: {error}")
                return
        element("loading").hidden = True
        element("app").hidden = False

    def fail(self, message):
        element("app").hidden = True
        element("loading").hidden = False
        js.vitlensJS.progress(0, message)
        document.body.dataset.status = "error"

    def bind(self):
        on = self.page.on
        on(element("file-input"), "change", self.on_file_input)
        drop = element("drop-zone")
        on(drop, "dragover", self.on_drag_over, prevent_default=True)
        on(drop, "dragleave", self.on_drag_leave)
        on(drop, "drop", self.on_drop, prevent_default=True, read=lambda e: e.dataTransfer.files)
        self.picker.bind()
        for tab in document.querySelectorAll("[data-view-tab]"):
            on(tab, "click", self.on_tab)
        on(js.window, "hashchange", self.on_hash_change)
        for view in self.views.values():
            view.bind()

    async def read_manifest(self, name):
        """(base, manifest.Manifest) of a deployed model, or of one opened from the user's disk."""
        if is_local(name):
            if not JS.localModels.has(name):
                raise ModelError("it was opened from your disk, and this page has forgotten it since (a reload "
                                 "forgets it): open it again with “Open a model folder…”")
            manifest = Manifest.from_json(json.loads(JS.localModels.manifest(name)))
            shown = [s.file for s in manifest.samples] + [manifest.knowledge]
            try:
                await JS.localModels.prepare(name, plain(shown), plain(manifest.files))
            except Exception as error:  # its messages name the file
                raise ModelError(js_message(error)) from None
            return name, manifest
        entry = self.index.entry(name)
        if entry is None:
            raise ModelError(f"model/index.json lists no model {name!r}")
        return "model/" + entry.manifest.rsplit("/", 1)[0], Manifest.from_json(await fetch_json(f"model/{entry.manifest}"))

    async def load_model(self, name, requested, problems):
        base, manifest = await self.read_manifest(name)
        if self.page.runtime is not None or element("app").hidden:  # not over boot.js's first prediction
            element("loading").hidden = False

        def progress(fraction, text):
            js.vitlensJS.progress(0.5 + 0.5 * fraction, text)
        runtime = await ModelRuntime.load(base, manifest, progress)
        if self.page.runtime is not None:
            await self.page.runtime.release()
        self.page.runtime, self.page.probabilities = runtime, None  # until its first image is classified
        js.performance.mark("vitlens:model-ready")
        sample_ids = [s.id for s in manifest.samples]
        fitted, more = url_state.validate(url_state.replace_fields(requested, model=name), manifest, sample_ids)
        self.render_model_info(manifest)
        for view in self.views.values():
            view.reset()
        self.picker.render(name)
        self.render_gallery(runtime)
        self.page.state = fitted
        self.show_view(fitted.view)
        await JS.previewDone  # boot.js's first prediction (computed while Python started): taken over, not run again
        await self.select_sample(fitted.image)
        self.page.notify(problems + more)
        if not is_local(name):  # a local model is the user's: read from their disk, kept nowhere
            kept = {f: entry for f, entry in manifest.files.items()  # relevance.onnx: kept when first shown
                    if manifest.relevance is None or f != manifest.relevance.file}
            JS.keepForOffline(base, plain({"knowledge": manifest.knowledge, "files": kept,
                                           "samples": [{"file": s.file} for s in manifest.samples]}))

    # ---- rendering ------------------------------------------------------------------------

    def render_model_info(self, manifest):
        m = manifest
        element("model-title").textContent = m.title
        element("model-facts").textContent = (
            f"{m.architecture} · {m.image_size[0]}×{m.image_size[1]} input · "
            f"{m.grid[0]}×{m.grid[1]} patches of {m.patch_size} px · {m.tokens} tokens × "
            f"{m.hidden_size} · {m.num_layers} blocks × {m.num_heads} heads · {len(m.labels)} classes")
        prediction.show_classes(m)

    def render_gallery(self, runtime):
        gallery = element("gallery")
        gallery.replaceChildren()
        for sample in runtime.manifest.samples:
            button = make("button", "thumb", type="button", title=sample.title, data_sample=sample.id)
            button.appendChild(make("img", src=runtime.url(sample.file), alt=sample.title,
                                    width=56, height=56, loading="lazy"))
            self.page.on(button, "click", self.on_gallery_click)
            gallery.appendChild(button)

    def mark_gallery(self):
        for button in document.querySelectorAll("#gallery .thumb"):
            button.setAttribute("aria-pressed", "true" if button.dataset.sample == self.page.state.image else "false")

    def show_view(self, name):
        self.draw(self.views[name])
        for tab in document.querySelectorAll("[data-view-tab]"):  # the tabs pattern: the selected one is in the Tab order
            selected = tab.dataset.viewTab == name
            tab.setAttribute("aria-selected", "true" if selected else "false")
            tab.tabIndex = 0 if selected else -1
        for panel in document.querySelectorAll("[data-view]"):
            panel.hidden = panel.dataset.view != name

    def draw(self, view):
        drawing = view.show()
        if drawing is not None:
            self.page.schedule(drawing)

    # ---- the image and its prediction -----------------------------------------------------

    async def select_sample(self, sample_id):
        sample = self.page.manifest.sample(sample_id)
        caption = f"{sample.title} — {sample.source} ({sample.licence})"
        preview = JS.takePreview(self.page.runtime.base, sample_id)  # boot.js's first prediction, once
        if preview is not None and max(preview.image.width, preview.image.height) <= MAX_SIDE:
            return await self.classify(None, sample_id, caption, preview)  # its image is decoded already
        blob = await (await self.page.runtime.response(sample.file)).blob()
        return await self.classify(blob, sample_id, caption, preview)

    async def classify(self, blob, image_id, caption, preview=None):
        """Decode, preprocess, run the chain; on any failure keep the previous image and prediction.

        `preview`: boot.js's first prediction of this very image, if any: its decoded image and its
        tensors are taken over."""
        async with self.page.lock:
            document.body.dataset.status = "busy"
            try:
                image = preview.image if blob is None else await JS.decodeImage(blob, MAX_SIDE)
            except Exception:
                self.page.notify([f"“{caption}” is not an image this browser can decode; the previous image is kept."],
                                 error=True)
                document.body.dataset.status = "ready"
                return False
            started = JS.now()
            try:
                runtime = self.page.runtime
                probabilities = runtime.adopt(image, preview)
                if probabilities is not None:
                    elapsed = preview.elapsed  # the time its pass took
                else:
                    probabilities = await runtime.forward(image)
                    elapsed = JS.now() - started
                unedited, edit = probabilities, self.page.edit()
                if edit:  # a link's what-if edit: the edited run is the one on screen
                    started = JS.now()
                    probabilities = await runtime.forward(image, edit, await self.fill_source(edit))
                    elapsed = JS.now() - started
            except Exception as error:
                image.bitmap.close()
                self.page.notify([f"The model could not run on “{caption}”: {js_message(error)}; the previous image "
                                  "is kept."], error=True)
                document.body.dataset.status = "ready"
                return False
            if self.page.image is not None:
                self.page.image.bitmap.close()
            self.page.image, self.page.unedited = image, unedited
            self.page.update(image=image_id)
            note = f" (reduced by the browser to {image.width}×{image.height})" if image.reduced else ""
            element("image-caption").textContent = caption + note
            JS.draw.showImage(element("image-canvas"), image.bitmap)
            self.page.image_url = element("image-canvas").toDataURL()
            self.show_run(probabilities, elapsed)
            self.mark_gallery()
            self.page.notify([])
            return True

    async def rerun(self):
        """The image on screen again with the state's what-if edit (or without one). Returns False, with
        the edit undone in the URL, if the run failed."""
        page = self.page
        async with page.lock:
            document.body.dataset.status = "busy"
            edit, runtime = page.edit(), page.runtime
            started = JS.now()
            try:
                if not edit and runtime.unedited_image is page.image:  # back to the run already at hand
                    probabilities = runtime.keep(runtime.unedited, None, page.image)
                else:
                    probabilities = await runtime.forward(page.image, edit, await self.fill_source(edit))
            except Exception as error:
                page.notify([f"The what-if run failed: {js_message(error)}."], error=True)
                document.body.dataset.status = "ready"
                return False
            self.show_run(probabilities, JS.now() - started)
            return True

    async def fill_source(self, edit):
        """The decoded sample image a "sample:<id>" fill takes its patches from, else None."""
        if not edit or not edit.fill.startswith("sample:"):
            return None
        sample = self.page.manifest.sample(edit.fill.split(":", 1)[1])
        return await JS.decodeImage(await (await self.page.runtime.response(sample.file)).blob(), MAX_SIDE)

    def show_run(self, probabilities, elapsed):
        """A run's probabilities on screen, in the prediction card and every view drawn."""
        page = self.page
        page.probabilities = probabilities
        prediction.show(page, elapsed)
        for view in self.views.values():
            if view.shown or view.drawn_hidden:
                self.draw(view)
        page.classified += 1
        document.body.dataset.classified = str(page.classified)  # lets tests wait for this very result
        document.body.dataset.edited = "true" if page.runtime.edit else "false"
        js.performance.mark(f"vitlens:classified:{page.classified}")  # read by the benchmarks
        js.performance.mark("vitlens:prediction-shown")
        document.body.dataset.status = "ready"

    # ---- events -----------------------------------------------------------------------------

    async def on_gallery_click(self, event, target):
        note = self.page.forget_patch_edit()
        if await self.select_sample(target.dataset.sample) and note:
            self.page.notify([note])

    async def on_file_input(self, event, target):
        files = target.files
        if files.length:
            file = files.item(0)
            target.value = ""
            await self.classify_file(file)

    async def on_drag_over(self, event, target):
        element("drop-zone").classList.add("dragging")

    async def on_drag_leave(self, event, target):
        element("drop-zone").classList.remove("dragging")

    async def on_drop(self, files, target):
        element("drop-zone").classList.remove("dragging")
        if files.length:
            await self.classify_file(files.item(0))
        else:
            self.page.notify(["Only image files can be dropped here."], error=True)

    async def classify_file(self, file):
        note = self.page.forget_patch_edit()
        caption = f"{file.name} (your image: it stays in this browser)"
        if await self.classify(file, url_state.UPLOAD, caption) and note:
            self.page.notify([note])

    async def switch_model(self, name, requested, problems):
        """Load another model; if it cannot be used, say why and keep the one on screen (False)."""
        previous = self.page.state
        try:
            await self.load_model(name, requested, problems)
        except Exception as error:
            self.page.state = previous
            self.picker.render(previous.model)
            self.page.write_url()
            offline = (" This browser is offline: a model that was never opened online cannot be fetched now."
                       if not js.navigator.onLine else "")
            self.page.notify([f"Could not load the model {name!r}: {error}; still showing {previous.model!r}.{offline}"],
                             error=True)
            return False
        finally:
            element("loading").hidden = True
        return True

    async def on_tab(self, event, target):
        view = target.dataset.viewTab
        self.page.update(view=view)
        self.show_view(view)

    async def on_hash_change(self, event, target):
        requested, problems = url_state.parse(js.location.hash)
        if requested == self.page.state:
            return
        if requested.model and requested.model != self.page.state.model:
            await self.switch_model(requested.model, requested, problems)
            return
        sample_ids = [s.id for s in self.page.manifest.samples]
        if requested.image == url_state.UPLOAD and self.page.state.image == url_state.UPLOAD:
            requested = url_state.replace_fields(requested, image=url_state.UPLOAD)
            fitted, more = requested, []
        else:
            fitted, more = url_state.validate(requested, self.page.manifest, sample_ids)
        image_changed = fitted.image != self.page.state.image
        edit_changed = url_state.edit_fields(self.page.edit()) != url_state.edit_fields(
            url_state.edit_of(fitted, self.page.manifest, sample_ids))
        self.page.state = fitted
        self.show_view(fitted.view)
        if image_changed:
            await self.select_sample(fitted.image)
        elif edit_changed:
            await self.rerun()
        self.page.write_url()
        self.page.notify(problems + more)
