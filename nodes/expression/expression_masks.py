"""Masks of the regions an expression fix repaints: an ellipse around each eye to open, around the mouth to smile.

A closed eye's opening is a sliver, but the repainted eye needs the room of an open one, so each region is an
ellipse sized from stable landmarks (eye corners, mouth corners), aligned with the face's eye line, never from
the current opening:
  eye    centred between the eye corners; semi-axes EYE_AXES x eye width (0.6 wide covers the corners, 0.32
         high gives an open eye's lids room without reaching the brow)
  mouth  centred on the mouth; semi-axes MOUTH_AXES x mouth width (a smile widens the mouth and lifts the
         corners)
Both are unioned with the atlas zone (eye_left/right, mouth) grown the same amount, so an unusual shape is
always covered. `dilation` grows every region and `feather` adds a soft edge outside it, both in % of the
inter-ocular distance (IOD) like the zone masks: the mask is exactly 1 on the grown region and exactly 0
beyond grow + feather.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import comfy_adapter
from ..base.mesh import EYE_CORNERS, MOUTH_LEFT_CORNER, MOUTH_RIGHT_CORNER
from ..face.zone_masks import face_zone_mask_roi, inter_ocular_distance

MOUTH_CORNER_IDS = (MOUTH_RIGHT_CORNER, MOUTH_LEFT_CORNER)
LIP_MIDPOINTS = (0, 17)  # outer upper / lower lip centre
EYE_AXES = (0.6, 0.32)  # semi-axes (along, across the eye line) per eye width
MOUTH_AXES = (0.62, 0.42)  # per mouth width

REGIONS = ("eye_left", "eye_right", "mouth")


def _ellipse_for(lm: np.ndarray, region: str) -> tuple[np.ndarray, float, float, float]:
    """(centre xy, semi-axis along the eye line, semi-axis across it, eye-line angle) of a region, in pixels."""
    right_eye = lm[list(EYE_CORNERS["right"])].mean(axis=0)
    left_eye = lm[list(EYE_CORNERS["left"])].mean(axis=0)
    d = left_eye - right_eye
    angle = math.atan2(d[1], d[0])
    if region == "mouth":
        a, b = lm[MOUTH_CORNER_IDS[0]], lm[MOUTH_CORNER_IDS[1]]
        width = float(np.hypot(*(b - a)))
        centre = (a + b + lm[LIP_MIDPOINTS[0]] + lm[LIP_MIDPOINTS[1]]) / 4.0
        return centre, MOUTH_AXES[0] * width, MOUTH_AXES[1] * width, angle
    side = region.split("_", 1)[1]
    outer, inner = lm[EYE_CORNERS[side][0]], lm[EYE_CORNERS[side][1]]
    width = float(np.hypot(*(inner - outer)))
    return (outer + inner) / 2.0, EYE_AXES[0] * width, EYE_AXES[1] * width, angle


def _ellipse_roi(centre, a: float, b: float, angle: float, grow: float, feather: float, hw):
    """Soft ellipse (semi-axes grown by `grow` px, `feather` px soft edge outside) in its ROI of an hw image."""
    a, b = max(a + grow, 0.5), max(b + grow, 0.5)
    reach = max(a, b) + feather + 2.0
    h, w = hw
    x0, y0 = max(0, int(math.floor(centre[0] - reach))), max(0, int(math.floor(centre[1] - reach)))
    x1, y1 = min(w, int(math.ceil(centre[0] + reach)) + 1), min(h, int(math.ceil(centre[1] + reach)) + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    c, s = math.cos(angle), math.sin(angle)
    u = (xs - centre[0]) * c + (ys - centre[1]) * s  # along the eye line
    v = -(xs - centre[0]) * s + (ys - centre[1]) * c
    r = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    # First-order distance to the outline: (r - 1) / |grad r|, exact on the axes and close elsewhere.
    grad = np.sqrt((u / a**2) ** 2 + (v / b**2) ** 2) / np.maximum(r, 1e-9)
    dist = np.where(r > 1e-9, (r - 1.0) / np.maximum(grad, 1e-9), -min(a, b))
    width = max(feather, 1.0)  # at least a 1 px anti-aliased edge
    t = np.clip(1.0 - dist / width, 0.0, 1.0) if feather >= 1.0 else np.clip(0.5 - dist, 0.0, 1.0)
    if feather >= 1.0:
        t = t * t * (3.0 - 2.0 * t)
    return t.astype(np.float32), (x0, y0, x1, y1)


def paste_max(out: torch.Tensor | np.ndarray, roi) -> None:
    """out[y0:y1, x0:x1] = max(out, mask) for roi = (mask, (x0, y0, x1, y1)); None does nothing."""
    if roi is None:
        return
    mask, (x0, y0, x1, y1) = roi
    if isinstance(out, torch.Tensor):
        region = out[y0:y1, x0:x1]
        torch.maximum(region, torch.from_numpy(np.ascontiguousarray(mask)), out=region)
    else:
        np.maximum(out[y0:y1, x0:x1], mask, out=out[y0:y1, x0:x1])


def region_mask_into(out, landmarks_xy, region: str, dilation: float, feather: float) -> None:
    """Add (max) one fix region of one face into out [H, W] (numpy or torch float32)."""
    if region not in REGIONS:
        raise ValueError(f"FaceLab: unknown fix region {region!r}; expected one of {REGIONS}")
    lm = np.asarray(landmarks_xy, dtype=np.float64)[:, :2]
    iod = inter_ocular_distance(lm)
    grow_px, feather_px = float(dilation) / 100.0 * iod, max(0.0, float(feather)) / 100.0 * iod
    hw = tuple(int(v) for v in out.shape[:2])
    centre, a, b, angle = _ellipse_for(lm, region)
    paste_max(out, _ellipse_roi(centre, a, b, angle, grow_px, feather_px, hw))
    # The zone's own feather is centred on its outline: shift by half of it so both edges end together.
    paste_max(out, face_zone_mask_roi(lm, region, hw, grow=float(dilation) + float(feather) / 2.0, feather=feather))


def fix_regions_mask(
    frames_regions: list[list[tuple[dict, list[str]]]], image_hw, dilation: dict, feather: float
) -> torch.Tensor:
    """MASK [B, H, W]: per image, the union of each listed face's regions. dilation: {"eye": %, "mouth": %} of IOD."""
    h, w = image_hw
    out = torch.zeros((len(frames_regions), h, w), dtype=torch.float32)
    for b, faces in enumerate(frames_regions):
        comfy_adapter.check_interrupt()
        for face, regions in faces:
            for region in regions:
                grow = dilation["mouth"] if region == "mouth" else dilation["eye"]
                region_mask_into(out[b], face["landmarks_xy"], region, grow, feather)
    return out
