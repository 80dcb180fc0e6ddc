"""Cross-browser smoke tests: the built page, served by serve.py, in Chromium, Firefox and WebKit.

scripts/test.sh installs every engine (and sets VITLENS_TEST_SH=1): there a missing engine is a
failure. Run alone, an engine that is not installed is skipped with the package to install.
"""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from .engines import ENGINES, missing

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
ARTIFACTS = ROOT / "build" / "artifacts"


@pytest.fixture(scope="session")
def xsite():
    import serve as serve_module
    if not (WEB / "vendor" / "files.json").is_file() or not (WEB / "model" / "index.json").is_file():
        pytest.fail("web/ is not built: run scripts/setup.sh")
    server = serve_module.make_server(WEB, port=0, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class Run:
    """One engine's page for the whole module, with what the tests learned about it."""

    def __init__(self, engine):
        self.engine = engine
        self.facts: dict = {"engine": engine.name}
        self.timings: dict = {}
        self._started = time.monotonic()

    def mark(self, what):
        self.timings[what] = round(time.monotonic() - self._started, 1)
        print(f"[{self.engine.name}] {self.timings[what]:6.1f} s  {what}", flush=True)  # shown with -s

    def errors(self) -> list[str]:
        """Uncaught page errors and rejections (the page's own record) plus the engine's console errors."""
        page = self.engine.evaluate("(window.vitlensJS && vitlensJS.errors) || ['vitlensJS is missing']")
        return list(page) + self.engine.engine_errors()


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def require(name):
    """Under scripts/test.sh a missing engine fails the test; run alone, it is skipped with the fix."""
    absent = missing(name)
    if absent:
        message = f"{name} is not installed (apt-get install {' '.join(absent)}; scripts/test.sh does it)"
        if os.environ.get("VITLENS_TEST_SH"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module", params=list(ENGINES))
def run(request, xsite):
    name = request.param
    require(name)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # A CI runner stops a job with SIGTERM: make it an interrupt, so the teardown below still runs
    # (the engines' processes also die with this one if it is killed outright).
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is threading.main_thread() and previous == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)
    engine = ENGINES[name]()
    engine.start()
    current = Run(engine)
    current.facts["version"] = engine.version
    current.mark("started")
    try:
        yield current
    finally:
        try:
            try:
                engine.screenshot(ARTIFACTS / f"xbrowser-{name}.png")
            except Exception as error:  # the screenshot is a by-product: never mask the real failure
                current.facts["final_screenshot_error"] = str(error)
            current.mark("done")
            current.facts["timings_s"] = current.timings
            (ARTIFACTS / f"xbrowser-{name}.json").write_text(json.dumps(current.facts, indent=1))
        finally:
            engine.close()
            if signal.getsignal(signal.SIGTERM) is _interrupt:
                signal.signal(signal.SIGTERM, previous)
