"""Class relevance in the page: its maps equal relevance.onnx run natively on the page's own tensors,
another class or "A versus B" gives another map, and an older export says why it has none."""
from __future__ import annotations

import json

import numpy as np

from export import fidelity, relevance
from export.default_model import NAME
from export.shared import names

from .conftest import WEB, Watched, replace, wait_hash
from .test_page import page_tensor

MODEL = WEB / "model" / NAME
MANIFEST = json.loads((MODEL / "manifest.json").read_text())
SPECIAL = len(MANIFEST["special_tokens"])
LABELS = MANIFEST["labels"]


def shown(page, target):
    page.wait_for_function("(t) => { const c = document.getElementById('interp-canvas'); "
                           "return c.dataset.kind === 'relevance' && c.dataset.target === t; }", arg=target)
    return np.array(json.loads(page.get_attribute("#interp-canvas", "data-values")))


def native(page, chosen, versus=None):
    """relevance.onnx in CPython's onnxruntime on the page's own embeddings output."""
    vector = relevance.target(len(LABELS), LABELS.index(chosen), None if versus is None else LABELS.index(versus))
    return relevance.run(MODEL / MANIFEST["relevance"]["file"], page_tensor(page, names.EMBEDDINGS_OUTPUT), vector)


def test_relevance_equals_native_for_the_predicted_class_another_and_a_versus_b(watched, site):
    watched.open(site, f"#model={NAME}&image=chelsea&view=interpretation&kind=relevance")
    page = watched.page
    got = shown(page, "cat")
    want = native(page, "cat")
    assert fidelity.relative_diff(want[names.RELEVANCE][SPECIAL:], got) <= 1e-4
    blocks = page.eval_on_selector_all("#interp-multiples figure", "fs => fs.map(f => f.dataset.block)")
    assert blocks == [str(b) for b in range(1, MANIFEST["num_layers"] + 1)]

    page.select_option("#interp-class", "dog")
    dog = shown(page, "dog")
    assert fidelity.relative_diff(native(page, "dog")[names.RELEVANCE][SPECIAL:], dog) <= 1e-4
    assert not np.allclose(dog / dog.max(), got / got.max(), atol=1e-3)  # another class, another map
    page.select_option("#interp-versus", "cat")
    versus = shown(page, "dog versus cat")
    assert fidelity.relative_diff(native(page, "dog", "cat")[names.RELEVANCE][SPECIAL:], versus) <= 1e-4
    wait_hash(page, "kind=relevance", "class=dog", "versus=cat")
    assert "against cat" in page.inner_text("#interp-side")

    box = page.locator("#interp-canvas").bounding_box()
    rows, cols = MANIFEST["grid"]
    page.mouse.move(box["x"] + 4.5 * box["width"] / cols, box["y"] + 6.5 * box["height"] / rows)
    readout = page.locator("#interp-readout")
    patch = 6 * cols + 4
    page.wait_for_function(f"document.getElementById('interp-readout').dataset.patch === '{patch}'")
    share = versus[patch] / versus.sum()
    assert f"{100 * share:.1f}% of all the patches' relevance" in readout.inner_text()
    assert "Chefer" in page.text_content("#interp-about-text")  # "About this map", folded
    watched.assert_clean()


def test_an_unknown_class_in_a_link_names_the_classes(watched, site):
    watched.open(site, f"#model={NAME}&image=chelsea&view=interpretation&kind=relevance&class=wolf")
    page = watched.page
    shown(page, "cat")
    message = page.inner_text("#message")
    assert "class 'wolf' is not one of the model's classes (" + ", ".join(LABELS) + ")" in message
    watched.assert_clean()


def test_an_export_without_relevance_says_how_to_get_it_and_keeps_the_rest(browser, copied_site):
    root, url = copied_site
    manifest_path = root / "model" / NAME / "manifest.json"
    older = json.loads(manifest_path.read_text())
    del older["relevance"]
    replace(manifest_path, json.dumps(older).encode())
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watched = Watched(context.new_page(), url.rstrip("/"))
    watched.open(url, f"#model={NAME}&image=chelsea&view=interpretation")
    page = watched.page
    page.wait_for_function("document.getElementById('interp-canvas').dataset.kind === 'similarity'")
    before = page.get_attribute("#interp-canvas", "data-values")
    page.select_option("#interp-kind", "relevance")
    page.wait_for_function("document.getElementById('interp-meaning').textContent.includes('unavailable')")
    meaning = page.inner_text("#interp-meaning")
    assert "exported before class relevance" in meaning and "vit-lens export" in meaning
    assert page.get_attribute("#interp-canvas", "data-values") == before  # the map on screen stays
    page.select_option("#interp-kind", "rollout")
    page.wait_for_function("document.getElementById('interp-canvas').dataset.kind === 'rollout'")
    watched.assert_clean()
    context.close()


def test_an_uploaded_photo_has_the_relevance_vit_lens_explain_computes(watched, site, tmp_path):
    from PIL import Image
    from skimage import data

    from vit_lens import explain, viridis
    photo = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()).resize((300, 200)).save(photo)
    watched.open(site, f"#model={NAME}&image=chelsea&view=interpretation&kind=relevance")
    page = watched.page
    shown(page, "cat")
    before = page.evaluate("Number(document.body.dataset.classified)")
    page.set_input_files("#file-input", str(photo))
    page.wait_for_function(f"Number(document.body.dataset.classified) > {before}")
    maps = {}
    for chosen in (None, "cat"):
        native = explain.explain(NAME, photo, "relevance", chosen=chosen)
        if chosen:
            page.select_option("#interp-class", chosen)
        got = shown(page, native["asked"]["class"])
        assert fidelity.relative_diff(np.array(native["map"]), got) <= 1e-4
        maps[native["asked"]["class"]] = got
    assert len(maps) == 2  # the coffee is no cat: the predicted class and "cat" are two maps
    predicted, cat = maps.values()
    assert not np.allclose(predicted, cat, rtol=1e-2)
    colours = page.evaluate("async () => (await import(new URL('js/colours.js', location.href).href))"
                            ".VIRIDIS.map((c) => [c.r, c.g, c.b])")
    assert colours == [list(viridis.colour(level)) for level in range(256)]  # explain's figure has the page's colours
    watched.assert_clean()
