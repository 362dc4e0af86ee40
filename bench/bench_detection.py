"""Face detection speed: ms per image for the standard mode at 1024² and 4096², small_faces / auto on t1.jpg.

Run from the pack folder: `python bench/bench_detection.py [--repeat N]`. Uses the test assets
(tests/provision_assets.py) for the model and photos. Inputs are ComfyUI IMAGE tensors (float32 0..1); the
square images are grace_hopper.jpg scaled to cover them and centre-cropped (one face, ~36% of the width).
The first call of each configuration (model loading) is excluded; the median and minimum of N calls are printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
# Shared bench helpers (also sets up sys.path and the offline test assets for the models and photos).
from bench_common import photo, square, timed  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    import facelab

    facelab.load_pack()
    from comfyui_facelab.nodes.face import detection

    print(f"torch threads: {torch.get_num_threads()}, CPU cores: {os.cpu_count()}")
    img1k, img4k, t1 = square("grace_hopper.jpg", 1024), square("grace_hopper.jpg", 4096), photo("t1.jpg")
    runs = [
        ("standard, 1024x1024, 1 face", lambda: detection.detect(img1k), args.repeat),
        ("standard, 4096x4096, 1 face", lambda: detection.detect(img4k), args.repeat),
        ("standard, t1.jpg 1280x886 (0 of 6 faces)", lambda: detection.detect(t1), args.repeat),
        ("small_faces, t1.jpg 1280x886, 6 faces", lambda: detection.detect(t1, mode="small_faces"), args.repeat),
        ("auto, t1.jpg 1280x886, 6 faces", lambda: detection.detect(t1, mode="auto"), args.repeat),
        ("small_faces, 4096x4096, 1 face (tile cost)", lambda: detection.detect(img4k, mode="small_faces"), 1),
    ]
    for label, fn, repeat in runs:
        n = sum(len(f) for f in fn()["frames"])
        median, fastest = timed(fn, repeat)
        print(f"{label:44s} {median:8.1f} ms  (min {fastest:.1f}, {n} face(s))")


if __name__ == "__main__":
    main()
