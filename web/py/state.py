"""The page's state as it lives in the URL fragment, so a reload or a shared link restores it.

Standard library only, shared by the page and the CPython tests. Numbers in the URL are the
ones a user reads on screen: blocks and heads count from 1, tokens from 0 (0 is CLS). The views'
own choices are written only when they differ from their defaults, so a plain link stays short.
"""
from dataclasses import dataclass, fields, replace
from urllib.parse import parse_qsl, urlencode

import detail
import edits
import interpret
import tensor_names as names

VIEWS = ("tour", "overview", "graph", "detail", "interpretation", "whatif")
TOUR_STEPS = 11  # tour.STEPS; the URL's `tour` is 1-based
UPLOAD = "upload"  # an image the user brought: never stored, so not restorable


@dataclass(frozen=True)
class State:
    model: str = ""
    image: str = ""
    view: str = "overview"
    layer: int = 1
    token: int = 0
    tensor: str = ""  # an exposed tensor's name, where Model detail should open
    step: int = 1  # the tour's step, in the URL as tour=N while the tour is shown
    mode: str = detail.MODES[0]  # Model detail's normalisation
    kind: str = interpret.KINDS[0]  # the Interpretation view's map
    block: int | None = None  # the Interpretation view's block, 0 = the embeddings; None: not chosen (the last)
    head: str = names.FUSIONS[0]  # its attention: a fusion of the heads, or one head ("1".."heads")
    fusion: str = names.FUSIONS[0]  # its rollout's fusion of the heads
    opacity: float = 0.7  # its maps' opacity over the image
    chosen: str = ""  # its relevance's class (a label; "" is the predicted class), class= in the URL
    versus: str = ""  # the class it is compared with ("A versus B"); "" for the class alone
    remove: str = ""  # a what-if edit (web/py/edits.py): patches left out, "12-15,40"
    replace: str = ""  # patches whose pixels are replaced
    fill: str = "mean"  # by what: mean, blur or sample:<id>
    knock: str = ""  # heads knocked out, "3.2,5.1"


CHOICES = {"view": VIEWS, "mode": detail.MODES, "kind": interpret.KINDS, "fusion": names.FUSIONS}
DEFAULTS = State()


def parse(fragment):
    """State from '#model=...&layer=3'; returns (state, problems) where problems explain what was ignored."""
    problems = []
    values = {}
    for key, value in parse_qsl(fragment.lstrip("#"), keep_blank_values=True):
        if key in ("model", "image", "tensor", "versus", "remove", "replace", "fill", "knock"):
            values[key] = value
        elif key == "class":
            values["chosen"] = value
        elif key in CHOICES:
            if value in CHOICES[key]:
                values[key] = value
            else:
                default = "the overview" if key == "view" else repr(getattr(DEFAULTS, key))
                problems.append(f"unknown {key} {value!r}; showing {default}")
        elif key == "head":
            if value in names.FUSIONS or value.isdigit():
                values[key] = value
            else:
                problems.append(f"head {value!r} is neither a head's number nor one of {', '.join(names.FUSIONS)}")
        elif key == "opacity":
            try:
                values[key] = float(value)
            except ValueError:
                problems.append(f"opacity {value!r} is not a number")
            else:
                if not 0 <= values[key] <= 1:
                    problems.append(f"opacity {value} is outside 0..1; using {DEFAULTS.opacity}")
                    del values[key]
        elif key in ("layer", "token", "tour", "block"):
            try:
                values["step" if key == "tour" else key] = int(value)
            except ValueError:
                problems.append(f"{key} {value!r} is not a whole number")
    if "step" in values and "view" not in values:  # '#tour=4' alone opens the tour at step 4
        values["view"] = "tour"
    if values.get("view") == "interpretation" and "layer" in values and "block" not in values:
        values["block"] = values["layer"]  # the view's block is written as layer= when Model detail's is the same
    if not 1 <= values.get("step", 1) <= TOUR_STEPS:
        problems.append(f"the tour has no step {values['step']}; starting at step 1")
        values["step"] = 1
    return State(**values), problems


def for_model(state, model):
    """The state to open another model with: the image, the view and the kinds of map stay; the block,
    head, token, tensor and what-if edit were the previous model's, so they go back to their defaults
    instead of being reported as out of range."""
    return State(model=model, image=state.image, view=state.view, step=state.step, mode=state.mode,
                 kind=state.kind, fusion=state.fusion, opacity=state.opacity)  # another model, other classes


def serialize(state):
    chosen = [("class" if f.name == "chosen" else f.name, getattr(state, f.name)) for f in fields(State)
              if f.name in ("mode", "kind", "head", "fusion", "opacity", "chosen", "versus", "remove", "replace", "knock")
              and getattr(state, f.name) != f.default]
    if state.replace and state.fill != DEFAULTS.fill:
        chosen.append(("fill", state.fill))
    return "#" + urlencode([("model", state.model), ("image", state.image), ("view", state.view),
                            ("layer", state.layer), ("token", state.token)]
                           + ([("tensor", state.tensor)] if state.tensor else [])
                           + [(key, f"{value:g}" if key == "opacity" else value) for key, value in chosen]
                           + ([("block", state.block)] if state.block not in (None, state.layer) else [])
                           + ([("tour", state.step)] if state.view == "tour" else []), safe=":,")  # local:<name>


def validate(state, manifest, sample_ids):
    """Fit a state to a model (manifest.Manifest): anything out of range falls back, with a message saying so."""
    problems = []
    changes = {}
    if state.image not in sample_ids:
        if state.image == UPLOAD:
            problems.append("uploaded images are not kept; showing a sample image instead")
        elif state.image:
            problems.append(f"there is no sample image {state.image!r}; showing the first one")
        changes["image"] = sample_ids[0]
    if state.tensor and state.tensor not in {t.name for t in manifest.tensors} | {names.ENCODER_OUTPUTS}:
        problems.append(f"this model has no tensor {state.tensor!r}")
        changes["tensor"] = ""
    for key, top, first in (("layer", manifest.num_layers, 1), ("token", manifest.tokens - 1, 0)):
        value = getattr(state, key)
        if not first <= value <= top:
            problems.append(f"{key} {value} is out of range {first}..{top}; using {first}")
            changes[key] = first
    if state.block is not None and not 0 <= state.block <= manifest.num_layers:
        problems.append(f"block {state.block} is out of range 0..{manifest.num_layers}; using the last block")
        changes["block"] = None
    if state.head.isdigit() and not 1 <= int(state.head) <= manifest.num_heads:
        problems.append(f"head {state.head} is out of range 1..{manifest.num_heads}; using the {DEFAULTS.head} of all heads")
        changes["head"] = DEFAULTS.head
    labels = list(manifest.labels)
    for key, name in (("chosen", "class"), ("versus", "versus")):
        value = getattr(state, key)
        if value and value not in labels:
            problems.append(f"{name} {value!r} is not one of the model's classes ({', '.join(labels)}); "
                            + ("using the predicted class" if key == "chosen" else "showing the class alone"))
            changes[key] = ""
    if state.versus and state.versus == state.chosen and "versus" not in changes:
        problems.append(f"class {state.chosen!r} cannot be compared with itself; showing it alone")
        changes["versus"] = ""
    try:
        edit = edits.make(manifest, state.remove, state.replace, state.fill, state.knock, sample_ids)
    except edits.EditError as error:
        problems.append(f"the link's what-if edit is not used: {error}")
        changes.update(remove="", replace="", fill=DEFAULTS.fill, knock="")
    else:
        changes.update(edit_fields(edit))
    return replace(state, **changes), problems


def edit_fields(edit):
    """An edits.Edit as the state's fields, in their compact form."""
    return {"remove": edits.patch_list(edit.removed), "replace": edits.patch_list(edit.replaced),
            "fill": edit.fill, "knock": edits.knockout_list(edit.knocked)}


def edit_of(state, manifest, sample_ids):
    """The state's what-if edit (edits.Edit); validate() has checked it."""
    return edits.make(manifest, state.remove, state.replace, state.fill, state.knock, sample_ids)


def replace_fields(state, **changes):
    for key, allowed in CHOICES.items():
        if key in changes and changes[key] not in allowed:
            raise ValueError(f"unknown {key} {changes[key]!r}")
    return replace(state, **changes)
