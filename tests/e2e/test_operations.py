"""Operation views in the browser: each modal animates the model's real tensors."""
from __future__ import annotations

import json

import numpy as np

from export import fidelity
from export.default_model import NAME

from .conftest import WEB, wait_hash
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
    assert page.input_value("#detail-token") == "5"
    wait_hash(page, "token=5")


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


def open_modal(watched, site, fragment, button):
    watched.open(site, f"#model={NAME}&image=chelsea&view=detail&{fragment}")
    page = watched.page
    page.wait_for_function("document.getElementById('detail-canvas').dataset.tensor")
    page.click(button)
    page.locator("dialog#operation-dialog").wait_for()
    return page, fidelity.run_parts(MODEL, MANIFEST["stages"], page_tensor(page, "pixel_values"))


def close_cleanly(watched):
    watched.page.keyboard.press("Escape")
    watched.page.wait_for_selector("dialog#operation-dialog", state="detached")
    watched.assert_clean()


def test_patch_embedding_modal_recomputes_the_convolution(watched, site):
    page, values = open_modal(watched, site, "layer=1", "#open-patch")
    readout = page.locator("dialog#operation-dialog .readout")
    conv = values["embeddings.patch_conv"][0]  # (hidden, rows, cols)
    cols = MANIFEST["grid"][1]
    span = float(np.ptp(conv))
    for unit in (0, 17):
        if unit:
            page.fill("dialog#operation-dialog .operation-unit", str(unit))
            page.dispatch_event("dialog#operation-dialog .operation-unit", "change")
            page.wait_for_function(f"document.getElementById('operation-dialog').dataset.unit === '{unit}'")
        for patch in (0, 1, 2):
            assert readout.get_attribute("data-patch") == str(patch)
            expected = conv[unit, patch // cols, patch % cols]
            assert abs(float(readout.get_attribute("data-value")) - expected) <= 1e-4 * span
            assert abs(float(readout.get_attribute("data-model")) - expected) <= 1e-4 * span
            page.click("dialog#operation-dialog button[aria-label='Step forward']")
        page.fill("dialog#operation-dialog .operation-jump", "0")
        page.dispatch_event("dialog#operation-dialog .operation-jump", "change")
    page.fill("dialog#operation-dialog .operation-jump", "300")
    page.dispatch_event("dialog#operation-dialog .operation-jump", "change")
    assert "from 0 to 255" in page.inner_text("dialog#operation-dialog .operation-position")
    assert page.input_value("dialog#operation-dialog .operation-jump") == "0"
    close_cleanly(watched)


def test_attention_modal_recomputes_each_row(watched, site):
    page, values = open_modal(watched, site, "layer=6&token=40", "#open-attention")
    readout = page.locator("dialog#operation-dialog .readout")
    scores, probs = values["layer.5.attention.scores"][0], values["layer.5.attention.probs"][0]
    assert readout.get_attribute("data-token") == "40"
    for head in (0, 3):
        if head:
            page.select_option("dialog#operation-dialog select", str(head))
            page.wait_for_function(f"document.getElementById('operation-title').textContent.includes('head {head + 1}')")
            page.fill("dialog#operation-dialog .operation-jump", "40")
            page.dispatch_event("dialog#operation-dialog .operation-jump", "change")
        got = json.loads(readout.get_attribute("data-scores"))
        np.testing.assert_allclose(got, scores[head, 40, :8], atol=1e-4 * float(np.ptp(scores[head])))
        np.testing.assert_allclose(json.loads(readout.get_attribute("data-probs")), probs[head, 40, :8], atol=1e-5)
    box = page.locator("dialog#operation-dialog figure.heat canvas").bounding_box()
    tokens = MANIFEST["tokens"]
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # the first move after a <select> is lost
    for q, k in [(1, 1), (40, 100), (200, 7)]:
        inner = (box["width"] - 2) / tokens  # a 1-pixel border
        page.mouse.move(box["x"] + 1 + (k + 0.5) * inner, box["y"] + 1 + (q + 0.5) * inner)
        got_q, got_k = int(readout.get_attribute("data-query")), int(readout.get_attribute("data-key"))
        assert abs(got_q - q) <= 1 and abs(got_k - k) <= 1  # the browser rounds the mouse to whole pixels
        assert abs(float(readout.get_attribute("data-score")) - scores[3, got_q, got_k]) <= 1e-4 * float(np.ptp(scores[3]))
    close_cleanly(watched)


def test_layer_norm_modal_recomputes_every_feature(watched, site):
    page, values = open_modal(watched, site, "layer=3&token=12", "#open-layernorm")
    readout = page.locator("dialog#operation-dialog .readout")
    for choice, tensor in ((None, "layer.2.norm_before"), ("layer.2.norm_after", "layer.2.norm_after"),
                           ("final_norm", "final_norm")):
        if choice:
            page.select_option("dialog#operation-dialog select", choice)
            page.wait_for_function(f"document.querySelector('dialog#operation-dialog select').value === '{choice}'"
                                   " && document.querySelector('#operation-dialog .readout').textContent.includes("
                                   f"'{tensor}')")
        expected = values[tensor][0, 12]
        for feature in range(3):
            assert readout.get_attribute("data-feature") == str(feature)
            assert abs(float(readout.get_attribute("data-y")) - expected[feature]) <= 1e-4 * float(np.ptp(expected))
            assert abs(float(readout.get_attribute("data-model")) - expected[feature]) <= 1e-4 * float(np.ptp(expected))
            page.click("dialog#operation-dialog button[aria-label='Step forward']")
    close_cleanly(watched)
