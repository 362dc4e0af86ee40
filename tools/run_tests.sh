#!/usr/bin/env bash
# The whole test suite (Python + JS) on a fresh clone: venv, requirements, offline test assets, pytest.
#   bash tools/run_tests.sh [pytest args]     (set COMFYUI_DIR to also run the real-ComfyUI tests)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
bash tools/setup_venv.sh --dev
"$VENV/bin/python" tests/provision_assets.py
exec "$VENV/bin/python" -m pytest -p no:cacheprovider "$@"
