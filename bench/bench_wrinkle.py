"""Wrinkle score and aging conditioning cost on CPU. Prints one JSON line per stage (bench_common.py); run from the
pack folder:

    .venv/bin/python bench/bench_wrinkle.py [--repeat 5]

- Wrinkle Score, one face of obama.jpg (1137x910, eye distance ~100 px) at 1x, 2x and 4x (bicubic; 4x = 3640x4548,
  the "4K" row): the face is resampled to a fixed eye distance, so the cost hardly grows with resolution (the ROI
  resize and the heat map do). Stages: the scores alone on visible skin (the default), the same with the geometry
  only (visible_skin off), and the node's full work (scores + heat-map image, including the copy of the image).
- Aging Zone Conditioning: masks + prompts for all 11 zone groups scored non-zero, with a stand-in CLIP that
  returns SDXL-shaped tensors instantly (real CLIP encoding time is ComfyUI's, ~tens of ms per prompt on GPU).
Landmark detection is done once beforehand and excluded. torch uses one thread.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common  # noqa: E402,F401  (import paths + offline test-asset models)
from bench_common import timed_stage  # noqa: E402


class StandInClip:
    """Returns one preallocated SDXL-shaped encoding, so only FaceLab's own work is timed."""

    COND = [[torch.zeros(1, 77, 2048), {"pooled_output": torch.zeros(1, 1280)}]]

    def tokenize(self, text):
        return {"g": [[(0, 1.0)] * 77], "l": [[(0, 1.0)] * 77]}

    def encode_from_tokens_scheduled(self, tokens):
        return self.COND


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)

    from conftest import landmarks_for, photo_tensor

    import facelab

    pack = facelab.load_pack()
    score_node = pack.NODE_CLASS_MAPPINGS["FaceLabWrinkleScore"]()
    cond_node = pack.NODE_CLASS_MAPPINGS["FaceLabAgingConditioning"]()
    from comfyui_facelab.nodes.aging import wrinkle_score, zone_scores

    name = "obama.jpg"
    lm = landmarks_for(name)
    image = photo_tensor(name)
    for factor in (1, 2, 4):
        img = (
            image
            if factor == 1
            else torch.nn.functional.interpolate(
                image.permute(0, 3, 1, 2), scale_factor=factor, mode="bicubic", align_corners=False
            )
            .clamp(0, 1)
            .permute(0, 2, 3, 1)
        )
        rgb = np.ascontiguousarray(img.numpy())
        size = f"{name} x{factor} {img.shape[2]}x{img.shape[1]}"
        timed_stage(
            "wrinkle_scores_visible_skin",
            size,
            lambda rgb=rgb: wrinkle_score.measure_batch(rgb, lm, 0, False),
            args.repeat,
        )
        timed_stage(
            "wrinkle_scores_geometry_only",
            size,
            lambda rgb=rgb: wrinkle_score.measure_batch(rgb, lm, 0, False, visible_skin=False),
            args.repeat,
        )
        timed_stage(
            "wrinkle_score_node_with_heatmap", size, lambda img=img: score_node.score(img, lm, 0, "mean"), args.repeat
        )

    scores = zone_scores.build_scores("age +10y")
    for factor in (1, 2):
        h, w = image.shape[1] * factor, image.shape[2] * factor
        img = torch.zeros(1, h, w, 3)
        lm_scaled = {
            **lm,
            "frames": [[{**f, "landmarks_xy": np.asarray(f["landmarks_xy"]) * factor} for f in lm["frames"][0]]],
            "image_size": (h, w),
        }
        timed_stage(
            "aging_zone_conditioning_17_zones",
            f"{w}x{h}",
            lambda img=img, lm_scaled=lm_scaled: cond_node.build(
                StandInClip(), img, lm_scaled, scores, "photo", "blurry", 0, 10.0, 0.32, 1.0
            ),
            args.repeat,
            note="masks + prompts, CLIP excluded",
        )


if __name__ == "__main__":
    main()
