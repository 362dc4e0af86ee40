"""Blend masks for stitching: an outward feather around the edited region, a taper at crop edges, a ring.

The feather keeps the blend at 1 over the whole masked region (the edit lands completely) and ramps it
down to exactly 0 about `width` pixels outside it, with a raised-cosine profile (the filters are square:
the ramp ends within 1.25 x width along the axes, 1.45 x width towards the corners). There the inpainted crop
and the original agree up to the model's drift, so the ramp hides the transition. Dilation and blur run
at a reduced resolution (the ramp is smooth, so nothing is lost) to stay fast on 1024-px crops.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

LOWRES_RAMP_PX = 12  # the ramp is computed at a scale where it spans about this many pixels
RING_RADIUS_PX = 4  # the colour-match ring is dilated at a scale where its width is about this many pixels
# Weights below 1e-4 become 0 (compact support, no float dust): x <= this float32 value is exactly x < 1e-4.
_DUST = float(np.nextafter(np.float32(1e-4), np.float32(0.0)))


def any_positive(t: torch.Tensor) -> bool:
    """Whether t holds a value > 0: one maximum, no bool tensor (on the CPU `(t > 0).any()` costs 20x as much)."""
    if t.numel() == 0:
        return False
    hi = t.amax()
    if bool(hi > 0):
        return True
    return bool(hi.isnan()) and bool((t > 0).any())  # a NaN hides the maximum: the exact test (rare)


def _max_filter(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Square dilation of [N,1,H,W] (separable max filter)."""
    if radius <= 0:
        return x
    k = 2 * radius + 1
    x = F.max_pool2d(x, (1, k), stride=1, padding=(0, radius))
    return F.max_pool2d(x, (k, 1), stride=1, padding=(radius, 0))


def _hann_blur(x: torch.Tensor, width: float) -> torch.Tensor:
    """Blur [N,1,H,W] with a normalised separable raised-cosine kernel spanning `width` pixels (compact support)."""
    n = int(math.ceil(width)) | 1
    if n < 3:
        return x
    r = n // 2
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = 0.5 + 0.5 * torch.cos(math.pi * t / (r + 1))
    k = k / k.sum()
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, n))
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, n, 1))


def _lowres(mask: torch.Tensor, width: float, ramp_px: int = LOWRES_RAMP_PX) -> tuple[torch.Tensor, int]:
    f = max(1, int(width // ramp_px))
    x = mask[None, None]
    if f > 1:
        x = F.max_pool2d(x, f, stride=f, ceil_mode=True)  # conservative: any masked pixel keeps its cell
    return x, f


def feather(mask: torch.Tensor, width: float) -> torch.Tensor:
    """Blend weights [h, w]: >= mask everywhere, 1 where mask is 1, 0 from about `width` px outside it on."""
    mask = mask.clamp(0.0, 1.0)
    if width < 1.0 or not any_positive(mask):
        return mask
    x, f = _lowres(mask, width)
    w = width / f
    x = _hann_blur(_max_filter(x, int(round(w / 2))), w)
    if f > 1:
        x = F.interpolate(x, size=mask.shape, mode="bilinear", align_corners=False)
    x = x[0, 0]
    if x.data_ptr() == mask.data_ptr():  # no filter ran (a 1-px ramp): x is the mask itself
        x = x.clone()
    x.clamp_(max=1.0)
    F.threshold_(x, _DUST, 0.0)  # x < 1e-4 -> 0: compact support, no float dust (one pass, no bool mask)
    return torch.maximum(mask, x, out=x)


def ring(mask: torch.Tensor, width: float) -> torch.Tensor:
    """bool [h, w]: pixels outside the mask within about `width` px of it."""
    support = (mask > 0).to(torch.float32)
    # A plain dilation needs no smooth ramp: a coarser grid (radius about RING_RADIUS_PX cells) is enough, and
    # the max filter's cost grows with its radius.
    x, f = _lowres(support, max(width, 1.0), RING_RADIUS_PX)
    x = _max_filter(x, max(1, int(round(width / f))))
    if f > 1:
        x = F.interpolate(x, size=mask.shape, mode="nearest")
    return (x[0, 0] > 0) & (mask <= 0)


def _ramp(d: torch.Tensor, width: float) -> torch.Tensor:
    return 0.5 - 0.5 * torch.cos(math.pi * (d / max(width, 1.0)).clamp(0.0, 1.0))


def edge_taper(
    crop_to_image: np.ndarray, crop_hw, image_hw, width: float, window=None, device=None, into=None
) -> torch.Tensor:
    """Weights that fall to 0 at every crop edge beyond which the image continues, over `window` (u0, v0, u1, v1).

    Edges that lie outside the image (a crop padded past the border) are not tapered: nothing is stitched
    beyond them, and the mask there must keep its full weight up to the image border. into: a [window] tensor
    to multiply by the taper in place (only the strips within `width` of an edge are touched) and return.
    """
    h, w = crop_hw
    u0, v0, u1, v1 = window if window is not None else (0, 0, w, h)
    t = torch.ones((v1 - v0, u1 - u0), device=device) if into is None else into
    n = math.ceil(max(width, 1.0)) + 1  # the ramp is exactly 1 from `width` px inside an edge on

    def continues(points_uv: np.ndarray) -> torch.Tensor:
        """Whether each crop-space point just outside an edge maps inside the image."""
        p = crop_to_image @ np.vstack([points_uv, np.ones(points_uv.shape[1])])
        ih, iw = image_hw
        ok = (p[0] >= -0.5) & (p[0] <= iw - 0.5) & (p[1] >= -0.5) & (p[1] <= ih - 0.5)
        return torch.as_tensor(ok, device=device)

    rows, cols = np.arange(v0, v1, dtype=np.float64), np.arange(u0, u1, dtype=np.float64)
    one = torch.ones((), device=device)
    # (window slice, distance to the edge, which pixels continue past it) per edge, only within n px of it
    for a, b, vertical, dist, outside in (
        (u0, min(u1, n), True, lambda c: c, -1.0),
        (max(u0, w - n), u1, True, lambda c: w - 1 - c, float(w)),
        (v0, min(v1, n), False, lambda c: c, -1.0),
        (max(v0, h - n), v1, False, lambda c: h - 1 - c, float(h)),
    ):
        if b <= a:
            continue
        d = torch.as_tensor(dist(np.arange(a, b, dtype=np.float64)), dtype=torch.float32, device=device)
        if vertical:  # a left/right edge: columns a..b, every row
            ok = continues(np.vstack([np.full(len(rows), outside), rows]))[:, None]
            t[:, a - u0 : b - u0] *= torch.where(ok, _ramp(d, width)[None, :], one)
        else:
            ok = continues(np.vstack([cols, np.full(len(cols), outside)]))[None, :]
            t[a - v0 : b - v0] *= torch.where(ok, _ramp(d, width)[:, None], one)
    return t


def grow(box, margin: float, hw) -> tuple[int, int, int, int]:
    """(u0, v0, u1, v1) grown by margin px on every side, clipped to an hw grid."""
    u0, v0, u1, v1 = box
    m = int(math.ceil(margin))
    return max(u0 - m, 0), max(v0 - m, 0), min(u1 + m, hw[1]), min(v1 + m, hw[0])


def support_box(weights: torch.Tensor, margin: int = 2) -> tuple[int, int, int, int] | None:
    """(u0, v0, u1, v1) bounding the nonzero pixels of [h, w] weights, grown by margin; None if all zero."""
    rows, cols = (weights.amax(1) > 0).nonzero(), (weights.amax(0) > 0).nonzero()  # no [h, w] temporary
    if rows.numel() == 0:
        return None
    h, w = weights.shape
    return (
        max(int(cols[0]) - margin, 0),
        max(int(rows[0]) - margin, 0),
        min(int(cols[-1]) + 1 + margin, w),
        min(int(rows[-1]) + 1 + margin, h),
    )
