"""A model folder opened from the user's disk (web/js/local_model.js, web/py/picker.py): chosen as a
folder, dropped, or zipped; every view works on it, it agrees with native onnxruntime, nothing of it
is sent anywhere or kept, broken folders are named and the model on screen stays.

One page serves the whole module: the deployed default model, then tiny random models opened locally.
"""
from __future__ import annotations

import base64
import json
import shutil
import zipfile

import numpy as np
import pytest

from export import fidelity
from export.default_model import NAME
from export.pipeline import export_model

from export.shared import manifest as page_manifest

from ..conftest import save_tiny
from .conftest import Watched, wait_hash
from .test_broken_model import BROKEN
from .test_page import page_tensor, probabilities, softmax
from .test_tour import KEYS

FORMAT = page_manifest.FORMAT  # the manifest format the page reads


def other_format(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "format": FORMAT + 1}))


# name -> (how it is broken, what the message must say): the deployed cases, and one more
LOCAL_BROKEN = {name: (breaking, message) for name, (breaking, message, _) in BROKEN.items()}
LOCAL_BROKEN["no-part"] = (LOCAL_BROKEN["no-part"][0], "layer.0.onnx could not be read: the folder has no such file")
LOCAL_BROKEN["no-manifest"] = (LOCAL_BROKEN["no-manifest"][0],
                               "Could not open the model: no-manifest is not a model folder: it has no manifest.json")
LOCAL_BROKEN["manifest-not-json"] = (LOCAL_BROKEN["manifest-not-json"][0],
                                     "Could not open the model: manifest.json of manifest-not-json is not valid JSON")
UNNAMED = {"no-manifest", "manifest-not-json"}  # refused before the manifest names the model
LOCAL_BROKEN["other-format"] = (other_format, f"manifest.json is of format {FORMAT + 1} and this page reads format {FORMAT}")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Tiny random ViT and DeiT (with its distillation token) exported, broken copies, a zip, a crowd."""
    root = tmp_path_factory.mktemp("local")
    checkpoints = tmp_path_factory.mktemp("checkpoints")
    vit = export_model(str(save_tiny("vit", checkpoints / "vit")), root / "site", name="tiny-vit", title="Tiny ViT")
    deit = export_model(str(save_tiny("deit_teacher", checkpoints / "deit")), root / "site", name="tiny-deit",
                        title="Tiny DeiT")
    folders = {"tiny-vit": vit, "tiny-deit": deit}
    for name, (breaking, _) in LOCAL_BROKEN.items():
        folders[name] = shutil.copytree(vit, root / name)
        manifest = json.loads((folders[name] / "manifest.json").read_text())
        (folders[name] / "manifest.json").write_text(json.dumps({**manifest, "name": name}))
        breaking(folders[name])
    with zipfile.ZipFile(root / "tiny-deit.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(deit.rglob("*")):
            archive.write(path, "tiny-deit/" + str(path.relative_to(deit)))
    crowd = root / "holiday-photos"
    crowd.mkdir()
    for i in range(1000):
        (crowd / f"photo-{i:04}.txt").write_text(str(i))
    return {**folders, "zip": root / "tiny-deit.zip", "crowd": crowd}


@pytest.fixture(scope="module")
def local_page(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watched = Watched(context.new_page(), site.rstrip("/"))
    watched.open(site, f"#model={NAME}&image=chelsea")
    # what the page asks the service worker to keep for offline use
    watched.page.evaluate("""() => { window.keptBases = [];
        const post = ServiceWorker.prototype.postMessage;
        ServiceWorker.prototype.postMessage = function (message, ...rest) {
            if (message?.type === "keep") window.keptBases.push(message.base);
            return post.call(this, message, ...rest); }; }""")
    yield watched
    context.close()


def wait_for_model(watched, name):
    page = watched.page
    page.wait_for_function("(name) => location.hash.includes(`model=${name}&`)", arg=name)
    watched.wait_ready()
    page.wait_for_function("() => document.getElementById('loading').hidden")


def open_folder(watched, folder):
    watched.page.set_input_files("#model-folder-input", str(folder))


def drop_file(watched, path):
    """Drop a file on the page, in a DataTransfer built in the page (a script cannot build a folder's)."""
    watched.page.evaluate("""([name, data]) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([Uint8Array.from(atob(data), (c) => c.charCodeAt(0))], name));
        document.querySelector(".views").dispatchEvent(
            new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
    }""", [path.name, base64.b64encode(path.read_bytes()).decode()])


def agrees_with_onnxruntime(page, folder):
    """The page's prediction on its own input equals native onnxruntime running the folder's parts."""
    manifest = json.loads((folder / "manifest.json").read_text())
    shown = probabilities(page)
    native = softmax(fidelity.run_parts(folder, manifest["stages"], page_tensor(page, "pixel_values"))["logits"][0]
                     .astype(np.float64))
    in_page = np.array([shown[label] for label in manifest["labels"]])
    assert np.abs(in_page - native).max() <= 1e-4


def test_a_chosen_folder_opens_and_agrees_with_onnxruntime(local_page, folders):
    page = local_page.page
    open_folder(local_page, folders["tiny-vit"])
    wait_for_model(local_page, "local:tiny-vit")
    assert page.input_value("#model-picker") == "local:tiny-vit"
    options = page.eval_on_selector_all("#model-picker option", "os => os.map(o => [o.value, o.textContent])")
    assert options[:2] == [[NAME, options[0][1]], ["local:tiny-vit", "Tiny ViT (local)"]]
    assert [value for value, _ in options[2:]] == ["open:folder", "open:zip"]
    assert page.inner_text("#model-facts").startswith("ViTForImageClassification")
    agrees_with_onnxruntime(page, folders["tiny-vit"])
    thumbs = page.eval_on_selector_all("#gallery img", "imgs => imgs.map(i => i.src)")
    assert thumbs and all(src.startswith("blob:") for src in thumbs)
    choose = page.get_attribute("#gallery .thumb:nth-child(2)", "data-sample")
    before = page.evaluate("Number(document.body.dataset.classified)")
    page.click("#gallery .thumb:nth-child(2)")
    page.wait_for_function(f"Number(document.body.dataset.classified) > {before}")
    local_page.wait_ready()
    wait_hash(page, f"image={choose}&")
    agrees_with_onnxruntime(page, folders["tiny-vit"])
    local_page.assert_clean()


def test_every_view_works_on_a_local_model(local_page, folders):
    page = local_page.page
    assert page.input_value("#model-picker") == "local:tiny-vit"
    page.click("[data-view-tab=overview]")
    page.wait_for_selector("svg.overview g.node")
    page.click("[data-view-tab=graph]")
    page.wait_for_selector("#knowledge-graph[data-ready=true]")
    assert "ViTForImageClassification" in page.inner_text("#kg-status")
    page.click("[data-view-tab=detail]")
    page.wait_for_function("document.getElementById('detail-canvas').dataset.tensor !== undefined")
    page.click("#open-gelu")  # an operation view: it reads parameters.bin from the folder
    page.locator("dialog#operation-dialog").wait_for()
    page.keyboard.press("Escape")
    page.wait_for_selector("dialog#operation-dialog", state="detached")
    page.click("[data-view-tab=interpretation]")
    page.wait_for_selector("#interp-canvas[data-kind]")  # analysis.onnx, from the folder
    page.click("[data-view-tab=tour]")
    for key in KEYS[:KEYS.index("try")]:
        page.wait_for_function(f"document.getElementById('tour-step').dataset.step === '{key}'")
        page.click("#tour-next")
    page.wait_for_function("document.getElementById('tour-step').dataset.step === 'try'")
    images = page.eval_on_selector_all("#tour-visual img", "imgs => imgs.map(i => i.src)")
    assert images and all(src.startswith("blob:") for src in images)
    page.click("[data-view-tab=overview]")
    local_page.assert_clean()


def test_a_dropped_zip_of_a_deit_keeps_its_distillation_token(local_page, folders):
    page = local_page.page
    drop_file(local_page, folders["zip"])
    wait_for_model(local_page, "local:tiny-deit")
    assert page.inner_text("#model-facts").startswith("DeiTForImageClassificationWithTeacher")
    manifest = json.loads((folders["tiny-deit"] / "manifest.json").read_text())
    assert manifest["special_tokens"] == ["CLS", "DIST"]
    assert f"{manifest['tokens']} tokens" in page.inner_text("#model-facts")
    agrees_with_onnxruntime(page, folders["tiny-deit"])
    local_page.assert_clean()


def test_a_chosen_zip_opens_and_local_models_are_kept_nowhere(local_page, folders):
    page = local_page.page
    page.select_option("#model-picker", NAME)
    wait_for_model(local_page, NAME)
    page.set_input_files("#model-zip-input", str(folders["zip"]))
    wait_for_model(local_page, "local:tiny-deit")
    agrees_with_onnxruntime(page, folders["tiny-deit"])
    values = page.eval_on_selector_all("#model-picker option", "os => os.map(o => o.value)")
    assert values == [NAME, "local:tiny-vit", "local:tiny-deit", "open:folder", "open:zip"]
    page.select_option("#model-picker", "local:tiny-vit")  # a local model opened earlier is still there
    wait_for_model(local_page, "local:tiny-vit")
    kept = page.evaluate("window.keptBases")
    assert kept and not [base for base in kept if base.startswith("local:")], kept
    cached = page.evaluate("""async () => { const urls = [];
        for (const name of await caches.keys()) for (const r of await (await caches.open(name)).keys()) urls.push(r.url);
        return urls; }""")
    assert cached and not [url for url in cached if "tiny" in url or "local:" in url]
    local_page.assert_clean()


@pytest.mark.parametrize("name", list(LOCAL_BROKEN))
def test_a_broken_folder_is_named_and_the_current_model_kept(local_page, folders, name):
    page = local_page.page
    current = page.input_value("#model-picker")
    shown, caption = probabilities(page), page.inner_text("#image-caption")
    open_folder(local_page, folders[name])
    page.wait_for_function("(name) => document.getElementById('message').textContent.includes(name)", arg=name)
    local_page.wait_ready()
    message = page.inner_text("#message")
    assert LOCAL_BROKEN[name][1] in message and f"still showing '{current}'" in message, message
    if name not in UNNAMED:
        assert f"Could not load the model 'local:{name}'" in message, message
    assert page.input_value("#model-picker") == current
    assert f"local:{name}" not in page.evaluate("vitlensJS.url.currentFragment()")
    assert f"local:{name}" not in page.eval_on_selector_all("#model-picker option", "os => os.map(o => o.value)")
    assert page.is_visible("#app") and page.is_hidden("#loading")
    assert probabilities(page) == shown and page.inner_text("#image-caption") == caption
    local_page.assert_clean()


def test_a_folder_of_a_thousand_files_is_refused(local_page, folders):
    page = local_page.page
    current = page.input_value("#model-picker")
    open_folder(local_page, folders["crowd"])
    page.wait_for_function("document.getElementById('message').textContent.includes('holiday-photos')")
    message = page.inner_text("#message")
    assert "holiday-photos is not a model folder: it holds more than 400 files" in message, message
    assert f"still showing '{current}'" in message and page.input_value("#model-picker") == current
    local_page.assert_clean()


def test_a_reload_asks_for_the_local_model_again_and_keeps_the_rest(local_page, folders):
    page = local_page.page
    page.click("[data-view-tab=detail]")
    page.wait_for_function("location.hash.includes('model=local:tiny-vit&') && location.hash.includes('view=detail')")
    page.reload()
    local_page.wait_ready(timeout=120_000)
    message = page.inner_text("#message")
    assert "The model 'local:tiny-vit' was opened from your disk, and a reload forgets it" in message, message
    assert f"showing '{NAME}'" in message and page.input_value("#model-picker") == NAME
    wait_hash(page, "view=detail")
    assert page.is_visible("[data-view=detail]")
    local_page.assert_clean()
