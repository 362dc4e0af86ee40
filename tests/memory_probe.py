"""Subprocess probe for tests/test_detection_memory.py: peak extra RSS of one detection on a large canvas.

    python tests/memory_probe.py MODE SIDE DTYPE      (DTYPE: float32 torch IMAGE, or uint8 numpy)

Prints one JSON line: {"image_bytes", "extra_peak_bytes", "faces"}. The canvas is built first; then the kernel's
peak-RSS mark (VmHWM) is reset to the current resident size (writing 5 to /proc/self/clear_refs, Linux) and the
peak reached during the detection, minus that size, is the detection's extra memory. A process of its own keeps
the test's other allocations out of the figure.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))


def main() -> None:
    mode, side, dtype = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    import torch
    from conftest import load_photo

    import facelab

    facelab.load_pack()
    from comfyui_facelab.nodes.face import detection

    face = load_photo("grace_hopper.jpg")  # 512 x 600, a ~200 px face
    detection.detect(face, mode=mode)  # models loaded and warmed up before measuring
    if dtype == "float32":
        canvas = torch.full((1, side, side, 3), 0.4, dtype=torch.float32)
        canvas[0, side // 3 : side // 3 + face.shape[0], side // 2 : side // 2 + face.shape[1]] = torch.from_numpy(
            face.astype(np.float32) / 255
        )
        image_bytes = canvas.numel() * 4
    else:
        canvas = np.full((side, side, 3), 100, dtype=np.uint8)
        canvas[side // 3 : side // 3 + face.shape[0], side // 2 : side // 2 + face.shape[1]] = face
        image_bytes = canvas.nbytes
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak-RSS mark to the current resident size
    before = _status_kb("VmRSS") * 1024
    out = detection.detect(canvas, mode=mode)
    peak = _status_kb("VmHWM") * 1024
    faces = sum(len(f) for f in out["frames"])
    print(json.dumps({"image_bytes": image_bytes, "extra_peak_bytes": max(0, peak - before), "faces": faces}))


if __name__ == "__main__":
    main()
