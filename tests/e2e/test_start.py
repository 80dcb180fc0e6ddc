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


# The first pass again, on sessions opened for it in the inference worker (inference.js) and asked
# to run before any of them is created: one run of the chain, as boot.js's preview does.
CHAIN_AGAIN = """async () => {
  const J = vitlensJS, inference = await import(new URL('js/inference.js', location.href).href);
  const { base, kept, sizes, sample } = J.preview;
  const manifest = await (await fetch(`${base}/manifest.json`)).json();
  const entry = manifest.samples.find((s) => s.id === sample);
  const image = await J.decodeImage(await (await fetch(`${base}/${entry.file}`)).blob(), Infinity);
  const files = [manifest.preprocessing.graph, ...manifest.stages.map((s) => s.file)];
  const bytes = await Promise.all(files.map((f) => J.fetchBytes(`${base}/${f}`, () => {})));
  const sessions = bytes.map((b) => inference.openSession(b));
  const unborn = sessions.every((s) => s.inputNames === undefined);
  const stages = manifest.stages.map((stage, i) => ({ session: sessions[i + 1], input: stage.input,
                                                       wanted: stage.first_pass, last: stage.outputs.at(-1),
                                                       extra: J.edits.headMask(stage, manifest.num_heads) }));
  const out = (await inference.chain(sessions[0], J.preprocessFeeds(image, manifest.preprocessing, sizes), stages)).kept;
  const names = Object.keys(kept).sort();
  const same = names.every((n) => out[n] && out[n].data.length === kept[n].data.length
                                  && out[n].data.every((v, i) => v === kept[n].data[i]));
  for (const s of sessions) await s.release();
  return { unborn, same, names: Object.keys(out).sort().join() === names.join(),
           handedOver: bytes.every((b) => b.byteLength === 0) };
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


def test_the_first_pass_is_one_run_of_the_chain_in_the_inference_worker(browser, site):
    """boot.js asks the worker for the whole first pass as soon as the sessions are opened, so the
    chain goes on while the main thread restores Python; the worker waits for each session to exist.
    The same chain on new sessions gives the preview's tensors bit for bit, and the parts' bytes are
    handed over to the worker, not copied."""
    context, watched = start(browser, site)
    result = watched.page.evaluate(CHAIN_AGAIN)
    assert result == {"unborn": True, "same": True, "names": True, "handedOver": True}
    watched.assert_clean()
    context.close()


def test_the_snapshot_is_kept_inflated_and_a_return_visit_starts_from_that(browser, site):
    """Inflating the 6 MB gzip held the main thread about 0.2 s at every start: once inflated it is kept
    in the Cache API beside the model's parts, under the gzip's sha256, and a return visit reads that.
    Here the kept gzip is spoilt before the reload: Python still starts from the snapshot."""
    listing = json.loads((WEB / "vendor" / "python-snapshot.json").read_text())
    context, watched = start(browser, site)
    page = watched.page
    page.wait_for_function("""(sha) => caches.open('vitlens-model-files-v1').then((c) => c.keys())
      .then((keys) => keys.some((r) => r.url.includes('/vendor/python-snapshot.bin?sha256=' + sha)))""",
                           arg=listing["sha256"], timeout=60_000)
    page.evaluate("""async () => { const cache = await caches.open('vitlens-model-files-v1');
      for (const r of await cache.keys())
        if (new URL(r.url).pathname.endsWith('/python-snapshot.gz')) await cache.put(r, new Response('spoilt')); }""")
    page.reload()
    watched.wait_ready(timeout=120_000)
    assert page.evaluate("document.body.dataset.python") == "snapshot"
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
