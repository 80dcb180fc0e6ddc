"""The model picker: the deployed models (model/index.json), those opened from the user's disk
(marked local), and the two ways to open one (web/js/local_model.js reads the folder or .zip).

Browser-only. Loading a model stays the shell's (app.py switch_model): a local model goes through
the same checks as a deployed one, and a broken one leaves the model on screen as it was.
"""
import js

from page import element, make
from runtime import js_message
import state as url_state

JS = js.vitlensJS
LOCAL = "local:"  # local_model.js's prefix: `#model=local:<name>`
OPEN = {"open:folder": ("Open a model folder…", "model-folder-input"),
        "open:zip": ("Open a zipped model…", "model-zip-input")}


def is_local(name):
    return name.startswith(LOCAL)


def reload_forgot(name, default):
    return (f"The model {name!r} was opened from your disk, and a reload forgets it: open it again with "
            f"“{OPEN['open:folder'][0]}” (nothing is uploaded); showing {default!r}.")


class ModelPicker:
    def __init__(self, page, switch_model):
        self.page, self.switch_model = page, switch_model
        self.index = None  # manifest.ModelIndex, set by the shell
        self.local = {}  # "local:<name>" -> title, for the local models opened since the page loaded

    def bind(self):
        on = self.page.on
        on(element("model-picker"), "change", self.on_picked)
        for _, input_id in OPEN.values():
            on(element(input_id), "change", self.on_chosen)
        JS.localModels.install(self.page.proxy(lambda opening: self.page.schedule(self.open(opening))))

    def render(self, current):
        picker = element("model-picker")
        picker.replaceChildren()
        models = [(m.name, m.title) for m in self.index.models] + [
            (name, f"{title} (local)") for name, title in self.local.items()]
        if is_local(current) and current not in self.local:  # being opened: listed once it has loaded
            models.append((current, f"{self.page.manifest.title} (local)"))
        for name, title in models:
            option = make("option", text=title, value=name)
            option.selected = name == current
            picker.appendChild(option)
        group = make("optgroup", label="Your own model (nothing is uploaded)")
        for value, (text, _) in OPEN.items():
            group.appendChild(make("option", text=text, value=value))
        picker.appendChild(group)

    def on_picked(self, event, picker):
        """Runs during the change event: a file chooser opens only while the user's gesture lasts."""
        name = picker.value
        if name in OPEN:
            picker.value = self.page.state.model
            element(OPEN[name][1]).click()
        elif name != self.page.state.model:
            return self.switch_model(name, url_state.for_model(self.page.state, name), [])

    def on_chosen(self, event, chooser):
        opening = JS.localModels.openInput(chooser.files)  # takes the files before the chooser is reset
        chooser.value = ""  # the same folder can be chosen again
        return self.open(opening)

    async def open(self, opening):
        """A chosen or dropped folder: its manifest read in JavaScript, then loaded like any model."""
        current = self.page.state.model
        element("drop-zone").classList.remove("dragging")  # a model dropped on the image's drop zone
        try:
            name = await opening
        except Exception as error:
            self.page.notify([f"Could not open the model: {js_message(error)}; still showing {current!r}."],
                             error=True)
            return
        if await self.switch_model(name, url_state.for_model(self.page.state, name), []):
            self.local[name] = self.page.manifest.title
            JS.localModels.commit(name)
        else:
            JS.localModels.discard(name)
        self.render(self.page.state.model)
