"""The page: model and image selection, the prediction, the views' navigation, the URL state.

Browser-only (PyScript). Computing lives in the stdlib modules (tensors, geometry, state);
drawing in web/js/draw.js; this module wires them to the page.
"""
import asyncio
import json

import js
from pyodide.ffi import create_proxy, to_js

import detail
from interpret_view import InterpretationView
from modals import Modals
import overview
import tensors
import state as url_state
from runtime import MAX_SIDE, ModelError, ModelRuntime, js_message, js_object, plain

JS = js.vitlensJS
document = js.document


def element(id_):
    return document.getElementById(id_)


def make(tag, cls=None, text=None, **attrs):
    node = document.createElement(tag)
    if cls:
        node.className = cls
    if text is not None:
        node.textContent = text
    for key, value in attrs.items():
        node.setAttribute(key.replace("_", "-"), str(value))
    return node


async def fetch_json(url):
    response = await js.fetch(url)
    if not response.ok:
        raise ModelError(f"{url}: HTTP {response.status}")
    try:
        return json.loads(await response.text())
    except ValueError as error:
        raise ModelError(f"{url} is not valid JSON ({error})") from None


class App:
    def __init__(self):
        self.index = None
        self.runtime = None
        self.state = url_state.State()
        self.image = None  # the decoded image on screen (JS object)
        self.probabilities = None
        self.lock = asyncio.Lock()
        self.proxies = []  # event handlers stay alive as long as the page
        self.overview_level = "model"
        self.overview_callbacks = None
        self.graph_drawn_for = None  # the model whose knowledge graph is drawn
        self.classified = 0
        self.detail_page = 0
        self.detail_shown = None  # (flat values, layout, first map) of the drawn maps
        self.modals = Modals(self)
        self.flow_level = None  # the Detail view's data-flow level; follows the drawn tensor until navigated
        self.interpretation = InterpretationView(self)

    def on(self, node, event, handler, prevent_default=False, read=None):
        """Listen for an event; the handler gets the event (or what `read` took from it) and the node.

        A plain function runs during the dispatch. A coroutine function runs as a task, a
        setTimeout later (4-30 ms in a busy tab): what must happen during dispatch
        (preventDefault, reading a drop's files or a field's value) happens here.
        """
        def listener(e):
            if prevent_default:
                e.preventDefault()
            result = handler(read(e) if read else e, node)
            if asyncio.iscoroutine(result):
                self.schedule(result)
        proxy = create_proxy(listener)
        self.proxies.append(proxy)
        node.addEventListener(event, proxy)

    # ---- start-up -------------------------------------------------------------------------

    async def start(self):
        js.performance.mark("vitlens:python-started")  # the marks time the start-up for the benchmarks
        try:
            self.index = await fetch_json("model/index.json")
        except Exception as error:
            self.fail(f"No model found (model/index.json): {error}. Build one with python -m export.")
            return
        names = [m["name"] for m in self.index["models"]]
        requested, problems = url_state.parse(js.location.hash)
        if requested.model and requested.model not in names:
            problems.append(f"there is no model {requested.model!r}; showing {self.index['default']}")
        model = requested.model if requested.model in names else self.index["default"]
        self.bind()
        try:
            await self.load_model(model, requested, problems)
        except Exception as error:
            if model == self.index["default"]:
                self.fail(f"Could not load the model {model!r}: {error}")
                return
            try:  # a model the URL names is broken: the default one may still work
                problems = [f"Could not load the model {model!r}: {error}; showing {self.index['default']!r}."]
                await self.load_model(self.index["default"], requested, problems)
            except Exception as error:
                self.fail(f"Could not load the model {self.index['default']!r}: {error}")
                return
        element("loading").hidden = True
        element("app").hidden = False

    def fail(self, message):
        element("app").hidden = True
        element("loading").hidden = False
        js.vitlensJS.progress(0, message)
        document.body.dataset.status = "error"

    def bind(self):
        self.on(element("file-input"), "change", self.on_file_input)
        drop = element("drop-zone")
        self.on(drop, "dragover", self.on_drag_over, prevent_default=True)
        self.on(drop, "dragleave", self.on_drag_leave)
        self.on(drop, "drop", self.on_drop, prevent_default=True, read=lambda e: e.dataTransfer.files)
        self.on(element("model-picker"), "change", self.on_model_picked)
        for tab in document.querySelectorAll("[data-view-tab]"):
            self.on(tab, "click", self.on_tab)
        self.on(js.window, "hashchange", self.on_hash_change)
        self.on(element("detail-block"), "change", self.on_detail_block)
        self.on(element("detail-tensor"), "change", self.on_detail_tensor)
        self.on(element("detail-mode"), "change", self.on_detail_redraw)
        self.on(element("detail-prev"), "click", self.on_detail_prev)
        self.on(element("detail-next"), "click", self.on_detail_next)
        self.on(element("substitution-token"), "change", self.on_substitution)
        self.on(element("detail-token"), "change", self.on_detail_token, read=lambda e: e.target.value)
        for name, handler in (("open-patch", self.modals.open_patch_embedding),
                              ("open-positions", self.modals.open_positions),
                              ("open-layernorm", self.modals.open_layer_norm),
                              ("open-attention", self.modals.open_attention),
                              ("open-gelu", self.modals.open_gelu)):
            self.on(element(name), "click", handler)
        self.detail_hover = create_proxy(self.on_detail_hover)
        self.flow_step_proxy = create_proxy(self.on_flow_step)
        self.flow_goto_proxy = create_proxy(self.on_flow_goto)
        self.proxies.extend([self.detail_hover, self.flow_step_proxy, self.flow_goto_proxy])
        self.interpretation.bind()
        callbacks = {"onDrill": self.overview_drill, "onUp": self.overview_up, "onGoto": self.overview_goto,
                     "onDetail": self.overview_detail}
        self.overview_callbacks = {}
        for name, function in callbacks.items():
            proxy = create_proxy(function)
            self.proxies.append(proxy)
            self.overview_callbacks[name] = proxy

    async def load_model(self, name, requested, problems):
        entry = next((m for m in self.index["models"] if m["name"] == name), None)
        if entry is None:
            raise ModelError(f"model/index.json lists no model {name!r}")
        base = "model/" + entry["manifest"].rsplit("/", 1)[0]
        manifest = await fetch_json(f"model/{entry['manifest']}")
        if self.runtime is not None or element("app").hidden:  # not over boot.js's first prediction
            element("loading").hidden = False

        def progress(fraction, text):
            js.vitlensJS.progress(0.5 + 0.5 * fraction, text)
        runtime = await ModelRuntime.load(base, manifest, progress)
        if self.runtime is not None:
            await self.runtime.release()
        self.runtime = runtime
        js.performance.mark("vitlens:model-ready")
        sample_ids = [s["id"] for s in manifest["samples"]]
        fitted, more = url_state.validate(url_state.replace_fields(requested, model=name), manifest, sample_ids)
        self.render_model_info(manifest)
        self.interpretation.reset()
        self.render_picker(name)
        self.render_gallery(base, manifest)
        self.state = fitted
        self.overview_level = "model"
        self.show_view(fitted.view)
        await self.select_sample(fitted.image)
        self.notify(problems + more)

    # ---- rendering ------------------------------------------------------------------------

    def render_picker(self, current):
        picker = element("model-picker")
        picker.replaceChildren()
        for model in self.index["models"]:
            option = make("option", text=model["title"], value=model["name"])
            option.selected = model["name"] == current
            picker.appendChild(option)
        element("model-picker-label").hidden = len(self.index["models"]) < 2

    def render_model_info(self, manifest):
        m = manifest
        element("model-title").textContent = m["title"]
        element("model-facts").textContent = (
            f"{m['architecture']} · {m['image_size'][0]}×{m['image_size'][1]} input · "
            f"{m['grid'][0]}×{m['grid'][1]} patches of {m['patch_size']} px · {m['tokens']} tokens × "
            f"{m['hidden_size']} · {m['num_layers']} blocks × {m['num_heads']} heads · {len(m['labels'])} classes")

    def render_gallery(self, base, manifest):
        gallery = element("gallery")
        gallery.replaceChildren()
        for sample in manifest["samples"]:
            button = make("button", "thumb", type="button", title=sample["title"], data_sample=sample["id"])
            button.appendChild(make("img", src=f"{base}/{sample['file']}", alt=sample["title"],
                                    width=56, height=56, loading="lazy"))
            self.on(button, "click", self.on_gallery_click)
            gallery.appendChild(button)

    def mark_gallery(self):
        for button in document.querySelectorAll("#gallery .thumb"):
            button.setAttribute("aria-pressed", "true" if button.dataset.sample == self.state.image else "false")

    def notify(self, messages, error=False):
        box = element("message")
        box.textContent = " ".join(messages)
        box.hidden = not messages
        box.className = "message error" if error else "message"

    def show_view(self, view):
        if view == "graph" and self.graph_drawn_for != self.runtime.manifest["name"]:
            asyncio.ensure_future(self.render_graph())
        if view == "detail":
            asyncio.ensure_future(self.render_detail())
        if view == "interpretation":
            asyncio.ensure_future(self.interpretation.render())
        for tab in document.querySelectorAll("[data-view-tab]"):
            tab.setAttribute("aria-selected", "true" if tab.dataset.viewTab == view else "false")
        for panel in document.querySelectorAll("[data-view]"):
            panel.hidden = panel.dataset.view != view

    def write_url(self):
        fragment = url_state.serialize(self.state)
        if js.location.hash != fragment:
            js.history.replaceState(None, "", fragment)

    # ---- the image and its prediction -----------------------------------------------------

    async def select_sample(self, sample_id):
        manifest = self.runtime.manifest
        sample = next(s for s in manifest["samples"] if s["id"] == sample_id)
        response = await js.fetch(f"{self.runtime.base}/{sample['file']}")
        blob = await response.blob()
        caption = f"{sample['title']} — {sample['source']} ({sample['licence']})"
        await self.classify(blob, sample_id, caption)

    async def classify(self, blob, image_id, caption):
        """Decode, preprocess, run the chain; on any failure keep the previous image and prediction."""
        async with self.lock:
            document.body.dataset.status = "busy"
            try:
                image = await JS.decodeImage(blob, MAX_SIDE)
            except Exception:
                self.notify([f"“{caption}” is not an image this browser can decode; the previous image is kept."],
                            error=True)
                document.body.dataset.status = "ready"
                return False
            started = JS.now()
            try:
                pixel_values = await self.runtime.pixel_values(image)
                probabilities = await self.runtime.forward(pixel_values)
            except Exception as error:
                image.bitmap.close()
                self.notify([f"The model could not run on “{caption}”: {js_message(error)}; the previous image "
                             "is kept."], error=True)
                document.body.dataset.status = "ready"
                return False
            elapsed = JS.now() - started
            if self.image is not None:
                self.image.bitmap.close()
            self.image, self.probabilities = image, probabilities
            self.state = url_state.replace_fields(self.state, image=image_id)
            self.write_url()
            note = f" (reduced by the browser to {image.width}×{image.height})" if image.reduced else ""
            element("image-caption").textContent = caption + note
            JS.draw.showImage(element("image-canvas"), image.bitmap)
            self.render_prediction(elapsed)
            self.render_overview()
            if self.state.view == "detail":
                asyncio.ensure_future(self.render_detail())
            if self.state.view == "interpretation":
                asyncio.ensure_future(self.interpretation.render())
            self.mark_gallery()
            self.notify([])
            self.classified += 1
            document.body.dataset.classified = str(self.classified)  # lets tests wait for this very result
            js.performance.mark(f"vitlens:classified:{self.classified}")  # read by the benchmarks
            js.performance.mark("vitlens:prediction-shown")
            document.body.dataset.status = "ready"
            return True

    def render_prediction(self, elapsed_ms):
        labels = self.runtime.manifest["labels"]
        top = max(range(len(labels)), key=lambda i: self.probabilities[i])
        rows = [{"label": label, "p": p, "top": i == top, "index": i}
                for i, (label, p) in enumerate(zip(labels, self.probabilities))]
        JS.draw.prediction("#prediction-list", plain(rows))
        element("prediction-top").textContent = labels[top]
        threads = JS.threads
        why = ""
        if threads == 1:
            why = (" (the page is not cross-origin isolated: the server sends no COOP/COEP headers and no service "
                   "worker could add them, so it cannot share memory between threads)"
                   if not JS.isolated else " (this browser offers the page no SharedArrayBuffer)")
        element("prediction-time").textContent = (
            f"Forward pass {elapsed_ms:.0f} ms in this browser: preprocessing and "
            f"{len(self.runtime.manifest['stages'])} ONNX parts, WebAssembly, "
            f"{threads} thread{'s' if threads != 1 else ''}{why}")

    # ---- the Knowledge Background Graph ----------------------------------------------------

    async def render_graph(self):
        """Drawn the first time its view is shown, when the panel has its real size."""
        manifest = self.runtime.manifest
        self.graph_drawn_for = manifest["name"]
        status = element("kg-status")
        try:
            graph = await fetch_json(f"{self.runtime.base}/{manifest['knowledge']}")
        except Exception as error:
            status.textContent = f"This model folder has no knowledge graph: {error}"
            return
        handle = JS.renderKnowledgeGraph(element("knowledge-graph"), plain(graph))
        await handle.settled
        status.textContent = f"{graph['architecture']}, read from transformers {graph['transformers_version']}"
        element("knowledge-graph").dataset.ready = "true"

    # ---- Model detail ------------------------------------------------------------------------

    DETAIL_PAGE = 96  # maps drawn at once

    def detail_choices(self):
        return self.detail_choices_for(self.state.layer)

    def detail_choices_for(self, layer):
        """The tensors that can be drawn as maps: the embeddings', the block's (1-based), the head's."""
        manifest = self.runtime.manifest
        block = f"layer.{layer - 1}."
        encoder = {"name": detail.ENCODER, "shape": [1, manifest["num_layers"], manifest["tokens"]],
                   "meaning": "every block's output side by side, one channel at a time (the pager steps the channel)"}
        return [t for t in manifest["tensors"] if len(t["shape"]) in (3, 4) and t["name"] != "pixel_values"
                and (not t["name"].startswith("layer.") or t["name"].startswith(block))] + [encoder]

    async def render_detail(self):
        manifest = self.runtime.manifest
        if self.probabilities is None:
            return
        choices = self.detail_choices()
        names = [t["name"] for t in choices]
        tensor = self.state.tensor if self.state.tensor in names else f"layer.{self.state.layer - 1}.output"
        blocks = element("detail-block")
        if blocks.options.length != manifest["num_layers"]:
            blocks.replaceChildren(*[make("option", text=str(n), value=str(n))
                                     for n in range(1, manifest["num_layers"] + 1)])
        blocks.value = str(self.state.layer)
        select = element("detail-tensor")
        select.replaceChildren(*[make("option", text=f"{t['name']}  ({'×'.join(map(str, t['shape'][1:]))})",
                                      value=t["name"]) for t in choices])
        select.value = tensor
        spec = next(t for t in choices if t["name"] == tensor)
        if tensor == detail.ENCODER:
            tokens, dim = manifest["tokens"], manifest["hidden_size"]
            self.detail_page = min(self.detail_page, dim - 1)
            outputs = [self.runtime.floats(f"layer.{i}.output") for i in range(manifest["num_layers"])]
            flat = detail.encoder_channel(outputs, tokens, dim, self.detail_page)
            lay = detail.encoder_layout(manifest, self.detail_page)
            pages, first, per_page = dim, 0, lay["maps"]
            page_text = f"channel {self.detail_page} of 0–{dim - 1}"
        else:
            flat = await self.runtime.values(tensor)
            lay = detail.layout(spec["shape"], manifest)
            pages = max(1, -(-lay["maps"] // self.DETAIL_PAGE))
            self.detail_page = min(self.detail_page, pages - 1)
            first, per_page = self.detail_page * self.DETAIL_PAGE, self.DETAIL_PAGE
            page_text = None
        mode = element("detail-mode").value
        levels, ranges = detail.levels(flat, lay, first, per_page, mode)
        count = len(ranges)
        JS.detail.drawMaps(element("detail-canvas"), to_js(memoryview(levels)), count,
                           plain(lay), self.detail_hover)
        if mode == "channel":
            JS.detail.legend(element("detail-legend"), "each map's minimum", "its maximum")
        else:
            JS.detail.legend(element("detail-legend"), f"{ranges[0][0]:.4g}", f"{ranges[0][1]:.4g}")
        element("detail-page").textContent = page_text or f"maps {first + 1}–{first + count} of {lay['maps']}"
        element("detail-prev").disabled = self.detail_page == 0
        element("detail-next").disabled = self.detail_page >= pages - 1
        element("detail-meaning").textContent = f"{tensor}: {spec['meaning']}. Shape {' × '.join(map(str, spec['shape'][1:]))}."
        element("detail-token").max = str(manifest["tokens"] - 1)
        element("detail-token").value = str(self.state.token)
        element("detail-canvas").dataset.tensor = tensor
        element("detail-canvas").dataset.first = str(first)
        self.detail_shown = (flat, lay, first)
        self.render_flow(tensor)
        await self.render_substitution()

    @staticmethod
    def level_of(tensor):
        """The data-flow level a tensor is drawn in: its attention, its block, or the whole model."""
        parts = tensor.split(".")
        if tensor == detail.ENCODER:
            return "encoder"
        if parts[0] != "layer":
            return "model"
        return f"attention.{parts[1]}" if parts[2] == "attention" and parts[3] != "output" else f"block.{parts[1]}"

    def render_flow(self, tensor):
        level = self.flow_level or self.level_of(tensor)
        handlers = js.Object.new()
        handlers.onStep, handlers.onGoto = self.flow_step_proxy, self.flow_goto_proxy
        JS.detail.drawFlow(element("detail-flow"), plain(detail.flow(self.runtime.manifest, level)),
                           tensor, element("detail-annotation"), handlers)
        element("detail-flow").dataset.level = level

    def on_flow_step(self, step):
        step = step.to_py()
        if step["children"] == "encoder":  # the encoder level draws every block's output side by side
            self.flow_level = "encoder"
            self.state = url_state.replace_fields(self.state, tensor=detail.ENCODER)
            self.detail_page = 0
            self.write_url()
            self.schedule(self.render_detail())
            return
        if step["children"]:
            self.flow_level = step["children"]
            self.render_flow(element("detail-canvas").dataset.tensor)
            return
        tensor = step["tensor"]
        layer = int(tensor.split(".")[1]) + 1 if tensor.startswith("layer.") else self.state.layer
        names = [t["name"] for t in self.detail_choices_for(layer)]
        if tensor not in names:
            where = ("the image card on the left" if tensor == "pixel_values"
                     else "the prediction card and the classification end below")
            element("detail-annotation").textContent = f"{step['label']}: this tensor is shown in {where}."
            if tensor != "pixel_values":
                element("substitution-heading").scrollIntoView()
            return
        self.state = url_state.replace_fields(self.state, tensor=tensor, layer=layer)
        self.detail_page = 0
        self.write_url()
        self.schedule(self.render_detail())

    def on_flow_goto(self, level_id):
        self.flow_level = level_id
        self.render_flow(element("detail-canvas").dataset.tensor)

    async def render_substitution(self):
        """Fig. 11: pass token i through the final LayerNorm and the head in CLS's place."""
        manifest = self.runtime.manifest
        field = element("substitution-token")
        field.max = str(manifest["tokens"] - 1)
        box = element("substitution-message")
        try:
            token = int(field.value)
            if not 0 <= token < manifest["tokens"]:
                raise ValueError
        except ValueError:
            box.textContent = f"Type a token index from 0 (CLS) to {manifest['tokens'] - 1}."
            box.hidden = False
            return
        box.hidden = True
        head = manifest["stages"][-1]
        hidden = self.runtime.floats(head["input"])
        swapped = tensors.substitute_token(hidden, manifest["tokens"], manifest["hidden_size"], token)
        feeds = {head["input"]: JS.tensor("float32", to_js(memoryview(swapped)),
                                          to_js([1, manifest["tokens"], manifest["hidden_size"]]))}
        out = await self.runtime.sessions["head"].run(js_object(feeds), to_js(["logits"]))
        probabilities = tensors.softmax(list(tensors.as_floats(out.logits.data.to_memoryview())))
        labels = manifest["labels"]
        top = max(range(len(labels)), key=lambda i: probabilities[i])
        rows = [{"label": label, "p": p, "top": i == top, "index": i}
                for i, (label, p) in enumerate(zip(labels, probabilities))]
        JS.draw.prediction("#substitution-list", plain(rows))
        where = detail.token_label(manifest, token)
        mean_note = (" DINOv2's head reads CLS together with the mean of the patch tokens: the substitution "
                     "replaces only the CLS half, the patch mean stays." if manifest["family"] == "dinov2" else "")
        element("substitution-note").textContent = (
            f"The head's probabilities when {where} is put where CLS was, after the final LayerNorm.{mean_note}")
        element("substitution-list").dataset.token = str(token)

    async def on_detail_token(self, typed, target):
        try:
            token = int(typed)
        except ValueError:
            token = -1
        self.set_token(token, field=target, typed=typed)

    def set_token(self, token, field=None, typed=None):
        """The token both views follow; a bad index is explained and the previous one kept (False)."""
        top = self.runtime.manifest["tokens"] - 1
        if not 0 <= token <= top:
            typed = token if typed is None else typed
            self.notify([f"Token {typed!r} is not in 0..{top}; keeping token {self.state.token}."], error=True)
            if field is not None:
                field.value = str(self.state.token)
            return False
        self.state = url_state.replace_fields(self.state, token=token)
        self.notify([])
        self.write_url()
        return True

    @staticmethod
    def schedule(coroutine):
        asyncio.ensure_future(coroutine)

    async def on_substitution(self, event, target):
        await self.render_substitution()

    def on_detail_hover(self, map_index, cell):
        readout = element("detail-readout")
        if map_index < 0 or self.detail_shown is None:
            readout.textContent = "Hover a map to read a value."
            return
        flat, lay, first = self.detail_shown
        m = first + map_index
        value = flat[detail.value_index(lay, m, cell)]
        where = detail.cell_label(lay, cell, self.runtime.manifest["special_tokens"])
        readout.textContent = f"{detail.map_label(lay, m)} · {where} · value {value:.6g}"
        readout.dataset.map, readout.dataset.cell, readout.dataset.value = str(m), str(cell), repr(value)

    async def on_detail_block(self, event, target):
        self.state = url_state.replace_fields(self.state, layer=int(target.value))
        self.detail_page = 0
        self.flow_level = None
        self.write_url()
        await self.render_detail()

    async def on_detail_tensor(self, event, target):
        self.state = url_state.replace_fields(self.state, tensor=target.value)
        self.detail_page = 0
        self.flow_level = None
        self.write_url()
        await self.render_detail()

    async def on_detail_redraw(self, event, target):
        await self.render_detail()

    async def on_detail_prev(self, event, target):
        self.detail_page = max(0, self.detail_page - 1)
        await self.render_detail()

    async def on_detail_next(self, event, target):
        self.detail_page += 1
        await self.render_detail()

    # ---- the Model Overview ---------------------------------------------------------------

    def render_overview(self, focus=None):
        manifest = self.runtime.manifest
        level = overview.level(manifest, self.overview_level)
        trail = overview.trail(manifest, self.overview_level)
        labels = manifest["labels"]
        top3 = sorted(range(len(labels)), key=lambda i: -self.probabilities[i])[:3]
        options = {"image": element("image-canvas").toDataURL(),
                   "prediction": [{"label": labels[i], "p": self.probabilities[i]} for i in top3],
                   "focus": focus}
        options_js = plain(options)
        for name, proxy in self.overview_callbacks.items():
            setattr(options_js, name, proxy)
        JS.overview.renderOverview(element("overview-diagram"), plain(level),
                                   plain(trail), options_js)

    def overview_drill(self, level_id):
        self.overview_level = level_id
        first = overview.level(self.runtime.manifest, level_id)["nodes"][0]["id"]
        self.render_overview(focus=first)

    def overview_up(self):
        up = overview.parent(self.overview_level)
        if up:
            self.overview_level = up
            self.render_overview(focus=None)

    def overview_goto(self, level_id):
        self.overview_level = level_id
        self.render_overview()

    def overview_detail(self, tensor, layer):
        """A leaf of the diagram opens Model detail at its block (the Detail view reads the URL)."""
        changes = {"view": "detail", "tensor": tensor}
        if layer:
            changes["layer"] = layer
        self.state = url_state.replace_fields(self.state, **changes)
        self.show_view("detail")
        self.write_url()

    # ---- events -----------------------------------------------------------------------------

    async def on_gallery_click(self, event, target):
        await self.select_sample(target.dataset.sample)

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
            self.notify(["Only image files can be dropped here."], error=True)

    async def classify_file(self, file):
        caption = f"{file.name} (your image: it stays in this browser)"
        await self.classify(file, url_state.UPLOAD, caption)

    async def switch_model(self, name, requested, problems):
        """Load another model; if it cannot be used, say why and keep the one on screen."""
        previous = self.state
        try:
            await self.load_model(name, requested, problems)
        except Exception as error:
            self.state = previous
            self.render_picker(previous.model)
            self.write_url()
            self.notify([f"Could not load the model {name!r}: {error}; still showing {previous.model!r}."], error=True)
        element("loading").hidden = True

    async def on_model_picked(self, event, target):
        name = target.value
        if name != self.state.model:
            await self.switch_model(name, url_state.replace_fields(self.state, model=name), [])

    async def on_tab(self, event, target):
        view = target.dataset.viewTab
        self.state = url_state.replace_fields(self.state, view=view)
        self.show_view(view)
        self.write_url()

    async def on_hash_change(self, event, target):
        requested, problems = url_state.parse(js.location.hash)
        if requested == self.state:
            return
        if requested.model and requested.model != self.state.model:
            await self.switch_model(requested.model, requested, problems)
            return
        sample_ids = [s["id"] for s in self.runtime.manifest["samples"]]
        if requested.image == url_state.UPLOAD and self.state.image == url_state.UPLOAD:
            requested = url_state.replace_fields(requested, image=url_state.UPLOAD)
            fitted, more = requested, []
        else:
            fitted, more = url_state.validate(requested, self.runtime.manifest, sample_ids)
        image_changed = fitted.image != self.state.image
        self.state = fitted
        self.show_view(fitted.view)
        if image_changed:
            await self.select_sample(fitted.image)
        self.write_url()
        self.notify(problems + more)
