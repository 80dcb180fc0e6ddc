"""Model detail in the browser: Fig. 6 maps of any tensor, and hovered values equal CPython's."""
from __future__ import annotations

import json
import sys

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


def legend_ends(page):
    return page.eval_on_selector_all("#detail-legend .legend-end", "es => es.map(e => e.textContent)")


def canvas_picture(page):
    """The maps as drawn: the canvas's pixels as a PNG data URL."""
    return page.eval_on_selector("#detail-canvas", "c => c.toDataURL()")


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


def test_a_drawn_pixel_is_the_colour_map_at_the_level_python_computed(watched, site):
    """From the tensor to the pixel: the page's own values, levelled by the page's Python code (run
    here in CPython), coloured by the page's viridis, are the canvas's pixels under the pointer."""
    sys.path.insert(0, str(WEB / "py"))
    import detail
    import tensors
    from manifest import Manifest
    watched.open(site, f"#model={NAME}&image=chelsea&view=detail")
    page = watched.page
    page.wait_for_function("document.getElementById('detail-canvas').dataset.tensor === 'layer.0.output'")
    values = page_tensor(page, "layer.0.output")
    lay = detail.layout(list(values.shape), Manifest.from_json(MANIFEST))
    levels, _ = detail.levels(tensors.as_floats(values.tobytes()), lay, 0, 96, "channel")
    viridis = page.evaluate("async () => (await import(new URL('js/colours.js', location.href).href))"
                            ".VIRIDIS.map((c) => [c.r, c.g, c.b])")
    seen = set()
    for x, y in [(3, 3), (30, 40), (150, 60), (60, 10)]:  # inside maps, not in the gaps between them
        page.evaluate("delete document.getElementById('detail-readout').dataset.value")  # no stale readout
        map_index, cell, _, _ = hover_cell(page, x, y)
        pixel = page.evaluate("""([x, y]) => {
            const canvas = document.getElementById('detail-canvas');
            const px = Math.floor((x - canvas.clientLeft) / canvas.clientWidth * canvas.width);
            const py = Math.floor((y - canvas.clientTop) / canvas.clientHeight * canvas.height);
            return Array.from(canvas.getContext('2d').getImageData(px, py, 1, 1).data);
        }""", [x, y])
        level = levels[map_index * lay["cells"] + cell]
        assert pixel == [*viridis[level], 255], (x, y, map_index, cell, level)
        seen.add(level)
    assert len(seen) > 1  # not one colour everywhere
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
    query = fidelity.run_parts(MODEL, MANIFEST["stages"], page_tensor(page, "pixel_values"))["layer.4.attention.query"]
    span = float(np.ptp(query))
    pictures = {"channel": canvas_picture(page)}
    ends = legend_ends(page)
    for mode in ("tensor", "robust", "channel"):
        page.select_option("#detail-mode", mode)
        page.wait_for_function("(before) => document.getElementById('detail-legend').textContent !== before",
                               arg="".join(ends))
        if mode == "channel":  # the default: the URL no longer names a mode
            page.wait_for_function("!location.hash.includes('mode=')")
        else:
            wait_hash(page, f"mode={mode}")
        ends = legend_ends(page)
        if mode == "channel":  # every map between its own minimum and maximum
            assert ends == ["each map's minimum", "its maximum"]
            assert canvas_picture(page) == pictures["channel"]
            continue
        low, high = (float(end) for end in ends)
        expected = (query.min(), query.max()) if mode == "tensor" else np.percentile(query, [1, 99])
        assert abs(low - expected[0]) <= 1e-3 * span and abs(high - expected[1]) <= 1e-3 * span, (mode, ends, expected)
        pictures[mode] = canvas_picture(page)
    assert len(set(pictures.values())) == 3  # each normalisation colours the maps differently
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
