"""Offline after the first visit (web/sw.js, web/precache.json): a reload with the network off
classifies and opens every view; a new deploy is served fresh and replaces what was kept, old
cache and old model file included; nothing foreign."""
from __future__ import annotations

import hashlib
import json

from export.default_model import NAME
from vit_lens import precache

from .conftest import WEB, Watched, replace

VIEWS = {
    "tour": "#tour-step[data-step]",
    "overview": "#overview-diagram svg",
    "graph": "#knowledge-graph[data-ready=true]",
    "detail": "#detail-canvas[data-tensor]",
    "interpretation": "#interp-canvas[data-kind]",
}
KEPT = "document.body.dataset.offline === 'ready' && !!navigator.serviceWorker.controller"
CACHES = "async () => await caches.keys()"


def visit(browser, url):
    """A first visit, until the worker controls the page and has kept it for offline use."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watched = Watched(context.new_page(), url.rstrip("/"))
    watched.open(url, f"#model={NAME}&image=chelsea")
    watched.page.wait_for_function(KEPT, timeout=120_000)
    return context, watched


def test_a_reload_offline_classifies_and_opens_every_view(browser, site):
    context, watched = visit(browser, site)
    page = watched.page
    context.set_offline(True)
    page.reload()
    watched.wait_ready(timeout=120_000)
    assert int(page.evaluate("document.body.dataset.classified")) >= 1
    for view, drawn in VIEWS.items():
        page.click(f"[data-view-tab={view}]")
        page.wait_for_function(f"!!document.querySelector({json.dumps(drawn)}) && "
                               f"!document.querySelector('[data-view={view}]').hidden")
    page.click("[data-view-tab=detail]")
    page.click("#open-layernorm")  # parameters.bin: kept, although no view opened it online
    page.wait_for_selector("dialog[open] .operation-formula")
    page.keyboard.press("Escape")
    before = page.evaluate("Number(document.body.dataset.classified)")
    page.click("#gallery .thumb[data-sample='rocket']")  # a sample never shown online
    page.wait_for_function(f"Number(document.body.dataset.classified) > {before}")
    assert page.evaluate("document.body.dataset.status") == "ready"
    context.set_offline(False)
    watched.assert_clean()
    context.close()


def redeploy(root):
    """A new deploy of the copy: a changed script, Python file, stylesheet and model file, and the
    precache list written again by scripts/precache.py. Returns the new list."""
    replace(root / "js" / "dom.js", (WEB / "js" / "dom.js").read_bytes() + b"\n// deploy 2\n")
    replace(root / "py" / "view.py", (WEB / "py" / "view.py").read_bytes() + b"\n# deploy 2\n")
    replace(root / "style.css", (WEB / "style.css").read_bytes() + b"\nbody { --deploy: 2; }\n")
    model = root / "model" / NAME
    data = bytearray((model / "parameters.bin").read_bytes())
    data[-4:] = bytes(4)  # the last float becomes 0.0: a new export of the file
    replace(model / "parameters.bin", bytes(data))
    manifest = json.loads((model / "manifest.json").read_text())
    manifest["files"]["parameters.bin"]["sha256"] = hashlib.sha256(data).hexdigest()
    replace(model / "manifest.json", json.dumps(manifest, indent=1).encode())
    listing = precache.build(root)
    replace(root / "precache.json", json.dumps(listing).encode())
    return listing


def test_a_new_deploy_is_served_fresh_and_replaces_what_was_kept(browser, copied_site):
    root, url = copied_site
    context, watched = visit(browser, url)
    page = watched.page
    first = json.loads((root / "precache.json").read_text())["version"]
    assert sorted(page.evaluate(CACHES)) == ["vitlens-app-" + first, "vitlens-model-files-v1"]
    listing = redeploy(root)
    assert listing["version"] != first
    for _ in range(2):
        page.reload()
        watched.wait_ready(timeout=120_000)
        assert page.evaluate("getComputedStyle(document.body).getPropertyValue('--deploy').trim()") == "2"
    page.wait_for_function(KEPT, timeout=120_000)
    assert sorted(page.evaluate(CACHES)) == ["vitlens-app-" + listing["version"], "vitlens-model-files-v1"]
    kept = page.evaluate("""async () => {
      const dom = await (await caches.match(new URL('js/dom.js', location.href).href)).text();
      const models = await caches.open('vitlens-model-files-v1');
      const digests = (await models.keys()).map((r) => new URL(r.url))
        .filter((u) => u.pathname.endsWith('/parameters.bin')).map((u) => u.searchParams.get('sha256'));
      return { dom: dom.includes('deploy 2'), digests }; }""")
    assert kept == {"dom": True, "digests": [listing["files"][f"model/{NAME}/parameters.bin"]]}  # old digest gone

    context.set_offline(True)
    page.reload()
    watched.wait_ready(timeout=120_000)
    assert page.evaluate("getComputedStyle(document.body).getPropertyValue('--deploy').trim()") == "2"
    context.set_offline(False)
    watched.assert_clean()
    context.close()


def test_the_runtime_webassembly_is_answered_from_what_was_kept_while_the_deploy_lists_it(browser, recorded_site):
    """sw.js's answerRuntime: Chromium keeps a WebAssembly module's compiled code only for a response from
    the HTTP cache or the Cache API, so once the page is kept a reload takes the runtime's .wasm files from
    what was kept (the server is asked for precache.json, not for them); when the deploy's precache.json
    lists another file, that .wasm comes from the server again."""
    root, url, requested = recorded_site
    context, watched = visit(browser, url)
    page = watched.page

    def reload():
        requested.clear()
        page.reload()
        watched.wait_ready(timeout=120_000)
        return set(requested)
    runtime = {"/vendor/ort/ort-wasm-simd-threaded.wasm", "/vendor/pyodide/pyodide.asm.wasm"}
    paths = reload()
    assert "/precache.json" in paths and not runtime & paths
    listing = json.loads((root / "precache.json").read_text())
    listing["files"]["vendor/ort/ort-wasm-simd-threaded.wasm"] = "0" * 64  # a deploy with another onnxruntime-web
    replace(root / "precache.json", json.dumps(listing).encode())
    assert runtime & reload() == {"/vendor/ort/ort-wasm-simd-threaded.wasm"}
    watched.assert_clean()
    context.close()
