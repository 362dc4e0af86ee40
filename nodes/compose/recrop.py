"""Cut other images exactly as a Crop Face Region run cut its source (same crops, same pixels, same order)."""

from __future__ import annotations

import torch

from . import warp
from .plan import StitchPlan


def crop_like(plan: StitchPlan, images: torch.Tensor) -> torch.Tensor:
    """images [B, H, W, C] of the plan's source size -> [N, h, w, C], one per crop of the plan (edges replicated).

    A single image stands for every source image of the plan.
    """
    if tuple(images.shape[1:3]) != tuple(plan.source_hw):
        raise ValueError(
            f"FaceLab: these images are {images.shape[2]}x{images.shape[1]} but the crop was made from "
            f"{plan.source_hw[1]}x{plan.source_hw[0]} images; connect the same image's crop"
        )
    out = []
    for e in plan.entries:
        src = images[e.batch_index if images.shape[0] > 1 else 0].permute(2, 0, 1)
        out.append(warp.sample(src, e.crop_to_image, plan.crop_hw).permute(1, 2, 0))
    return torch.stack(out)
