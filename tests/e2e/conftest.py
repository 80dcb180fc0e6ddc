"""Browser tests: the built page served by serve.py, driven in Debian's headless Chromium."""
from __future__ import annotations

import http.server
import os
import shutil
import threading
from functools import partial
from pathlib import Path

import pytest

from bench.chromium import CHROMIUM, FLAGS, READY

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
BROWSER_LOG = ROOT / "test-artifacts" / "chromium.log"


def serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="session")
def site():
    import serve as serve_module
    if not (WEB / "vendor" / "files.json").is_file() or not (WEB / "model" / "index.json").is_file():
        pytest.fail("web/ is not built: run scripts/setup.sh")
    server = serve(serve_module.make_server(WEB, port=0, quiet=True))
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def replace(path, data):
    """Write a file of a copied site without touching web/ (the copy is hard links)."""
    path.unlink()
    path.write_bytes(data)


@pytest.fixture
def copied_site(recorded_site):
    """web/ as another deploy, served by serve.py: hard links, so change a file with `replace`."""
    root, url, _ = recorded_site
    return root, url


@pytest.fixture
def recorded_site(tmp_path):
    """copied_site, plus the path of every GET the server answers (the service worker's included)."""
    import serve as serve_module
    root = tmp_path / "web"
    shutil.copytree(WEB, root, copy_function=os.link)
    server = serve_module.make_server(root, port=0, quiet=True)
    requested = []

    class Recording(server.RequestHandlerClass):
        def do_GET(self):
            requested.append(self.path.split("?", 1)[0])
            super().do_GET()
    server.RequestHandlerClass = Recording
    serve(server)
    yield root, f"http://127.0.0.1:{server.server_address[1]}/", requested
    server.shutdown()


class PrefixHandler(http.server.SimpleHTTPRequestHandler):
    """A static host that publishes web/ under /some/prefix/, as a CDN or project site would."""
    prefix = "/some/prefix/"

    def translate_path(self, path):
        if not path.startswith(self.prefix):
            return str(WEB / "does-not-exist")
        return super().translate_path("/" + path[len(self.prefix):])

    def end_headers(self):
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        super().end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def prefixed_site():
    server = serve(http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(PrefixHandler, directory=str(WEB))))
    yield f"http://127.0.0.1:{server.server_address[1]}{PrefixHandler.prefix}"
    server.shutdown()


LOCAL = ("http://127.0.0.1:", "blob:", "data:")


class RecordedBrowser:
    """The browser, recording every request of every context it opens: none may leave this machine."""

    def __init__(self, browser):
        self._browser, self.foreign = browser, []

    def new_context(self, **options):
        context = self._browser.new_context(**options)
        context.on("request", lambda r: None if r.url.startswith(LOCAL) else self.foreign.append(r.url))
        return context

    def __getattr__(self, name):
        return getattr(self._browser, name)


@pytest.fixture(scope="session")
def browser():
    """Fails the run, at its end, if any page of any test asked for anything from another origin.

    What Chromium prints goes to test-artifacts/chromium.log (Playwright's DEBUG_FILE), so that a
    test whose page crashed can say what Chromium said (see pytest_runtest_makereport).
    """
    from playwright.sync_api import sync_playwright
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: scripts/test.sh installs it")
    BROWSER_LOG.parent.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as env:  # read by Playwright's driver when it starts, and only by it
        env.setenv("DEBUG", "pw:browser")
        env.setenv("DEBUG_FILE", str(BROWSER_LOG))
        playwright = sync_playwright().start()
    try:
        recorded = RecordedBrowser(playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS))
        yield recorded
        recorded.close()
    finally:
        playwright.stop()
    assert recorded.foreign == [], f"requests to other origins during the run: {recorded.foreign[:10]}"


def crash_report(lines=40):
    """The machine's memory and the last lines Chromium printed: why a page's renderer may have died."""
    available = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemAvailable:")), "?")
    resident, processes = 0, 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if "chrom" in fields.get("Name", ""):
            processes += 1
            resident += int(fields.get("VmRSS", "0 kB").split()[0])
    said = BROWSER_LOG.read_text(errors="replace").splitlines() if BROWSER_LOG.is_file() else []
    said = [line for line in said if ("[err]" in line or "[out]" in line) and "dbus" not in line][-lines:]
    free = {path: shutil.disk_usage(path).free >> 20 for path in ("/tmp", "/dev/shm") if Path(path).is_dir()}
    return "\n".join([f"memory available: {int(available) // 1024} MB; free MB on disk: {free}; Chromium: "
                      f"{processes} processes, {resident // 1024} MB resident; its last lines:", *said])


CRASHES = []  # (test, crash report) of every page whose renderer died during the run


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A test that failed because a page's renderer crashed carries the crash report. It runs once
    more (pyproject's --only-rerun); every crash is listed at the end of the run, rerun or not."""
    report = yield
    if call.excinfo is not None and "Target crashed" in str(call.excinfo.value):
        said = crash_report()
        report.sections.append(("Chromium when the page crashed", said))
        CRASHES.append((item.nodeid, said))
    return report


def pytest_terminal_summary(terminalreporter):
    if CRASHES:
        terminalreporter.section(f"renderer crashes: {len(CRASHES)}", sep="=", red=True)
        for nodeid, said in CRASHES:
            terminalreporter.write_line(f"{nodeid}\n{said}\n")


def wait_hash(page, *parts, timeout=10_000):
    """Wait until the URL fragment holds every part: the page writes it just after a change is drawn
    (web/js/url.js)."""
    page.wait_for_function("(parts) => parts.every((part) => location.hash.includes(part))", arg=list(parts),
                           timeout=timeout)


def settled_hash(page):
    """The URL fragment once the page has written what it is about to (web/js/url.js)."""
    page.wait_for_function("location.hash === vitlensJS.url.currentFragment()")
    return page.evaluate("location.hash")


class Watched:
    """A page plus everything that went wrong on it: console errors, page errors, failed or foreign requests."""

    def __init__(self, page, origin):
        self.page, self.origin = page, origin
        self.console_errors, self.page_errors, self.failed, self.foreign = [], [], [], []
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        # a reload cancels requests still in flight (ERR_ABORTED): that is navigation, not failure
        page.on("requestfailed", lambda r: None if "ERR_ABORTED" in (r.failure or "") else self.failed.append(r.url))
        page.on("response", lambda r: self.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.on("request", lambda r: None if r.url.startswith(origin) or r.url.startswith(("blob:", "data:"))
                else self.foreign.append(r.url))

    def open(self, url, fragment=""):
        self.page.goto(url + fragment)
        self.wait_ready(timeout=120_000)

    def wait_ready(self, timeout=60_000):
        self.page.wait_for_function(READY, timeout=timeout)
        status = self.page.evaluate("document.body.dataset.status")
        assert status == "ready", self.page.inner_text("#loading-label")

    def assert_clean(self):
        assert self.page_errors == [] and self.console_errors == []
        assert self.failed == [] and self.foreign == []


@pytest.fixture
def watched(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield Watched(page, site.rstrip("/"))
    context.close()
