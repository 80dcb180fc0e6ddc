"""Several exported models: the page offers a picker, switches models, and keeps the choice in the URL."""
from __future__ import annotations

import shutil
import threading

import pytest

from export.default_model import NAME
from export.pipeline import export_model

from ..conftest import save_tiny
from .conftest import WEB, Watched


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    import serve
    root = tmp_path_factory.mktemp("site")
    shutil.copytree(WEB, root / "web")
    checkpoint = save_tiny("vit", tmp_path_factory.mktemp("tiny") / "tiny-vit")
    export_model(str(checkpoint), root / "web" / "model", name="tiny-vit", title="Tiny random ViT")
    server = serve.make_server(root / "web", port=0, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_picker_switches_models_and_the_url_keeps_it(browser, two_models):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watched = Watched(context.new_page(), two_models.rstrip("/"))
    page = watched.page
    watched.open(two_models, f"#model={NAME}")
    assert page.is_visible("#model-picker")
    assert page.eval_on_selector_all("#model-picker option", "os => os.map(o => o.value)") == [
        NAME, "tiny-vit", "open:folder", "open:zip"]  # and the user's own (test_local_model.py)
    page.select_option("#model-picker", "tiny-vit")
    page.wait_for_function("location.hash.includes('model=tiny-vit')")
    watched.wait_ready()
    page.wait_for_function("document.getElementById('model-facts').textContent.startsWith('ViTForImageClassification')")
    assert page.locator("#prediction-list li.class-row").count() == 3
    page.reload()
    watched.wait_ready(timeout=120_000)
    assert page.input_value("#model-picker") == "tiny-vit"
    assert page.locator("#prediction-list li.class-row").count() == 3
    watched.assert_clean()
    context.close()
