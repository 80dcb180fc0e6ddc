#!/usr/bin/env bash
# Install what ViT Lens needs into the project folder (.venv, node_modules) and build the default
# model. Safe to run again: each step is skipped when its result is already up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  [ -n "${APT_UPDATED:-}" ] || { as_root apt-get update -qq; APT_UPDATED=1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv 2>/dev/null || { apt_install python3-venv; python3 -m venv .venv; }
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e .
  touch "$stamp"
fi

command -v npm >/dev/null || apt_install nodejs npm
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
.venv/bin/python scripts/build_web.py

manifest=web/model/dinov2-s14-cifar10/manifest.json
if [ ! -f "$manifest" ] || [ -n "$(find export -newer "$manifest" -type f -print -quit)" ]; then
  .venv/bin/python -m export.default_model
fi
.venv/bin/python scripts/precache.py
