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
                      on top of its own skin is laid on top of the source's skin, never a patch of the
                      reference's skin tone. Eye makeup is transferred only when the reference shows pigment
                      on the lids (pigment_distance), since bare lids differ between people by shading alone.

Reference pixels far from a region's dominant colour (hair, glasses frames, background at a turned face's
silhouette) are left out of every statistic (inliers).
- foundation (skin):  a*, b* move to the reference's smooth skin colour; L* is left alone (lightness of a
                      single photo cannot be told apart from lighting, and it carries the face's shape).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .illumination import fill_nearest, masked_blur, smooth_field

MIN_COVERAGE = 0.35  # fraction of a region the reference must show (warp valid) to transfer it
# pigment_distance above which the reference visibly wears makeup in a region (named in the prompt).
# Measured on bare test portraits: lids 1-5 (13 behind glasses), cheeks up to 11, brows (hair) 0-12;
# recoloured lids 19 (bronze) and 30 (black), pink blush 19-20.
VISIBLE_PIGMENT = {"eyes": 6.0, "blush": 12.0, "brows": 10.0}
# Regions transferred only when visible: bare lids differ from person to person by shading alone (deep-set
# eyes), which is anatomy, not makeup, and must not be painted onto the source.
NEEDS_PIGMENT = ("eyes",)
OUTLIER_SPREADS = 3.0  # reference pixels further than this many robust spreads from a region's median are dropped
SKIN_OUTLIER_SPREADS = 2.5  # stricter for skin, whose colour is uniform once lighting is smooth
MIN_OUTLIER_SPREAD = 4.0  # Lab units: a very uniform region must not reject its own texture
_OUTLIER_WEIGHTS = np.array([0.5, 1.0, 1.0], dtype=np.float32)  # lightness varies more than colour within a region


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
    pigment: float  # how far the region's colour, shading aside, is from the skin under it (see pigment_distance)


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
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if not len(rows):
        return None
    sigma = max(rule.sigma * iod, 0.7)
    pad = int(np.ceil(margin + 3 * sigma))
    h, w = mask.shape
    x0, y0 = max(cols[0] - pad, 0), max(rows[0] - pad, 0)
    x1, y1 = min(cols[-1] + 1 + pad, w), min(rows[-1] + 1 + pad, h)
    win = (slice(y0, y1), slice(x0, x1))
    # Everything but the last fill works on the region's box plus a one-pixel ring: the statistics read only the
    # region's pixels (the same pixels, in the same order, as on the whole frame), the offset is kept only on the
    # region (the last fill_nearest replaces the rest), and the masked blurs read nothing outside it: the ring is
    # zero (or the window's own edge), so 'nearest' padding reads the zeros the window holds: bit-identical.
    cy0, cy1 = max(rows[0] - 1, y0), min(rows[-1] + 2, y1)
    cx0, cx1 = max(cols[0] - 1, x0), min(cols[-1] + 2, x1)
    box = (slice(cy0, cy1), slice(cx0, cx1))
    m, src, ref, ref_skin_box = mask[box], src_lab[box], ref_lab[box], ref_skin[box]
    area = int(m.sum())
    s_ = m & valid[box]
    coverage = float(s_.sum()) / area
    if coverage < MIN_COVERAGE:
        return None
    s_ &= inliers(ref, s_)
    src_low, _ = masked_blur(src, m, sigma)
    ref_low, _ = masked_blur(ref, s_, sigma)
    ref_low = fill_nearest(ref_low, s_)  # region parts the reference hides continue its nearest colour
    if rule.mode == "opaque":
        inner = ref_low - src_low
    elif rule.mode == "sheer":
        inner = (ref_low - ref_skin_box) - (src_low - src_skin[box])
    else:
        inner = np.zeros_like(src_low)
        inner[..., 1:] = ref_skin_box[..., 1:] - src_low[..., 1:]
    delta = np.zeros((y1 - y0, x1 - x0, 3), dtype=inner.dtype)
    delta[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0] = inner
    delta = fill_nearest(delta, mask[win])  # defined over the feathered band outside the region too
    ref_seen, skin_seen = ref[s_], ref_skin_box[s_]
    return RegionTransfer(
        delta=np.ascontiguousarray(delta, dtype=np.float32),
        box=(int(x0), int(y0), int(x1), int(y1)),
        coverage=coverage,
        ref_lab=ref_seen.mean(0),
        skin_lab=skin_seen.mean(0),
        ref_lightness=ref_seen[:, 0],
        pigment=pigment_distance(ref_seen, skin_seen),
    )


def inliers(lab: np.ndarray, mask: np.ndarray, k: float = OUTLIER_SPREADS) -> np.ndarray:
    """Pixels of `mask` whose colour is within k robust spreads of the masked median (bool (h, w)).

    Near the silhouette of a turned reference, mesh triangles cover background, hair or an ear; glasses
    frames cross the lids. Such pixels are far from the region's dominant colour and are dropped.
    """
    values = lab[mask]
    if len(values) < 8:
        return mask
    d = (values - np.median(values, axis=0)) * _OUTLIER_WEIGHTS  # only the masked pixels, not the whole frame
    dist = np.sqrt(np.einsum("ij,ij->i", d, d))
    spread = max(float(np.median(dist)) * 1.4826, MIN_OUTLIER_SPREAD)
    out = mask.copy()
    out[mask] = dist <= k * spread
    return out


def skin_fields(src_lab, ref_lab, skin_mask, valid, iod, sigma_frac: float = 0.3):
    """Smooth skin colour fields of source and reference, filled over the whole frame.

    Only skin-coloured pixels count: hair over the forehead, a beard, or background that the mesh covers
    at a turned face's silhouette would otherwise bleed into the skin colour.
    """
    sigma = max(sigma_frac * iod, 1.0)
    src_skin = inliers(src_lab, skin_mask, SKIN_OUTLIER_SPREADS)
    ref_skin = inliers(ref_lab, skin_mask & valid, SKIN_OUTLIER_SPREADS)
    return smooth_field(src_lab, src_skin, sigma), smooth_field(ref_lab, ref_skin, sigma)


def pigment_distance(region_lab: np.ndarray, skin_lab: np.ndarray) -> float:
    """Colour difference between makeup and the skin under it that shading cannot explain (a*b* units).

    Shading scales (L*+16), a* and b* together, so the chromaticity (a*, b*) / (L*+16) of shaded bare skin
    equals that of the lit skin around it (a deep-set lid is darker, not differently coloured). Pigment
    (coloured shadow, blush, black liner) moves it. Returned: |mean chromaticity difference| x (skin L*+16).
    """
    rho = region_lab[:, 1:] / (np.maximum(region_lab[:, :1], 0.0) + 16.0)
    rho_skin = skin_lab[:, 1:] / (np.maximum(skin_lab[:, :1], 0.0) + 16.0)
    return float(np.linalg.norm((rho - rho_skin).mean(0)) * (np.maximum(skin_lab[:, 0], 0.0).mean() + 16.0))


def is_visible(region: str, pigment: float) -> bool:
    """Lips and foundation always count as worn; other regions when their pigment shows (VISIBLE_PIGMENT)."""
    return region not in VISIBLE_PIGMENT or pigment > VISIBLE_PIGMENT[region]


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
