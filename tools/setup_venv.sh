#!/usr/bin/env bash
# Create (or reuse) a Python venv for FaceLab outside ComfyUI: torch, the pack's requirements and,
# with --dev, the test extras. Used by tools/demo.sh, tools/run_tests.sh and .ci/run.
#   VENV=path (default .venv)  PYTHON=python3  TORCH_SPEC="torch==2.13.0" (CPU wheel on the CI machine)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -c "import torch" 2>/dev/null || "$VENV/bin/pip" install -q "$TORCH_SPEC"
"$VENV/bin/pip" install -q -r requirements.txt
if [ "${1:-}" = "--dev" ]; then
  "$VENV/bin/pip" install -q -r requirements-dev.txt
fi
