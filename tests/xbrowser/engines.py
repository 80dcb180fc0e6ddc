"""Three browser engines behind one small interface, so one smoke test runs the page in each.

- Chromium: Debian's ``chromium`` through Playwright (as tests/e2e).
- Firefox: Debian's ``firefox-esr`` headless, driven over WebDriver BiDi by the small client below
  (a websocket, no geckodriver needed). Kept rather than Selenium + geckodriver because no
  geckodriver for Linux can be installed here: Debian ships none, PyPI's ``geckodriver-wrapper``
  0.4 holds only a Windows ``geckodriver.exe`` (PE32), and npm's ``geckodriver`` downloads the
  binary in its postinstall step, from a host this machine cannot reach.
- WebKit: Debian's ``WebKitWebDriver`` and its MiniBrowser (WebKitGTK) through Selenium, in a
  private Xvfb display (WebKitGTK has no headless mode).

Every engine is started in its own process group and killed by that group's id on close, so a
failing or hanging test leaves no browser, driver or X server behind.
"""
from __future__ import annotations

import base64
import glob
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import MappingProxyType
from typing import ClassVar

from bench.chromium import CHROMIUM, FLAGS

FIREFOX = "/usr/bin/firefox-esr"
WEBKIT_DRIVER = "/usr/bin/WebKitWebDriver"
XVFB = "/usr/bin/Xvfb"
VIEWPORT = (1280, 900)

# What each engine needs on this machine, and the Debian package that provides it.
REQUIREMENTS = {
    "chromium": {CHROMIUM: "chromium"},
    "firefox": {FIREFOX: "firefox-esr"},
    "webkit": {WEBKIT_DRIVER: "webkit2gtk-driver", XVFB: "xvfb"},
}


def missing(engine: str) -> list[str]:
    """Debian packages the engine needs that are not installed."""
    return [package for path, package in REQUIREMENTS[engine].items() if not Path(path).exists()]


def _wrap(expression: str) -> str:
    """A JS function body that evaluates an expression (a promise is awaited) and hands back JSON."""
    return (f"Promise.resolve().then(() => ({expression}))"
            ".then((v) => JSON.stringify(v === undefined ? null : v),"
            " (e) => JSON.stringify({__error__: String(e && e.stack || e)}))")


def _decode(text):
    value = json.loads(text)
    if isinstance(value, dict) and "__error__" in value:
        raise RuntimeError(f"in the page: {value['__error__']}")
    return value


def _kill_group(process: subprocess.Popen | None, grace: float = 5.0) -> None:
    """Terminate a process started with start_new_session=True and everything in its group."""
    if process is None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    try:  # children that outlive the leader still belong to the group
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL if the test process dies without tearing down."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn(command, **kwargs) -> subprocess.Popen:
    """A helper process in its own process group (so it and its children can be killed together)
    that is also killed by the kernel if this test process dies first."""
    return subprocess.Popen(command, start_new_session=True, preexec_fn=_die_with_parent, **kwargs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Engine:
    """One browser with one page. Subclasses implement the primitives; the waits live here."""

    name = "?"
    version = "?"

    def start(self) -> None: ...
    def close(self) -> None: ...
    def goto(self, url: str) -> None: ...
    def evaluate_json(self, expression: str): ...
    def click(self, selector: str) -> None: ...
    def upload(self, selector: str, path: Path) -> None: ...
    def screenshot(self, path: Path) -> None: ...

    def engine_errors(self) -> list[str]:
        """Errors the engine itself reports (console errors); WebKit has no console log to read."""
        return []

    def evaluate(self, expression: str):
        return self.evaluate_json(_wrap(expression))

    def foreign_requests(self) -> list[str]:
        """What this page fetched from another origin, by its own Resource Timing (every engine has it)."""
        return self.evaluate("performance.getEntriesByType('resource').map((e) => e.name)"
                             ".filter((n) => !n.startsWith(location.origin + '/') && !/^(blob|data):/.test(n))")

    def wait_for(self, expression: str, timeout: float, what: str, poll: float = 0.5):
        """Poll a JS expression until it is truthy; fail with the page's own status on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                state = self.evaluate("({status: document.body.dataset.status, label: "
                                      "(document.getElementById('loading-label') || {}).textContent, "
                                      "errors: (window.vitlensJS || {}).errors, "
                                      "marks: performance.getEntriesByType('mark').map((m) => m.name)})")
                raise TimeoutError(f"{self.name}: {what} not within {timeout:.0f} s; page state {state}")
            time.sleep(poll)


# ---- Chromium ---------------------------------------------------------------------------------

class Chromium(Engine):
    """Playwright on its own thread: tests/e2e keeps a sync Playwright open for the whole session,
    and a second one cannot start on the same thread (its event loop is already there)."""

    name = "chromium"
    def _call(self, function, *args):
        return self._thread.submit(function, *args).result()

    def start(self):
        from concurrent.futures import ThreadPoolExecutor
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xbrowser-chromium")
        self._errors: list[str] = []
        self._playwright = self._browser = None
        try:
            self._call(self._start)
        except BaseException:
            self.close()
            raise

    def _start(self):
        from playwright.sync_api import sync_playwright
        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        self.version = self._browser.version
        self._page = self._browser.new_page(viewport=dict(zip(("width", "height"), VIEWPORT)))
        self._page.on("console", lambda m: self._errors.append(m.text) if m.type == "error" else None)
        self._page.on("pageerror", lambda e: self._errors.append(str(e)))

    def _close(self):
        try:
            if self._browser is not None:
                self._browser.close()
        finally:
            if self._playwright is not None:
                self._playwright.stop()

    def close(self):
        try:
            self._call(self._close)
        finally:
            self._thread.shutdown(wait=False)

    def goto(self, url):
        self._call(lambda: self._page.goto(url, timeout=120_000))

    def evaluate_json(self, script):
        return _decode(self._call(self._page.evaluate, script))

    def click(self, selector):
        self._call(lambda: self._page.click(selector, timeout=60_000))

    def upload(self, selector, path):
        self._call(self._page.set_input_files, selector, str(path))

    def screenshot(self, path):
        self._call(lambda: self._page.screenshot(path=str(path), full_page=True))

    def engine_errors(self):
        return list(self._errors)


# ---- Firefox over WebDriver BiDi --------------------------------------------------------------

class BiDiError(RuntimeError):
    pass


class Firefox(Engine):
    """firefox-esr --headless --remote-debugging-port: its WebDriver BiDi server, spoken directly."""

    name = "firefox"
    # The remote agent applies its own recommended automation prefs; these keep a run quiet and local.
    PREFS: ClassVar[dict] = {
        "browser.shell.checkDefaultBrowser": False,
        "datareporting.policy.dataSubmissionEnabled": False,
        "toolkit.telemetry.reportingpolicy.firstRun": False,
        "app.update.disabledForTesting": True,
        "browser.startup.homepage_override.mstone": "ignore",
        "browser.tabs.warnOnClose": False,
        "network.captive-portal-service.enabled": False,
        "network.connectivity-service.enabled": False,
        "extensions.update.enabled": False,
        "browser.safebrowsing.update.enabled": False,
        "messaging-system.rsexperimentloader.enabled": False,
        "services.settings.server": "http://127.0.0.1:9/",
    }

    preferences = MappingProxyType({})  # a test sets its own prefs on its engine, over PREFS

    def start(self):
        import websocket
        self._ids = itertools.count(1)
        self._errors: list[str] = []
        self._profile = tempfile.mkdtemp(prefix="vitlens-firefox-")
        prefs = {**self.PREFS, **self.preferences}
        Path(self._profile, "user.js").write_text(
            "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in prefs.items()))
        self._log = open(Path(self._profile) / "firefox.log", "w+")
        self._process = spawn(
            [FIREFOX, "--headless", "--no-remote", "--profile", self._profile, "--remote-debugging-port=0",
             f"--width={VIEWPORT[0]}", f"--height={VIEWPORT[1]}", "about:blank"],
            stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, "MOZ_CRASHREPORTER_DISABLE": "1"})
        try:
            address = self._wait_for_address(timeout=90)
            self._ws = websocket.create_connection(f"{address}/session", suppress_origin=True, timeout=300)
            session = self._send("session.new", {"capabilities": {"alwaysMatch": {"acceptInsecureCerts": True}}})
            self.version = session["capabilities"]["browserVersion"]
            self._send("session.subscribe", {"events": ["log.entryAdded"]})
            self._context = self._send("browsingContext.getTree", {})["contexts"][0]["context"]
            self._send("browsingContext.setViewport", {"context": self._context, "viewport": {
                "width": VIEWPORT[0], "height": VIEWPORT[1]}})
        except BaseException:
            self.close()
            raise

    def _wait_for_address(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._log.seek(0)
            for line in self._log.read().splitlines():
                if line.startswith("WebDriver BiDi listening on "):
                    return line.split(" on ", 1)[1].strip()
            if self._process.poll() is not None:
                break
            time.sleep(0.2)
        self._log.seek(0)
        raise RuntimeError(f"firefox-esr did not start its WebDriver BiDi server:\n{self._log.read()[-3000:]}")

    def _on_event(self, message):
        if message.get("method") == "log.entryAdded":
            entry = message["params"]
            if entry.get("level") == "error":
                self._errors.append(f"{entry.get('type')}: {entry.get('text')}")

    def _send(self, method, params):
        command_id = next(self._ids)
        self._ws.send(json.dumps({"id": command_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv())
            if message.get("type") == "event":
                self._on_event(message)
            elif message.get("id") == command_id:
                if message.get("type") == "error":
                    raise BiDiError(f"{method}: {message.get('error')}: {message.get('message')}")
                return message["result"]

    def close(self):
        try:
            if getattr(self, "_ws", None):
                try:
                    self._ws.settimeout(10)
                    self._send("browser.close", {})
                except Exception:
                    pass
                self._ws.close()
        finally:
            _kill_group(self._process, grace=10)
            self._log.close()
            shutil.rmtree(self._profile, ignore_errors=True)

    def goto(self, url):
        self._send("browsingContext.navigate", {"context": self._context, "url": url, "wait": "complete"})

    def _evaluate_raw(self, expression):
        result = self._send("script.evaluate", {"expression": expression, "target": {"context": self._context},
                                                "awaitPromise": True, "resultOwnership": "none"})
        if result["type"] == "exception":
            raise RuntimeError(f"in the page: {result['exceptionDetails'].get('text')}")
        return result["result"]

    def evaluate_json(self, script):
        return _decode(self._evaluate_raw(script)["value"])

    def _element(self, selector):
        node = self._evaluate_raw(f"document.querySelector({json.dumps(selector)})")
        if node.get("type") != "node":
            raise RuntimeError(f"no element {selector}")
        return {"sharedId": node["sharedId"]}

    def click(self, selector):
        """A real pointer click at the centre of the element, as a user's."""
        self.evaluate(f"document.querySelector({json.dumps(selector)}).scrollIntoView({{block: 'center'}})")
        element = self._element(selector)
        self._send("input.performActions", {"context": self._context, "actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": [
                {"type": "pointerMove", "x": 0, "y": 0, "origin": {"type": "element", "element": element}},
                {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0}]}]})
        self._send("input.releaseActions", {"context": self._context})

    def upload(self, selector, path):
        self._send("input.setFiles", {"context": self._context, "element": self._element(selector),
                                      "files": [str(path)]})

    def screenshot(self, path):
        data = self._send("browsingContext.captureScreenshot", {"context": self._context, "origin": "document"})
        Path(path).write_bytes(base64.b64decode(data["data"]))

    def engine_errors(self):
        self._send("session.status", {})  # reads any log events still queued on the socket
        return list(self._errors)


# ---- WebKit (WebKitGTK) through Selenium, in Xvfb --------------------------------------------

def minibrowser() -> str | None:
    found = sorted(glob.glob("/usr/lib/*/webkit2gtk-4.*/MiniBrowser"))
    return found[-1] if found else None


class WebKit(Engine):
    name = "webkit"
    shared_array_buffer = True

    def start(self):
        from selenium import webdriver
        from selenium.webdriver.remote.client_config import ClientConfig
        from selenium.webdriver.remote.file_detector import UselessFileDetector
        from selenium.webdriver.webkitgtk.options import Options
        self._xvfb = self._driver_process = self._driver = None
        self._log = tempfile.TemporaryFile("w+")
        try:
            display = self._start_xvfb()
            port = _free_port()
            env = {**os.environ, "DISPLAY": display, "GDK_BACKEND": "x11",
                   # WebKitGTK keeps SharedArrayBuffer behind this switch even when cross-origin isolated
                   "JSC_useSharedArrayBuffer": "1" if self.shared_array_buffer else "0",
                   "LIBGL_ALWAYS_SOFTWARE": "1",
                   "NO_AT_BRIDGE": "1"}
            env.pop("WAYLAND_DISPLAY", None)
            self._driver_process = spawn([WEBKIT_DRIVER, f"--port={port}"], stdout=self._log,
                                         stderr=subprocess.STDOUT, env=env)
            self._wait_port(port, timeout=30)
            options = Options()
            options.binary_location = minibrowser()
            options.add_argument("--automation")
            address = f"http://127.0.0.1:{port}"
            self._driver = webdriver.Remote(command_executor=address, options=options,
                                            client_config=ClientConfig(remote_server_addr=address, timeout=360))
            self._driver.file_detector = UselessFileDetector()  # the driver reads local paths itself
            self._driver.set_script_timeout(300)
            self._driver.set_page_load_timeout(180)
            self._driver.set_window_size(*VIEWPORT)
            self.version = self._driver.capabilities.get("browserVersion", "?")
        except BaseException:
            self.close()
            raise

    def _start_xvfb(self):
        read, write = os.pipe()
        # MiniBrowser (a GTK program) exits when its X display goes away, whatever else happens.
        self._xvfb = spawn([XVFB, "-displayfd", str(write), "-screen", "0", "1400x1000x24", "-nolisten", "tcp",
                            "-noreset"], pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=self._log)
        os.close(write)
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()
        if not number:
            raise RuntimeError("Xvfb did not start")
        return f":{number}"

    def _wait_port(self, port, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            if self._driver_process.poll() is not None:
                break
            time.sleep(0.2)
        self._log.seek(0)
        raise RuntimeError(f"WebKitWebDriver did not listen on {port}:\n{self._log.read()[-3000:]}")

    def close(self):
        try:
            if self._driver is not None and not getattr(self, "_stuck", False):
                try:
                    self._driver.quit()
                except Exception:
                    pass
        finally:
            _kill_group(self._driver_process)
            _kill_group(self._xvfb)
            self._log.close()

    def goto(self, url):
        self._driver.get(url)

    def evaluate_json(self, script):
        return _decode(self._driver.execute_async_script(
            f"const done = arguments[arguments.length - 1]; ({script}).then(done);"))

    def click(self, selector):
        from selenium.webdriver.common.by import By
        element = self._driver.find_element(By.CSS_SELECTOR, selector)
        self._driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    def upload(self, selector, path):
        from selenium.webdriver.common.by import By
        self._driver.find_element(By.CSS_SELECTOR, selector).send_keys(str(path))

    def screenshot(self, path, timeout=45):
        """Bounded, in case WebKitWebDriver's snapshot never returns (it did not, after the
        Interpretation view, with WEBKIT_DISABLE_COMPOSITING_MODE=1; the page itself kept painting)."""
        result = {}

        def take():
            try:
                result["png"] = self._driver.get_screenshot_as_png()
            except Exception as error:  # e.g. the driver was killed while this waited
                result["error"] = error

        worker = threading.Thread(target=take, daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            self._stuck = True  # the driver answers commands in order: quitting would wait behind it
            raise TimeoutError(f"WebKitWebDriver took no screenshot within {timeout} s")
        if "error" in result:
            raise result["error"]
        Path(path).write_bytes(result["png"])


ENGINES = {"chromium": Chromium, "firefox": Firefox, "webkit": WebKit}
