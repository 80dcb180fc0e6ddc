"""Where an engine lacks something, the page degrades and says so instead of breaking.

- WebKitGTK without SharedArrayBuffer (its default: JSC_useSharedArrayBuffer is off even on a
  cross-origin isolated page): onnxruntime-web runs in one thread and the page says "1 thread".
- A static host that sends no COOP/COEP: the page's service worker (sw.js) adds them, the page
  reloads once and runs in several threads; where no service worker may run (here: Firefox with
  them switched off), one thread, and the page says why.
"""
from __future__ import annotations

import functools
import http.server
import threading

import pytest

from .conftest import WEB, require
from .engines import ENGINES
from .test_smoke import LOAD_TIMEOUT, NAME, SAMPLE, SETTLED, assert_like_cpython, read_prediction


class PlainHandler(http.server.SimpleHTTPRequestHandler):
    """A static host with no cross-origin isolation headers, as most are by default."""

    def log_message(self, *args):
        pass


@pytest.fixture
def plain_site():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(PlainHandler, directory=str(WEB)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class Facts:
    def __init__(self, engine):
        self.engine, self.facts = engine, {}


def settled_state(engine, url):
    engine.goto(f"{url}#model={NAME}&image={SAMPLE}")
    engine.wait_for(SETTLED, LOAD_TIMEOUT, "the page's first prediction")
    state = engine.evaluate("({status: document.body.dataset.status, isolated: self.crossOriginIsolated, "
                            "sab: typeof SharedArrayBuffer, threads: vitlensJS.threads, errors: vitlensJS.errors, "
                            "controlled: !!navigator.serviceWorker?.controller, "
                            "time: document.getElementById('prediction-time').textContent})")
    assert state["status"] == "ready", state
    assert_like_cpython(read_prediction(engine), Facts(engine), "degraded")
    errors = state["errors"] + engine.engine_errors()
    assert errors == [], errors
    assert engine.foreign_requests() == []
    return state


def one_thread_and_right(engine, url):
    state = settled_state(engine, url)
    assert state["threads"] == 1 and "1 thread" in state["time"], state
    return state


def test_webkit_without_shared_array_buffer_runs_in_one_thread(xsite):
    require("webkit")
    engine = ENGINES["webkit"]()
    engine.shared_array_buffer = False
    engine.start()
    try:
        state = one_thread_and_right(engine, xsite)
        assert state["isolated"] is True and state["sab"] == "undefined", state
    finally:
        engine.close()


def test_a_host_without_cross_origin_isolation_gets_it_from_the_service_worker(plain_site):
    require("firefox")
    engine = ENGINES["firefox"]()
    engine.start()
    try:
        state = settled_state(engine, plain_site)
        assert state["isolated"] is True and state["controlled"] is True, state
        assert state["threads"] > 1 and "1 thread" not in state["time"], state
    finally:
        engine.close()


def test_without_service_workers_such_a_host_runs_in_one_thread(plain_site):
    require("firefox")
    engine = ENGINES["firefox"]()
    engine.preferences = {"dom.serviceWorkers.enabled": False}
    engine.start()
    try:
        state = one_thread_and_right(engine, plain_site)
        assert state["isolated"] is False and "not cross-origin isolated" in state["time"], state
    finally:
        engine.close()
