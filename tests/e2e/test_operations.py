"""Operation views in the browser: each modal animates the model's real tensors."""
from __future__ import annotations

import json

import numpy as np

from export import fidelity
from export.default_model import NAME

from .conftest import WEB
from .test_page import page_tensor

MODEL = WEB / "model" / NAME
MANIFEST = json.loads((MODEL / "manifest.json").read_text())


def test_gelu_modal_steps_through_the_real_hidden_units(watched, site):
    watched.open(site, f"#model={NAME}&image=chelsea&view=detail&layer=4&token=21")
    page = watched.page
    page.wait_for_function("document.getElementById('detail-canvas').dataset.tensor === 'layer.3.output'")
    page.click("#open-gelu")
    dialog = page.locator("dialog#operation-dialog")
    dialog.wait_for()
    assert "block 4" in page.inner_text("#operation-title") and "token 21" in page.inner_text("#operation-title")
    assert page.locator("dialog#operation-dialog .gelu-points circle").count() == 1
    values = fidelity.run_parts(MODEL, MANIFEST["stages"], page_tensor(page, "pixel_values"))
    pre, post = values["layer.3.mlp.pre_act"][0, 21], values["layer.3.mlp.post_act"][0, 21]
    readout = page.locator("dialog#operation-dialog .readout")
    for unit in range(4):
        assert int(readout.get_attribute("data-unit")) == unit
        assert abs(float(readout.get_attribute("data-x")) - pre[unit]) <= 1e-4 * float(np.ptp(pre))
        assert abs(float(readout.get_attribute("data-y")) - post[unit]) <= 1e-4 * float(np.ptp(post))
        page.keyboard.press("ArrowRight")
    page.click("dialog#operation-dialog button[aria-label='Step forward']")
    assert dialog.get_attribute("data-step") == "5"
    page.click("dialog#operation-dialog button[aria-label='Play']")
    page.wait_for_function("Number(document.getElementById('operation-dialog').dataset.step) > 20")
    page.click("dialog#operation-dialog button[aria-label='Pause']")
    assert page.locator("dialog#operation-dialog .gelu-points circle").count() > 20
    page.keyboard.press("Escape")
    page.wait_for_selector("dialog#operation-dialog", state="detached")
    watched.assert_clean()


def test_a_bad_token_is_explained_and_kept(watched, site):
    watched.open(site, f"#model={NAME}&image=chelsea&view=detail&token=5")
    page = watched.page
    page.fill("#detail-token", "9999")
    page.dispatch_event("#detail-token", "change")
    page.wait_for_selector("#message.error")
    assert "not in 0..256" in page.inner_text("#message")
    assert page.input_value("#detail-token") == "5" and "token=5" in page.evaluate("location.hash")


def test_position_embedding_modal_shows_real_similarities(watched, site):
    watched.open(site, f"#model={NAME}&image=chelsea&view=detail")
    page = watched.page
    page.wait_for_function("document.getElementById('detail-canvas').dataset.tensor === 'layer.0.output'")
    page.click("#open-positions")
    page.locator("dialog#operation-dialog canvas.position-map").wait_for()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    readout = page.locator("dialog#operation-dialog .readout")
    assert readout.get_attribute("data-patch") == "2"
    values = fidelity.run_parts(MODEL, MANIFEST["stages"], page_tensor(page, "pixel_values"))
    position = values["embeddings.position"][0, len(MANIFEST["special_tokens"]):].astype(np.float64)
    unit = position / np.linalg.norm(position, axis=1, keepdims=True)
    box = page.locator("dialog#operation-dialog canvas.position-map").bounding_box()
    rows, cols = MANIFEST["grid"]
    for r, c in [(0, 2), (5, 9), (15, 15)]:
        page.mouse.move(box["x"] + (c + 0.5) * box["width"] / cols, box["y"] + (r + 0.5) * box["height"] / rows)
        assert readout.get_attribute("data-other") == str(r * cols + c)
        assert abs(float(readout.get_attribute("data-value")) - unit[2] @ unit[r * cols + c]) <= 1e-4
    page.keyboard.press("Escape")
    page.wait_for_selector("dialog#operation-dialog", state="detached")
    watched.assert_clean()
