"""Broken model folders: each is named in a clear message, and the model on screen stays usable.

One site holds the default model, a tiny ViT, and copies of the tiny ViT broken in one way each.
"""
from __future__ import annotations

import json
import shutil
import threading

import pytest

from export.default_model import NAME
from export.pipeline import export_model

from ..conftest import save_tiny
from .conftest import WEB, Watched
from .test_page import probabilities


def without_part(folder):
    (folder / "layer.0.onnx").unlink()


def damaged_part(folder):
    part = folder / "layer.0.onnx"
    part.write_bytes(bytes(255 - b for b in part.read_bytes()))


def unlisted_damaged_part(folder):
    damaged_part(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["files"]["layer.0.onnx"]
    (folder / "manifest.json").write_text(json.dumps(manifest))


def renamed_output(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["stages"][1]["outputs"][-1] = "layer.0.renamed"
    (folder / "manifest.json").write_text(json.dumps(manifest))


def without_manifest(folder):
    (folder / "manifest.json").unlink()


def manifest_not_json(folder):
    (folder / "manifest.json").write_text('{"stages": [')


# name -> (how it is broken, what the message must say, the request that fails on purpose)
BROKEN = {
    "no-part": (without_part, "layer.0.onnx could not be read", "layer.0.onnx"),
    "damaged-part": (damaged_part, "layer.0.onnx is damaged: its sha256 is not the one manifest.json lists", None),
    "unlisted-damaged-part": (unlisted_damaged_part, "layer.0.onnx is not a model onnxruntime-web can open", None),
    "renamed-output": (renamed_output, "manifest.json does not match layer.0.onnx: the graph has no output "
                                       "'layer.0.renamed'", None),
    "no-manifest": (without_manifest, "manifest.json: HTTP 404", "manifest.json"),
    "manifest-not-json": (manifest_not_json, "manifest.json is not valid JSON", None),
}


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory):
    import serve
    root = tmp_path_factory.mktemp("site")
    shutil.copytree(WEB, root / "web")
    models = root / "web" / "model"
    checkpoint = save_tiny("vit", tmp_path_factory.mktemp("tiny") / "tiny-vit")
    export_model(str(checkpoint), models, name="tiny-vit", title="Tiny random ViT")
    index = json.loads((models / "index.json").read_text())
    tiny = next(m for m in index["models"] if m["name"] == "tiny-vit")
    for name, (breaking, _, _) in BROKEN.items():
        shutil.copytree(models / "tiny-vit", models / name)
        manifest = json.loads((models / name / "manifest.json").read_text())
        manifest["name"] = name
        (models / name / "manifest.json").write_text(json.dumps(manifest))
        breaking(models / name)
        index["models"].append({**tiny, "name": name, "title": f"Broken: {name}", "manifest": f"{name}/manifest.json"})
    (models / "index.json").write_text(json.dumps(index))
    server = serve.make_server(root / "web", port=0, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def picker_page(browser, broken_site):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watched = Watched(context.new_page(), broken_site.rstrip("/"))
    watched.open(broken_site, f"#model={NAME}&image=chelsea")
    yield watched
    context.close()


def expected_failures(watched, name):
    """The one request a case breaks on purpose fails (the browser logs it too); nothing else may."""
    part = BROKEN[name][2]
    wanted = [f for f in watched.failed if part and f.endswith(f"/model/{name}/{part}")]
    assert watched.failed == wanted and (part is None or wanted), watched.failed
    logged = [m for m in watched.console_errors if part and "status of 404" in m]
    assert watched.console_errors == logged
    watched.failed.clear()
    watched.console_errors.clear()


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_model_is_named_and_the_current_one_kept(picker_page, name):
    page = picker_page.page
    shown, caption = probabilities(page), page.inner_text("#image-caption")
    page.select_option("#model-picker", name)
    page.wait_for_function("(name) => document.getElementById('message').textContent"
                           ".includes(`Could not load the model '${name}'`)", arg=name)
    picker_page.wait_ready()
    message = page.inner_text("#message")
    assert f"Could not load the model '{name}'" in message and BROKEN[name][1] in message, message
    assert f"still showing '{NAME}'" in message
    assert page.input_value("#model-picker") == NAME and f"model={name}" not in page.evaluate("vitlensJS.url.currentFragment()")
    assert page.is_visible("#app") and page.is_hidden("#loading")
    assert probabilities(page) == shown and page.inner_text("#image-caption") == caption
    expected_failures(picker_page, name)
    assert picker_page.page_errors == [] and picker_page.console_errors == []


def test_after_the_broken_ones_the_page_still_works(picker_page):
    page = picker_page.page
    page.click("[data-view-tab=interpretation]")
    page.wait_for_selector("#interp-canvas[data-kind]")
    page.select_option("#model-picker", "tiny-vit")
    page.wait_for_function("location.hash.includes('model=tiny-vit')")
    picker_page.wait_ready()
    page.wait_for_function("document.getElementById('model-facts').textContent.startsWith('ViTForImageClassification')")
    assert page.locator("#prediction-list li.class-row").count() == 3 and page.is_hidden("#message")
    page.select_option("#model-picker", NAME)
    page.wait_for_function(f"location.hash.includes('model={NAME}')")
    picker_page.wait_ready()
    assert page.locator("#prediction-list li.class-row").count() == 10
    picker_page.assert_clean()


def test_a_url_naming_a_broken_model_opens_the_default(browser, broken_site):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watched = Watched(context.new_page(), broken_site.rstrip("/"))
    watched.open(broken_site, "#model=damaged-part&image=chelsea")
    page = watched.page
    message = page.inner_text("#message")
    assert "Could not load the model 'damaged-part': layer.0.onnx is damaged" in message, message
    assert f"showing '{NAME}'" in message and page.input_value("#model-picker") == NAME
    assert page.locator("#prediction-list li.class-row").count() == 10
    watched.assert_clean()
    context.close()
