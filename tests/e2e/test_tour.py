"""The guided tour: every step's numbers equal numpy's on the same tensors; Back / Next by mouse and
keyboard, the step in the URL, Escape, and a new image mid-tour."""
from __future__ import annotations

import json

import numpy as np

from export import analysis, fidelity, relevance
from export.default_model import NAME
from export.shared import edits, names

from .conftest import WEB, wait_hash
from .test_page import page_tensor

MODEL = WEB / "model" / NAME
MANIFEST = json.loads((MODEL / "manifest.json").read_text())
SPECIAL = len(MANIFEST["special_tokens"])
LAYERS = MANIFEST["num_layers"]
KEYS = ["image", "patches", "embedding", "positions", "attention", "residual", "depth", "decision", "takeaway", "try",
        "next"]
START = f"#model={NAME}&image=chelsea&view=tour"


def parameter(name):
    entry = next(e for e in MANIFEST["parameters"]["entries"] if e["name"] == name)
    count = int(np.prod(entry["shape"]))
    data = np.fromfile(MODEL / MANIFEST["parameters"]["file"], np.float32, count, offset=entry["offset"])
    return data.reshape(entry["shape"])


def reference(page):
    """The exposed tensors and analysis outputs of the image on screen, computed by CPython."""
    values = fidelity.run_parts(MODEL, MANIFEST["stages"], page_tensor(page, names.PIXELS))
    values.update(analysis.run(MODEL / MANIFEST["analysis"]["file"], values))
    return values


def at_step(page, number):
    """Wait for step `number` drawn for the current image; its patch and numbers."""
    page.wait_for_function(
        "(() => { const s = document.getElementById('tour-step'); return s.dataset.step === "
        f"'{KEYS[number - 1]}' && s.dataset.classified === document.body.dataset.classified; }})()")
    wait_hash(page, f"tour={number}")
    assert page.text_content("#tour-position") == f"Step {number} of {len(KEYS)}"
    panel = page.locator("#tour-step")
    return int(panel.get_attribute("data-patch")), json.loads(panel.get_attribute("data-numbers"))


def check(number, numbers, patch, ref):
    """One step's numbers against numpy on the reference tensors."""
    token = patch + SPECIAL
    row, col = divmod(patch, MANIFEST["grid"][1])
    if KEYS[number - 1] == "embedding":
        conv = ref[names.PATCH_CONV][0]
        p = MANIFEST["patch_size"]
        pixels = ref[names.PIXELS][0][:, row * p:(row + 1) * p, col * p:(col + 1) * p]
        kernel, bias = parameter(names.PATCH_KERNEL), parameter(names.PATCH_BIAS)
        for u, total, b, y, model in numbers["units"]:
            assert abs(total - float((kernel[u] * pixels).sum())) < 1e-4 and b == bias[u]
            assert abs(model - conv[u, row, col]) < 1e-4 and abs(y - model) < 1e-3
        np.testing.assert_allclose(numbers["vector"], conv[:, row, col], atol=1e-4)
    elif KEYS[number - 1] == "positions":
        position = ref[names.POSITION][0][SPECIAL:].astype(np.float64)
        unit = position / np.linalg.norm(position, axis=1, keepdims=True)
        np.testing.assert_allclose(numbers["similarity"], unit @ unit[patch], atol=1e-4)
    elif KEYS[number - 1] == "attention":
        for key, block in (("first", 0), ("last", LAYERS - 1)):
            probs = ref[names.in_block(block, "attention.probs")][0, 0, token]
            np.testing.assert_allclose(numbers[key]["map"], probs[SPECIAL:], atol=1e-5)
            assert numbers[key]["top"][0][0] == int(np.argmax(probs[SPECIAL:]))
            assert abs(numbers[key]["cls"] - probs[0]) < 1e-5
    elif KEYS[number - 1] == "residual":
        states = [ref[names.block_input(i)][0] for i in range(LAYERS)] + [ref[names.in_block(LAYERS - 1, "output")][0]]
        np.testing.assert_allclose(numbers["norms"], [np.linalg.norm(s[token]) for s in states], rtol=1e-4)
    elif KEYS[number - 1] == "depth":
        np.testing.assert_allclose(numbers["maps"], ref[names.analysis("similarity")][1:, 0, SPECIAL:], atol=1e-4)
    elif KEYS[number - 1] == "decision":
        lens = ref[names.analysis("lens")][:, 0]
        assert [c for c, _ in numbers["lens"]] == np.argmax(lens, 1).tolist()
        assert numbers["top"][0][0] == int(np.argmax(ref[names.LOGITS][0]))
    elif KEYS[number - 1] == "takeaway":  # the quarter relevance ranks highest, and the chain without them
        top = int(np.argmax(ref[names.LOGITS][0]))
        target = relevance.target(len(MANIFEST["labels"]), top)
        row = relevance.run(MODEL / MANIFEST["relevance"]["file"], ref[names.EMBEDDINGS_OUTPUT], target)[names.RELEVANCE]
        removed = sorted(edits.order_of(list(row[SPECIAL:]))[:MANIFEST["num_patches"] // 4])
        assert numbers["removed"] == removed and numbers["before"][0] == top
        kept = edits.Edit(removed=tuple(removed)).kept_tokens(SPECIAL, MANIFEST["num_patches"])
        after = fidelity.Chain(MODEL, MANIFEST["stages"]).run(hidden=ref[names.EMBEDDINGS_OUTPUT], kept=kept)
        now = int(np.argmax(after[names.PROBABILITIES][0]))
        assert numbers["after"][0] == now and abs(numbers["after"][1] - after[names.PROBABILITIES][0][now]) < 1e-5
    elif KEYS[number - 1] == "next":
        assert numbers["token"] == token


def test_every_step_forward_by_mouse_and_back_by_keyboard_equals_cpython(watched, site):
    watched.open(site, START)
    page = watched.page
    patch, _ = at_step(page, 1)
    rows, cols = MANIFEST["grid"]
    assert patch == (rows // 2) * cols + cols // 2  # the centre, where a photo's subject usually is
    wait_hash(page, f"token={patch + SPECIAL}")
    ref = reference(page)
    for number in range(1, len(KEYS) + 1):
        patch, numbers = at_step(page, number)
        check(number, numbers, patch, ref)
        text = page.text_content("#tour-text")
        assert 20 < len(text.split()) <= 90, text
        if KEYS[number - 1] == "embedding":  # "see it animated" opens the operation view at this patch
            page.click("#tour-visual [data-action='animate:patch']")
            page.wait_for_function(f"document.querySelector('dialog[open]')?.dataset.step === '{patch}'")
            page.keyboard.press("Escape")
            page.wait_for_function("!document.querySelector('dialog[open]')")
            wait_hash(page, "view=tour")  # Escape closed the dialog, not the tour
        if number < len(KEYS):
            page.click("#tour-next")
    assert page.is_disabled("#tour-next")
    page.locator("#tour-title").click()  # focus on the page, not a button: arrows move the tour
    for number in range(len(KEYS) - 1, 0, -1):
        page.keyboard.press("ArrowLeft")
        at_step(page, number)
    assert page.is_disabled("#tour-back")
    page.keyboard.press("End")
    at_step(page, len(KEYS))
    watched.assert_clean()


def test_a_step_survives_a_reload_a_patch_is_picked_and_escape_leaves(watched, site):
    watched.open(site, f"#model={NAME}&image=chelsea&tour=2")
    page = watched.page
    at_step(page, 2)
    box = page.locator("#tour-visual canvas").bounding_box()
    rows, cols = MANIFEST["grid"]
    page.mouse.click(box["x"] + 3.5 * box["width"] / cols, box["y"] + 2.5 * box["height"] / rows)
    page.wait_for_function(f"document.getElementById('tour-step').dataset.patch === '{2 * cols + 3}'")
    wait_hash(page, f"token={2 * cols + 3 + SPECIAL}")
    page.click("#tour-dots [data-step='4']")
    at_step(page, 4)
    page.reload()
    watched.wait_ready()
    patch, _ = at_step(page, 4)
    assert patch == 2 * cols + 3
    page.keyboard.press("Escape")
    page.wait_for_function("!document.querySelector('[data-view=\"overview\"]').hidden")
    assert page.is_hidden("[data-view='tour']")
    wait_hash(page, "view=overview")
    page.click("#take-tour")
    at_step(page, 1)
    watched.assert_clean()


def test_a_new_image_mid_tour_keeps_the_step_and_recomputes_it(watched, site):
    watched.open(site, f"{START}&tour=5")
    page = watched.page
    patch, before = at_step(page, 5)
    page.click("#gallery .thumb[data-sample='rocket']")
    page.wait_for_function("location.hash.includes('image=rocket')")
    watched.wait_ready()
    same, after = at_step(page, 5)
    assert same == patch and after != before
    check(5, after, patch, reference(page))
    page.click("#tour-dots [data-step='10']")  # the tour's own gallery classifies too
    at_step(page, 10)
    page.click("#tour-visual [data-action='sample:chelsea']")
    page.wait_for_function("location.hash.includes('image=chelsea')")
    watched.wait_ready()
    at_step(page, 10)
    page.click("#tour-dots [data-step='11']")
    at_step(page, 11)
    page.click("#tour-visual [data-action='view:interpretation']")
    page.wait_for_function("!document.querySelector('[data-view=\"interpretation\"]').hidden")
    page.wait_for_function(f"document.getElementById('interp-canvas').dataset.token === '{patch + SPECIAL}'")
    assert page.input_value("#interp-token") == str(patch + SPECIAL)
    watched.assert_clean()
