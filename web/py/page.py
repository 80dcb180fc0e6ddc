"""The page's one store: what every view reads (model, image, URL state) and the few actions they share.

Browser-only. The shell (app.py) fills it; each view gets it and nothing else, so no view reads
another view's widgets or reaches into the shell.
"""
import asyncio
import json

import js
from pyodide.ffi import create_once_callable, create_proxy, to_js

import detail
import operations
import tensor_names as names
import state as url_state
from runtime import ModelError

document = js.document
_running = set()  # the tasks `Page.schedule` started, until they end


_elements = {}  # id -> the element's proxy: each new proxy of a JS object costs Pyodide a type check


def element(id_):
    """The page's element of that id, the same proxy every time while it is in the document."""
    node = _elements.get(id_)
    if node is None or not node.isConnected:
        node = _elements[id_] = document.getElementById(id_)
    return node


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
    return await read_json(await js.fetch(url), url)


async def read_json(response, url):
    """A fetch Response's JSON; `url` names the file in the messages."""
    if not response.ok:
        raise ModelError(f"{url}: HTTP {response.status}")
    try:
        return json.loads(await response.text())
    except ValueError as error:
        raise ModelError(f"{url} is not valid JSON ({error})") from None


class Page:
    def __init__(self):
        self.runtime = None  # the model on screen (runtime.ModelRuntime)
        self.state = url_state.State()  # what the URL fragment restores
        self.image = None  # the decoded image on screen (JS object)
        self.image_url = None  # the same image as a data URL, for views that draw it again
        self.probabilities = None  # the model's probabilities for it (of the what-if run, if one is on screen)
        self.unedited = None  # the probabilities of the image as it is
        self.classified = 0  # images classified so far: a view's cache key for "this image"
        self.lock = asyncio.Lock()  # one forward pass or analysis at a time
        self.proxies = []  # event handlers stay alive as long as the page
        self.open_view = None  # set by the shell: show another view
        self.select_sample = None  # set by the shell: classify a sample image (async)
        self.rerun = None  # set by the shell: run the image again with the state's edit (async)
        self.input_for = None  # (the forward pass's tensors, JS image) of input_image()

    @property
    def manifest(self):
        """The model on screen's manifest.Manifest."""
        return self.runtime.manifest

    def input_image(self):
        """The model's own input as a JS image source, under every map (patches align exactly)."""
        kept = self.runtime.kept
        if self.input_for is None or self.input_for[0] is not kept:
            height, width = self.manifest.image_size
            recipe = self.manifest.preprocessing
            rgba = operations.image_bytes(self.runtime.floats(names.PIXELS), height, width,
                                          recipe["mean"], recipe["std"])
            self.input_for = (kept, js.vitlensJS.interpret.imageSource(to_js(memoryview(rgba)), width, height))
        return self.input_for[1]

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
        node.addEventListener(event, self.proxy(listener))

    def proxy(self, function):
        """A JavaScript callable for `function`, kept alive with the page."""
        proxy = create_proxy(function)
        self.proxies.append(proxy)
        return proxy

    @staticmethod
    def schedule(coroutine):
        """Run a coroutine as a task, held until it ends (the event loop keeps only a weak reference)."""
        task = asyncio.ensure_future(coroutine)
        _running.add(task)
        task.add_done_callback(_running.discard)

    def notify(self, messages, error=False):
        box = element("message")
        box.textContent = " ".join(messages)
        box.hidden = not messages
        box.className = "message error" if error else "message"

    def announce(self, text):
        """Say `text` to a screen reader once (#announcer, a live region): for deliberate changes only (a
        new prediction, a finished measurement), never for what follows the pointer."""
        box = element("announcer")
        box.textContent = ""  # the same text twice is announced twice
        js.setTimeout(create_once_callable(lambda: setattr(box, "textContent", text)), 50)

    def read_out(self, readout, text, map_id):
        """A map's readout says `text`; a screen reader says it too when the keyboard moved it (the map
        has focus), never when the pointer did."""
        readout.textContent = text
        if js.document.activeElement == element(map_id):
            self.announce(text)

    def update(self, **changes):
        """Change the state and write it to the URL."""
        self.state = url_state.replace_fields(self.state, **changes)
        self.write_url()

    def write_url(self):
        """The state to the URL, written by web/js/url.js once the interaction is drawn."""
        js.vitlensJS.url.writeFragment(url_state.serialize(self.state))

    def edit(self):
        """The what-if edit in the state (edits.Edit; empty for the image as it is)."""
        return url_state.edit_of(self.state, self.manifest, [s.id for s in self.manifest.samples])

    async def apply_edit(self, edit):
        """Make `edit` the state's (and the URL's) and run the image with it; False if the run failed."""
        previous = self.state
        self.update(**url_state.edit_fields(edit))
        if not await self.rerun():
            self.state = previous
            self.write_url()
            return False
        return True

    def forget_patch_edit(self):
        """Another image: patch edits were the previous image's; knocked-out heads stay (the model's).
        Returns the sentence saying so, or ""."""
        if not (self.state.remove or self.state.replace):
            return ""
        self.update(remove="", replace="", fill=url_state.DEFAULTS.fill)
        return "The removed and replaced patches were the previous image's: this one is shown whole."

    def token_label(self, token):
        return detail.token_label(self.manifest, token)

    def set_token(self, token, field=None, typed=None):
        """The token every view follows; a bad index is explained and the previous one kept (False)."""
        top = self.manifest.tokens - 1
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
