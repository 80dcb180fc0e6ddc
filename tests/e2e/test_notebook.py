"""vit_lens.show and docs/notebook.ipynb: the notebook runs in a real kernel (nbclient), and the page
it serves, on its own or framed as a notebook frames it, shows that model, image and view."""
from __future__ import annotations

import html as html_module
import http.server
import re
from functools import partial
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from PIL import Image
from playwright.sync_api import Error as PlaywrightError

from export.default_model import NAME
from vit_lens import show

from .conftest import ROOT, Watched, serve

SHOWN = "document.body.dataset.preview === 'notebook' && !!document.querySelector('#interp-canvas[data-kind]')"


@pytest.fixture(scope="module")
def notebook_url():
    """Runs docs/notebook.ipynb; yields the URL its show() cell served while the kernel lives."""
    notebook = nbformat.read(ROOT / "docs" / "notebook.ipynb", as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}})
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
        outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
        assert not [o for o in outputs if o.output_type == "error"], outputs
        html = next(o.data["text/html"] for o in outputs if "text/html" in o.get("data", {}))
        printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
        assert "no exported model 'no/such/folder'" in printed
        yield html_module.unescape(re.search(r'src="([^"]+)"', html).group(1))


def check_shown(frame, block, token):
    expected = f"#model={NAME}&image=notebook&view=interpretation&layer={block}&token={token}"
    frame.wait_for_function("(expected) => location.hash === expected", arg=expected)
    assert frame.input_value("#interp-block") == str(block) and frame.input_value("#interp-token") == str(token)
    assert frame.is_visible("#interp-canvas") and not frame.is_visible("#overview-diagram")
    assert frame.inner_text("#image-caption").startswith("The notebook's image")


def test_the_notebook_shows_its_model_image_and_view(browser, notebook_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watched = Watched(context.new_page(), notebook_url.split("/#")[0])
    watched.open(notebook_url)
    watched.page.wait_for_function(SHOWN, timeout=120_000)
    check_shown(watched.page, block=11, token=0)
    watched.assert_clean()
    context.close()


@pytest.fixture
def notebook_host(tmp_path):
    """Another loopback origin, as Jupyter's is, for a page that frames the shown one."""
    server = serve(http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))))
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_a_notebook_may_frame_the_page(browser, notebook_url, notebook_host):
    folder, origin = notebook_host
    (folder / "notebook.html").write_text(f'<iframe src="{html_module.escape(notebook_url)}" width="1240" '
                                          'height="950"></iframe>')
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(origin + "notebook.html")
    frame = page.wait_for_selector("iframe").content_frame()
    for attempt in range(3):  # the page's isolation attempt may reload the frame once under the wait
        try:
            frame.wait_for_function(f"document.body.dataset.status === 'ready' && {SHOWN}", timeout=120_000)
            break
        except PlaywrightError as error:
            if "destroyed" not in str(error) or attempt == 2:
                raise
    check_shown(frame, block=11, token=0)
    assert errors == []
    context.close()


def test_show_takes_a_path_and_any_exported_folder(exported, tmp_path):
    _, folders = exported
    Image.new("RGB", (64, 48), (10, 200, 30)).save(tmp_path / "green.png")
    frame = show(folders["vit"], image=tmp_path / "green.png", view="detail", block=2, token=5)
    assert frame.src.endswith("#model=tiny-vit&image=notebook&view=detail&layer=2&token=5")


@pytest.mark.parametrize("arguments, error, expected", [
    ({"model": "no/such/folder"}, ValueError, "no exported model 'no/such/folder'"),
    ({"model": str(ROOT / "docs")}, ValueError, "has no manifest.json"),
    ({"model": NAME, "image": "no/such.jpg"}, ValueError, "cannot read no/such.jpg as an image"),
    ({"model": NAME, "image": str(ROOT / "README.md")}, ValueError, "README.md as an image"),
    ({"model": NAME, "image": 42}, TypeError, "a PIL image or the path of an image file, not int"),
    ({"model": NAME, "view": "attention"}, ValueError, "view 'attention': choose one of"),
    ({"model": NAME, "block": 13}, ValueError, "block 13: dinov2-s14-cifar10 has blocks 1 to 12"),
    ({"model": NAME, "token": -1}, ValueError, "token -1: dinov2-s14-cifar10 has tokens 0 to 256"),
])
def test_bad_arguments_are_said_plainly(arguments, error, expected):
    with pytest.raises(error, match=re.escape(expected)):
        show(**arguments)


def test_show_knows_the_pages_views():
    import sys
    sys.path.insert(0, str(Path(ROOT / "web" / "py")))
    try:
        import state
    finally:
        sys.path.pop(0)
    from vit_lens.notebook import VIEWS
    assert VIEWS == state.VIEWS
