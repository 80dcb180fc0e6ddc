"""vit-lens site: the folder it writes, served by `python -m http.server` (no COOP/COEP) under a
sub-path, classifies in Chromium, is cross-origin isolated by its service worker after one reload,
and asks nothing of another origin."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from export.default_model import NAME

from .conftest import ROOT, Watched


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str) -> None:
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"python -m http.server did not answer at {url}")


@pytest.fixture(scope="module")
def plain_site(tmp_path_factory):
    """The site written by the command at <root>/sub/path/, the parent folder served as is."""
    root = tmp_path_factory.mktemp("host")
    written = subprocess.run([sys.executable, "-m", "vit_lens", "site", "--out", str(root / "sub" / "path")],
                             cwd=ROOT, capture_output=True, text=True)
    assert written.returncode == 0, written.stderr
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                               "--directory", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/sub/path/"
    wait_until_up(url)
    yield root / "sub" / "path", url
    server.terminate()
    server.wait()


def test_the_site_holds_the_page_the_model_and_its_own_lists(plain_site):
    site, _ = plain_site
    index = json.loads((site / "model" / "index.json").read_text())
    assert index["default"] == NAME and [m["name"] for m in index["models"]] == [NAME]
    listing = json.loads((site / "precache.json").read_text())
    assert f"model/{NAME}/manifest.json" in listing["files"] and "vendor/files.json" in listing["files"]
    assert all((site / name).is_file() for name in listing["files"])


def test_a_plain_static_host_under_a_sub_path_classifies_isolated(browser, plain_site):
    _site, url = plain_site
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watched = Watched(context.new_page(), url.split("/sub/")[0])
    page = watched.page
    headers = page.goto(url).all_headers()
    assert "cross-origin-embedder-policy" not in headers  # the host sends no isolation headers
    page.wait_for_function("self.crossOriginIsolated === true", timeout=120_000)  # after the worker's reload
    watched.wait_ready(timeout=120_000)
    assert page.evaluate("self.crossOriginIsolated") is True
    assert int(page.evaluate("document.body.dataset.classified")) >= 1
    assert page.evaluate("new URL(location.href).pathname") == "/sub/path/"
    watched.assert_clean()
    context.close()
