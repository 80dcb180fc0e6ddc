"""Fig. 11 in the browser: any token through the final LayerNorm and head in CLS's place."""
from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort

from export import fidelity
from export.default_model import NAME

from .conftest import WEB
from .test_page import page_tensor

MODEL = WEB / "model" / NAME
MANIFEST = json.loads((MODEL / "manifest.json").read_text())


def shown(page):
    rows = page.locator("#substitution-list li.class-row")
    return np.array([float(rows.nth(i).get_attribute("data-probability")) for i in range(rows.count())])


def test_substituted_token_probabilities_equal_cpython(watched, site):
    watched.open(site, f"#model={NAME}&image=chelsea&view=detail")
    page = watched.page
    page.wait_for_function("document.getElementById('substitution-list').dataset.token === '0'")
    pixel_values = page_tensor(page, "pixel_values")
    values = fidelity.run_parts(MODEL, MANIFEST["stages"], pixel_values)
    head = MANIFEST["stages"][-1]
    session = ort.InferenceSession(str(MODEL / head["file"]), providers=["CPUExecutionProvider"])
    in_page_cls = shown(page)
    for token in (0, 37, MANIFEST["tokens"] - 1):
        if token:
            page.fill("#substitution-token", str(token))
            page.dispatch_event("#substitution-token", "change")
            page.wait_for_function(f"document.getElementById('substitution-list').dataset.token === '{token}'")
        hidden = values[head["input"]].copy()
        hidden[0, 0] = hidden[0, token]
        logits = session.run(["logits"], {head["input"]: hidden})[0][0].astype(np.float64)
        expected = np.exp(logits - logits.max())
        expected /= expected.sum()
        got = shown(page)
        assert np.abs(got - expected).max() <= 1e-4, token
        assert int(got.argmax()) == int(expected.argmax())
    np.testing.assert_allclose(in_page_cls, np.array([float(x) for x in page.eval_on_selector_all(
        "#prediction-list li.class-row", "rs => rs.map(r => r.dataset.probability)")]), atol=1e-6)
    page.fill("#substitution-token", "9999")
    page.dispatch_event("#substitution-token", "change")
    page.wait_for_selector("#substitution-message:not([hidden])")
    assert "from 0 (CLS)" in page.inner_text("#substitution-message")
    watched.assert_clean()
