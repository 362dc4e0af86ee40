#!/usr/bin/env bash
# The whole test suite (Python + JS) on a fresh clone: venv, requirements, offline test assets, ruff, pytest.
#   bash tools/run_tests.sh [pytest args]     (set COMFYUI_DIR to also run the real-ComfyUI tests)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
bash tools/setup_venv.sh --dev
"$VENV/bin/python" tests/provision_assets.py
# Formatting and lint (config in pyproject.toml) before the tests: a failure names the file and line.
"$VENV/bin/ruff" format --check --quiet . || { echo "ruff format: run '$VENV/bin/ruff format .'" >&2; exit 1; }
"$VENV/bin/ruff" check --quiet . || exit 1
exec "$VENV/bin/python" -m pytest -p no:cacheprovider "$@"
