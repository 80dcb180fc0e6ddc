"""The knowledge background graph (EL-VIT §V-B) in a real browser, on knowledge-preview.html.

That page (tests/fixtures) is not part of the site: the browser is served it at the site's root, beside web/.

Every node of the default model's knowledge.json is drawn, no label covers a node or another label once the
layout has settled, and each node's modal shows the real source of the installed transformers class.
"""
from __future__ import annotations

import importlib
import inspect
import json

import pytest

from export.default_model import NAME

from .conftest import ROOT, WEB, wait_hash

FIXTURES = ROOT / "tests" / "fixtures"
PREVIEW = ("knowledge-preview.html", "knowledge-preview.js", "knowledge-preview.css")
GRAPH_FILE = WEB / "model" / NAME / "knowledge.json"
GRAPH = json.loads(GRAPH_FILE.read_text()) if GRAPH_FILE.exists() else {"nodes": [], "edges": []}
CODE = [n for n in GRAPH["nodes"] if n["kind"] in ("class", "function")]
CONCEPTS = [n for n in GRAPH["nodes"] if n["kind"] == "concept"]
TOLERANCE = 0.5  # px: boxes may touch, not overlap


@pytest.fixture
def graph_page(watched, site):
    if not GRAPH_FILE.exists():
        pytest.fail(f"{GRAPH_FILE} is missing: run python -m export.default_model")
    fixture = {site + name: FIXTURES / name for name in PREVIEW}
    watched.page.route(lambda url: url.split("?")[0] in fixture,
                       lambda route: route.fulfill(path=fixture[route.request.url.split("?")[0]]))
    watched.page.goto(f"{site}knowledge-preview.html?model={NAME}")
    watched.page.wait_for_function("document.body.dataset.status !== 'loading'", timeout=60_000)
    assert watched.page.evaluate("document.body.dataset.status") == "ready", watched.page.inner_text("#kg-status")
    return watched


def node(page, node_id):
    return page.locator(f".kg-node[data-id={json.dumps(node_id)}]")


def intersect(a, b):
    width = min(a["right"], b["right"]) - max(a["left"], b["left"])
    height = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
    return width > TOLERANCE and height > TOLERANCE


def crossings(page, graph=GRAPH):
    """Pairs (label, label) and (label, node) whose boxes overlap on screen."""
    labels = page.evaluate("vitlensKnowledge.labelBoxes()")
    nodes = page.evaluate("vitlensKnowledge.nodeBoxes()")
    assert sorted(n["id"] for n in nodes) == sorted(n["id"] for n in labels) == sorted(n["id"] for n in graph["nodes"])
    found = [(a["id"], b["id"]) for i, a in enumerate(labels) for b in labels[i + 1:] if intersect(a, b)]
    return found + [(a["id"], "node " + b["id"]) for a in labels for b in nodes if intersect(a, b)]


def test_every_node_is_drawn_legibly_inside_the_panel(graph_page):
    page = graph_page.page
    drawn = page.evaluate("[...document.querySelectorAll('.kg-node')].map((g) => g.dataset.id)")
    assert sorted(drawn) == sorted(n["id"] for n in GRAPH["nodes"])
    assert {n["id"] for n in GRAPH["nodes"] if n["kind"] == "class"} <= set(drawn)
    texts = page.evaluate("Object.fromEntries([...document.querySelectorAll('.kg-label')]"
                          ".map((t) => [t.dataset.id, t.textContent]))")
    assert texts == {n["id"]: n["title"] if n["kind"] == "concept" else n["id"] for n in GRAPH["nodes"]}
    assert page.locator(".kg-edge").count() == len({(e["source"], e["target"], e["kind"]) for e in GRAPH["edges"]})
    # on screen, every label is at least 11 px high and the whole graph is inside the svg's box
    font_px = page.evaluate("[...document.querySelectorAll('.kg-label')].map((t) => "
                            "t.getScreenCTM().a * parseFloat(getComputedStyle(t).fontSize))")
    assert min(font_px) >= 11
    svg = page.locator(".kg-svg").bounding_box()
    assert svg["x"] + svg["width"] <= 1280 and svg["y"] + svg["height"] <= 900
    for box in page.evaluate("[...vitlensKnowledge.labelBoxes(), ...vitlensKnowledge.nodeBoxes()]"):
        assert svg["x"] <= box["left"] and box["right"] <= svg["x"] + svg["width"], box
        assert svg["y"] <= box["top"] and box["bottom"] <= svg["y"] + svg["height"], box
    graph_page.assert_clean()


def test_no_label_overlaps_a_node_or_another_label(graph_page):
    page = graph_page.page
    assert crossings(page) == []
    graph_page.assert_clean()


def test_each_code_node_opens_its_real_source(graph_page):
    page = graph_page.page
    dialog = page.locator("dialog.kg-dialog")
    assert CODE
    for entry in CODE:
        obj = getattr(importlib.import_module(entry["module"]), entry["id"])
        node(page, entry["id"]).click()
        assert dialog.is_visible() and dialog.get_attribute("data-id") == entry["id"]
        assert dialog.get_attribute("role") in (None, "dialog")  # <dialog> is role=dialog natively
        assert page.evaluate("document.querySelector('dialog.kg-dialog').matches(':modal')")
        assert dialog.locator(".kg-title").text_content() == entry["id"]
        assert f"{entry['file']}:{entry['line']}" in dialog.locator(".kg-meta").text_content()
        code = dialog.locator(".kg-source code").text_content()
        assert code == entry["source"] == inspect.getsource(obj), entry["id"]
        keyword = "class" if entry["kind"] == "class" else "def"
        assert keyword in dialog.locator(".kg-tok-keyword").all_text_contents()
        if entry["docstring"]:
            assert dialog.locator(".kg-docstring").text_content() == entry["docstring"]
        page.keyboard.press("Escape")
        assert not dialog.is_visible()
        assert page.evaluate("document.activeElement.dataset.id") == entry["id"]  # focus came back
    graph_page.assert_clean()


def test_each_concept_opens_its_explanation_and_formula(graph_page):
    page = graph_page.page
    dialog = page.locator("dialog.kg-dialog")
    assert CONCEPTS
    for entry in CONCEPTS:
        node(page, entry["id"]).click()
        assert dialog.is_visible() and dialog.locator(".kg-title").text_content() == entry["title"]
        assert dialog.locator(".kg-formula").text_content() == entry["formula"]
        assert dialog.locator(".kg-explanation").text_content() == entry["explanation"]
        implementers = {e["target"] for e in GRAPH["edges"] if e["source"] == entry["id"]}
        assert set(dialog.locator(".kg-related .kg-link").evaluate_all("bs => bs.map((b) => b.dataset.id)")) \
            == implementers
        dialog.locator(".kg-close").click()
        assert not dialog.is_visible()
        assert page.evaluate("document.activeElement.dataset.id") == entry["id"]
    graph_page.assert_clean()


def test_hover_dims_everything_but_the_neighbours(graph_page):
    page = graph_page.page
    hovered = max(CODE, key=lambda n: sum(n["id"] in (e["source"], e["target"]) for e in GRAPH["edges"]))["id"]
    near = {hovered} | {e["target"] for e in GRAPH["edges"] if e["source"] == hovered} | \
        {e["source"] for e in GRAPH["edges"] if e["target"] == hovered}
    dimmed = "[...document.querySelectorAll('.kg-node.kg-dim')].map((g) => g.dataset.id)"
    assert page.evaluate(dimmed) == []
    node(page, hovered).hover()
    assert set(page.evaluate(dimmed)) == {n["id"] for n in GRAPH["nodes"]} - near
    assert set(page.evaluate("[...document.querySelectorAll('.kg-label:not(.kg-dim)')].map((t) => t.dataset.id)")) \
        == near
    page.wait_for_timeout(300)  # the fade's transition
    some_far = next(n["id"] for n in GRAPH["nodes"] if n["id"] not in near)
    assert float(node(page, some_far).evaluate("g => getComputedStyle(g).opacity")) < 0.5
    page.mouse.move(2, 2)
    assert page.evaluate(dimmed) == []
    graph_page.assert_clean()


def test_dragging_moves_a_node_and_the_wheel_zooms(graph_page):
    page = graph_page.page
    root = node(page, GRAPH["architecture"])

    def centre():  # of the box: hovering thickens the outline, which grows the box
        box = root.bounding_box()
        return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    x, y = centre()
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y - 40, steps=8)
    page.mouse.up()
    page.wait_for_timeout(400)
    dropped = centre()  # the node stays where it was dropped
    assert abs(dropped[0] - x - 60) < 1 and abs(dropped[1] - y + 40) < 1
    assert not page.locator("dialog.kg-dialog").is_visible()  # a drag is not a click

    def label_height():
        box = page.evaluate("vitlensKnowledge.labelBoxes()")[0]
        return box["bottom"] - box["top"]

    before_zoom = label_height()
    svg = page.locator(".kg-svg").bounding_box()
    page.mouse.move(svg["x"] + svg["width"] / 2, svg["y"] + svg["height"] / 2)
    page.mouse.wheel(0, -400)
    page.wait_for_timeout(300)
    assert label_height() > 1.2 * before_zoom
    graph_page.assert_clean()


@pytest.mark.parametrize("architecture", ["ViTForImageClassification", "DeiTForImageClassification",
                                          "DeiTForImageClassificationWithTeacher", "Dinov2ForImageClassification"])
def test_every_family_lays_out_without_overlaps(graph_page, architecture):
    """Other exports have other graphs: the layout must keep labels clear for each supported family."""
    from export.knowledge import build_graph
    page = graph_page.page
    graph = build_graph(architecture)
    page.evaluate("async (graph) => { const { renderKnowledgeGraph } = await import('./js/knowledge/index.js');"
                  " renderKnowledgeGraph(document.getElementById('knowledge-graph'), graph); }", graph)
    assert page.locator(".kg-svg").count() == 1  # the previous drawing was replaced
    assert crossings(page, graph) == []
    graph_page.assert_clean()


def test_the_main_page_draws_the_graph_in_its_view(watched, site):
    watched.open(site, f"#model={NAME}&image=chelsea&view=overview")
    page = watched.page
    page.click("[data-view-tab='graph']")
    page.wait_for_selector("#knowledge-graph[data-ready='true']", timeout=30_000)
    drawn = page.evaluate("[...document.querySelectorAll('#knowledge-graph .kg-node')].map((g) => g.dataset.id)")
    assert sorted(drawn) == sorted(n["id"] for n in GRAPH["nodes"])
    assert crossings(page) == []
    assert "transformers" in page.inner_text("#kg-status")
    node(page, "Dinov2SelfAttention").click()
    assert page.locator("dialog.kg-dialog").is_visible()
    page.keyboard.press("Escape")
    wait_hash(page, "view=graph")
    watched.assert_clean()
