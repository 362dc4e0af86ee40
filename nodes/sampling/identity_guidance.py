"""Identity guidance: the combination rule of the Identity Guider (pure torch; docs/sampling.md).

With D(x, c) the base model's denoised prediction and D_id(x, c) that of the identity model (the same weights with an
identity adapter patched in: IP-Adapter FaceID, InstantID, PuLID), per sampling step:

    base   = D(x, neg) + cfg * (D(x, pos) - D(x, neg))            (ComfyUI's CFG)
    result = base + scale * (D_id(x, pos) - D(x, pos))           while the step is inside [start, end]
    result = base                                                 outside it

scale < 0 pushes the sample away from the identity (anonymise), scale > 0 towards it (retouch keeping the person).
The rule reduces to plain CFG when scale = 0, when the two models agree (D_id = D), and outside the window.
"""

from __future__ import annotations

import torch


def combine(base: torch.Tensor, cond: torch.Tensor, identity_cond: torch.Tensor, scale: float) -> torch.Tensor:
    """base + scale * (identity_cond - cond) (see the module docstring)."""
    if scale == 0.0:
        return base
    return base + float(scale) * (identity_cond - cond)


def window_sigmas(percent_to_sigma, start_percent: float, end_percent: float) -> tuple[float, float]:
    """(sigma_high, sigma_low) of the schedule part [start_percent, end_percent] (0 = first step, 1 = last), with the
    model's own percent -> sigma mapping, as ComfyUI's conditioning timestep ranges do."""
    if not 0.0 <= start_percent <= end_percent <= 1.0:
        raise ValueError(f"FaceLab: need 0 <= start_percent <= end_percent <= 1, got {start_percent}, {end_percent}")
    return float(percent_to_sigma(start_percent)), float(percent_to_sigma(end_percent))


def active(sigma: float, window: tuple[float, float]) -> bool:
    high, low = window
    return low <= float(sigma) <= high
