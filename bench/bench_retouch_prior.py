"""Smooth Wrinkles (prior): time per face at 1024x1024 and what it does, on the offline older portraits.

    .venv/bin/python bench/bench_retouch_prior.py [--repeat 5]

Each portrait is scaled so its shorter side is 1024 px and cropped to 1024x1024 around the face; its landmarks
(detected once on the original photo with the real model) are mapped the same way. Every wrinkle zone is scored -1 (full strength).
Prints one JSON line per photo: stage, size, median/min/max wall ms and median CPU ms (process time, all threads)
of smooth_face (landmarks excluded), the Wrinkle
Compare figure of the prior alone (mean change of the treated zones, %), the pore-scale texture kept inside the
zones, torch threads and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common  # noqa: E402  (import paths + offline test-asset models)

SIZE = 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    from conftest import landmarks_for

    import facelab

    pack = facelab.load_pack()
    from comfyui_facelab.nodes.aging import retouch_prior, wrinkle_score

    compare = pack.NODE_CLASS_MAPPINGS["FaceLabWrinkleCompare"]()
    zones = wrinkle_score.wrinkle_zones()
    for name in ("grace_hopper.jpg", "biden.jpg"):
        lm_full = landmarks_for(name)
        with Image.open(bench_common.ASSETS / "photos" / name) as im:
            k = SIZE / min(im.size)
            im = im.convert("RGB").resize((round(im.width * k), round(im.height * k)), Image.BICUBIC)
            centre = np.asarray(lm_full["frames"][0][0]["landmarks_xy"], np.float64).mean(0) * k
            x0 = int(np.clip(centre[0] - SIZE / 2, 0, im.width - SIZE))
            y0 = int(np.clip(centre[1] - SIZE / 2, 0, im.height - SIZE))
            arr = np.asarray(im.crop((x0, y0, x0 + SIZE, y0 + SIZE)))
        image = torch.from_numpy(arr.astype(np.float32) / 255.0)[None]
        lm = np.asarray(lm_full["frames"][0][0]["landmarks_xy"], np.float64) * k - [x0, y0]
        rgb = image[0].numpy().copy()
        strengths = {z: 1.0 for z in zones}
        retouch_prior.smooth_face(rgb, lm, strengths)  # warm-up (imports)
        times, cpu = [], []
        for _ in range(args.repeat):
            t, c = time.perf_counter(), time.process_time()
            out, mask, info = retouch_prior.smooth_face(rgb, lm, strengths)
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
        frame = {**lm_full["frames"][0][0], "landmarks_xy": lm.tolist()}
        from comfyui_facelab.nodes.face import face_landmarks as fl

        landmarks = fl.make_face_landmarks([[frame]], (SIZE, SIZE))
        _, change = compare.compare(image, torch.from_numpy(out)[None], landmarks, 0, "mean", 30.0)
        kept = retouch_prior.texture_energy(out, lm, zones) / retouch_prior.texture_energy(rgb, lm, zones)
        print(
            json.dumps(
                {
                    "stage": "smooth_wrinkles_prior",
                    "photo": name,
                    "size": f"{SIZE}x{SIZE}",
                    "eye_distance_px": info.get("eye_distance_px"),
                    "median_ms": round(statistics.median(times), 1),
                    "min_ms": round(min(times), 1),
                    "max_ms": round(max(times), 1),
                    "median_cpu_ms": round(
                        statistics.median(cpu), 1
                    ),  # all threads: steadier than wall time when shared
                    "wrinkle_compare_mean_change_pct": change,
                    "texture_kept": round(kept, 3),
                    "threads": torch.get_num_threads(),
                    "loadavg": os.getloadavg()[0],
                }
            )
        )


if __name__ == "__main__":
    main()
