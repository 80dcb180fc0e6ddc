#!/usr/bin/env bash
# Set up (idempotent), install the browsers (Chromium, Firefox ESR, WebKitGTK) for the browser tests, and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The test-only packages (pytest, Playwright, Selenium) are installed here, not by the serving path.
stamp=.venv/.installed-test-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q -e ".[test]"
  touch "$stamp"
fi
# The browsers: Chromium (tests/e2e, tests/xbrowser), Firefox ESR and WebKitGTK in Xvfb (tests/xbrowser).
need=()
for pair in /usr/bin/chromium:chromium /usr/bin/firefox-esr:firefox-esr \
            /usr/bin/WebKitWebDriver:webkit2gtk-driver /usr/bin/Xvfb:xvfb; do
  [ -x "${pair%%:*}" ] || need+=("${pair#*:}")
done
if [ "${#need[@]}" -gt 0 ]; then
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Lint first: ruff (pyproject.toml) and ESLint (eslint.config.mjs), zero findings.
.venv/bin/ruff check .
npx --no-install eslint .
export VITLENS_TEST_SH=1  # tests/xbrowser: a missing browser is a failure here, never a skip
exec .venv/bin/python -m pytest "$@"
