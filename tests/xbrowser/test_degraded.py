"""Where an engine lacks something, the page degrades and says so instead of breaking.

- WebKitGTK without SharedArrayBuffer (its default: JSC_useSharedArrayBuffer is off even on a
  cross-origin isolated page): onnxruntime-web runs in one thread and the page says "1 thread".
- Any engine on a static host that sends no COOP/COEP (not cross-origin isolated): the same.
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


def one_thread_and_right(engine, url):
    engine.goto(f"{url}#model={NAME}&image={SAMPLE}")
    engine.wait_for(SETTLED, LOAD_TIMEOUT, "the page's first prediction")
    state = engine.evaluate("({status: document.body.dataset.status, isolated: self.crossOriginIsolated, "
                            "sab: typeof SharedArrayBuffer, threads: vitlensJS.threads, errors: vitlensJS.errors, "
                            "time: document.getElementById('prediction-time').textContent})")
    assert state["status"] == "ready", state
    assert state["threads"] == 1 and "1 thread" in state["time"], state
    assert_like_cpython(read_prediction(engine), Facts(engine), "one-thread")
    errors = state["errors"] + engine.engine_errors()
    assert errors == [], errors
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


def test_a_host_without_cross_origin_isolation_runs_in_one_thread(plain_site):
    require("firefox")
    engine = ENGINES["firefox"]()
    engine.start()
    try:
        state = one_thread_and_right(engine, plain_site)
        assert state["isolated"] is False, state
    finally:
        engine.close()
