"""Smooth Wrinkles (prior): a deterministic retouch that removes the thin dark valleys Wrinkle Score measures.

A retoucher's frequency separation, on the face-relative scale and guided by the valley map itself:
  1. the face ROI is resampled to the wrinkle score's reference scale (REFERENCE_IOD px between the eyes), where
     the valley response is the larger of Sato's (wrinkle_score.sato_response: from fine lines up to a fold's
     crease) and the score's own fine-line depth (wrinkle_score.line_response), at the score's noise floor, and
     wrinkle_score.face_geometry gives the skin zones (eyes, brows and mouth cut out);
  2. the luminance is split at LOW_SIGMA_IOD: the low/mid band holds the valleys and the face's shading, the high
     band (pores, fine texture) is left alone;
  3. in the low/mid band each valley pixel is lifted towards its neighbourhood level, a normalised convolution that
     ignores valley pixels (so the fill is the surrounding skin's level, shading included), by
     valley weight x zone strength; only lifting (valleys are dark), never darkening;
     Valleys much deeper than a skin line (MAX_DEPTH: glasses frames, hair, shadow edges) are left alone;
  4. the per-channel lift (the level is taken per colour channel, so a line fills with the colour of the skin
     around it) is resized back to the ROI and added; pixels where the strength map is 0 are copied bit for bit.
Faces whose eye distance is under MIN_IOD px are declined (too few pixels per line to tell it from texture).
"""

from __future__ import annotations

import numpy as np
import torch

from ..face import face_landmarks as fl
from ..face import zone_masks
from . import wrinkle_score, zone_scores

MIN_IOD = 40.0  # px between the eye centres below which the prior declines
LOW_SIGMA_IOD = 0.012  # band split: what is finer than this (pores, grain) is kept; the score's fine lines are not
LEVEL_SIGMA_IOD = 0.05  # neighbourhood the valley is filled from (a few line widths)
VALLEY_SATURATION = 0.02  # valley response (contrast units above the noise floor) treated as a full line
VALLEY_GROW_IOD = 0.012  # widens the valley weight to the line's shoulders
MAX_DEPTH = 0.5  # valley depth (fraction of the skin's mean luminance) filled fully; twice as deep is left
# alone: glasses frames, hair and shadow edges are darker than a skin line
EDGE_SOFTEN_IOD = 0.02  # strength ramps up inside the zone edge over this distance
HF_SIGMA_IOD = 0.01  # texture_energy: the pore-scale band measured


def _gauss(arr: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(arr, sigma, mode="nearest", truncate=3.0) if sigma > 0 else arr


def _resize(arr: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of [h,w] or [h,w,C] (antialiased when shrinking), all channels in one pass."""
    t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
    t = t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]
    down = size_hw[0] < arr.shape[0]
    out = torch.nn.functional.interpolate(t, size=size_hw, mode="bilinear", align_corners=False, antialias=down)[0]
    return out[0].numpy() if arr.ndim == 2 else out.permute(1, 2, 0).numpy()


def zone_strengths(scores: dict[str, float]) -> dict[str, float]:
    """{zone: smoothing strength 0..1} from aging scores: a zone scored below 0 (younger) is smoothed by |score|;
    zones scored 0 or above are left alone (adding lines is the sampler's job)."""
    zones = set(wrinkle_score.wrinkle_zones())
    return {z: min(-float(s), 1.0) for z, s in scores.items() if z in zones and float(s) < 0}


def smooth_face(image: np.ndarray, landmarks_xy, strengths: dict[str, float]) -> tuple[np.ndarray, np.ndarray, dict]:
    """One face of one image [H,W,3] float32 0..1 -> (retouched copy, strength mask [H,W] float32, info).

    strengths: {wrinkle zone: 0..1}. Pixels where the returned mask is 0 are bit-identical to the input.
    """
    h, w = image.shape[:2]
    out, mask = image.copy(), np.zeros((h, w), np.float32)
    lm = np.asarray(landmarks_xy, dtype=np.float64)
    iod = zone_masks.inter_ocular_distance(lm)
    active = {z: float(s) for z, s in strengths.items() if s > 0}
    if not np.isfinite(iod) or iod < MIN_IOD:
        return (
            out,
            mask,
            {
                "declined": True,
                "note": f"face too small for the prior (eye distance {iod:.0f} px < "
                f"{MIN_IOD:.0f}): left unchanged rather than smeared",
            },
        )
    if not active:
        return out, mask, {"declined": False, "note": "no zone to smooth", "zones": {}}
    x0, y0, x1, y1 = wrinkle_score.face_roi(lm, (h, w))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return out, mask, {"declined": False, "note": "the face lies outside the image", "skipped": sorted(active)}
    geo = wrinkle_score.face_geometry(lm, (h, w), tuple(active))
    (x0, y0, x1, y1), out_hw, ref = geo["roi"], geo["out_hw"], wrinkle_score.REFERENCE_IOD
    skipped = [z for z, m in geo["masks"].items() if not m.any()]
    strength = np.zeros(out_hw, np.float32)
    for zone, m in geo["masks"].items():
        np.maximum(strength, m * active[zone], out=strength)
    if not strength.any():
        return (
            out,
            mask,
            {"declined": False, "note": "the zones to smooth are hidden or outside the image", "skipped": skipped},
        )
    strength = np.minimum(strength, _gauss(strength, EDGE_SOFTEN_IOD * ref))  # 0 outside, soft inside the edge

    region = image[y0:y1, x0:x1]
    rgb = _resize(region, out_hw)  # the ROI at the reference scale, resampled once for the valley map and the fill
    # the valley map (Sato, the score's reference scale and noise floor) of the resampled ROI
    lum = wrinkle_score.luminance(rgb)
    response = np.maximum(
        wrinkle_score.sato_response(lum, geo["masks"]), wrinkle_score.line_response(lum, geo["masks"])
    )
    low = np.stack([_gauss(np.ascontiguousarray(rgb[..., c]), LOW_SIGMA_IOD * ref) for c in range(3)], axis=-1)
    valley = np.clip(response / VALLEY_SATURATION, 0.0, 1.0)
    valley = np.clip(_gauss(valley, VALLEY_GROW_IOD * ref) * 2.0, 0.0, 1.0)
    weight = 1.0 - valley
    norm = np.maximum(_gauss(weight, LEVEL_SIGMA_IOD * ref), 1e-3)
    # the neighbourhood level per colour channel: a line fills with the colour of the skin around it
    level = np.stack([_gauss(low[..., c] * weight, LEVEL_SIGMA_IOD * ref) / norm for c in range(3)], axis=-1)
    skin = np.maximum.reduce(list(geo["masks"].values())) > 0
    low_lum, level_lum = wrinkle_score.luminance(low), wrinkle_score.luminance(level)
    skin_mean = max(float(low_lum[skin].mean()), 1e-3)
    depth = np.maximum(level_lum - low_lum, 0.0)
    gate = np.clip(2.0 - depth / (MAX_DEPTH * skin_mean), 0.0, 1.0)
    amount = (depth > 0) * gate * valley * strength  # only where the valley is darker than its surroundings
    lift_ref = (level - low) * amount[..., None]

    rh, rw = y1 - y0, x1 - x0
    up = _resize(np.concatenate([lift_ref, strength[..., None]], axis=-1), (rh, rw))
    lift, soft = up[..., :3], up[..., 3]
    where = soft > 0
    changed = np.clip(region + lift, 0.0, 1.0)
    out[y0:y1, x0:x1] = np.where(where[..., None], changed, region)
    mask[y0:y1, x0:x1] = np.where(where, soft.clip(0, 1), 0.0)
    info = {
        "declined": False,
        "eye_distance_px": round(float(iod), 1),
        "zones": {z: active[z] for z in geo["masks"]},
        "skipped": skipped,
        "max_lift": round(float(lift_ref.max()), 4),
    }
    return out, mask, info


def texture_energy(image: np.ndarray, landmarks_xy, zones: tuple[str, ...]) -> float:
    """Mean squared pore-scale band (luminance minus its Gaussian blur at HF_SIGMA_IOD x eye distance) over the
    zones, at the image's own resolution: the fine texture a retouch must keep."""
    lm = np.asarray(landmarks_xy, dtype=np.float64)
    iod = zone_masks.inter_ocular_distance(lm)
    lum = wrinkle_score.luminance(image)
    band = lum - _gauss(lum, HF_SIGMA_IOD * iod)
    m = zone_masks.face_zone_mask(lm, list(zones), image.shape[:2], subtract=wrinkle_score.PROTECT_ZONES)
    return float((band * band * m).sum() / max(float(m.sum()), 1e-6))


def smooth_batch(
    rgb: np.ndarray, face_landmarks: dict, scores, face_index: int = -1, strength: float = 1.0, progress=None
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Smooth Wrinkles over a batch: rgb [B,H,W,3] float32 0..1 (landmarks already fitted to its size), aging
    scores (a FACELAB_ZONE_SCORES value or {zone_or_group: score}; zones scored < 0 are smoothed by |score| x
    strength) -> (images, strength masks [B,H,W], report)."""
    if not 0.0 <= float(strength) <= 2.0:
        raise ValueError(f"FaceLab: strength must lie in [0, 2], got {strength}")
    per_zone = {
        z: min(s * float(strength), 1.0) for z, s in zone_strengths(zone_scores.normalize_scores(scores)).items()
    }
    out, masks = rgb.copy(), np.zeros(rgb.shape[:3], np.float32)
    report: dict = {"zones": per_zone, "images": []}
    if not per_zone:
        report["note"] = "no zone is scored below 0 (smoother): nothing to smooth, the image is returned unchanged"
    for b in range(rgb.shape[0]):
        faces = fl.chosen_faces(face_landmarks, b, face_index) if per_zone else []
        infos = []
        for face in faces:
            if progress is not None:
                progress()
            img, m, info = smooth_face(out[b], face["landmarks_xy"], per_zone)
            out[b] = img
            np.maximum(masks[b], m, out=masks[b])
            infos.append(info)
        if per_zone and not faces:
            infos.append({"note": f"no face {face_index} in this image: unchanged"})
        report["images"].append(infos)
    return out, masks, report
