"""The page's state as it lives in the URL fragment, so a reload or a shared link restores it.

Standard library only, shared by the page and the CPython tests. Numbers in the URL are the
ones a user reads on screen: blocks count from 1, tokens from 0 (0 is CLS).
"""
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, urlencode

import tensor_names as names

VIEWS = ("tour", "overview", "graph", "detail", "interpretation")
TOUR_STEPS = 10  # tour.STEPS; the URL's `tour` is 1-based
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


def parse(fragment):
    """State from '#model=...&layer=3'; returns (state, problems) where problems explain what was ignored."""
    problems = []
    values = {}
    for key, value in parse_qsl(fragment.lstrip("#"), keep_blank_values=True):
        if key in ("model", "image", "tensor"):
            values[key] = value
        elif key == "view":
            if value in VIEWS:
                values[key] = value
            else:
                problems.append(f"unknown view {value!r}; showing the overview")
        elif key in ("layer", "token", "tour"):
            try:
                values["step" if key == "tour" else key] = int(value)
            except ValueError:
                problems.append(f"{key} {value!r} is not a whole number")
    if "step" in values and "view" not in values:  # '#tour=4' alone opens the tour at step 4
        values["view"] = "tour"
    if not 1 <= values.get("step", 1) <= TOUR_STEPS:
        problems.append(f"the tour has no step {values['step']}; starting at step 1")
        values["step"] = 1
    return State(**values), problems


def for_model(state, model):
    """The state to open another model with: the image and the view stay; the block, token and tensor
    were the previous model's, so they go back to their defaults instead of being reported as out of range."""
    return State(model=model, image=state.image, view=state.view, step=state.step)


def names_layer(fragment):
    """Whether a URL chose the block (layer=...), rather than leaving it to each view's default."""
    return any(key == "layer" for key, _ in parse_qsl(fragment.lstrip("#"), keep_blank_values=True))


def serialize(state):
    return "#" + urlencode([("model", state.model), ("image", state.image), ("view", state.view),
                            ("layer", state.layer), ("token", state.token)]
                           + ([("tensor", state.tensor)] if state.tensor else [])
                           + ([("tour", state.step)] if state.view == "tour" else []), safe=":")  # local:<name>


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
    return replace(state, **changes), problems


def replace_fields(state, **changes):
    if "view" in changes and changes["view"] not in VIEWS:
        raise ValueError(f"unknown view {changes['view']!r}")
    return replace(state, **changes)
