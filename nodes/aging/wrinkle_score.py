"""Wrinkle severity per face zone, measured from the image itself.

Wrinkles are thin dark valleys in the skin's luminance. For each face:
  1. crop the face ROI and resample it so the eye centres are REFERENCE_IOD px apart (scores then compare
     across resolutions and face sizes);
  2. divide the luminance by the mean skin luminance of the scored zones (contrast, not absolute brightness,
     so exposure changes do not read as wrinkles);
  3. Sato's valley filter (skimage.filters.sato, black_ridges=True) at scales relative to the eye distance,
     minus a fixed noise floor: fine skin texture, pores and JPEG noise give many weak valleys whose filter
     responses average out (the filter's kernel integrates to zero), so without the floor a thin line added to
     rough skin barely moves the mean; above it, only line-like valleys count;
  4. per zone: mean floored response over the zone's mask with the eyes, brows and mouth (strong natural valleys)
     cut out, x SCORE_SCALE. The mean over the area makes big and small zones comparable.
Scores are relative measures (0 = smooth; smooth adult skin ~1-10, marked lines and folds 20-70) for comparing
zones, faces and before/after images, not a clinical grade.
"""

from __future__ import annotations

import numpy as np
import torch

from ..face import face_landmarks as fl
from ..face import zone_atlas, zone_masks
from . import zone_scores

REFERENCE_IOD = 100.0  # px between eye centres after resampling
SIGMAS_IOD = (0.012, 0.02, 0.03)  # valley scales as fractions of the eye distance (1.2 / 2 / 3 px at reference)
MARGIN_IOD = 0.15  # ROI margin around the zones (filter support)
PROTECT_ZONES = ("eye_left", "eye_right", "eyebrow_left", "eyebrow_right", "mouth")
PROTECT_GROW = 6.0  # % of the eye distance: the lash line and lip border are valleys too
NOISE_FLOOR = 0.01  # valley response (contrast units) below which texture does not count as a line
SCORE_SCALE = 1000.0
HEAT_SATURATION = 0.04  # normalised response shown at full heat-map colour (fixed, so maps compare before/after)
EXCLUDED_ZONES = ("jawline",)  # the face contour is an edge against the background, not skin texture


def wrinkle_zones() -> tuple[str, ...]:
    """Zones the wrinkle score reports: the aging zones except the jawline."""
    return tuple(z for z in zone_scores.aging_zones() if z not in EXCLUDED_ZONES)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """[H,W,C] float 0..1 (C = 1, 3 or 4) -> [H,W] Rec.601 luma."""
    rgb = np.asarray(rgb, dtype=np.float32)
    if rgb.ndim == 2:
        return rgb
    if rgb.shape[-1] == 1:
        return rgb[..., 0]
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _resize(arr: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Antialiased bilinear resize of a 2-D float array (torch, so no OpenCV)."""
    t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))[None, None]
    return torch.nn.functional.interpolate(t, size=size_hw, mode="bilinear", align_corners=False, antialias=True)[0, 0].numpy()


def face_roi(landmarks_xy: np.ndarray, image_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) integer box around the face mesh plus a filter margin, clipped to the image."""
    lm = np.asarray(landmarks_xy, dtype=np.float64)
    iod = zone_masks.inter_ocular_distance(lm)
    # the forehead zone may extend above the mesh top: allow half an eye distance more upward
    x0, y0 = lm.min(0) - iod * MARGIN_IOD - np.array([0.0, iod * 0.5])
    x1, y1 = lm.max(0) + iod * MARGIN_IOD
    h, w = image_hw
    return max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0), min(int(np.ceil(x1)), w), min(int(np.ceil(y1)), h)


def face_geometry(landmarks_xy: np.ndarray, image_hw: tuple[int, int], zones: tuple[str, ...] | None = None) -> dict:
    """What depends on the landmarks only: {"roi": (x0,y0,x1,y1), "scale": reference px per image px,
    "out_hw": ROI size at the reference scale, "masks": {zone: [h,w]} with the protected features cut out}.

    Compute it once to measure several images of the same face (before / after).
    """
    zones = tuple(zones or wrinkle_zones())
    lm = np.asarray(landmarks_xy, dtype=np.float64)
    iod = zone_masks.inter_ocular_distance(lm)
    if not np.isfinite(iod) or iod < 4:
        raise ValueError(f"FaceLab: the face is too small to measure wrinkles (eye distance {iod:.1f} px)")
    x0, y0, x1, y1 = face_roi(lm, image_hw)
    scale = REFERENCE_IOD / iod
    out_hw = (max(int(round((y1 - y0) * scale)), 1), max(int(round((x1 - x0) * scale)), 1))
    # pixel centres: image x maps to (x - x0 + 0.5) * sy - 0.5 in the resampled ROI
    sy, sx = out_hw[0] / (y1 - y0), out_hw[1] / (x1 - x0)
    lm_roi = np.stack([(lm[:, 0] - x0 + 0.5) * sx - 0.5, (lm[:, 1] - y0 + 0.5) * sy - 0.5], axis=1)
    protect = zone_masks.face_zone_mask(lm_roi, PROTECT_ZONES, out_hw, grow=PROTECT_GROW)
    keep = 1.0 - protect
    masks = {z: zone_masks.face_zone_mask(lm_roi, [z], out_hw) * keep for z in zones}
    return {"roi": (x0, y0, x1, y1), "scale": scale, "out_hw": out_hw, "masks": masks}


def face_ridge_map(image: np.ndarray, landmarks_xy: np.ndarray, zones: tuple[str, ...] | None = None,
                   geometry: dict | None = None) -> dict:
    """Valley response (above the noise floor) and zone masks of one face, at the reference scale.

    image: [H,W,C] float 0..1; geometry: face_geometry() of these landmarks on an image of this size, when
    already computed. Returns {"response": [h,w], "masks": {zone: [h,w]}, "roi": (x0,y0,x1,y1),
    "scale": reference px per image px}.
    """
    from skimage.filters import sato  # imported on first use: keeps loading the pack light

    geo = geometry if geometry is not None else face_geometry(landmarks_xy, image.shape[:2], zones)
    (x0, y0, x1, y1), out_hw, masks = geo["roi"], geo["out_hw"], geo["masks"]
    lum = _resize(luminance(image[y0:y1, x0:x1]), out_hw)
    union = np.maximum.reduce(list(masks.values())) if masks else np.zeros(out_hw, np.float32)
    union_area = float(union.sum())
    skin_mean = float((lum * union).sum()) / union_area if union_area > 0 else float(lum.mean())
    norm = lum / max(skin_mean, 1e-3)
    response = sato(norm, sigmas=[s * REFERENCE_IOD for s in SIGMAS_IOD], black_ridges=True, mode="reflect")
    response = np.maximum(response - NOISE_FLOOR, 0.0)
    return {"response": response.astype(np.float32), "masks": masks, "roi": geo["roi"], "scale": geo["scale"]}


def zone_scores_from_map(ridge: dict) -> dict[str, float]:
    """{zone: mean valley response over the zone x SCORE_SCALE}; NaN-free: a zone covering no pixel scores 0."""
    resp = ridge["response"]
    out = {}
    for zone, m in ridge["masks"].items():
        area = float(m.sum())
        out[zone] = round(float((resp * m).sum() / area) * SCORE_SCALE, 3) if area > 0 else 0.0
    return out


def face_wrinkle_scores(image: np.ndarray, landmarks_xy: np.ndarray, zones: tuple[str, ...] | None = None) -> dict[str, float]:
    return zone_scores_from_map(face_ridge_map(image, landmarks_xy, zones))


def select_face(face_landmarks: dict, batch_index: int, face_index: int) -> dict | None:
    """The face at face_index (left to right) of one batch image, or None."""
    if face_index < 0:
        raise ValueError("FaceLab: the wrinkle score measures one face per image; face_index must be 0 or more")
    faces = fl.chosen_faces(face_landmarks, batch_index, face_index)
    return faces[0] if faces else None


def group_mean(scores: dict[str, float], selection: str) -> float:
    """Mean score of a zone, a group ("crows_feet") or "mean" (all scored zones)."""
    if selection == "mean":
        names = list(scores)
    else:
        names = [z for z in zone_atlas.resolve_zones(selection) if z in scores]
        if not names:
            raise ValueError(f"FaceLab: {selection!r} is not a scored zone; choose one of: mean, {', '.join(scores)}")
    return float(np.mean([scores[n] for n in names])) if names else 0.0


def relative_target(current: float, reduce_fraction: float) -> float:
    """Target score for "make this zone reduce_fraction smoother": current * (1 - reduce_fraction).

    reduce_fraction 0.3 = 30% smoother; a negative fraction asks for more lines (-0.2 = 20% more).
    """
    if not -1.0 <= reduce_fraction <= 1.0:
        raise ValueError(f"FaceLab: reduce_fraction must lie in [-1, 1] (0.3 = 30% smoother), got {reduce_fraction}")
    return float(current) * (1.0 - float(reduce_fraction))


def compare_scores(before: dict[str, float], after: dict[str, float], reduce_fraction: float | None = None) -> dict:
    """Per-zone before/after change: {zone: {before, after, change, change_pct[, target, reached]}}.

    change_pct < 0 means smoother. With reduce_fraction, `target` = relative_target(before) and `reached` says
    whether after <= target (or >= for a negative fraction, i.e. aging).
    """
    out = {}
    for zone in before:
        if zone not in after:
            continue
        b, a = float(before[zone]), float(after[zone])
        row = {"before": b, "after": a, "change": round(a - b, 3), "change_pct": round(100.0 * (a - b) / b, 1) if b > 0 else 0.0}
        if reduce_fraction is not None and reduce_fraction != 0:
            target = relative_target(b, reduce_fraction)
            row["target"] = round(target, 3)
            row["reached"] = bool(a <= target) if reduce_fraction > 0 else bool(a >= target)
        out[zone] = row
    return out


# A perceptual dark-to-bright colour ramp (inferno-like anchors), so low response reads as dark, not as a hue.
_RAMP = np.array(
    [[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66], [245, 125, 21], [250, 193, 39], [252, 255, 164]],
    dtype=np.float32,
) / 255.0


def colormap(values: np.ndarray) -> np.ndarray:
    """[H,W] in 0..1 -> [H,W,3] colours of _RAMP."""
    v = np.clip(values, 0.0, 1.0) * (len(_RAMP) - 1)
    lo = np.floor(v).astype(np.int64).clip(0, len(_RAMP) - 2)
    t = (v - lo)[..., None]
    return _RAMP[lo] * (1 - t) + _RAMP[lo + 1] * t


def paint_heatmap(rgb: np.ndarray, ridge: dict, opacity: float = 0.75) -> np.ndarray:
    """Overlay one face's valley response (fixed scale HEAT_SATURATION) over its scored zones of rgb [H,W,3] in place.

    Colours and opacity are computed at the reference scale and resized to the ROI (cheap at any resolution).
    """
    x0, y0, x1, y1 = ridge["roi"]
    heat = np.clip(ridge["response"] / HEAT_SATURATION, 0.0, 1.0)
    zones = np.maximum.reduce(list(ridge["masks"].values()))
    alpha = opacity * zones * (0.35 + 0.65 * heat)  # smooth skin lightly tinted, lines opaque
    layers = np.concatenate([colormap(heat) * alpha[..., None], alpha[..., None]], axis=-1)
    t = torch.from_numpy(np.ascontiguousarray(layers.transpose(2, 0, 1), dtype=np.float32))[None]
    layers = torch.nn.functional.interpolate(t, size=(y1 - y0, x1 - x0), mode="bilinear", align_corners=False)[0].numpy()
    premultiplied, a = layers[:3].transpose(1, 2, 0), np.clip(layers[3], 0.0, 1.0)[..., None]
    region = rgb[y0:y1, x0:x1]
    rgb[y0:y1, x0:x1] = region * (1 - a) + premultiplied
    return rgb
