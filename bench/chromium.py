"""The headless Chromium that the benchmarks, the browser tests and the screenshots drive, set up once.

Debian's chromium, started by Playwright (playwright-core: it cannot download a browser here), with
the flags a closed network needs; READY is the page's own signal that it has started or failed.
"""
from __future__ import annotations

import shutil

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
READY = "document.body.dataset.status === 'ready' || document.body.dataset.status === 'error'"


def missing() -> str | None:
    """What is missing to drive the browser, in a sentence, or None."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return ("Playwright is not installed: it comes with the test extra (.venv/bin/python -m pip install "
                "-e '.[test]', which scripts/test.sh runs)")
    if not shutil.which(CHROMIUM):
        return f"no Chromium at {CHROMIUM}: install Debian's chromium (scripts/test.sh does)"
    return None
