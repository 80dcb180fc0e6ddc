#!/usr/bin/env bash
# Set up (idempotent), build the default model, and serve the page on http://127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python serve.py "$@"
