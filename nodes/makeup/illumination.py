"""Low-frequency fields on a face and illumination normalisation of a reference face.

Lighting model: a smooth change of illumination scales linear light by k(x); in CIELAB that scales
(L* + 16), a* and b* by k(x)^(1/3) (exactly, on the cube-root branch of the Lab transfer function).
The ratio s(x) = (L*_src_skin(x) + 16) / (L*_ref_skin(x) + 16) between the two faces' smooth skin
lightness fields, both sampled on the same (source) geometry, re-lights the reference as if it were
under the source's lighting:
- lightness: (L* + 16) is scaled by s(x), so makeup lightness is transferred relative to the skin it
  sits on, never as absolute L*. A darker, side-lit or gradient-lit reference gives the same result as
  an evenly lit one.
- colour: a*, b* are scaled by s(x) / median(s) only, i.e. lighting that varies across the reference
  face is evened out but its overall level is not. A single photo cannot tell "darker light" from "darker
  skin", and pigment (a red lipstick) keeps its saturation on darker skin, so absolute chroma is kept.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

MIN_SUPPORT = 1e-3  # normalised-convolution weight below which a pixel has no data nearby
COARSE_TAPS = 4  # smooth_field works on a grid of about sigma / COARSE_TAPS pixels


def masked_blur(values: np.ndarray, mask: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blur of `values` (H, W, C) using only pixels where `mask` (H, W, 0..1) is set.

    Normalised convolution: blur(v * m) / blur(m). Returns (blurred, support) where support is blur(m);
    pixels with support < MIN_SUPPORT are meaningless (no masked pixel within a few sigma).
    """
    m = mask.astype(np.float32)
    num = ndimage.gaussian_filter(values * m[..., None], (sigma, sigma, 0), mode="nearest", truncate=3.0)
    den = ndimage.gaussian_filter(m, sigma, mode="nearest", truncate=3.0)
    return num / np.maximum(den, MIN_SUPPORT)[..., None], den


def fill_nearest(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Copy each unknown pixel's value from the nearest known pixel (values unchanged if none known)."""
    if known.all() or not known.any():
        return values
    idx = ndimage.distance_transform_edt(~known, return_distances=False, return_indices=True)
    return values[idx[0], idx[1]]


def smooth_field(values: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Masked blur of `values` (H, W, C), extended to the whole frame from the nearest supported pixel.

    Wide fields are computed on a grid COARSE_TAPS times coarser than sigma and upsampled bilinearly:
    they vary over tens of pixels, so nothing is lost and the cost stays flat in sigma.
    """
    step = max(1, int(sigma // COARSE_TAPS))
    if step > 1:
        h, w = mask.shape
        ph, pw = -h % step, -w % step
        m = np.pad(mask.astype(np.float32), ((0, ph), (0, pw)))
        v = np.pad(values * mask[..., None], ((0, ph), (0, pw), (0, 0)))
        hc, wc = m.shape[0] // step, m.shape[1] // step
        m_c = m.reshape(hc, step, wc, step).mean((1, 3))
        v_c = v.reshape(hc, step, wc, step, -1).mean((1, 3)) / np.maximum(m_c, MIN_SUPPORT)[..., None]
        coarse = smooth_field(v_c, m_c, sigma / step)
        return _resize(coarse, m.shape)[:h, :w]  # coarse cell j covers pixels [j * step, (j + 1) * step)
    blurred, support = masked_blur(values, mask, sigma)
    return fill_nearest(blurred, support >= MIN_SUPPORT * 10)


def _resize(field: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of (h, w, C) with pixel-edge alignment (torch's align_corners=False)."""
    t = torch.from_numpy(np.ascontiguousarray(field, dtype=np.float32)).permute(2, 0, 1)[None]
    return F.interpolate(t, size=hw, mode="bilinear", align_corners=False)[0].permute(1, 2, 0).numpy()


def relight_ratio(src_skin_lab: np.ndarray, ref_skin_lab: np.ndarray) -> np.ndarray:
    """(H, W) factor that moves reference lightness under the source lighting (see module doc)."""
    return (np.maximum(src_skin_lab[..., 0], 0.0) + 16.0) / (np.maximum(ref_skin_lab[..., 0], 0.0) + 16.0)


def relight(lab: np.ndarray, ratio: np.ndarray, chroma_ratio: np.ndarray | None = None) -> np.ndarray:
    """Scale (L+16) by `ratio` and a*, b* by `chroma_ratio` (default: the same ratio)."""
    out = lab * (ratio if chroma_ratio is None else chroma_ratio)[..., None]
    out[..., 0] = (lab[..., 0] + 16.0) * ratio - 16.0
    return out
