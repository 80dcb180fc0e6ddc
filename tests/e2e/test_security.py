"""The page's security: a strict Content-Security-Policy, nothing fetched from another origin, and
everything that comes from data (labels, titles, file names) rendered as text, never as HTML."""
from __future__ import annotations

import re
import shutil
import threading
import urllib.request

import pytest
import torch
from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

import serve
from export.pipeline import export_model

from .conftest import WEB, Watched

HOSTILE = "<img src=x onerror=alert(1)>"


def directives(policy):
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


def test_the_policy_is_sent_and_carried_by_the_page(site):
    with urllib.request.urlopen(site) as response:
        header = response.headers["Content-Security-Policy"]
        html = response.read().decode()
    meta = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    sent, carried = directives(header), directives(meta)
    assert sent.pop("frame-ancestors") == ["'none'"]  # a meta element cannot carry it
    assert sent == carried
    assert carried["default-src"] == ["'none'"] and carried["object-src"] == ["'none'"]
    assert carried["base-uri"] == ["'none'"] and carried["form-action"] == ["'none'"]
    for name, sources in carried.items():
        assert all(s.startswith("'") or s in ("blob:", "data:") for s in sources), (name, sources)  # no origin
    assert "'unsafe-inline'" not in carried["script-src"]
    assert "<script>" not in html and not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"py\")", html)


def test_the_page_under_its_policy_uses_no_other_origin(watched, site):
    watched.open(site, "#image=chelsea")
    page = watched.page
    for view in ("overview", "graph", "detail", "interpretation"):
        page.click(f"[data-view-tab={view}]")
        page.wait_for_timeout(1500)
    assert page.evaluate("vitlensJS.errors") == []  # boot.js records every policy violation there
    watched.assert_clean()  # no request to another origin, no failed request, no console error


def test_the_run_wide_record_would_catch_a_request_to_another_origin(browser):
    """The browser fixture fails the run if any page asked another origin for anything: it sees them."""
    context = browser.new_context()
    page = context.new_page()
    page.set_content('<img src="http://192.0.2.1/pixel.png">', wait_until="domcontentloaded")  # TEST-NET-1
    for _ in range(50):
        if browser.foreign:
            break
        page.wait_for_timeout(100)
    caught = [url for url in browser.foreign if url.startswith("http://192.0.2.1/")]
    assert caught == ["http://192.0.2.1/pixel.png"]
    browser.foreign.remove(caught[0])  # this one was on purpose
    context.close()


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    """A model whose labels and title are HTML (or try to be), next to the page."""
    root = tmp_path_factory.mktemp("site")
    shutil.copytree(WEB, root / "web")
    torch.manual_seed(0)
    labels = {0: HOSTILE, 1: "<b>bold</b>", 2: "\"quote' & <amp>"}
    config = ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                       image_size=32, patch_size=8, id2label=labels, label2id={v: k for k, v in labels.items()})
    checkpoint = tmp_path_factory.mktemp("hostile") / "checkpoint"
    ViTForImageClassification(config).save_pretrained(checkpoint)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(checkpoint)
    export_model(str(checkpoint), root / "web" / "model", name="hostile", title=f"Title {HOSTILE}")
    server = serve.make_server(root / "web", port=0, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", list(labels.values())
    server.shutdown()


def test_labels_and_titles_from_a_model_render_as_text(browser, hostile_site):
    url, labels = hostile_site
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watched = Watched(context.new_page(), url.rstrip("/"))
    page = watched.page
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    watched.open(url, "#model=hostile&view=interpretation")
    page.select_option("#interp-kind", "lens")  # the legend lists every label
    page.wait_for_function("document.getElementById('interp-canvas').dataset.kind === 'lens'")
    shown = page.eval_on_selector_all("#prediction-list .class-label", "els => els.map(e => e.textContent)")
    assert shown == labels
    assert HOSTILE in page.inner_text("#model-title") + page.inner_text("#model-picker-label")
    assert labels[0] in page.inner_text("#interp-legend")
    for view in ("overview", "graph", "detail"):
        page.click(f"[data-view-tab={view}]")
        page.wait_for_timeout(1000)
    assert page.locator("img[src=x], b:text('bold')").count() == 0  # no element was made from a label
    assert dialogs == []
    watched.assert_clean()
    context.close()
