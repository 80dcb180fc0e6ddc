"""Interpretation view: every map equals the CPython computation for the same image."""
from __future__ import annotations

import json

import numpy as np

from export import analysis, fidelity
from export.default_model import NAME
from export.shared import names

from .conftest import ROOT, WEB, wait_hash
from .test_page import page_tensor

MODEL = WEB / "model" / NAME
MANIFEST = json.loads((MODEL / "manifest.json").read_text())
SPECIAL = len(MANIFEST["special_tokens"])
MASK = [line for line in (ROOT / "tests" / "data" / "chelsea_mask.txt").read_text().splitlines()
        if not line.startswith("#")]


def reference(page):
    values = fidelity.run_parts(MODEL, MANIFEST["stages"], page_tensor(page, "pixel_values"))
    values.update(analysis.run(MODEL / MANIFEST["analysis"]["file"], values))
    return values


def shown(page, kind, block, token):
    page.wait_for_function(
        "(() => { const c = document.getElementById('interp-canvas'); return c.dataset.kind === "
        f"'{kind}' && c.dataset.block === '{block}' && c.dataset.token === '{token}'; }})()")
    return np.array(json.loads(page.get_attribute("#interp-canvas", "data-values")))


def choose(page, selector, value):
    page.select_option(selector, value)


def test_similarity_maps_equal_cpython_and_the_cat_stands_out(watched, site):
    watched.open(site, f"#model={NAME}&image=chelsea&view=interpretation")
    page = watched.page
    last = MANIFEST["num_layers"]
    got = shown(page, "similarity", last, 0)
    ref = reference(page)
    np.testing.assert_allclose(got, ref["analysis.similarity"][last, 0, SPECIAL:], atol=1e-5)
    unit = ref[names.in_block(last - 1, "output")][0].astype(np.float64)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    np.testing.assert_allclose(got, unit[SPECIAL:] @ unit[0], atol=1e-4)

    mask = np.array([list(row) for row in MASK]).ravel()
    cat, background = got[mask == "c"].mean(), got[mask == "b"].mean()
    assert cat > background, (cat, background)

    assert page.locator("#interp-multiples figure").count() == last + 1
    box = page.locator("#interp-canvas").bounding_box()
    rows, cols = MANIFEST["grid"]
    page.mouse.move(box["x"] + 5.5 * box["width"] / cols, box["y"] + 3.5 * box["height"] / rows)
    readout = page.locator("#interp-readout")
    assert readout.get_attribute("data-patch") == str(3 * cols + 5)
    assert abs(float(readout.get_attribute("data-value")) - got[3 * cols + 5]) < 1e-9

    page.mouse.click(box["x"] + 7.5 * box["width"] / cols, box["y"] + 2.5 * box["height"] / rows)
    token = SPECIAL + 2 * cols + 7
    got = shown(page, "similarity", last, token)
    np.testing.assert_allclose(got, ref["analysis.similarity"][last, token, SPECIAL:], atol=1e-5)
    wait_hash(page, f"token={token}")

    page.click("#interp-multiples figure[data-block='3']")
    got = shown(page, "similarity", 3, token)
    np.testing.assert_allclose(got, ref["analysis.similarity"][3, token, SPECIAL:], atol=1e-5)
    watched.assert_clean()


def test_attention_rollout_lens_and_norms_equal_cpython(watched, site):
    watched.open(site, f"#model={NAME}&image=chelsea&view=interpretation&token=40")
    page = watched.page
    shown(page, "similarity", MANIFEST["num_layers"], 40)
    ref = reference(page)
    choose(page, "#interp-block", "6")
    shown(page, "similarity", 6, 40)

    choose(page, "#interp-kind", "attention")
    choose(page, "#interp-head", "2")
    page.wait_for_timeout(300)
    got = shown(page, "attention", 6, 40)
    np.testing.assert_allclose(got, ref["layer.5.attention.probs"][0, 2, 40, SPECIAL:], atol=1e-6)
    assert page.locator("#interp-heads figure").count() == MANIFEST["num_heads"]
    assert page.get_attribute("#interp-heads figure[data-block='2']", "aria-current") == "true"
    page.click("#interp-heads figure[data-block='4']")  # every head of the block; click one to choose it
    page.wait_for_function("document.getElementById('interp-head').value === '4'")
    page.wait_for_timeout(300)
    got = shown(page, "attention", 6, 40)
    np.testing.assert_allclose(got, ref["layer.5.attention.probs"][0, 4, 40, SPECIAL:], atol=1e-6)
    choose(page, "#interp-head", "max")
    page.wait_for_timeout(300)
    got = shown(page, "attention", 6, 40)
    np.testing.assert_allclose(got, ref["layer.5.attention.probs"][0, :, 40, SPECIAL:].max(0), atol=1e-6)

    choose(page, "#interp-kind", "rollout")
    choose(page, "#interp-fusion", "min")
    page.wait_for_timeout(300)
    got = shown(page, "rollout", 6, 40)
    np.testing.assert_allclose(got, ref["analysis.rollout.min"][5, 40, SPECIAL:], atol=1e-6)

    choose(page, "#interp-kind", "lens")
    got = shown(page, "lens", 6, 40)
    lens = ref["analysis.lens"][6, SPECIAL:]
    np.testing.assert_allclose(got, lens.max(1), atol=1e-4)  # WebAssembly and native float sums differ slightly
    assert json.loads(page.get_attribute("#interp-canvas", "data-classes")) == lens.argmax(1).tolist()

    choose(page, "#interp-kind", "norms")
    got = shown(page, "norms", 6, 40)
    np.testing.assert_allclose(got, np.linalg.norm(ref["layer.5.output"][0, SPECIAL:], axis=1), rtol=1e-4)
    watched.assert_clean()


def test_a_bad_token_is_explained_and_the_map_kept(watched, site):
    watched.open(site, f"#model={NAME}&image=chelsea&view=interpretation&token=7")
    page = watched.page
    before = shown(page, "similarity", MANIFEST["num_layers"], 7)
    for bad in ("-1", "9999", "", "abc"):  # a number field turns 'abc' into '', as when typed
        page.eval_on_selector("#interp-token", "(field, v) => { field.value = v; "
                              "field.dispatchEvent(new Event('change')); }", bad)
        page.wait_for_selector("#message.error")
        assert "not in 0..256" in page.inner_text("#message")
        assert page.input_value("#interp-token") == "7"
    np.testing.assert_array_equal(shown(page, "similarity", MANIFEST["num_layers"], 7), before)


def test_a_shared_link_restores_the_views_choices(watched, site):
    """Kind, head, fusion, opacity and block (the embeddings too) of Interpretation, and Model detail's
    normalisation, come back from the URL, and every change goes into it."""
    watched.open(site, f"#model={NAME}&image=chelsea&view=interpretation&kind=attention&head=3&opacity=0.45"
                       "&layer=4&token=40")
    page = watched.page
    ref = reference(page)
    got = shown(page, "attention", 4, 40)
    np.testing.assert_allclose(got, ref["layer.3.attention.probs"][0, 2, 40, SPECIAL:], atol=1e-6)
    assert (page.input_value("#interp-head"), page.input_value("#interp-opacity")) == ("2", "0.45")
    choose(page, "#interp-kind", "similarity")
    choose(page, "#interp-block", "0")  # the embeddings: Model detail keeps its block
    shown(page, "similarity", 0, 40)
    wait_hash(page, "block=0", "layer=4", "head=3", "opacity=0.45")
    choose(page, "#interp-kind", "rollout")  # exists per block only: block 1
    choose(page, "#interp-fusion", "max")
    shown(page, "rollout", 1, 40)
    wait_hash(page, "kind=rollout", "fusion=max", "layer=1")
    page.goto("about:blank")  # a new load, not a change of fragment
    watched.open(site, f"#model={NAME}&image=chelsea&view=detail&mode=robust")
    page.wait_for_function("document.getElementById('detail-canvas').dataset.tensor")
    assert page.input_value("#detail-mode") == "robust"
    ends = page.eval_on_selector_all("#detail-legend .legend-end", "es => es.map(e => e.textContent)")
    assert float(ends[0]) < float(ends[1])  # the percentiles, not "each map's minimum"
    watched.assert_clean()
