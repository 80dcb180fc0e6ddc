"""The What-if view: edits made by pointer and keyboard, and from a link, run in the page and equal the
same edit run natively (onnxruntime in CPython, held to Hugging Face by tests/test_edits.py and by every
export); replaced pixels equal the processor's on the same edited image; bad edits get a sentence."""
from __future__ import annotations

import json

import numpy as np
from PIL import Image

from export import fidelity
from export.default_model import NAME
from export.preprocess import preprocess
from export.shared import edits, geometry, names

from .conftest import WEB, wait_hash
from .test_page import page_tensor, probabilities

MODEL = WEB / "model" / NAME
MANIFEST = json.loads((MODEL / "manifest.json").read_text())
SPECIAL, PATCHES = len(MANIFEST["special_tokens"]), MANIFEST["num_patches"]
ROWS, COLS = MANIFEST["grid"]
LAYERS, HEADS = MANIFEST["num_layers"], MANIFEST["num_heads"]


HOLD = """
async () => {
  const progress = document.getElementById('curves-progress');
  const move = () => document.dispatchEvent(new PointerEvent('pointermove', {clientX: 5, clientY: 5}));
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const steps = Number(document.getElementById('curves-status').textContent.match(/of (\\d+)/)[1]);
  for (let t = 0; t < 300; t += 30) { move(); await sleep(30); }
  const before = progress.value;
  for (let t = 0; t < 1500; t += 30) { move(); await sleep(30); }
  return {before, after: progress.value, total: steps};
}
"""


def wait_run(page, before):
    """Wait for the run after `before` (document.body.dataset.classified) to be on screen."""
    page.wait_for_function(f"Number(document.body.dataset.classified) > {before} "
                           "&& document.body.dataset.status === 'ready'", timeout=60_000)


def runs(page):
    return page.evaluate("Number(document.body.dataset.classified || 0)")


def native(page, edit):
    """The same edit natively, on the page's own model input (pixel_values)."""
    kept = edit.kept_tokens(SPECIAL, PATCHES) if edit.removed else None
    mask = np.array(edit.head_mask(LAYERS, HEADS), np.float32)
    return fidelity.Chain(MODEL, MANIFEST["stages"]).run(page_tensor(page, names.PIXELS), kept, mask)


def shown(page):
    rows = page.locator("#prediction-list li.class-row")
    return np.array([float(rows.nth(i).get_attribute("data-before")) for i in range(rows.count())])


def open_edited(watched, site, fragment):
    watched.open(site, f"#model={NAME}&image=chelsea&view=whatif{fragment}")
    watched.page.wait_for_function("document.body.dataset.classified && document.body.dataset.status === 'ready'",
                                   timeout=60_000)
    return watched.page


def test_a_link_with_an_edit_runs_it_and_equals_the_native_run(watched, site):
    page = open_edited(watched, site, "&remove=0-20,40-45&knock=1.1,12.6")
    edit = edits.Edit(removed=(*range(21), *range(40, 46)), knocked=((1, 1), (12, 6)))
    assert page.evaluate("document.body.dataset.edited") == "true"
    want = native(page, edit)[names.PROBABILITIES][0]
    got = np.array(list(probabilities(page).values()))
    assert np.abs(got - want).max() < 1e-5
    unedited = fidelity.Chain(MODEL, MANIFEST["stages"]).run(page_tensor(page, names.PIXELS))[names.PROBABILITIES][0]
    assert np.abs(shown(page) - unedited).max() < 1e-5  # the thin bars: the image as it is
    probs = page_tensor(page, names.in_block(0, names.PROBS))  # the views read every token's place
    assert probs.shape == (1, HEADS, SPECIAL + PATCHES, SPECIAL + PATCHES)
    assert not probs[:, :, :, SPECIAL:SPECIAL + 21].any() and not probs[:, 0].any()  # removed; head 1.1 knocked out
    assert "27 patches removed, 2 heads knocked out" in page.inner_text("#prediction-edit")
    assert page.get_attribute("#whatif-heads [data-head='12.6']", "aria-pressed") == "true"
    watched.assert_clean()


def test_select_by_drag_and_keys_remove_undo_knock_out_and_reset(watched, site):
    page = open_edited(watched, site, "")
    before = probabilities(page)
    box = page.locator("#whatif-canvas").bounding_box()
    cell_w, cell_h = box["width"] / COLS, box["height"] / ROWS

    def at(row, col):
        return box["x"] + (col + 0.5) * cell_w, box["y"] + (row + 0.5) * cell_h
    page.mouse.move(*at(5, 4))
    page.mouse.down()
    page.mouse.move(*at(5, 6), steps=6)
    page.mouse.up()
    page.wait_for_function("document.getElementById('whatif-canvas').dataset.selected === '84,85,86'")
    page.focus("#whatif-canvas")  # the keyboard: the cursor starts on the last patch touched
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")
    page.wait_for_function("document.getElementById('whatif-canvas').dataset.selected === '84,85,86,102'")
    assert "patch 102 (row 6, column 6)" in page.inner_text("#whatif-readout")
    count = runs(page)
    page.keyboard.press("Tab")  # to Remove selected
    page.keyboard.press("Enter")
    wait_run(page, count)
    wait_hash(page, "remove=84-86,102")
    edit = edits.Edit(removed=(84, 85, 86, 102))
    assert np.abs(np.array(list(probabilities(page).values())) - native(page, edit)[names.PROBABILITIES][0]).max() < 1e-5
    assert page.get_attribute("#whatif-canvas", "data-selected") == ""

    count = runs(page)
    page.click("#whatif-heads [data-head='3.2']")
    wait_run(page, count)
    wait_hash(page, "remove=84-86,102", "knock=3.2")
    both = edits.Edit(removed=(84, 85, 86, 102), knocked=((3, 2),))
    assert np.abs(np.array(list(probabilities(page).values())) - native(page, both)[names.PROBABILITIES][0]).max() < 1e-5

    count = runs(page)
    page.click("#whatif-undo")
    wait_run(page, count)
    page.wait_for_function("!location.hash.includes('knock=')")
    count = runs(page)
    page.click("#prediction-reset")  # the prediction card's Reset, from any view
    wait_run(page, count)
    page.wait_for_function("!location.hash.includes('remove=')")
    assert probabilities(page) == before  # the unedited run again, value for value
    assert page.is_hidden("#prediction-edit")
    watched.assert_clean()


def test_replacing_patches_equals_the_processor_on_the_same_edited_pixels(watched, site, tmp_path):
    from skimage import data
    picture = Image.fromarray(data.coffee())  # 600 x 400: resized and cropped, so patch boxes are not whole pixels
    path = tmp_path / "coffee.png"
    picture.save(path)
    page = open_edited(watched, site, "")
    page.set_input_files("#file-input", str(path))
    page.wait_for_function("location.hash.includes('image=upload')")
    count = runs(page)
    page.evaluate("location.hash = location.hash + '&replace=17-20,33-36&fill=mean'")
    wait_run(page, count)
    pixels = np.asarray(picture).copy()
    recipe = MANIFEST["preprocessing"]
    mean = np.floor(pixels.reshape(-1, 3).astype(np.float64).mean(0) + 0.5)  # as the page rounds
    for patch in [*range(17, 21), *range(33, 37)]:
        left, top, right, bottom = geometry.patch_box(recipe, picture.width, picture.height, MANIFEST["patch_size"],
                                                      COLS, patch)
        pixels[top:bottom, left:right] = mean
    edited = preprocess(Image.fromarray(pixels), recipe)  # the Hugging Face processor's recipe, natively
    got = page_tensor(page, names.PIXELS)
    assert np.abs(got - edited).max() <= 1.01 / 255 / min(recipe["std"])  # as for any upload (test_page)
    assert np.abs(got - preprocess(picture, recipe)).max() > 0.5  # the patches did change
    want = fidelity.Chain(MODEL, MANIFEST["stages"]).run(got)[names.PROBABILITIES][0]
    assert np.abs(np.array(list(probabilities(page).values())) - want).max() < 1e-5
    assert "8 patches replaced by the mean colour" in page.inner_text("#prediction-edit")
    count = runs(page)
    page.select_option("#whatif-fill", "blur")  # another fill, for every replaced patch
    box = page.locator("#whatif-canvas").bounding_box()
    page.mouse.click(box["x"] + 2, box["y"] + 2)
    page.click("#whatif-replace")
    wait_run(page, count)
    wait_hash(page, "replace=0,17-20,33-36", "fill=blur", "image=upload")
    blurred = page_tensor(page, names.PIXELS)
    assert np.abs(blurred - got).max() > 0.1
    count = runs(page)  # a sample's same patches, scaled nearest-neighbour into each box (web/js/edits.js)
    page.evaluate("location.hash = location.hash.replace(/replace=[^&]*/, 'replace=17-20')"
                  ".replace(/fill=[^&]*/, 'fill=sample:chelsea')")
    wait_run(page, count)
    sample = np.asarray(Image.open(MODEL / next(s["file"] for s in MANIFEST["samples"] if s["id"] == "chelsea"))
                        .convert("RGB"))
    pixels = np.asarray(picture).copy()
    for patch in range(17, 21):
        left, top, right, bottom = geometry.patch_box(recipe, picture.width, picture.height, MANIFEST["patch_size"],
                                                      COLS, patch)
        sl, st, sr, sb = geometry.patch_box(recipe, sample.shape[1], sample.shape[0], MANIFEST["patch_size"], COLS, patch)
        ys = np.minimum(sb - 1, st + (np.arange(top, bottom) - top) * (sb - st) // (bottom - top))
        xs = np.minimum(sr - 1, sl + (np.arange(left, right) - left) * (sr - sl) // (right - left))
        pixels[top:bottom, left:right] = sample[np.ix_(ys, xs)]
    got = page_tensor(page, names.PIXELS)
    assert np.abs(got - preprocess(Image.fromarray(pixels), recipe)).max() <= 3.01 / 255 / min(recipe["std"])  # JPEG decoders
    assert "sample" in page.inner_text("#prediction-edit")
    watched.assert_clean()


def test_a_bad_edit_is_refused_with_a_sentence_and_the_rest_of_the_link_loads(watched, site):
    page = open_edited(watched, site, f"&kind=rollout&remove=0-{PATCHES - 1}&knock=13.1")
    message = page.inner_text("#message")
    assert "the link's what-if edit is not used" in message
    assert page.evaluate("document.body.dataset.edited") == "false"
    wait_hash(page, "view=whatif", "kind=rollout")
    assert "remove=" not in page.evaluate("location.hash")
    box = page.locator("#whatif-canvas").bounding_box()
    page.mouse.click(box["x"] + 1, box["y"] + 1)
    page.click("#whatif-invert")  # all but patch 0
    page.wait_for_function(f"document.getElementById('whatif-canvas').dataset.selected.split(',').length === {PATCHES - 1}")
    page.click("#whatif-all")
    page.wait_for_function(f"document.getElementById('whatif-canvas').dataset.selected.split(',').length === {PATCHES}")
    count = runs(page)
    page.click("#whatif-remove")  # every patch: DINOv2's head reads their mean
    page.wait_for_function("document.getElementById('message').textContent.includes('keep at least one patch')")
    assert runs(page) == count and page.evaluate("document.body.dataset.edited") == "false"  # nothing was lost
    assert page.get_attribute("#whatif-canvas", "data-selected").count(",") == PATCHES - 1


def test_faithfulness_curves_equal_the_same_steps_run_natively_and_cancel_leaves_the_page(watched, site):
    from export import analysis, relevance
    from export.shared import page_module
    interpret = page_module("interpret")
    page = open_edited(watched, site, "")
    page.click("#curves-run")
    page.wait_for_function("document.querySelectorAll('#curves-chart svg').length === 2", timeout=300_000)
    assert page.locator("#curves-chart tr[data-order]").count() == len(edits.ORDERS)
    chain = fidelity.Chain(MODEL, MANIFEST["stages"])
    values = chain.run(page_tensor(page, names.PIXELS))
    top = int(values[names.PROBABILITIES][0].argmax())
    vector = relevance.target(len(MANIFEST["labels"]), top)
    row = relevance.run(MODEL / MANIFEST["relevance"]["file"], values[names.EMBEDDINGS_OUTPUT], vector)[names.RELEVANCE]
    rollout = analysis.run(MODEL / MANIFEST["analysis"]["file"], values)[names.analysis("rollout.mean")][LAYERS - 1, 0]
    for curve, kind, ranked in (("deletion", "relevance", edits.order_of(list(row[SPECIAL:]))),
                                ("insertion", "rollout", edits.order_of(list(rollout[SPECIAL:]))),
                                ("deletion", "random", edits.random_order(PATCHES))):
        shown_points = json.loads(page.get_attribute(f"svg[data-curve='{curve}'] g[data-order='{kind}']", "data-points"))
        counts = edits.removed_counts(PATCHES, not MANIFEST["head_reads_patches"])
        assert [p["removed"] for p in shown_points] == [c / PATCHES for c in counts]
        for point, count in zip(shown_points, counts):
            kept = edits.curve_edit(curve, ranked, count).kept_tokens(SPECIAL, PATCHES)
            want = chain.run(hidden=values[names.EMBEDDINGS_OUTPUT], kept=kept)[names.PROBABILITIES][0][top]
            assert abs(point["probability"] - want) < 1e-5, (curve, kind, count)
        area = float(page.get_attribute(f"svg[data-curve='{curve}'] g[data-order='{kind}']", "data-area"))
        assert area == np.float64(edits.area(shown_points))
    assert interpret.KINDS  # the map kinds the orders follow are the Interpretation view's
    before, count, hash_ = probabilities(page), runs(page), page.evaluate("location.hash")
    page.click("#curves-run")
    page.wait_for_function("document.getElementById('curves-status').textContent.includes('step')")
    # While the user interacts, the job's runs wait (each part of a run in the worker waits for 150 ms
    # without input): over 1.5 s of pointer moves it advances by at most the step already in the worker.
    held = page.evaluate(HOLD)
    assert held["after"] - held["before"] <= 1 / held["total"] + 1e-9, held
    page.wait_for_function(f"document.getElementById('curves-progress').value > {held['after']}", timeout=60_000)
    page.click("#curves-cancel")
    page.wait_for_function("document.getElementById('curves-status').textContent.startsWith('Stopped')")
    assert probabilities(page) == before and runs(page) == count and page.evaluate("location.hash") == hash_
    assert page.locator("#curves-chart svg").count() == 2  # the curves measured before are still drawn
    watched.assert_clean()


def test_the_head_atlas_shows_analysis_measures_and_ablation_and_opens_model_detail(watched, site):
    from export import analysis
    page = open_edited(watched, site, "")
    page.wait_for_function("document.querySelectorAll('#atlas-grid .atlas-cell').length > 0", timeout=60_000)
    assert page.locator("#atlas-grid .atlas-cell").count() == LAYERS * HEADS
    values = fidelity.Chain(MODEL, MANIFEST["stages"]).run(page_tensor(page, names.PIXELS))
    out = analysis.run(MODEL / MANIFEST["analysis"]["file"], values)
    for measure in names.HEAD_MEASURES:
        page.select_option("#atlas-measure", measure)
        shown_values = page.eval_on_selector_all("#atlas-grid .atlas-cell", "cs => cs.map(c => Number(c.dataset.value))")
        np.testing.assert_allclose(np.reshape(shown_values, (LAYERS, HEADS)), out[names.analysis(f"heads.{measure}")],
                                   atol=1e-5, err_msg=measure)
    page.select_option("#atlas-measure", "ablation")
    page.click("#atlas-run")
    page.wait_for_function(f"document.querySelectorAll('#atlas-grid .atlas-cell').length === {LAYERS * HEADS}",
                           timeout=300_000)
    top = int(values[names.PROBABILITIES][0].argmax())
    chain = fidelity.Chain(MODEL, MANIFEST["stages"])
    for block, head in ((1, 1), (LAYERS, HEADS)):
        mask = np.array(edits.Edit(knocked=((block, head),)).head_mask(LAYERS, HEADS), np.float32)
        after = chain.run(hidden=values[names.EMBEDDINGS_OUTPUT], head_mask=mask)[names.PROBABILITIES][0][top]
        shown_drop = float(page.get_attribute(f"#atlas-grid [data-head='{block}.{head}']", "data-value"))
        assert abs(shown_drop - (values[names.PROBABILITIES][0][top] - after)) < 1e-5
    page.click(f"#atlas-grid [data-head='{LAYERS}.2']")
    page.wait_for_function("!document.querySelector('[data-view=\"detail\"]').hidden")
    wait_hash(page, "view=detail", f"layer={LAYERS}", f"tensor=layer.{LAYERS - 1}.attention.probs")
    watched.assert_clean()
