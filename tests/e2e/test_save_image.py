"""Save image (#32): every view and operation view downloads a PNG at 2x (and an SVG where it is
vector) whose file name and caption name the state; canvas maps keep their exact pixels.

One page serves the whole file (the cases run in order on it), so the model loads once."""
from __future__ import annotations

import base64
import io
import json
import math
import re
import struct
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from export.default_model import NAME

from .conftest import WEB, Watched

MANIFEST = json.loads((WEB / "model" / NAME / "manifest.json").read_text())
CHELSEA = next(s for s in MANIFEST["samples"] if s["id"] == "chelsea")
SVG = "{http://www.w3.org/2000/svg}"
GAP, MARGIN = 8, 8  # save_image.js: between the parts of a figure, and around them


@pytest.fixture(scope="module")
def shared(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    watched = Watched(context.new_page(), site.rstrip("/"))
    watched.open(site, f"#model={NAME}&image=chelsea&view=overview&layer=6&token=40")
    yield watched
    context.close()


def save(page, button, tmp_path):
    """Clicks a Save button; returns the file's name, its bytes and what the button says it saved."""
    with page.expect_download() as info:
        page.click(button)
    download = info.value
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    return download.suggested_filename, path.read_bytes(), page.eval_on_selector(button, "b => ({...b.dataset})")


def box(page, selector):
    return page.eval_on_selector(selector, "e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; }")


def check_png(data, saved, parts=None):
    """A PNG twice the figure's CSS size plus its caption band; `parts`: the CSS sizes of what it stacks."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    css_width, css_height, band = int(saved["savedWidth"]), int(saved["savedHeight"]), int(saved["savedBand"])
    assert (width, height) == (2 * css_width, 2 * (css_height + band))
    assert band >= 3 * 16  # three caption lines at least
    if parts:
        assert css_width == math.ceil(max(w for w, _ in parts)) + 2 * MARGIN
        assert css_height == sum(math.ceil(h) for _, h in parts) + GAP * (len(parts) - 1) + 2 * MARGIN
    return Image.open(io.BytesIO(data)).convert("RGBA")


def check_svg(data, saved):
    """A standalone SVG: parses, root svg with xmlns and a size, no script, no handler, the caption's text."""
    text = data.decode()
    assert "<script" not in text.lower() and not re.search(r"\son[a-z]+\s*=", text, re.I)
    root = ET.fromstring(data)
    assert root.tag == f"{SVG}svg" and 'xmlns="http://www.w3.org/2000/svg"' in text
    assert float(root.get("width")) == int(saved["savedWidth"])
    assert float(root.get("height")) == int(saved["savedHeight"]) + int(saved["savedBand"])
    for node in root.iter():
        assert not node.tag.endswith("script") and not node.tag.endswith("foreignObject")
        assert not [name for name in node.attrib if name.lower().startswith("on")]
    words = "".join(t.text or "" for t in root.iter(f"{SVG}text")).replace(" ", "")
    for line in saved["savedCaption"].split("\n"):
        assert line.replace(" ", "") in words


def check_caption(page, saved, *pieces):
    """The caption names the model, what the view shows, the image with its licence, and the URL."""
    lines = saved["savedCaption"].split("\n")
    assert lines[0].startswith(f"ViT Lens · {MANIFEST['title']} · ")
    for piece in pieces:
        assert piece in lines[0], (piece, lines[0])
    assert lines[1] == f"Image: {CHELSEA['title']} — {CHELSEA['source']} ({CHELSEA['licence']})"
    page.wait_for_function("(href) => location.href === href", arg=lines[2])  # the page writes its URL just after a change


def exact_copy(picture, page, canvas, left, top):
    """The canvas's pixels, each drawn as a 2x2 block at (left, top) of the picture (CSS px): no smoothing."""
    url = page.eval_on_selector(canvas, "c => c.toDataURL()")
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",")[1]))).convert("RGBA"))
    doubled = pixels.repeat(2, axis=0).repeat(2, axis=1)
    region = np.asarray(picture)[2 * top:2 * top + doubled.shape[0], 2 * left:2 * left + doubled.shape[1]]
    opaque = doubled[..., 3] == 255
    assert opaque.mean() > 0.5
    assert np.array_equal(region[opaque][:, :3], doubled[opaque][:, :3])


def show(page, view, ready):
    page.click(f"[data-view-tab={view}]")
    page.wait_for_function(ready, timeout=60_000)


def test_overview_saves_png_and_svg(shared, tmp_path):
    page = shared.page
    page.wait_for_selector("svg.overview g.node")
    name, data, saved = save(page, "[data-save-view=overview] [data-save=png]", tmp_path)
    assert name == f"vitlens_{NAME}_chelsea_overview_model.png"
    check_png(data, saved, [box(page, "#overview-diagram svg.overview")])
    check_caption(page, saved, "Model overview")
    name, data, saved = save(page, "[data-save-view=overview] [data-save=svg]", tmp_path)
    assert name == f"vitlens_{NAME}_chelsea_overview_model.svg"
    check_svg(data, saved)
    root = ET.fromstring(data)
    assert [i for i in root.iter(f"{SVG}image") if i.get("href", "").startswith("data:image/png")]  # the input, inlined
    shared.assert_clean()


def test_knowledge_graph_saves_png_and_svg(shared, tmp_path):
    page = shared.page
    show(page, "graph", "document.querySelector('#knowledge-graph .kg-svg .kg-node')")
    name, data, saved = save(page, "[data-save-view=graph] [data-save=png]", tmp_path)
    assert name == f"vitlens_{NAME}_chelsea_graph.png"
    check_png(data, saved, [box(page, "#knowledge-graph .kg-legend"), box(page, "#knowledge-graph .kg-svg")])
    check_caption(page, saved, "Knowledge graph of")
    name, data, saved = save(page, "[data-save-view=graph] [data-save=svg]", tmp_path)
    check_svg(data, saved)
    assert "Dinov2Layer" in data.decode()
    shared.assert_clean()


def test_model_detail_keeps_every_map_pixel(shared, tmp_path):
    page = shared.page
    show(page, "detail", "document.getElementById('detail-canvas').dataset.tensor === 'layer.5.output'")
    name, data, saved = save(page, "[data-save-view=detail] [data-save=png]", tmp_path)
    assert name == f"vitlens_{NAME}_chelsea_detail_block6_layer.5.output_maps1-96.png"
    parts = [box(page, s) for s in ("#detail-flow", "#detail-meaning", "article[data-view=detail] .detail-legend",
                                    "#detail-canvas")]
    picture = check_png(data, saved, parts)
    check_caption(page, saved, "Model detail: layer.5.output", "maps 1–96 of 384")
    canvas_top = int(saved["savedHeight"]) - MARGIN - math.ceil(parts[-1][1])
    exact_copy(picture, page, "#detail-canvas", MARGIN, canvas_top)
    name, data, saved = save(page, "[data-save-view=detail] [data-save=svg]", tmp_path)  # the flow strip
    assert name.endswith("_detail_block6_layer.5.output_maps1-96.svg")
    check_svg(data, saved)
    assert "Self-attention" in data.decode() and "LayerNorm" in data.decode()
    shared.assert_clean()


OPERATIONS = [("#open-patch", "patch-embedding_unit0_patch0", "Patch embedding"),
              ("#open-positions", "position-embeddings_patch39", "Position embeddings"),
              ("#open-layernorm", "layernorm_block6_before-attention_token40_feature0", "LayerNorm (block 6"),
              ("#open-attention", "attention_block6_head1_token40", "Attention in block 6, head 1"),
              ("#open-gelu", "gelu_block6_token40_unit0", "GELU in block 6")]


@pytest.mark.parametrize("button, state, title", OPERATIONS, ids=[o[0][6:] for o in OPERATIONS])
def test_every_operation_view_saves_its_figure(shared, tmp_path, button, state, title):
    page = shared.page
    show(page, "detail", "document.getElementById('detail-canvas').dataset.tensor")
    page.click(button)
    page.locator("dialog#operation-dialog").wait_for()
    name, data, saved = save(page, "dialog#operation-dialog [data-save=png]", tmp_path)
    assert name == f"vitlens_{NAME}_chelsea_{state}.png"
    assert page.locator("dialog#operation-dialog [data-save=svg]").count() == 0  # canvases: PNG only
    check_png(data, saved)
    check_caption(page, saved, title, "step ")
    page.keyboard.press("Escape")
    page.wait_for_selector("dialog#operation-dialog", state="detached")
    shared.assert_clean()


def test_interpretation_names_block_head_and_token(shared, tmp_path):
    page = shared.page
    show(page, "interpretation", "document.getElementById('interp-canvas').dataset.kind")
    page.select_option("#interp-kind", "attention")
    page.select_option("#interp-head", "2")
    page.select_option("#interp-block", "11")
    page.wait_for_function("(() => { const c = document.getElementById('interp-canvas'); return c.dataset.kind === "
                           "'attention' && c.dataset.block === '11'; })()")
    name, data, saved = save(page, "[data-save-view=interpretation] [data-save=png]", tmp_path)
    assert name == f"vitlens_{NAME}_chelsea_interpretation_attention_block11_head3_token40.png"
    parts = [box(page, s) for s in ("#interp-meaning", "article[data-view=interpretation] .detail-legend",
                                    "article[data-view=interpretation] .interp-main")]
    picture = check_png(data, saved, parts)
    check_caption(page, saved, "Interpretation: raw attention", "block 11", "head 3", "token 40")
    main_top = MARGIN + sum(math.ceil(h) for _, h in parts[:2]) + 2 * GAP
    left, top = page.evaluate("""(() => {
        const c = document.getElementById('interp-canvas').getBoundingClientRect();
        const m = document.querySelector('article[data-view=interpretation] .interp-main').getBoundingClientRect();
        return [c.left - m.left, c.top - m.top]; })()""")
    assert left == int(left) and top == int(top)
    exact_copy(picture, page, "#interp-canvas", MARGIN + int(left), main_top + int(top))
    shared.assert_clean()


def test_tour_step_figure(shared, tmp_path):
    page = shared.page
    show(page, "tour", "document.querySelector('#tour-visual canvas')")
    name, data, saved = save(page, "[data-save-view=tour] [data-save=png]", tmp_path)
    assert name == f"vitlens_{NAME}_chelsea_tour_step1.png"
    check_png(data, saved, [box(page, "#tour-step")])
    check_caption(page, saved, "Tour, step 1: 1. What the model sees")
    shared.assert_clean()


def test_an_upload_is_captioned_your_image(shared, tmp_path):
    page = shared.page
    show(page, "overview", "document.querySelector('svg.overview g.node')")
    photo = tmp_path / "mine.png"
    Image.fromarray(np.tile(np.arange(0, 240, 2, dtype=np.uint8), (96, 1))).convert("RGB").save(photo)
    page.set_input_files("#file-input", str(photo))
    page.wait_for_function("location.hash.includes('image=upload') && document.body.dataset.status === 'ready'")
    name, data, saved = save(page, "[data-save-view=overview] [data-save=png]", tmp_path)
    assert name == f"vitlens_{NAME}_upload_overview_model.png"
    check_png(data, saved)
    assert saved["savedCaption"].split("\n")[1] == "Image: your image"
    shared.assert_clean()


def test_nothing_to_save_says_so(shared):
    page = shared.page
    show(page, "overview", "document.querySelector('svg.overview g.node')")
    page.evaluate("document.querySelector('#overview-diagram svg.overview').style.display = 'none'")
    page.click("[data-save-view=overview] [data-save=png]")
    page.wait_for_function("document.querySelector('[data-save-view=overview] [data-save=png]').dataset.saveError")
    assert "nothing drawn" in page.inner_text("#message")
    page.evaluate("document.querySelector('#overview-diagram svg.overview').style.display = ''")


def test_phone_buttons_fit_and_save(browser, site, tmp_path):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  device_scale_factor=2, accept_downloads=True)
    watched = Watched(context.new_page(), site.rstrip("/"))
    try:
        watched.open(site, f"#model={NAME}&image=chelsea&view=interpretation")
        page = watched.page
        page.wait_for_function("document.getElementById('interp-canvas').dataset.kind")
        for view in ("interpretation", "overview"):
            button = page.locator(f"[data-save-view={view}] [data-save=png]")
            if view == "overview":
                page.click("[data-view-tab=overview]")
                page.wait_for_selector("svg.overview g.node")
            b = button.bounding_box()
            assert b["x"] >= 0 and b["x"] + b["width"] <= 390 and b["height"] >= 44 and b["width"] >= 44
        _, data, saved = save(page, "[data-save-view=overview] [data-save=png]", tmp_path)
        check_png(data, saved, [box(page, "#overview-diagram svg.overview")])
        page.click("[data-view-tab=detail]")
        page.wait_for_function("document.getElementById('detail-canvas').dataset.tensor")
        page.click("#open-attention")
        page.locator("dialog#operation-dialog").wait_for()
        b = page.locator("dialog#operation-dialog [data-save=png]").bounding_box()
        assert b["x"] >= 0 and b["x"] + b["width"] <= 390 and b["height"] >= 44
        _name, data, saved = save(page, "dialog#operation-dialog [data-save=png]", tmp_path)
        check_png(data, saved)
        watched.assert_clean()
    finally:
        context.close()
