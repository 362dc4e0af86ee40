"""Per-pixel denoise mask for per-zone aging: how much each pixel may change in the one sampling pass.

Meant for core DifferentialDiffusion (+ InpaintModelConditioning with that mask, KSampler denoise 1.0): a pixel with
mask value m is only released for the last m fraction of the steps, so m acts as a per-pixel img2img strength.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


def zone_denoise_strength(score: float, max_denoise: float) -> float:
    """Denoise strength inside a zone: linear in |score|, 0 at score 0, max_denoise at |score| = 1."""
    return min(abs(float(score)), 1.0) * float(max_denoise)


def check_max_denoise(max_denoise: float) -> None:
    if not 0.0 <= float(max_denoise) <= 1.0:
        raise ValueError(f"FaceLab: max_denoise must lie in [0, 1], got {max_denoise}")


def denoise_mask(entries: Iterable[tuple[torch.Tensor, float]], shape: tuple[int, int, int], max_denoise: float) -> torch.Tensor:
    """MASK [B,H,W]: max over zones of (feathered zone mask * strength of its score); exactly 0 outside all zones.

    entries: (mask [B,H,W] in 0..1, score) per zone. The max (not a sum) keeps overlapping zones from stacking up
    beyond the stronger zone's strength.
    """
    check_max_denoise(max_denoise)
    out = torch.zeros(shape, dtype=torch.float32)
    scaled = torch.empty(shape, dtype=torch.float32)  # reused: full-size temporaries are the cost at high resolution
    for mask, score in entries:
        if tuple(mask.shape) != tuple(shape):
            raise ValueError(f"FaceLab: zone mask of shape {tuple(mask.shape)} does not match the image batch {tuple(shape)}")
        torch.mul(mask.float().cpu(), zone_denoise_strength(score, max_denoise), out=scaled)
        torch.maximum(out, scaled, out=out)
    return out
