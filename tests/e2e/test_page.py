"""The page in a real browser: a real ViT, run by onnxruntime-web, driven by in-browser Python."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from export import fidelity
from export.default_model import NAME
from export.preprocess import preprocess

from .conftest import WEB, settled_hash, wait_hash

MODEL = WEB / "model" / NAME
MANIFEST = json.loads((MODEL / "manifest.json").read_text()) if (MODEL / "manifest.json").exists() else None
SAMPLES = [s["id"] for s in MANIFEST["samples"]] if MANIFEST else []
TOP_OF_DEFAULT = f"#model={NAME}"


def probabilities(page):
    rows = page.locator("#prediction-list li.class-row")
    return {rows.nth(i).get_attribute("data-label"): float(rows.nth(i).get_attribute("data-probability"))
            for i in range(rows.count())}


def page_tensor(page, name):
    data = page.evaluate(f"Array.from(vitlensJS.current[{json.dumps(name)}].data)")
    dims = page.evaluate(f"Array.from(vitlensJS.current[{json.dumps(name)}].dims)")
    return np.asarray(data, np.float32).reshape(dims)


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def choose_sample(watched, sample_id):
    """Click a sample and wait for its own prediction (the same sample again is classified again)."""
    before = watched.page.evaluate("Number(document.body.dataset.classified)")
    watched.page.click(f"#gallery .thumb[data-sample='{sample_id}']")
    watched.page.wait_for_function(f"Number(document.body.dataset.classified) > {before}")
    wait_hash(watched.page, f"image={sample_id}&")
    watched.wait_ready()


def test_loads_clean_and_classifies(watched, site):
    watched.open(site, TOP_OF_DEFAULT)
    page = watched.page
    assert page.locator("#prediction-list li.class-row").count() == len(MANIFEST["labels"])
    assert page.locator("#prediction-list li.top").count() == 1
    assert "ms" in page.inner_text("#prediction-time")
    assert page.is_hidden("#loading") and page.is_visible("#app")
    assert page.evaluate("document.querySelectorAll('[data-view]:not([hidden])').length") == 1
    watched.assert_clean()


def test_the_first_prediction_is_drawn_before_python_takes_over_and_python_agrees(watched, site):
    sample = SAMPLES[-1]  # not the default one: the preview follows the URL
    watched.open(site, f"{TOP_OF_DEFAULT}&image={sample}")
    page = watched.page
    preview = page.evaluate("({sample: vitlensJS.preview.sample, probabilities: vitlensJS.preview.probabilities})")
    assert preview["sample"] == sample
    marks = page.evaluate("Object.fromEntries(['vitlens:prediction-shown', 'vitlens:model-ready']"
                          ".map((n) => [n, performance.getEntriesByName(n)[0].startTime]))")
    assert marks["vitlens:prediction-shown"] < marks["vitlens:model-ready"], marks
    shown = probabilities(page)  # Python's, drawn over the preview (tests/e2e/test_start.py: the same tensors)
    in_page = np.array([shown[label] for label in MANIFEST["labels"]])
    np.testing.assert_allclose(preview["probabilities"], in_page, atol=1e-6)
    np.testing.assert_allclose(in_page, page_tensor(page, "probabilities")[0], atol=1e-7)
    watched.assert_clean()


def test_every_sample_matches_onnxruntime_in_cpython(watched, site):
    watched.open(site, TOP_OF_DEFAULT)
    for sample_id in SAMPLES:
        choose_sample(watched, sample_id)
        shown = probabilities(watched.page)
        pixel_values = page_tensor(watched.page, "pixel_values")
        # The same preprocessed image through native onnxruntime: the model runtimes agree.
        native = softmax(fidelity.run_parts(MODEL, MANIFEST["stages"], pixel_values)["logits"][0].astype(np.float64))
        in_page = np.array([shown[label] for label in MANIFEST["labels"]])
        assert int(in_page.argmax()) == int(native.argmax()), sample_id
        assert np.abs(in_page - native).max() <= 1e-4, sample_id
        # The browser's preprocessing equals the export step's (PIL) within one grey level.
        sample = next(s for s in MANIFEST["samples"] if s["id"] == sample_id)
        reference = preprocess(Image.open(MODEL / sample["file"]), MANIFEST["preprocessing"])
        one_level = 1 / 255 / min(MANIFEST["preprocessing"]["std"])
        assert np.abs(pixel_values - reference).max() <= one_level * 1.01, sample_id
    watched.assert_clean()


@pytest.mark.parametrize("kind", ["rgba", "greyscale", "large-photo", "tall-png"])
def test_uploads_of_any_mode_and_size_preprocess_like_python(watched, site, tmp_path, kind):
    from skimage import data
    photo = Image.fromarray(data.coffee())
    if kind == "rgba":
        picture = photo.convert("RGBA")
        picture.putalpha(255)
    elif kind == "greyscale":
        picture = photo.convert("L")
    elif kind == "large-photo":
        picture = photo.resize((3000, 2000), Image.Resampling.BICUBIC)
    else:
        picture = photo.resize((120, 700))
    path = tmp_path / f"{kind}.png"
    picture.save(path)
    watched.open(site, TOP_OF_DEFAULT)
    watched.page.set_input_files("#file-input", str(path))
    watched.page.wait_for_function("location.hash.includes('image=upload')")
    watched.wait_ready()
    got = page_tensor(watched.page, "pixel_values")
    expected = preprocess(picture, MANIFEST["preprocessing"])
    assert np.abs(got - expected).max() <= 1.01 / 255 / min(MANIFEST["preprocessing"]["std"])
    watched.assert_clean()


def test_upload_changes_the_prediction_and_a_non_image_keeps_it(watched, site, tmp_path):
    from skimage import data
    watched.open(site, TOP_OF_DEFAULT + "&image=chelsea")
    before = probabilities(watched.page)
    photo = tmp_path / "my photo.png"
    Image.fromarray(data.rocket()).save(photo)
    watched.page.set_input_files("#file-input", str(photo))
    watched.page.wait_for_function("location.hash.includes('image=upload')")
    watched.wait_ready()
    after = probabilities(watched.page)
    assert after != before
    assert "my photo.png" in watched.page.inner_text("#image-caption")

    bogus = tmp_path / "notes.png"
    bogus.write_text("this is not an image")
    watched.page.set_input_files("#file-input", str(bogus))
    watched.page.wait_for_selector("#message.error")
    assert "notes.png" in watched.page.inner_text("#message")
    assert "not an image" in watched.page.inner_text("#message")
    watched.wait_ready()
    assert probabilities(watched.page) == after
    assert "my photo.png" in watched.page.inner_text("#image-caption")
    assert watched.page_errors == [] and watched.foreign == []


def test_state_survives_a_reload(watched, site):
    watched.open(site, TOP_OF_DEFAULT)
    choose_sample(watched, SAMPLES[3])
    watched.page.click("[data-view-tab='interpretation']")
    watched.page.wait_for_selector("#interp-canvas[data-kind]")
    wait_hash(watched.page, "view=interpretation", f"image={SAMPLES[3]}")
    fragment = settled_hash(watched.page)
    shown = probabilities(watched.page)
    watched.page.reload()
    watched.wait_ready(timeout=120_000)
    assert watched.page.evaluate("location.hash") == fragment
    assert watched.page.get_attribute("[data-view-tab='interpretation']", "aria-selected") == "true"
    assert watched.page.is_visible("[data-view='interpretation']")
    assert watched.page.get_attribute(f"#gallery .thumb[data-sample='{SAMPLES[3]}']", "aria-pressed") == "true"
    assert probabilities(watched.page) == shown
    watched.assert_clean()


def test_a_return_visit_reads_the_model_from_the_cache_api(watched, site):
    """The parts are stored after the sessions are created (not on the start's path): once they are,
    a reload starts without asking the server for any of them."""
    start_files = [MANIFEST["preprocessing"]["graph"]] + [stage["file"] for stage in MANIFEST["stages"]]
    watched.open(site, TOP_OF_DEFAULT)
    watched.page.wait_for_function(
        "caches.open('vitlens-model-files-v1').then((c) => c.keys())"
        f".then((keys) => keys.length >= {len(start_files)})", timeout=60_000)
    asked = []
    watched.page.on("request", lambda r: asked.append(r.url.split("?")[0].rsplit("/", 1)[-1]))
    watched.page.reload()
    watched.wait_ready(timeout=120_000)
    assert [f for f in start_files if f in asked] == [], asked
    watched.assert_clean()


def test_a_bad_url_state_is_explained_and_the_page_still_works(watched, site):
    watched.open(site, "#model=nope&image=zzz&view=detail&layer=99&token=abc")
    message = watched.page.inner_text("#message")
    assert "no model 'nope'" in message and "no sample image 'zzz'" in message
    assert "layer 99 is out of range" in message and "token 'abc'" in message
    assert watched.page.is_visible("[data-view='detail']")
    assert watched.page.locator("#prediction-list li.top").count() == 1


def test_served_from_a_sub_path(browser, prefixed_site):
    context = browser.new_context()
    page = context.new_page()
    from .conftest import Watched
    watched = Watched(page, prefixed_site.split("/some/")[0])
    watched.open(prefixed_site, TOP_OF_DEFAULT)
    assert watched.page.locator("#prediction-list li.top").count() == 1
    assert all("/some/prefix/" in url for url in [watched.page.url])
    watched.assert_clean()
    context.close()


def test_an_image_dropped_on_the_page_is_classified(watched, site):
    watched.open(site, TOP_OF_DEFAULT + "&image=chelsea")
    before = probabilities(watched.page)
    watched.page.evaluate("""async (name) => {
        const blob = await (await fetch(`model/${name}/samples/rocket.jpg`)).blob();
        const transfer = new DataTransfer();
        transfer.items.add(new File([blob], "dropped rocket.jpg", {type: "image/jpeg"}));
        document.getElementById("drop-zone").dispatchEvent(
            new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
    }""", NAME)
    watched.page.wait_for_function("location.hash.includes('image=upload')")
    watched.wait_ready()
    assert "dropped rocket.jpg" in watched.page.inner_text("#image-caption")
    assert probabilities(watched.page) != before
    watched.assert_clean()
