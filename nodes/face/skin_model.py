"""Per-face skin model: which pixels around one face are that face's own visible skin.

Learned from the face itself, so it holds for every skin tone, white balance and grey-scale photo:
  1. seeds: small discs around central mesh points that are skin on nearly every face (nose bridge, cheeks,
     forehead centre); a fringe or glasses over some seeds are outvoted by the robust fit below;
  2. colour features that shading does not move: the CIELAB chroma divided by the lightness term,
     (a*, b*) / (L* + 16). Above the dark end of L*, multiplying linear RGB by a shading factor scales a*, b*
     and L* + 16 alike (all are cube roots of XYZ), so a shadow keeps its chromaticity;
  3. a robust Gaussian of that chromaticity (minimum-covariance-determinant style: refit on the 60 % of seed
     pixels nearest the centre, then rescaled to a full Gaussian), with a floor on its spread (noise, and
     grey-scale photos whose chroma is zero everywhere), tolerant toward stronger colour and redder hue, tight
     toward grey and toward yellower hue (where hair lies, even blond hair of skin-like lightness);
  4. a lightness term tolerant of shadows: no penalty down to 0.5x the seeds' median L* + 16 (up to 1.6x for
     highlights), then a steep one: hair, brows, lashes, beards and glasses frames are darker than shaded skin
     and (in colour photos) far less chromatic;
  5. probability = 1 - smoothstep(D_KEEP, D_DROP, distance), refined with a guided filter (He et al. 2010) on
     the lightness, so the boundary follows the hair edge rather than a blocky threshold, and limited to the
     skin regions connected to the seeds (skin-coloured background beyond a hairline does not count).
Pure numpy / scipy / torch; no OpenCV.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from ..base.colorspace import rgb_to_lab

# Central mesh points that are skin on nearly every face: nose bridge, cheeks, forehead centre.
SEED_POINTS = (6, 197, 195, 5, 50, 280, 101, 330, 118, 347, 36, 266, 151, 9, 108, 337)
SEED_RADIUS_IOD = 0.06  # disc radius around each seed point, in eye distances
CORE_FRACTION = 0.6  # robust fit: share of seed pixels the covariance is refitted on
_CORE_CHI2 = -2.0 * np.log(1.0 - CORE_FRACTION)  # that share's chi-square (2 dof) radius
# Variance of a 2-D Gaussian truncated to the core radius, relative to the full Gaussian (undone after the fit).
_CORE_VARIANCE = (1.0 - (1.0 - CORE_FRACTION) * (1.0 + _CORE_CHI2 / 2.0)) / CORE_FRACTION
CHROMA_FLOOR = 0.02  # minimum spread of the chromaticity (about 1.5 a*/b* units on mid-tone skin)
# Tolerance (x the seeds' fitted spread) along each chroma direction. The seeds are well-lit central skin; the
# rest of the face spreads wider, mostly outward (shaded sides and flushed cheeks are MORE saturated), a little in
# hue; hair (grey, brown-black, blond), white collars and grey backgrounds lie toward grey, where it is tight.
HUE_SPREAD, SATURATED_SPREAD, GREY_SPREAD = 2.0, 6.0, 1.5
# Toward yellow (lower a*/b*: hue angle above the skin's) the hue tolerance is 1x, not 2x: skin's redness comes
# from the blood under it, hair (blond, brown, auburn) is melanin alone, so under the same light hair is yellower in
# hue than that face's skin; a blond fringe sits 3-7 seed sigmas that way (astronaut.png: hue 84 deg vs 67 deg).
YELLOW_SPREAD = 1.0
DARK_TOLERANCE, DARK_SCALE = 0.5, 0.05  # no penalty down to 0.5x the seeds' lightness, then 1 per 0.05 darker
BRIGHT_TOLERANCE, BRIGHT_SCALE = 1.6, 0.2
D_KEEP, D_DROP = 3.0, 4.5  # distance where the probability starts to fall / reaches 0
GUIDE_RADIUS_IOD, GUIDE_EPS = 0.025, 2e-3  # guided filter window radius and regularisation (lightness 0..1)


def lab_features(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[h,w,3] sRGB 0..1 -> (chromaticity [h,w,2] = (a*, b*) / (L* + 16), lightness term L* + 16 [h,w])."""
    lab = rgb_to_lab(torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32))).numpy()
    light = lab[..., 0] + 16.0
    return lab[..., 1:] / light[..., None], light


def seed_mask(shape_hw: tuple[int, int], seeds_xy: np.ndarray, radius: float) -> np.ndarray:
    """Boolean discs of `radius` px around the seed points (pixel (i, j) centred on (j + 0.5, i + 0.5))."""
    h, w = shape_hw
    out = np.zeros((h, w), dtype=bool)
    r = max(radius, 1.0)
    for x, y in np.asarray(seeds_xy, dtype=np.float64):
        x0, x1 = max(int(x - r), 0), min(int(x + r) + 1, w)
        y0, y1 = max(int(y - r), 0), min(int(y + r) + 1, h)
        if x1 <= x0 or y1 <= y0:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1]
        out[y0:y1, x0:x1] |= (xx + 0.5 - x) ** 2 + (yy + 0.5 - y) ** 2 <= r * r
    return out


def fit(chroma: np.ndarray, light: np.ndarray) -> dict | None:
    """Robust skin statistics from seed pixels (chroma (n, 2), light (n,)); None without enough pixels."""
    if len(light) < 8:
        return None
    centre = np.median(chroma, axis=0)
    cov = np.cov((chroma - centre).T) + np.eye(2) * 1e-6
    for _ in range(3):
        inv = np.linalg.inv(cov)
        d2 = np.einsum("ni,ij,nj->n", chroma - centre, inv, chroma - centre)
        core = d2 <= np.quantile(d2, CORE_FRACTION)
        centre = chroma[core].mean(axis=0)
        cov = np.cov((chroma[core] - centre).T) + np.eye(2) * 1e-6
    cov = cov / _CORE_VARIANCE + np.eye(2) * CHROMA_FLOOR**2
    # Axes: radial (saturation, away from neutral grey) and tangential (hue), with the fitted spread along each.
    norm = float(np.hypot(*centre))
    radial = centre / norm if norm > 1e-6 else np.array([1.0, 0.0])
    axes = np.stack([radial, np.array([-radial[1], radial[0]])])
    sigmas = np.sqrt(np.einsum("ki,ij,kj->k", axes, cov, axes))
    model = {"centre": centre, "axes": axes, "sigmas": sigmas}
    inliers = _chroma_distance(chroma, model) <= D_KEEP
    model["light"] = float(np.median(light[inliers])) if inliers.any() else float(np.median(light))
    model["inliers"] = float(inliers.mean())
    return model


def _chroma_distance(chroma: np.ndarray, model: dict) -> np.ndarray:
    """Chromaticity distance in sigmas of the seeds' spread, widened per direction (*_SPREAD)."""
    comp = (chroma - model["centre"]) @ model["axes"].T  # [..., (radial, tangential)]
    radial = comp[..., 0] / model["sigmas"][0]
    radial = radial / np.where(radial > 0, SATURATED_SPREAD, GREY_SPREAD)
    hue = comp[..., 1] / model["sigmas"][1]
    hue = hue / np.where(hue > 0, YELLOW_SPREAD, HUE_SPREAD)
    return np.sqrt(radial * radial + hue * hue)


def distance(chroma: np.ndarray, light: np.ndarray, model: dict) -> np.ndarray:
    """Skin distance in sigmas: chromaticity distance combined with the lightness penalty."""
    d2 = _chroma_distance(chroma, model) ** 2
    ratio = light / model["light"]
    dark = np.maximum(DARK_TOLERANCE - ratio, 0.0) / DARK_SCALE
    bright = np.maximum(ratio - BRIGHT_TOLERANCE, 0.0) / BRIGHT_SCALE
    return np.sqrt(d2 + dark * dark + bright * bright)


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter (grey guide): src smoothed, with edges where the guide has them."""
    size = 2 * radius + 1

    def box(x):
        return ndimage.uniform_filter(x, size=size, mode="nearest")

    mean_i, mean_p = box(guide), box(src)
    var_i = box(guide * guide) - mean_i * mean_i
    cov_ip = box(guide * src) - mean_i * mean_p
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return box(a) * guide + box(b)


def _smoothstep(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _dilate(mask: np.ndarray, steps: int) -> np.ndarray:
    """mask grown by `steps` 4-neighbour steps (a diamond), nothing beyond the border: what scipy's
    binary_dilation(mask, iterations=steps) gives with its default cross, by shifted ORs (several times faster)."""
    out = mask.copy()
    for _ in range(steps):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


def skin_probability(rgb: np.ndarray, seeds_xy: np.ndarray, iod_px: float) -> tuple[np.ndarray, dict]:
    """(probability [h,w] float32 0..1 that a pixel is this face's skin, model summary) for an RGB crop.

    rgb: [h,w,3] float 0..1 around one face; seeds_xy: the SEED_POINTS landmarks in the crop's pixels (pixel
    (i, j) centred on (j + 0.5, i + 0.5)); iod_px: the eye distance in the crop's pixels. Without enough seed
    pixels in the crop (a face cut by the border) every pixel counts as skin (probability 1) and the summary
    says so.
    """
    rgb = np.asarray(rgb, dtype=np.float32)
    h, w = rgb.shape[:2]
    chroma, light = lab_features(rgb)
    seeds = seed_mask((h, w), seeds_xy, SEED_RADIUS_IOD * iod_px)
    model = fit(chroma[seeds], light[seeds])
    if model is None:
        return np.ones((h, w), dtype=np.float32), {"fitted": False}
    raw = (1.0 - _smoothstep(D_KEEP, D_DROP, distance(chroma, light, model))).astype(np.float32)
    guide = (light / 116.0).astype(np.float32)
    radius = max(1, int(round(GUIDE_RADIUS_IOD * iod_px)))
    # The guided filter removes speckle and gives the edge its shape; the minimum keeps thin strands (narrower
    # than its window) out, which the filter alone would blur back in.
    prob = np.minimum(np.clip(guided_filter(guide, raw, radius, GUIDE_EPS), 0.0, 1.0), raw)
    # Keep the skin connected to the seeds: a skin-coloured wall beyond the hair is not this face's skin.
    labels, n = ndimage.label(prob >= 0.5)
    if n > 1:
        keep = np.zeros(n + 1, dtype=bool)  # label -> touches a seed (a lookup, not np.isin's sort)
        keep[labels[seeds]] = True
        keep[0] = False
        prob = prob * _dilate(keep[labels], radius)
    summary = {
        "fitted": True,
        "seed_inliers": round(model["inliers"], 3),
        "skin_lightness": round(model["light"] - 16, 1),
    }
    return prob.astype(np.float32), summary
