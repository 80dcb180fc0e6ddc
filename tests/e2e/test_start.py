"""The start (issue #29): Python restores the memory snapshot made at build time
(scripts/snapshot.mjs, web/js/python.js) and takes over the first prediction's tensors; a snapshot
that does not match the page's files, a damaged one or none at all means a cold start that works
the same."""
from __future__ import annotations

import json

import pytest

from export.default_model import NAME

from .conftest import WEB, Watched, replace

SNAPSHOT = WEB / "vendor" / "python-snapshot.gz"
FIRST_PASS = """() => {
  const current = vitlensJS.current, preview = vitlensJS.preview;
  const names = Object.keys(current).sort();
  return {taken: preview.taken, names, same: names.every((n) => current[n] === preview.kept[n]),
          top: Array.from(current.probabilities.data).indexOf(Math.max(...current.probabilities.data))};
}"""


def start(browser, url, fragment="#image=chelsea"):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watched = Watched(context.new_page(), url.rstrip("/"))
    watched.open(url, fragment)
    return context, watched


@pytest.fixture(scope="module", autouse=True)
def built():
    if not SNAPSHOT.is_file():
        pytest.fail("web/vendor/python-snapshot.gz is not built: run scripts/setup.sh")


def test_python_starts_from_the_snapshot_and_takes_the_first_prediction_over(browser, site):
    context, watched = start(browser, site)
    page = watched.page
    assert page.evaluate("document.body.dataset.python") == "snapshot"
    first = page.evaluate(FIRST_PASS)
    assert first["taken"] and first["same"]  # the preview's very tensors, not a second pass
    manifest = json.loads((WEB / "model" / NAME / "manifest.json").read_text())
    assert len(first["names"]) == 1 + len(manifest["stages"][0]["outputs"]) + 2 * manifest["num_layers"] \
        + len(manifest["stages"][-1]["outputs"])
    # the next image is Python's own pass, and the view it opens is drawn from it
    page.click("#gallery .thumb[data-sample='rocket']")
    page.wait_for_function("Number(document.body.dataset.classified) === 2")
    page.click("[data-view-tab=interpretation]")
    page.wait_for_selector("#interp-canvas[data-kind]")
    watched.assert_clean()
    context.close()


def cold_start(browser, url):
    context, watched = start(browser, url)
    assert watched.page.evaluate("document.body.dataset.python") == "cold"
    assert int(watched.page.evaluate("document.body.dataset.classified")) >= 1
    watched.page.click("[data-view-tab=detail]")
    watched.page.wait_for_selector("#detail-canvas[data-tensor]")
    return context, watched


def test_a_snapshot_of_other_python_files_is_not_used(browser, copied_site):
    root, url = copied_site
    replace(root / "py" / "tensors.py", (WEB / "py" / "tensors.py").read_bytes() + b"\n# changed after the build\n")
    context, watched = cold_start(browser, url)
    watched.assert_clean()
    context.close()


def test_a_damaged_snapshot_means_a_cold_start(browser, copied_site):
    root, url = copied_site
    replace(root / "vendor" / "python-snapshot.gz", SNAPSHOT.read_bytes()[: SNAPSHOT.stat().st_size // 2])
    context, watched = cold_start(browser, url)
    watched.assert_clean()
    context.close()


def test_no_snapshot_means_a_cold_start(browser, copied_site):
    root, url = copied_site
    (root / "vendor" / "python-snapshot.json").unlink()
    (root / "vendor" / "python-snapshot.gz").unlink()
    context, watched = cold_start(browser, url)
    assert watched.page_errors == [] and watched.foreign == []
    assert [f for f in watched.failed if "python-snapshot" not in f] == []  # its 404, and nothing else
    context.close()
