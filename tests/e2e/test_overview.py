"""The Model Overview in the browser: drill down and back, tooltips, shapes, links to Model detail."""
from __future__ import annotations

import json

from export.default_model import NAME

from .conftest import WEB, wait_hash

MANIFEST = json.loads((WEB / "model" / NAME / "manifest.json").read_text())
LEVEL = "svg.overview g.level:not([style*='opacity: 0'])"


def level_id(page):
    page.wait_for_timeout(450)  # the previous level fades out
    return page.get_attribute("svg.overview g.level:last-of-type", "data-level")


def node_ids(page):
    return page.eval_on_selector_all("svg.overview g.level:last-of-type g.node", "ns => ns.map(n => n.dataset.node)")


def open_overview(watched, site):
    watched.open(site, f"#model={NAME}&image=chelsea&view=overview")
    assert level_id(watched.page) == "model"


def test_drill_down_to_a_block_and_back(watched, site):
    open_overview(watched, site)
    page = watched.page
    assert node_ids(page) == ["image", "patch", "tokens", "position", "encoder", "final_norm", "head", "probs"]
    page.click("g.node[data-node=encoder]")
    assert level_id(page) == "encoder"
    assert len(node_ids(page)) == MANIFEST["num_layers"] + 1
    page.click("g.node[data-node='block.2']")
    assert level_id(page) == "block.2"
    ids = node_ids(page)
    assert {"norm1", "attention", "add1", "norm2", "fc1", "act", "fc2", "add2"} <= set(ids)
    assert ("ls1" in ids) == MANIFEST["layer_scale"]
    page.click("g.node[data-node=attention]")
    assert level_id(page) == "attention.2"
    assert {"query", "key", "value", "scores", "softmax", "context", "proj"} <= set(node_ids(page))
    page.keyboard.press("Escape")
    assert level_id(page) == "block.2"
    page.click("svg.overview rect.background", position={"x": 5, "y": 5})
    assert level_id(page) == "encoder"
    page.click("nav.crumbs button.crumb")
    assert level_id(page) == "model"
    watched.assert_clean()


def test_keyboard_drills_in_and_out(watched, site):
    open_overview(watched, site)
    page = watched.page
    page.focus("g.node[data-node=encoder]")
    page.keyboard.press("Enter")
    assert level_id(page) == "encoder"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert level_id(page) == "block.0"
    page.keyboard.press("Escape")
    assert level_id(page) == "encoder"


def test_real_shapes_and_the_two_ends(watched, site):
    open_overview(watched, site)
    page = watched.page
    shapes = page.eval_on_selector_all("svg.overview g.level:last-of-type text.shape", "ts => ts.map(t => t.textContent)")
    h, w = MANIFEST["image_size"]
    tokens, hidden = MANIFEST["tokens"], MANIFEST["hidden_size"]
    assert shapes[0] == f"{h}×{w}×3"
    assert f"{MANIFEST['grid'][0]}×{MANIFEST['grid'][1]}×{hidden}" in shapes
    assert f"{tokens}×{hidden}" in shapes and shapes[-1] == str(len(MANIFEST["labels"]))
    assert page.get_attribute("image.overview-image", "href").startswith("data:image/png")
    top = page.inner_text("#prediction-top")
    assert top in page.text_content("g.overview-prediction")


def test_every_node_has_a_tooltip_at_every_level(watched, site):
    open_overview(watched, site)
    page = watched.page
    for drill in [None, "encoder", "block.1", "attention"]:
        if drill:
            page.click(f"g.node[data-node='{drill}']")
            level_id(page)
        for node in node_ids(page):
            page.hover(f"svg.overview g.level:last-of-type g.node[data-node='{node}']")
            tip = page.locator("#overview-tip")
            assert tip.is_visible() and len(tip.inner_text().strip()) > 40, node
    watched.assert_clean()


def test_a_leaf_opens_model_detail_at_its_block(watched, site):
    open_overview(watched, site)
    page = watched.page
    page.click("g.node[data-node=encoder]")
    level_id(page)
    page.click("g.node[data-node='block.4']")
    level_id(page)
    page.click("g.node[data-node=fc1]")
    page.wait_for_function("location.hash.includes('view=detail')")
    wait_hash(page, "layer=5", "tensor=layer.4.mlp.pre_act")
    assert page.is_visible("[data-view='detail']")
