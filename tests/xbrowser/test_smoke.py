"""The page in every engine: it loads, classifies a sample exactly as onnxruntime in CPython does on
the page's own input, draws the four views, classifies an upload, and has no uncaught error.

One page load per engine (the module-scoped `loaded` fixture), then the upload on the same page.
A screenshot and a JSON of what was measured (version, threads, isolation, timings) of each engine
are kept in build/artifacts/xbrowser-<engine>.{png,json}.
"""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from PIL import Image

from export.shared import page_module

from .conftest import ARTIFACTS, WEB

INDEX = json.loads((WEB / "model" / "index.json").read_text()) if (WEB / "model" / "index.json").exists() else {}
NAME = INDEX.get("default", "")
MODEL = WEB / "model" / NAME
SAMPLE = "chelsea"
LOAD_TIMEOUT = 300  # a cold start (Pyodide, the model's sessions) on a loaded 2-core machine, in 1 thread
STEP_TIMEOUT = 180
SETTLED = "['ready', 'error'].includes(document.body.dataset.status)"

VIEWS = {
    "tour": "#tour-step[data-step]",
    "overview": "#overview-diagram svg",
    "graph": "#knowledge-graph[data-ready=true]",
    "detail": "#detail-canvas[data-tensor]",
    "interpretation": "#interp-canvas[data-kind]",
    "whatif": "#whatif-heads button",
}

# The page's own numbers, read in any engine: probabilities from the DOM, pixel_values as base64.
READ_PREDICTION = """(() => {
  const rows = Array.from(document.querySelectorAll('#prediction-list li.class-row'));
  const tensor = vitlensJS.current.pixel_values;
  const bytes = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return {
    labels: rows.map((r) => r.dataset.label),
    probabilities: rows.map((r) => Number(r.dataset.probability)),
    top: rows.filter((r) => r.classList.contains('top')).map((r) => r.dataset.label),
    pixels: btoa(binary), dims: Array.from(tensor.dims),
    classified: Number(document.body.dataset.classified),
    caption: document.getElementById('image-caption').textContent,
    time: document.getElementById('prediction-time').textContent,
    message: document.getElementById('message').hidden ? '' : document.getElementById('message').textContent,
  };
})()"""


def manifest():
    return json.loads((MODEL / "manifest.json").read_text())


def read_prediction(engine):
    shown = engine.evaluate(READ_PREDICTION)
    shown["pixel_values"] = np.frombuffer(
        base64.b64decode(shown.pop("pixels")), np.float32).reshape(shown["dims"])
    return shown


def cpython_probabilities(pixel_values):
    """The same preprocessed input through native onnxruntime, part by part, as the export step runs it."""
    from export import fidelity
    logits = fidelity.run_parts(MODEL, manifest()["stages"], pixel_values)["logits"][0].astype(np.float64)
    e = np.exp(logits - logits.max())
    return e / e.sum()


def grey_levels(pixel_values, picture):
    """How far the page's preprocessing is from Python's (PIL), in grey levels of the source image."""
    from export.preprocess import preprocess
    recipe = manifest()["preprocessing"]
    reference = preprocess(picture, recipe)
    return float(np.abs(pixel_values - reference).max() * 255 * min(recipe["std"]))


def assert_like_cpython(shown, run, what):
    labels = manifest()["labels"]
    assert shown["labels"] == labels, what
    in_page = np.asarray(shown["probabilities"])
    native = cpython_probabilities(shown["pixel_values"])
    difference = float(np.abs(in_page - native).max())
    run.facts[f"{what}_max_probability_difference"] = difference
    run.facts[f"{what}_top"] = labels[int(in_page.argmax())]
    assert shown["top"] == [labels[int(native.argmax())]], f"{run.engine.name} {what}: top class differs"
    assert difference <= 1e-3, f"{run.engine.name} {what}: probabilities differ from CPython's by {difference}"


def assert_no_errors(run):
    errors = run.errors()
    distinct = list(dict.fromkeys(e.strip()[-600:] for e in errors))  # a traceback's end says the most
    assert not errors, (f"{run.engine.name}: {len(errors)} uncaught page or console errors, "
                        f"{len(distinct)} distinct:\n" + "\n---\n".join(distinct[:3]))
    assert run.engine.foreign_requests() == [], f"{run.engine.name}: requests to another origin"


@pytest.fixture(scope="module")
def loaded(run, xsite):
    """The page opened on a sample and its first prediction finished (once per engine)."""
    if not NAME:
        pytest.fail("web/model/index.json is missing: run scripts/setup.sh")
    engine = run.engine
    engine.goto(f"{xsite}#model={NAME}&image={SAMPLE}")
    run.mark("navigated")
    engine.wait_for(SETTLED, LOAD_TIMEOUT, "the page's first prediction")
    run.mark("first prediction")
    try:  # the page as it first comes up; the final state is kept as xbrowser-<engine>.png
        engine.screenshot(ARTIFACTS / f"xbrowser-{engine.name}-loaded.png")
    except Exception as error:
        run.facts["loaded_screenshot_error"] = str(error)
    status = engine.evaluate("({status: document.body.dataset.status, label: "
                             "document.getElementById('loading-label').textContent, errors: vitlensJS.errors})")
    assert status["status"] == "ready", f"{engine.name} did not start: {status}"
    run.facts.update(engine.evaluate("""({
      userAgent: navigator.userAgent, crossOriginIsolated: self.crossOriginIsolated,
      sharedArrayBuffer: typeof SharedArrayBuffer === 'function', hardwareConcurrency: navigator.hardwareConcurrency,
      threads: vitlensJS.threads, offscreenCanvas: typeof OffscreenCanvas === 'function',
      forwardPass: document.getElementById('prediction-time').textContent })"""))
    return run


def test_a_sample_is_classified_as_cpython_classifies_the_same_input(loaded):
    engine = loaded.engine
    engine.wait_for(f"Number(document.body.dataset.classified) >= 1 && location.hash.includes('image={SAMPLE}')",
                    STEP_TIMEOUT, "data-classified >= 1 and the image in the URL")
    shown = read_prediction(engine)
    assert "ms" in shown["time"], shown["time"]
    assert_like_cpython(shown, loaded, "sample")
    # The engine's JPEG decoder feeds the preprocessing: how far its input is from PIL's decode.
    sample = next(s for s in manifest()["samples"] if s["id"] == SAMPLE)
    levels = grey_levels(shown["pixel_values"], Image.open(MODEL / sample["file"]))
    loaded.facts["sample_grey_levels_from_pil"] = round(levels, 3)
    assert levels <= 8, f"{engine.name} decodes the JPEG sample {levels:.1f} grey levels away from PIL"
    assert_no_errors(loaded)


@pytest.mark.parametrize("view", list(VIEWS))
def test_each_view_renders(loaded, view):
    engine = loaded.engine
    engine.click(f"[data-view-tab={view}]")
    in_url = "true" if view == "overview" else f"location.hash.includes('view={view}')"
    engine.wait_for(f"!!document.querySelector({json.dumps(VIEWS[view])}) && "
                    f"!document.querySelector('[data-view={view}]').hidden && {in_url}", STEP_TIMEOUT, f"the {view} view")
    loaded.mark(f"view {view}")
    state = engine.evaluate(f"""({{
      selected: document.querySelector('[data-view-tab={view}]').getAttribute('aria-selected'),
      visible: !document.querySelector('[data-view={view}]').hidden,
      hash: location.hash }})""")
    assert state["selected"] == "true" and state["visible"], state
    assert f"view={view}" in state["hash"] or view == "overview", state
    assert_no_errors(loaded)


def test_the_tour_walks_every_step(loaded):
    engine = loaded.engine
    engine.click("[data-view-tab=tour]")
    keys = [key for key, _ in page_module("tour").STEPS]  # the page's own steps
    for number, key in enumerate(keys, 1):
        if number > 1:
            engine.click("#tour-next")
        engine.wait_for(f"document.getElementById('tour-step').dataset.step === '{key}' && "
                        f"location.hash.includes('tour={number}')", STEP_TIMEOUT, f"tour step {number}")
        text = engine.evaluate("document.getElementById('tour-text').textContent")
        assert len(text.split()) > 20, text
    loaded.mark("tour")
    assert_no_errors(loaded)


def test_an_uploaded_image_is_classified(loaded, tmp_path):
    from skimage import data
    engine = loaded.engine
    engine.click("[data-view-tab=overview]")
    picture = Image.fromarray(data.rocket())
    path = tmp_path / "my rocket.png"
    picture.save(path)
    engine.wait_for(SETTLED, STEP_TIMEOUT, "an idle page")
    before = read_prediction(engine)
    engine.upload("#file-input", path)
    engine.wait_for(f"Number(document.body.dataset.classified) > {before['classified']} && "
                    "location.hash.includes('image=upload') && document.body.dataset.status === 'ready'",
                    STEP_TIMEOUT, "the upload's prediction")
    loaded.mark("upload classified")
    after = read_prediction(engine)
    assert "my rocket.png" in after["caption"], after["caption"]
    assert after["probabilities"] != before["probabilities"]
    assert_like_cpython(after, loaded, "upload")
    # A PNG decodes the same everywhere: the page's preprocessing equals Python's within a grey level.
    levels = grey_levels(after["pixel_values"], picture)
    loaded.facts["upload_grey_levels_from_pil"] = round(levels, 3)
    assert levels <= 1.01, f"{engine.name}: the upload's preprocessing is {levels:.2f} grey levels from PIL's"
    assert_no_errors(loaded)
