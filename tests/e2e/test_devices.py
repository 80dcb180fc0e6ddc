"""A phone and a tablet: every view and operation view fits the screen, and taps read values.

Chromium with a touch context (is_mobile, has_touch): the page must lay itself out at the device's
width (nothing wider than the screen), and every hover readout must answer a tap.
"""
from __future__ import annotations

import json

import pytest

from export.default_model import NAME

from .conftest import WEB, Watched, wait_hash

MANIFEST = json.loads((WEB / "model" / NAME / "manifest.json").read_text())
DEVICES = {"phone": (390, 844), "tablet": (820, 1180)}
VIEWS = {
    "tour": "#tour-step[data-step]",
    "overview": "#overview-diagram svg",
    "graph": "#knowledge-graph[data-ready=true]",
    "detail": "#detail-canvas[data-tensor]",
    "interpretation": "#interp-canvas[data-kind]",
}
OPERATIONS = ("open-patch", "open-positions", "open-layernorm", "open-attention", "open-gelu")
FITS = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture(params=list(DEVICES))
def device(request, browser, site):
    width, height = DEVICES[request.param]
    context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=True, has_touch=True,
                                  device_scale_factor=2)
    watched = Watched(context.new_page(), site.rstrip("/"))
    yield watched, width
    context.close()


def tap_at(page, selector, fx, fy):
    """Tap a point of an element, as fractions of its width and height."""
    box = page.locator(selector).bounding_box()
    page.touchscreen.tap(box["x"] + fx * box["width"], box["y"] + fy * box["height"])


def test_every_view_fits_the_screen_and_opens_by_tap(device, site):
    watched, width = device
    watched.open(site, f"#model={NAME}&image=chelsea")
    page = watched.page
    assert page.evaluate("window.innerWidth") == width  # width=device-width: no zooming out
    for view, drawn in VIEWS.items():
        page.tap(f"[data-view-tab={view}]")
        page.wait_for_function(f"!!document.querySelector({json.dumps(drawn)}) && "
                               f"!document.querySelector('[data-view={view}]').hidden")
        page.wait_for_timeout(300)
        assert page.evaluate(FITS), f"{view} lays the page out wider than {width} px"
    watched.assert_clean()


def test_operation_views_fit_and_their_controls_are_finger_sized(device, site):
    watched, width = device
    watched.open(site, f"#model={NAME}&image=chelsea&view=detail&layer=2&token=5")
    page = watched.page
    page.wait_for_selector("#detail-canvas[data-tensor]")
    for button in OPERATIONS:
        page.tap(f"#{button}")
        page.wait_for_selector("dialog[open]")
        page.wait_for_timeout(300)
        box = page.locator("dialog[open]").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (button, box)
        for control in page.locator("dialog[open] .operation-controls button").all():
            size = control.bounding_box()
            assert size["height"] >= 44 and size["width"] >= 44, (button, size)
        page.tap("dialog[open] .operation-close")
        page.wait_for_function("!document.querySelector('dialog[open]')")
    assert page.evaluate(FITS)
    watched.assert_clean()


def test_a_tap_reads_a_map_value_and_picks_a_patch(device, site):
    watched, _ = device
    watched.open(site, f"#model={NAME}&image=chelsea&view=detail&layer=1&tensor=layer.0.output")
    page = watched.page
    page.wait_for_selector("#detail-canvas[data-tensor='layer.0.output']")
    page.locator("#detail-canvas").scroll_into_view_if_needed()
    tap_at(page, "#detail-canvas", 0.05, 0.05)
    page.wait_for_function("document.getElementById('detail-readout').dataset.cell !== undefined")
    assert "value" in page.text_content("#detail-readout")

    page.tap("[data-view-tab=interpretation]")
    page.wait_for_selector("#interp-canvas[data-kind]")
    page.locator("#interp-canvas").scroll_into_view_if_needed()
    rows, cols = MANIFEST["grid"]
    tap_at(page, "#interp-canvas", 4.5 / cols, 2.5 / rows)
    patch = 2 * cols + 4
    special = len(MANIFEST["special_tokens"])
    page.wait_for_function(f"document.getElementById('interp-readout').dataset.patch === '{patch}'")
    page.wait_for_function(f"location.hash.includes('token={patch + special}')")  # the tap chose the token
    watched.assert_clean()


def touch(cdp, kind, points):
    cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y} for x, y in points]})


def test_the_knowledge_graph_pans_and_zooms_by_touch(device, site):
    watched, _ = device
    watched.open(site, f"#model={NAME}&image=chelsea&view=graph")
    page = watched.page
    page.wait_for_selector("#knowledge-graph[data-ready=true]")
    page.locator("#knowledge-graph svg.kg-svg").scroll_into_view_if_needed()
    box = page.locator("#knowledge-graph svg.kg-svg").bounding_box()
    transform = "document.querySelector('#knowledge-graph .kg-view').getAttribute('transform')"
    cdp = page.context.new_cdp_session(page)
    x, y = box["x"] + 8, box["y"] + 8  # a corner: the background, not a node
    before = page.evaluate(transform)
    touch(cdp, "touchStart", [(x, y)])
    for step in range(1, 6):
        touch(cdp, "touchMove", [(x + 12 * step, y + 8 * step)])
    touch(cdp, "touchEnd", [])
    panned = page.evaluate(transform)
    assert panned != before and "scale" in panned
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    touch(cdp, "touchStart", [(cx - 20, cy), (cx + 20, cy)])  # two fingers apart: zoom in
    for step in range(1, 6):
        touch(cdp, "touchMove", [(cx - 20 - 10 * step, cy), (cx + 20 + 10 * step, cy)])
    touch(cdp, "touchEnd", [])
    scale = lambda t: float(t.split("scale(")[1].rstrip(")").split(",")[0])  # noqa: E731
    assert scale(page.evaluate(transform)) > scale(panned) * 1.5
    watched.assert_clean()


def test_the_overview_explains_a_box_on_the_first_tap_and_opens_it_on_the_second(device, site):
    watched, _ = device
    watched.open(site, f"#model={NAME}&image=chelsea&view=overview")
    page = watched.page
    box = page.locator("#overview-diagram g.node[data-node='patch']")
    box.scroll_into_view_if_needed()
    box.tap()
    page.wait_for_selector("#overview-tip:not([hidden])")
    assert "Tap again" in page.text_content("#overview-tip")
    wait_hash(page, "view=overview")
    box.tap()
    page.wait_for_function("location.hash.includes('view=detail')")
    page.wait_for_selector("#detail-canvas[data-tensor='embeddings.patch_conv']")
    watched.assert_clean()
