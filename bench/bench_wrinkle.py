"""Wrinkle score and aging conditioning cost on CPU. Prints figures; run from the pack folder:

    .venv/bin/python bench/bench_wrinkle.py [--repeat 5]

- Wrinkle Score: one face of obama.jpg (1137x910, eye distance ~100 px) at 1x, 2x and 4x (bicubic): the face is
  resampled to a fixed eye distance, so the cost should hardly grow with resolution (only the ROI resize does).
- Aging Zone Conditioning: masks + prompts for all 11 zone groups scored non-zero, with a stand-in CLIP that
  returns SDXL-shaped tensors instantly (real CLIP encoding time is ComfyUI's, ~tens of ms per prompt on GPU).
Landmark detection is done once beforehand and excluded; the median of N calls is printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common  # noqa: E402,F401  (import paths + offline test-asset models)


class StandInClip:
    """Returns one preallocated SDXL-shaped encoding, so only FaceLab's own work is timed."""

    COND = [[torch.zeros(1, 77, 2048), {"pooled_output": torch.zeros(1, 1280)}]]

    def tokenize(self, text):
        return {"g": [[(0, 1.0)] * 77], "l": [[(0, 1.0)] * 77]}

    def encode_from_tokens_scheduled(self, tokens):
        return self.COND


def median_ms(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    import facelab
    from conftest import landmarks_for, photo_tensor

    pack = facelab.load_pack()
    score_node = pack.NODE_CLASS_MAPPINGS["FaceLabWrinkleScore"]()
    cond_node = pack.NODE_CLASS_MAPPINGS["FaceLabAgingConditioning"]()
    from comfyui_facelab.nodes.aging import zone_scores

    name = "obama.jpg"
    lm = landmarks_for(name)
    image = photo_tensor(name)
    print(f"torch threads: {torch.get_num_threads()}")
    for factor in (1, 2, 4):
        img = image if factor == 1 else torch.nn.functional.interpolate(
            image.permute(0, 3, 1, 2), scale_factor=factor, mode="bicubic", align_corners=False).clamp(0, 1).permute(0, 2, 3, 1)
        ms = median_ms(lambda: score_node.score(img, lm, 0, "mean"), args.repeat)
        print(f"Wrinkle Score {img.shape[2]}x{img.shape[1]}: {ms:7.1f} ms per face (scores + heat map)")

    scores = zone_scores.build_scores("age +10y")
    for factor in (1, 2):
        h, w = image.shape[1] * factor, image.shape[2] * factor
        img = torch.zeros(1, h, w, 3)
        lm_scaled = {**lm, "frames": [[{**f, "landmarks_xy": np.asarray(f["landmarks_xy"]) * factor} for f in lm["frames"][0]]],
                     "image_size": (h, w)}
        ms = median_ms(lambda: cond_node.build(StandInClip(), img, lm_scaled, scores, "photo", "blurry", 0, 10.0, 0.32, 1.0),
                       args.repeat)
        print(f"Aging Zone Conditioning {w}x{h}, 11 zone groups (17 zones): {ms:7.1f} ms (masks + prompts, CLIP excluded)")


if __name__ == "__main__":
    main()
