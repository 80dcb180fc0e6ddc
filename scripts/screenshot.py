"""Screenshots of the page for the README: python scripts/screenshot.py [fragment] [out.png] [selector...]

Each selector is clicked in turn (e.g. a button that opens an operation view) before the shot;
`selector=value` chooses an option of a <select> instead, `key:ArrowRight*5` presses a key,
`wait:<expression>` waits until the JavaScript expression is true, and `full` photographs the
whole page rather than the window.

Serves web/ with serve.py and photographs it in Debian's headless Chromium.
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from serve import make_server  # noqa: E402
from bench.chromium import CHROMIUM, FLAGS, READY  # noqa: E402


def main(fragment: str = "#image=chelsea", out: str = "docs/page.png", *clicks: str,
         viewport: tuple[int, int] = (1280, 900)) -> None:
    from playwright.sync_api import sync_playwright
    server = make_server(ROOT / "web", port=0, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]}, device_scale_factor=1)
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/{fragment}")
        page.wait_for_function(READY, timeout=120_000)
        page.wait_for_timeout(500)
        for action in clicks:
            if action == "full":
                continue
            if action.startswith("wait:"):
                page.wait_for_function(action[5:], timeout=120_000)
            elif action.startswith("key:"):
                key, _, times = action[4:].partition("*")
                for _ in range(int(times or 1)):
                    page.keyboard.press(key)
            elif "=" in action and not action.startswith("["):
                selector, _, value = action.partition("=")
                page.select_option(selector, value)
            else:
                page.click(action)
            page.wait_for_timeout(1500)
        page.screenshot(path=str(ROOT / out), full_page="full" in clicks)
        browser.close()
    server.shutdown()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
