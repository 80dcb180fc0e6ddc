"""Model detail in the browser: Fig. 6 maps of any tensor, and hovered values equal CPython's."""
from __future__ import annotations

import json

import numpy as np
import pytest

from export import fidelity
from export.default_model import NAME
from export.shared import names

from .conftest import WEB, wait_hash
from .test_page import page_tensor

MODEL = WEB / "model" / NAME
MANIFEST = json.loads((MODEL / "manifest.json").read_text())


def hover_cell(page, x, y):
    page.locator("#detail-canvas").scroll_into_view_if_needed()
    box = page.locator("#detail-canvas").bounding_box()
    page.mouse.move(box["x"] + x, box["y"] + y)
    page.wait_for_function("document.getElementById('detail-readout').dataset.value !== undefined")
    readout = page.locator("#detail-readout")
    return int(readout.get_attribute("data-map")), int(readout.get_attribute("data-cell")), \
        float(readout.get_attribute("data-value")), readout.inner_text()


def native_value(name, shape, map_index, cell, reference):
    tensor = reference[name][0]
    if len(shape) == 4 and shape[2] == MANIFEST["tokens"] != shape[3]:  # (heads, tokens, x)
        head, x = divmod(map_index, shape[3])
        return tensor[head, cell, x]
    if len(shape) == 4:  # (channels, rows, cols), or (heads, query tokens, key tokens)
        return tensor[map_index].ravel()[cell]
    return tensor[cell, map_index]


@pytest.mark.parametrize("tensor", ["layer.2.mlp.post_act", "embeddings.patch_conv", "layer.2.attention.query",
                                    "layer.2.output", "layer.2.attention.scores"])
def test_hovered_values_equal_cpython(watched, site, tensor):
    watched.open(site, f"#model={NAME}&image=chelsea&view=detail&layer=3&tensor={tensor}")
    page = watched.page
    page.wait_for_function(f"document.getElementById('detail-canvas').dataset.tensor === {json.dumps(tensor)}")
    reference = fidelity.run_parts(MODEL, MANIFEST["stages"], page_tensor(page, "pixel_values"))
    shape = next(t["shape"] for t in MANIFEST["tensors"] if t["name"] == tensor)
    seen = set()
    for x, y in [(2, 2), (30, 40), (150, 60), (60, 150)]:
        map_index, cell, value, text = hover_cell(page, x, y)
        expected = native_value(tensor, shape, map_index, cell, reference)
        span = float(np.ptp(reference[tensor]))
        assert abs(value - expected) <= 1e-4 * span, (tensor, map_index, cell)
        assert "value" in text
        seen.add((map_index, cell))
    assert len(seen) > 1
    watched.assert_clean()


def test_blocks_modes_and_pages(watched, site):
    watched.open(site, f"#model={NAME}&image=chelsea&view=detail")
    page = watched.page
    page.wait_for_function("document.getElementById('detail-canvas').dataset.tensor === 'layer.0.output'")
    assert page.inner_text("#detail-page") == f"maps 1–96 of {MANIFEST['hidden_size']}"
    page.select_option("#detail-block", "5")
    page.wait_for_function("document.getElementById('detail-canvas').dataset.tensor === 'layer.4.output'")
    wait_hash(page, "layer=5")
    page.select_option("#detail-tensor", "layer.4.attention.probs")
    page.wait_for_function("document.getElementById('detail-canvas').dataset.tensor === 'layer.4.attention.probs'")
    wait_hash(page, "tensor=layer.4.attention.probs")
    assert page.inner_text("#detail-page") == f"maps 1–{MANIFEST['num_heads']} of {MANIFEST['num_heads']}"
    page.select_option("#detail-tensor", "layer.4.attention.query")
    page.wait_for_function("document.getElementById('detail-canvas').dataset.tensor === 'layer.4.attention.query'")
    for mode in ("tensor", "robust", "channel"):
        page.select_option("#detail-mode", mode)
        page.wait_for_timeout(300)
    page.click("#detail-next")
    page.wait_for_function("document.getElementById('detail-canvas').dataset.first === '96'")
    assert page.inner_text("#detail-page").startswith("maps 97–192 of")
    assert page.is_disabled("#detail-prev") is False
    watched.assert_clean()


def test_flow_strip_navigates_and_annotates(watched, site):
    watched.open(site, f"#model={NAME}&image=chelsea&view=detail&layer=2&tensor=layer.1.output")
    page = watched.page
    page.wait_for_function("document.getElementById('detail-canvas').dataset.tensor === 'layer.1.output'")
    assert page.get_attribute("#detail-flow", "data-level") == "block.1"
    page.hover("#detail-flow .flow-step[data-step='norm1']")
    assert "LayerNorm" in page.inner_text("#detail-annotation") and "Shape" in page.inner_text("#detail-annotation")
    page.click("#detail-flow .flow-step[data-step='attention']")
    page.wait_for_function("document.getElementById('detail-flow').dataset.level === 'attention.1'")
    page.click("#detail-flow .flow-step[data-step='scores']")
    page.wait_for_function("document.getElementById('detail-canvas').dataset.tensor === 'layer.1.attention.scores'")
    wait_hash(page, "tensor=layer.1.attention.scores")
    box = page.locator("#detail-flow .flow-strip").bounding_box()
    page.mouse.click(box["x"] + box["width"] - 4, box["y"] + box["height"] - 4)  # the strip's empty space: up
    page.wait_for_function("document.getElementById('detail-flow').dataset.level === 'block.1'")
    page.click("#detail-flow .flow-crumb >> text=Model")
    page.wait_for_function("document.getElementById('detail-flow').dataset.level === 'model'")
    page.hover("#detail-flow .flow-step[data-step='tokens']")
    assert "CLS" in page.inner_text("#detail-annotation")
    page.click("#detail-flow .flow-step[data-step='patch']")
    page.wait_for_function("document.getElementById('detail-canvas').dataset.tensor === 'embeddings.patch_conv'")

    page.click("#detail-flow .flow-step[data-step='encoder']")  # every block's output side by side
    page.wait_for_function("document.getElementById('detail-canvas').dataset.tensor === 'encoder.outputs'")
    assert page.get_attribute("#detail-flow", "data-level") == "encoder"
    page.click("#detail-next")
    page.wait_for_function("document.getElementById('detail-page').textContent.startsWith('channel 1 ')")
    reference = fidelity.run_parts(MODEL, MANIFEST["stages"], page_tensor(page, "pixel_values"))
    for x, y in [(30, 40), (150, 60)]:
        block, cell, value, text = hover_cell(page, x, y)
        assert f"block {block + 1} output, channel 1" in text
        output = reference[names.in_block(block, "output")]
        expected = output[0, cell, 1]
        assert abs(value - expected) <= 1e-4 * float(np.ptp(output))
    watched.assert_clean()
