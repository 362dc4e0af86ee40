"""Per-region makeup colour transfer in CIELAB, computed as smooth per-region Lab offsets.

For each makeup region the result is   output = source + w(x) * delta(x)   in Lab, where delta is smooth
(a difference of region-restricted low-pass fields), so the source's own fine lightness structure
(texture, pores, lip lines, lighting detail) is kept exactly and only colour and low-frequency tone move.
All inputs here are on the same (source) geometry at a working resolution: the source face and the
reference face warped onto it, the reference already relit to the source's lighting (illumination.py).

Region modes:
- opaque (lips):      delta = ref_low - src_low. Lipstick covers the lip colour: the reference's colour,
                      with its lightness relative to its own skin (the relighting makes that so).
- sheer (eyes, blush, brows): delta = (ref_low - ref_skin) - (src_low - src_skin). What the reference has
                      on top of its own skin is laid on top of the source's skin: bare lids on the reference
                      give bare lids, never a patch of the reference's skin tone.
- foundation (skin):  a*, b* move to the reference's smooth skin colour; L* is left alone (lightness of a
                      single photo cannot be told apart from lighting, and it carries the face's shape).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .illumination import fill_nearest, masked_blur, smooth_field

MIN_COVERAGE = 0.35  # fraction of a region the reference must show (warp valid) to transfer it
VISIBLE_DELTA_E = 5.0  # CIEDE2000 between a sheer region and the skin under it above which makeup is "visible"


@dataclass(frozen=True)
class RegionRule:
    mode: str  # "opaque" | "sheer" | "foundation"
    sigma: float  # low-pass scale, as a fraction of the inter-ocular distance


RULES: dict[str, RegionRule] = {
    "lips": RegionRule("opaque", 0.08),
    "eyes": RegionRule("sheer", 0.04),
    "blush": RegionRule("sheer", 0.08),
    "brows": RegionRule("sheer", 0.04),
    "foundation": RegionRule("foundation", 0.06),
}


@dataclass
class RegionTransfer:
    delta: np.ndarray  # (h, w, 3) Lab offset over `box` of the working frame
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) of `delta` in the working frame
    coverage: float  # fraction of the region the reference shows
    ref_lab: np.ndarray  # (3,) mean reference colour over the region, relit to the source lighting
    skin_lab: np.ndarray  # (3,) mean reference skin colour under the region (relit)
    ref_lightness: np.ndarray  # reference L* samples over the region (for the lip finish)


def region_transfer(
    region: str,
    src_lab: np.ndarray,
    ref_lab: np.ndarray,
    src_skin: np.ndarray,
    ref_skin: np.ndarray,
    mask: np.ndarray,
    valid: np.ndarray,
    iod: float,
    margin: float = 0.0,
) -> RegionTransfer | None:
    """Lab offset field for one region (None when the reference shows too little of it).

    src_lab, ref_lab: (h, w, 3) working-resolution Lab on the source geometry; src_skin, ref_skin: smooth skin
    fields (illumination.smooth_field); mask: (h, w) bool region; valid: (h, w) bool reference-warp validity.
    The offset is computed in the region's box grown by `margin` px (to cover its feathered edge).
    """
    rule = RULES[region]
    area = int(mask.sum())
    seen = mask & valid
    coverage = float(seen.sum()) / area if area else 0.0
    if area == 0 or coverage < MIN_COVERAGE:
        return None
    sigma = max(rule.sigma * iod, 0.7)
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    pad = int(np.ceil(margin + 3 * sigma))
    h, w = mask.shape
    x0, y0 = max(cols[0] - pad, 0), max(rows[0] - pad, 0)
    x1, y1 = min(cols[-1] + 1 + pad, w), min(rows[-1] + 1 + pad, h)
    win = (slice(y0, y1), slice(x0, x1))
    m, s_, src, ref = mask[win], seen[win], src_lab[win], ref_lab[win]
    src_low, _ = masked_blur(src, m, sigma)
    ref_low, _ = masked_blur(ref, s_, sigma)
    ref_low = fill_nearest(ref_low, s_)  # region parts the reference hides continue its nearest colour
    if rule.mode == "opaque":
        delta = ref_low - src_low
    elif rule.mode == "sheer":
        delta = (ref_low - ref_skin[win]) - (src_low - src_skin[win])
    else:
        delta = np.zeros_like(src_low)
        delta[..., 1:] = ref_skin[win][..., 1:] - src_low[..., 1:]
    delta = fill_nearest(delta, m)  # defined over the feathered band outside the region too
    return RegionTransfer(
        delta=np.ascontiguousarray(delta, dtype=np.float32),
        box=(int(x0), int(y0), int(x1), int(y1)),
        coverage=coverage,
        ref_lab=ref_lab[seen].mean(0),
        skin_lab=ref_skin[seen].mean(0),
        ref_lightness=ref_lab[seen][:, 0],
    )


def skin_fields(src_lab, ref_lab, skin_mask, valid, iod, sigma_frac: float = 0.3):
    """Smooth skin colour fields of source and reference, filled over the whole frame."""
    sigma = max(sigma_frac * iod, 1.0)
    return smooth_field(src_lab, skin_mask, sigma), smooth_field(ref_lab, skin_mask & valid, sigma)


def is_visible(region_lab: np.ndarray, skin_lab: np.ndarray) -> bool:
    """Whether a sheer region differs enough from the skin under it to count as makeup (CIEDE2000)."""
    from skimage.color import deltaE_ciede2000

    return float(deltaE_ciede2000(np.asarray(region_lab, np.float64), np.asarray(skin_lab, np.float64))) > VISIBLE_DELTA_E


def combine(deltas: dict[str, torch.Tensor], weights: dict[str, torch.Tensor]) -> torch.Tensor:
    """Total Lab offset (N, 3) from per-region offsets (N, 3) and weights (N,) = feathered mask x strength.

    Makeup regions (lips, eyes, blush, brows) are averaged where their feathered edges overlap, so two
    touching regions never add up beyond either; foundation sits underneath and adds to them.
    """
    some = next(iter(deltas.values()))
    num = torch.zeros_like(some)
    den = torch.zeros_like(some[..., :1])
    base = torch.zeros_like(some)
    for name, d in deltas.items():
        w = weights[name][..., None]
        if RULES[name].mode == "foundation":
            base += w * d
        else:
            num += w * d
            den += w
    return base + num / den.clamp(min=1.0)
