"""Zone mask speed and memory: landmarks + all zone masks for one face at 1024^2 and 4096^2, and a 6-face photo.

Run from the pack folder:  .venv/bin/python bench/bench_zones.py [--repeat 5]
Needs the test assets (python tests/provision_assets.py). Prints milliseconds per image (median of the repeats,
wall and CPU time) and the peak of numpy allocations (tracemalloc; torch tensors are not traced) of each step.
Masks use one thread.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import ASSETS  # noqa: E402  (import paths + offline test-asset models)

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import facelab  # noqa: E402

facelab.load_pack()
import torch  # noqa: E402

from comfyui_facelab.nodes.face import detection, zone_atlas, zone_masks  # noqa: E402

torch.set_num_threads(1)
SETTINGS = {"grow": 5.0, "feather": 10.0, "subtract": "eyes+brows+lips"}


def measure(fn, repeat: int) -> tuple[float, float, float, object]:
    """(median wall ms, median CPU ms, peak traced MiB, last result)."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        walls.append((time.perf_counter() - w0) * 1000)
        cpus.append((time.process_time() - c0) * 1000)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(walls), statistics.median(cpus), peak / 2**20, result


def portrait(side: int) -> np.ndarray:
    with Image.open(ASSETS / "photos" / "grace_hopper.jpg") as im:
        im = im.convert("RGB")
        s = min(im.size)
        im = im.crop(((im.width - s) // 2, (im.height - s) // 2, (im.width + s) // 2, (im.height + s) // 2))
        return np.asarray(im.resize((side, side), Image.BICUBIC))


def report(label: str, wall: float, cpu: float, peak: float, note: str = "") -> None:
    print(f"  {label:<44} {wall:9.1f} ms  (cpu {cpu:8.1f} ms)  peak {peak:8.1f} MiB  {note}")


def bench_image(title: str, rgb: np.ndarray, mode: str, repeat: int) -> None:
    h, w = rgb.shape[:2]
    full_mib = h * w * 4 / 2**20
    print(f"\n{title}: {w}x{h}, one float32 full-size array = {full_mib:.1f} MiB")
    detection.detect(rgb, mode=mode)  # warm-up: model load
    wall, cpu, peak, lms = measure(lambda: detection.detect(rgb, mode=mode), max(1, repeat // 2))
    faces = lms["frames"][0]
    report(f"landmarks ({mode}), {len(faces)} face(s)", wall, cpu, peak)
    if not faces:
        return
    names = list(zone_atlas.ZONE_NAMES)
    lm = faces[0]["landmarks_xy"]

    def each_zone_roi():
        return [zone_masks.face_zone_mask_roi(f["landmarks_xy"], [z], (h, w), **SETTINGS) for f in faces for z in names]

    wall, cpu, peak, _ = measure(each_zone_roi, repeat)
    report(f"25 zone masks x {len(faces)} face(s), ROI only", wall, cpu, peak, f"({wall / len(names) / len(faces):.2f} ms/zone)")
    wall, cpu, peak, _ = measure(lambda: zone_masks.face_zone_mask_roi(lm, names, (h, w), **SETTINGS), repeat)
    report("union of all 25 zones, face 0, ROI only", wall, cpu, peak)
    wall, cpu, peak, _ = measure(lambda: zone_masks.zones_mask(lms, 1, names, **SETTINGS), repeat)
    # tracemalloc sees numpy, not torch: the MASK tensor itself is one more full-size array
    report("union of all 25 zones, full MASK [1,H,W]", wall, cpu, peak,
           f"= {peak / full_mib:.2f} full-size arrays + the output tensor")
    wall, cpu, peak, _ = measure(lambda: zone_masks.face_zone_mask(lm, "crows_feet, under_eye", (h, w), **SETTINGS), repeat)
    report("crows_feet + under_eye, face 0, full (H,W)", wall, cpu, peak, f"= {peak / full_mib:.2f} full-size arrays")
    wall, cpu, peak, _ = measure(lambda: zone_masks.face_zone_mask(lm, "skin", (h, w)), repeat)
    report("skin, crisp, face 0, full (H,W)", wall, cpu, peak)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"FaceLab zone masks bench (torch threads {torch.get_num_threads()}, settings {SETTINGS})")
    bench_image("grace_hopper upscaled to 1024x1024", portrait(1024), "standard", args.repeat)
    bench_image("grace_hopper upscaled to 4096x4096", portrait(4096), "standard", args.repeat)
    with Image.open(ASSETS / "photos" / "t1.jpg") as im:
        bench_image("t1.jpg, 6 small faces", np.asarray(im.convert("RGB")), "small_faces", args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
