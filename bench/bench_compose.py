"""Crop + stitch speed and peak memory at 4K on CPU (issue 4 targets: < 150 ms per face, < 6x the image size).

Builds a 4096x4096 photo with two real faces (obama3.jpg and biden.jpg from the test assets, upscaled side
by side), finds the faces with MediaPipe on a reduced copy, masks cheeks and forehead of both faces, then
times Crop Face Region (SDXL area, 1024^2 crops) and Stitch Face Region (feather 0.1, colour match, "add")
of a colour-drifted "inpaint". Peak memory is the process's peak resident set (VmHWM, reset before the
measured call) above its resident set just before it.

Most of the stitch's fixed cost is the first touch of the fresh 4K output tensor (page faults); running
with THP_MEM_ALLOC_ENABLE=1 (PyTorch's transparent-huge-page allocation, read at start-up) roughly halves it.

    .venv/bin/python bench/bench_compose.py [--repeat 5] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

SIZE = 4096


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def build_scene():
    from PIL import Image

    import conftest  # noqa: F401  (sets the offline model folder)
    import facelab

    facelab.load_pack()
    from comfyui_facelab.nodes.face import face_landmarks as fl
    from comfyui_facelab.nodes.face import landmarker

    halves = []
    for name in ("obama3.jpg", "biden.jpg"):
        im = Image.open(conftest.PHOTOS / name).convert("RGB")
        scale = max(SIZE / 2 / im.width, SIZE / im.height)
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.BICUBIC)
        left, top = (im.width - SIZE // 2) // 2, (im.height - SIZE) // 2
        halves.append(np.asarray(im.crop((left, top, left + SIZE // 2, top + SIZE))))
    rgb = np.concatenate(halves, axis=1)
    small = np.asarray(Image.fromarray(rgb).resize((1024, 1024), Image.BILINEAR))
    faces = fl.sort_faces(landmarker.detect_faces(small, max_faces=4), "left_to_right")
    for f in faces:  # detected at 1/4 scale
        for key in ("bbox_xyxy", "landmarks_xy", "landmarks_3d"):
            f[key] = f[key] * (SIZE / 1024)
    if len(faces) != 2:
        raise SystemExit(f"expected 2 faces in the bench scene, found {len(faces)}")
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    mask = np.zeros((SIZE, SIZE), np.float32)
    for f in faces:
        size = fl.face_size(f)
        for i in (205, 425, 151):  # cheeks and forehead: what an aging edit masks
            px, py = f["landmarks_xy"][i]
            mask[(xx - px) ** 2 + (yy - py) ** 2 <= (0.12 * size) ** 2] = 1.0
    return rgb, mask, fl.make_face_landmarks([faces], (SIZE, SIZE))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    rgb, mask_np, landmarks = build_scene()
    from comfyui_facelab.nodes.compose import crop as crop_mod
    from comfyui_facelab.nodes.compose import stitch as stitch_mod

    image = torch.from_numpy(rgb.astype(np.float32) / 255.0)[None]
    mask = torch.from_numpy(mask_np)[None]
    del rgb, mask_np
    settings = crop_mod.CropSettings()
    image_mb = image.numel() * 4 / 2**20
    print(f"scene: {SIZE}x{SIZE}, 2 faces, image tensor {image_mb:.0f} MiB, torch threads {torch.get_num_threads()}, device cpu")

    def crop_once():
        return crop_mod.crop(image, mask, landmarks, settings)

    crops, crop_masks, plan = crop_once()
    drift = (crops * torch.tensor([1.04, 0.97, 1.0]) + torch.tensor([0.05, -0.02, 0.04])).clamp(0, 1)

    def stitch_once():
        return stitch_mod.stitch(image, drift, plan, feather=0.1, color_match=True, mode="add")

    stitch_once()  # warm-up
    crop_wall, stitch_wall, crop_cpu, stitch_cpu = [], [], [], []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        crop_once()
        t1, c1 = time.perf_counter(), time.process_time()
        stitch_once()
        t2, c2 = time.perf_counter(), time.process_time()
        crop_wall.append(t1 - t0), stitch_wall.append(t2 - t1), crop_cpu.append(c1 - c0), stitch_cpu.append(c2 - c1)

    alloc_wall, alloc_cpu = [], []
    for _ in range(args.repeat):  # the stitch's fixed cost: a fresh output image and blend mask
        t0, c0 = time.perf_counter(), time.process_time()
        fresh = image.clone()
        blend = torch.zeros(image.shape[:3])
        alloc_wall.append(time.perf_counter() - t0), alloc_cpu.append(time.process_time() - c0)
        del fresh, blend

    n = len(plan.entries)
    med = statistics.median
    ms = lambda v: v * 1000  # noqa: E731
    print(f"crops: {n} of {plan.crop_hw[1]}x{plan.crop_hw[0]}   (medians of {args.repeat} runs; CPU = this process's CPU time)")
    print(f"crop    wall {ms(med(crop_wall)):7.1f} ms   CPU {ms(med(crop_cpu)):7.1f} ms   for {n} faces")
    print(f"stitch  wall {ms(med(stitch_wall)):7.1f} ms   CPU {ms(med(stitch_cpu)):7.1f} ms   for {n} faces")
    per_face_wall = ms(med(crop_wall) + med(stitch_wall)) / n
    per_face_cpu = ms(med(crop_cpu) + med(stitch_cpu)) / n
    best = ms(min(crop_wall) + min(stitch_wall)) / n
    print(f"crop + stitch per face: wall {per_face_wall:.1f} ms (best run {best:.1f} ms), CPU {per_face_cpu:.1f} ms   (target < 150 ms)")
    print(
        f"  the stitch's fixed cost, once per image (a fresh 4K output + blend mask): wall {ms(med(alloc_wall)):.1f} ms, "
        f"CPU {ms(med(alloc_cpu)):.1f} ms; per face without it: CPU {per_face_cpu - ms(med(alloc_cpu)) / n:.1f} ms"
    )

    if _reset_peak():
        base = _rss_kb("VmRSS")
        crops2, masks2, plan2 = crop_once()
        out, used = stitch_mod.stitch(image, crops2, plan2)
        peak = (_rss_kb("VmHWM") - base) / 1024
        print(f"peak memory above baseline during crop + stitch: {peak:.0f} MiB = {peak / image_mb:.2f} x the image (target < 6x)")
        del out, used, crops2, masks2
    else:
        print("peak memory: /proc/self/clear_refs not writable here, not measured")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
