"""Per-pixel denoise mask for per-zone aging: how much each pixel may change in the one sampling pass.

Meant for core DifferentialDiffusion (+ InpaintModelConditioning with that mask, KSampler denoise 1.0): a pixel with
mask value m is only released for the last m fraction of the steps, so m acts as a per-pixel img2img strength.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch


def zone_denoise_strength(score: float, max_denoise: float) -> float:
    """Denoise strength inside a zone: linear in |score|, 0 at score 0, max_denoise at |score| = 1."""
    return min(abs(float(score)), 1.0) * float(max_denoise)


def check_max_denoise(max_denoise: float) -> None:
    if not 0.0 <= float(max_denoise) <= 1.0:
        raise ValueError(f"FaceLab: max_denoise must lie in [0, 1], got {max_denoise}")


def denoise_mask(
    entries: Iterable[tuple[torch.Tensor, float]], shape: tuple[int, int, int], max_denoise: float
) -> torch.Tensor:
    """MASK [B,H,W]: max over zones of (feathered zone mask * strength of its score); exactly 0 outside all zones.

    entries: (mask [B,H,W] in 0..1, score) per zone. The max (not a sum) keeps overlapping zones from stacking up
    beyond the stronger zone's strength.
    """
    check_max_denoise(max_denoise)
    out = torch.zeros(shape, dtype=torch.float32)
    scaled = torch.empty(shape, dtype=torch.float32)  # reused: full-size temporaries are the cost at high resolution
    for mask, score in entries:
        if tuple(mask.shape) != tuple(shape):
            raise ValueError(
                f"FaceLab: zone mask of shape {tuple(mask.shape)} does not match the image batch {tuple(shape)}"
            )
        torch.mul(mask.float().cpu(), zone_denoise_strength(score, max_denoise), out=scaled)
        torch.maximum(out, scaled, out=out)
    return out


# --- one truncated sampler run instead of a full one -----------------------------------------------------------------
# Differential Diffusion (core) releases a pixel of mask value m at the first step whose relative timestep
#   thr_k = (t_k - t_end) / (t_0 - t_end)
# is <= m (t_k: model timestep at the start of step k of the run, t_end: where the run ends). With KSampler denoise 1.0
# and a mask that tops out at M, every step with thr_k > M evaluates the UNet and changes no pixel. Running only the
# last n steps of the SAME S-step schedule (KSampler steps=n, denoise=n/(S+0.5): KSampler then builds int(n/denoise)
# = S steps and keeps the last n, so the sigmas are the full run's own) and scaling the mask by
# (t_0 - t_end) / (t_{S-n} - t_end) releases every pixel at the same step and sigma as the full run would.


@dataclass(frozen=True)
class SamplingPlan:
    steps: int  # steps to run (the tail of the full schedule); 0 = nothing is ever released, no sampling needed
    denoise: float  # KSampler denoise that makes it run exactly that tail
    mask_scale: float  # multiply the denoise mask by this (then clip to 1) for the truncated run
    full_steps: int
    start_timestep: float  # t_0 of the full run
    end_timestep: float  # t_end

    def start_percent(self, strength: float, margin: float = 0.005) -> float:
        """Core timestep-range start_percent from which a pixel of mask value `strength` (full-run scale) can be
        released: an entry used only by such pixels may start there (a little earlier, by `margin`, for rounding)."""
        t = self.end_timestep + float(strength) * (self.start_timestep - self.end_timestep)
        return min(max(1.0 - t / 999.0 - margin, 0.0), 1.0)


def sampling_plan(max_strength: float, step_timesteps: list[float], end_timestep: float) -> SamplingPlan:
    """The truncated run for a mask whose highest value is max_strength (step_timesteps: t_k of the full schedule)."""
    full = len(step_timesteps)
    if full < 1:
        raise ValueError("FaceLab: the sampler needs at least one step")
    t0, t_end = float(step_timesteps[0]), float(end_timestep)
    span = max(t0 - t_end, 1e-6)
    thresholds = [(float(t) - t_end) / span for t in step_timesteps]
    n = sum(1 for thr in thresholds if thr <= float(max_strength) + 1e-9) if max_strength > 0 else 0
    if n == 0:
        return SamplingPlan(0, 0.0, 1.0, full, t0, t_end)
    if n >= full:
        return SamplingPlan(full, 1.0, 1.0, full, t0, t_end)
    return SamplingPlan(n, n / (full + 0.5), 1.0 / max(thresholds[full - n], 1e-6), full, t0, t_end)


def rescale_mask(mask: torch.Tensor, plan: SamplingPlan) -> torch.Tensor:
    """The denoise mask for the truncated run: m * mask_scale, clipped to 1 (exact zeros stay zeros)."""
    if plan.mask_scale == 1.0:
        return mask.clone()
    return (mask * plan.mask_scale).clamp_(max=1.0)
