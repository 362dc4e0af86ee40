"""Wrinkle severity per face zone, measured from the image itself, on the face's visible skin only.

Wrinkles are thin dark lines in the skin's luminance, darker than the skin on BOTH sides. For each face:
  1. crop the face ROI and resample it once (all channels) so the eye centres are REFERENCE_IOD px apart (scores
     then compare across resolutions and face sizes);
  2. limit every zone to the face's visible skin: the per-face skin model (skin_model.py), learned on that
     reference-scale ROI, times the camera-facing mesh, eroded by the filter's reach, so hair strands, brows,
     lashes, glasses, beards and the far side of a turned face are not read as lines; the eyes, brows and mouth
     are cut out; washed-out skin (near-clipped or specular highlights, where a camera flattens the lines and the
     dark gaps between bright spots would read as lines) is left out of the zone rather than counted as smooth;
  3. symmetric valley depth at two scales: how much darker a pixel is than BOTH neighbours at +-reach along the
     best of ORIENTATIONS directions (the luminance pre-smoothed at reach / 2.5). A step edge (the face contour,
     a hairline, a cast shadow) has one side no brighter, so it gives nothing; a fine line (LINE_REACH_IOD) has
     bright skin on both sides at a short reach; a fold (a nasolabial or smile fold, FOLD_REACH_IOD) is a broad,
     single valley whose sides lie beyond the fine reach, so it gives little there and shows at the fold reach.
     The SCORE is the fine-line depth; the fold depth is reported beside it (`fold_depth`);
  4. per zone, normalised by that zone's own skin: the depth is divided by the zone's median skin luminance
     (contrast, not absolute brightness: exposure changes do not read as wrinkles, and a line drawn in one zone
     does not move another zone's score), minus a fixed noise floor (pores and JPEG noise give many shallow
     valleys; above the floor only line-like valleys count); the mean over the zone x SCORE_SCALE;
  5. expression: a smile (MediaPipe's mouthSmile blendshapes at or above SMILE_EXPRESSION) folds the nasolabial
     and marionette zones, raises the cheeks, bunches the lower lids and crinkles the crow's feet (FACS AU6 + AU12)
     on every face, young or old. Those zones are still scored, but listed under `expression` and left out of the
     `mean`, which then measures the zones a smile does not move.
Scores are relative measures (0 = smooth) for comparing zones, faces and before/after images, not a clinical grade.
Changes are reported absolute and relative, the relative one against max(before, CHANGE_FLOOR), so a near-zero
start cannot blow it up.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from scipy import ndimage

from .. import comfy_adapter
from ..face import face_landmarks as fl
from ..face import visible_skin, zone_atlas, zone_masks
from . import zone_scores

log = logging.getLogger("FaceLab")

REFERENCE_IOD = 100.0  # px between eye centres after resampling
SIGMAS_IOD = (0.012, 0.02, 0.03)  # Sato valley scales of the retouch prior's map (sato_response)
LINE_REACH_IOD = 0.025  # fine lines: both sides brighter at this distance (2.5 px at the reference scale)
FOLD_REACH_IOD = 0.08  # folds: a broad valley, both sides brighter only this far out
PRESMOOTH = 2.5  # the luminance is pre-smoothed at reach / PRESMOOTH (noise; the line's own width)
ORIENTATIONS = 8  # directions tried for a line's normal (every 22.5 deg)
MARGIN_IOD = 0.15  # ROI margin around the zones (filter support)
PROTECT_ZONES = ("eye_left", "eye_right", "eyebrow_left", "eyebrow_right", "mouth")
PROTECT_GROW = 6.0  # % of the eye distance: the lash line and lip border are valleys too
NOISE_FLOOR = 0.01  # line depth (contrast units) below which texture does not count as a line
FOLD_FLOOR = 0.02  # the same for the fold depth
SCORE_SCALE = 3000.0  # mean line depth x this: smooth young skin ~0-5, Grace Hopper's native portrait ~40
HEAT_SATURATION = 0.03  # line depth (contrast above the floor) shown at full heat-map colour (fixed: maps compare)
HIGHLIGHT = 0.94  # luminance at which skin counts as washed out (near clipping: lines flattened, not absent)
HIGHLIGHT_REL = 1.5  # ... or this x the face's median skin luminance (~2.5x in linear light: specular, not skin)
HIGHLIGHT_GROW_IOD = 0.03  # ... and this far around it (the filter's reach)
EXCLUDED_ZONES = ("jawline",)  # the face contour is an edge against the background, not skin texture
# Scored skin: skin-model probability above SKIN_SURE (mixed hair/skin at a hairline is not scored), eroded by a
# square of SKIN_ERODE_IOD half-width (beyond the fine filter's reach: a hair edge next to skin is a valley side).
SKIN_SURE = (0.3, 0.8)
SKIN_ERODE_IOD = 0.04
# The probability is first smoothed at SKIN_SPECK_IOD: a speck of non-skin a pixel or two wide inside skin (a pore,
# the dark core of a crease, sampling noise) is then too shallow to be eroded into a 9x9 hole, which made the
# scored area flip between resolutions; a hair strand (~3 % of the eye distance wide) stays non-skin.
SKIN_SPECK_IOD = 0.01
# A zone keeping less than this share of its area as visible skin (the far side of a turned face, a zone under
# hair) is not measured: what is left is a sliver whose mean would be the silhouette's or the hair's edge.
MIN_SKIN_SHARE = 0.25
CHANGE_FLOOR = 5.0  # relative change is taken against max(before, this): smooth skin scores ~0-5
SMILE_EXPRESSION = 0.5  # mean of mouthSmileLeft / mouthSmileRight from which the smile zones are expression
SMILE_ZONES = ("nasolabial", "marionette", "crows_feet", "under_eye", "cheek")  # zone-name prefixes a smile moves


def wrinkle_zones() -> tuple[str, ...]:
    """Zones the wrinkle score reports: the aging zones except the jawline."""
    return tuple(z for z in zone_scores.aging_zones() if z not in EXCLUDED_ZONES)


REPORT_EXTRAS = ("fold_depth", "expression")  # report keys that are not zone scores


def zone_values(report: dict) -> dict[str, float | None]:
    """The {zone: score} part of a wrinkle report (without fold_depth and expression)."""
    return {z: v for z, v in report.items() if z not in REPORT_EXTRAS}


def luminance(rgb: np.ndarray) -> np.ndarray:
    """[H,W,C] float 0..1 (C = 1, 3 or 4) -> [H,W] Rec.601 luma."""
    rgb = np.asarray(rgb, dtype=np.float32)
    if rgb.ndim == 2:
        return rgb
    if rgb.shape[-1] == 1:
        return rgb[..., 0]
    return rgb[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # one pass (BLAS), no temporaries


def _resize(arr: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Antialiased bilinear resize of a 2-D float array (torch, so no OpenCV)."""
    t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))[None, None]
    return torch.nn.functional.interpolate(t, size=size_hw, mode="bilinear", align_corners=False, antialias=True)[
        0, 0
    ].numpy()


def reference_roi(image, roi: tuple[int, int, int, int], out_hw: tuple[int, int]) -> np.ndarray:
    """The ROI of image ([H,W,C] float 0..1, numpy or torch; C = 1, 3 or 4) resampled to out_hw in one antialiased
    bilinear pass over its three colour channels: [h,w,3] float32. The only read of the full-resolution photo."""
    x0, y0, x1, y1 = roi
    region = image[y0:y1, x0:x1]
    t = region if isinstance(region, torch.Tensor) else torch.from_numpy(region)  # a strided view: no copy
    t = t.to(torch.float32)
    t = t[..., :3] if t.shape[-1] >= 3 else t[..., :1].expand(*t.shape[:2], 3)
    t = t.permute(2, 0, 1)[None]
    down = out_hw[0] < t.shape[2]
    out = torch.nn.functional.interpolate(t, size=out_hw, mode="bilinear", align_corners=False, antialias=down)
    return np.ascontiguousarray(out[0].permute(1, 2, 0).numpy())


def face_roi(landmarks_xy: np.ndarray, image_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) integer box around the face mesh plus a filter margin, clipped to the image."""
    lm = np.asarray(landmarks_xy, dtype=np.float64)
    iod = zone_masks.inter_ocular_distance(lm)
    # the forehead zone may extend above the mesh top: allow half an eye distance more upward
    x0, y0 = lm.min(0) - iod * MARGIN_IOD - np.array([0.0, iod * 0.5])
    x1, y1 = lm.max(0) + iod * MARGIN_IOD
    h, w = image_hw
    return max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0), min(int(np.ceil(x1)), w), min(int(np.ceil(y1)), h)


def reference_frame(
    landmarks_xy, image_hw: tuple[int, int]
) -> tuple[tuple[int, int, int, int], float, tuple, np.ndarray]:
    """(roi, scale = reference px per image px, out_hw = the ROI's size at the reference scale, the landmarks in
    the reference ROI's pixel-index coordinates). Raises for a face too small to measure."""
    lm = np.asarray(landmarks_xy, dtype=np.float64)
    iod = zone_masks.inter_ocular_distance(lm)
    if not np.isfinite(iod) or iod < 4:
        raise ValueError(f"FaceLab: the face is too small to measure wrinkles (eye distance {iod:.1f} px)")
    x0, y0, x1, y1 = face_roi(lm, image_hw)
    if x1 - x0 < 1 or y1 - y0 < 1:
        raise ValueError("FaceLab: the face lies outside the image; nothing to measure")
    scale = REFERENCE_IOD / iod
    out_hw = (max(int(round((y1 - y0) * scale)), 1), max(int(round((x1 - x0) * scale)), 1))
    # pixel centres: image x maps to (x - x0 + 0.5) * sx - 0.5 in the resampled ROI
    sy, sx = out_hw[0] / (y1 - y0), out_hw[1] / (x1 - x0)
    lm_roi = np.stack([(lm[:, 0] - x0 + 0.5) * sx - 0.5, (lm[:, 1] - y0 + 0.5) * sy - 0.5], axis=1)
    return (x0, y0, x1, y1), scale, out_hw, lm_roi


def expression(zones, blendshapes: dict | None) -> dict:
    """{"smile": mean mouthSmile blendshape (None without blendshapes), "zones": the zones a smile of at least
    SMILE_EXPRESSION moves, left out of the mean}."""
    if not blendshapes or "mouthSmileLeft" not in blendshapes or "mouthSmileRight" not in blendshapes:
        return {"smile": None, "zones": []}
    smile = (float(blendshapes["mouthSmileLeft"]) + float(blendshapes["mouthSmileRight"])) / 2.0
    moved = [z for z in zones if z.startswith(SMILE_ZONES)] if smile >= SMILE_EXPRESSION else []
    return {"smile": round(smile, 2), "zones": moved}


def face_geometry(
    landmarks_xy: np.ndarray,
    image_hw: tuple[int, int],
    zones: tuple[str, ...] | None = None,
    image: np.ndarray | None = None,
    landmarks_3d=None,
    blendshapes: dict | None = None,
    rgb_ref: np.ndarray | None = None,
) -> dict:
    """What the measurement of one face needs besides the pixels: {"roi": (x0,y0,x1,y1), "scale": reference px per
    image px, "out_hw": ROI size at the reference scale, "masks": {zone: [h,w]} with the protected features cut out,
    "skin": the skin model's summary or None, "unmeasured": zones with too little visible skin, "expression":
    expression()}.

    image ([H,W,C] float 0..1) or rgb_ref (its reference_roi(), when already made): limit the zones to this face's
    visible skin in it (neither = the zones' geometry). Compute it once to measure several images of the same face
    (Wrinkle Compare: the original's skin for both). blendshapes: the face's MediaPipe blendshapes (expression).
    """
    zones = tuple(zones or wrinkle_zones())
    lm = np.asarray(landmarks_xy, dtype=np.float64)
    roi, scale, out_hw, lm_roi = reference_frame(lm, image_hw)
    skin, summary = None, None
    if rgb_ref is None and image is not None:
        rgb_ref = reference_roi(image, roi, out_hw)
    if rgb_ref is not None:
        full = visible_skin.face_skin_on_roi(rgb_ref, roi, scale, lm, landmarks_3d)
        prob = ndimage.gaussian_filter(full.skin, SKIN_SPECK_IOD * REFERENCE_IOD, mode="nearest", truncate=3.0)
        sure = np.clip((prob - SKIN_SURE[0]) / (SKIN_SURE[1] - SKIN_SURE[0]), 0.0, 1.0)
        eroded = ndimage.minimum_filter(sure, size=2 * int(round(SKIN_ERODE_IOD * REFERENCE_IOD)) + 1)
        skin, summary = full._replace(skin=eroded.astype(np.float32)), full.summary
    protect = zone_masks.face_zone_mask(lm_roi, PROTECT_ZONES, out_hw, grow=PROTECT_GROW)
    keep = 1.0 - protect
    masks = {z: zone_masks.face_zone_mask(lm_roi, [z], out_hw, skin=skin) * keep for z in zones}
    boxes = {z: _box(m) for z, m in masks.items()}
    unmeasured = []
    if skin is not None:  # against the zone's geometric area (outline polygons, holes cut), at the reference scale
        for z in zones:
            fills, holes = zone_masks.zone_outlines(lm_roi, z)
            area = sum(_polygon_area(p) for p in fills) - sum(_polygon_area(p) for p in holes)
            if float(masks[z].sum()) < MIN_SKIN_SHARE * area:
                unmeasured.append(z)
    return {
        "roi": roi,
        "scale": scale,
        "out_hw": out_hw,
        "masks": masks,
        "boxes": boxes,
        "skin": summary,
        "unmeasured": unmeasured,
        "expression": expression(zones, blendshapes),
    }


def _box(mask: np.ndarray) -> tuple[slice, slice]:
    """Row and column slices of the mask's non-zero pixels (empty slices when there are none)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not rows.size:
        return slice(0, 0), slice(0, 0)
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def _polygon_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def symmetric_valleys(lum: np.ndarray, reach: float) -> np.ndarray:
    """How much darker each pixel is than BOTH of its neighbours at +-reach px along the best of ORIENTATIONS
    directions (0 where it is not), on the luminance pre-smoothed at reach / PRESMOOTH: [h,w] float32.

    A line or fold narrower than ~2 x reach scores its depth; a step edge scores 0 (one side is no brighter)."""
    smooth = ndimage.gaussian_filter(np.asarray(lum, dtype=np.float32), reach / PRESMOOTH, mode="nearest", truncate=3.0)
    h, w = smooth.shape
    pad = int(np.ceil(reach)) + 1
    padded = np.pad(smooth, pad, mode="edge")

    def shifted(dy: float, dx: float) -> np.ndarray:  # bilinear sample at (y + dy, x + dx)
        iy, ix = int(np.floor(dy)), int(np.floor(dx))
        fy, fx = np.float32(dy - iy), np.float32(dx - ix)
        y, x = pad + iy, pad + ix
        top = padded[y : y + h, x : x + w] * (1 - fx) + padded[y : y + h, x + 1 : x + 1 + w] * fx
        bottom = padded[y + 1 : y + 1 + h, x : x + w] * (1 - fx) + padded[y + 1 : y + 1 + h, x + 1 : x + 1 + w] * fx
        return top * (1 - fy) + bottom * fy

    best = np.zeros((h, w), np.float32)
    for k in range(ORIENTATIONS):
        angle = np.pi * k / ORIENTATIONS
        dy, dx = reach * np.sin(angle), reach * np.cos(angle)
        np.maximum(best, np.minimum(shifted(dy, dx), shifted(-dy, -dx)) - smooth, out=best)
    return best


def fold_valleys(lum: np.ndarray) -> np.ndarray:
    """symmetric_valleys at FOLD_REACH_IOD, computed at half resolution (its pre-smoothing, 3.2 px at the reference
    scale, leaves nothing finer) and resized back: a quarter of the work."""
    h, w = lum.shape
    if h < 4 or w < 4:
        return symmetric_valleys(lum, FOLD_REACH_IOD * REFERENCE_IOD)
    t = torch.from_numpy(np.ascontiguousarray(lum, dtype=np.float32))[None, None]
    half = torch.nn.functional.avg_pool2d(t, 2, ceil_mode=True)[0, 0].numpy()
    fold = symmetric_valleys(half, FOLD_REACH_IOD * REFERENCE_IOD / 2)
    up = torch.nn.functional.interpolate(torch.from_numpy(fold)[None, None], scale_factor=2, mode="bilinear")
    return np.ascontiguousarray(up[0, 0, :h, :w].numpy())


def washed_out(lum: np.ndarray, skin_median: float) -> np.ndarray:
    """[h,w] bool: near-clipped or specular skin (luminance at least HIGHLIGHT, or HIGHLIGHT_REL x the face's
    median skin luminance) and its surroundings, where the lines are flattened and the dark gaps between bright
    spots would read as valleys."""
    bright = lum >= min(HIGHLIGHT, HIGHLIGHT_REL * skin_median) if skin_median > 0 else lum >= HIGHLIGHT
    if not bright.any():
        return bright
    size = 2 * int(round(HIGHLIGHT_GROW_IOD * REFERENCE_IOD)) + 1
    return ndimage.maximum_filter(bright, size=size)


def face_ridge_map(
    image: np.ndarray | None,
    landmarks_xy: np.ndarray,
    zones: tuple[str, ...] | None = None,
    geometry: dict | None = None,
    landmarks_3d=None,
    visible_skin: bool = True,
    blendshapes: dict | None = None,
    rgb_ref: np.ndarray | None = None,
) -> dict:
    """Line and fold depth of one face with its zone masks, at the reference scale.

    image: [H,W,C] float 0..1 (or rgb_ref: its reference_roi(), when already made); geometry: face_geometry() of
    these landmarks on an image of this size, when already computed (otherwise made here, on this image's visible
    skin unless visible_skin is False). Returns {"raw": fine-line depth [h,w], "fold": fold depth [h,w], "norms":
    {zone: its median skin luminance}, "response": the line depth normalised by the scored skin's median and
    floored (for the heat map), "masks": {zone: [h,w]} without washed-out skin, "roi", "scale", "unmeasured",
    "expression"}.
    """
    if geometry is None:
        hw = image.shape[:2]
        if rgb_ref is None:
            roi, _, out_hw, _ = reference_frame(landmarks_xy, hw)
            rgb_ref = reference_roi(image, roi, out_hw)
        geometry = face_geometry(
            landmarks_xy, hw, zones, None, landmarks_3d, blendshapes, rgb_ref if visible_skin else None
        )
    elif rgb_ref is None:
        rgb_ref = reference_roi(image, geometry["roi"], geometry["out_hw"])
    lum = luminance(rgb_ref)
    raw = symmetric_valleys(lum, LINE_REACH_IOD * REFERENCE_IOD)
    fold = fold_valleys(lum)
    masks = geometry["masks"]
    overall = _skin_median(lum, masks)
    washed = washed_out(lum, overall)
    if washed.any():  # not measurable, so not counted as smooth either
        masks = {z: m * ~washed for z, m in masks.items()}
    boxes = geometry.get("boxes") or {z: _box(m) for z, m in masks.items()}
    norms = {z: _median_in(lum[boxes[z]], m[boxes[z]]) for z, m in masks.items()}
    response = np.maximum(raw / max(overall, 1e-3) - NOISE_FLOOR, 0.0).astype(np.float32)
    return {
        "raw": raw,
        "fold": fold,
        "norms": norms,
        "response": response,
        "masks": masks,
        "boxes": boxes,
        "roi": geometry["roi"],
        "scale": geometry["scale"],
        "unmeasured": geometry.get("unmeasured", []),
        "expression": geometry.get("expression", {"smile": None, "zones": []}),
    }


def sato_response(lum: np.ndarray, masks: dict) -> np.ndarray:
    """Sato's valley filter (skimage.filters.sato, black_ridges) of a reference-scale luminance at SIGMAS_IOD,
    divided by the median luminance of the masks' union, minus NOISE_FLOOR: the valley map of the retouch prior,
    which fills valleys of every width up to a fold's crease."""
    from skimage.filters import sato  # imported on first use: keeps loading the pack light

    raw = sato(lum, sigmas=[s * REFERENCE_IOD for s in SIGMAS_IOD], black_ridges=True, mode="reflect")
    return np.maximum(raw.astype(np.float32) / max(_skin_median(lum, masks), 1e-3) - NOISE_FLOOR, 0.0)


def line_response(lum: np.ndarray, masks: dict) -> np.ndarray:
    """The fine-line depth of a reference-scale luminance divided by the median luminance of the masks' union,
    minus NOISE_FLOOR (face_ridge_map's heat-map response, without its washed-out cut): the retouch prior's map."""
    raw = symmetric_valleys(lum, LINE_REACH_IOD * REFERENCE_IOD)
    return np.maximum(raw / max(_skin_median(lum, masks), 1e-3) - NOISE_FLOOR, 0.0)


def _skin_median(lum: np.ndarray, masks: dict) -> float:
    """Median luminance of the masks' union (of the whole array when they cover nothing)."""
    union = np.maximum.reduce(list(masks.values())) if masks else np.zeros(lum.shape, np.float32)
    return _median_in(lum, union) or float(np.median(lum))


def _median_in(values: np.ndarray, mask: np.ndarray) -> float:
    """Median of `values` where the mask is at least one half (0 when it is nowhere)."""
    sel = values[mask >= 0.5]
    return float(np.median(sel)) if sel.size else 0.0


def zone_scores_from_map(ridge: dict) -> dict:
    """The wrinkle report of one face: {zone: mean floored line depth over the zone x SCORE_SCALE, ...,
    "fold_depth": {zone: the same for the fold depth}, "expression": {"smile", "zones"}}, each zone against its
    own skin's median luminance. None (JSON null) for a zone with less than MIN_SKIN_SHARE of visible skin;
    NaN-free: a zone covering no pixel scores 0."""
    out: dict = {}
    folds: dict = {}
    for zone, m in ridge["masks"].items():
        if zone in ridge.get("unmeasured", ()):
            out[zone] = folds[zone] = None
            continue
        box = (ridge.get("boxes") or {}).get(zone) or _box(m)  # a zone covers a few % of the ROI: its box only
        weight = m[box]
        area, norm = float(weight.sum()), ridge["norms"].get(zone, 0.0)
        if area <= 0 or norm <= 0:
            out[zone] = folds[zone] = 0.0
            continue
        norm = max(norm, 1e-3)
        line = np.maximum(ridge["raw"][box] / norm - NOISE_FLOOR, 0.0)
        fold = np.maximum(ridge["fold"][box] / norm - FOLD_FLOOR, 0.0)
        out[zone] = round(float((line * weight).sum() / area) * SCORE_SCALE, 3)
        folds[zone] = round(float((fold * weight).sum() / area) * SCORE_SCALE, 3)
    out["fold_depth"] = folds
    out["expression"] = dict(ridge.get("expression") or {"smile": None, "zones": []})
    return out


def face_wrinkle_scores(
    image: np.ndarray,
    landmarks_xy: np.ndarray,
    zones: tuple[str, ...] | None = None,
    landmarks_3d=None,
    visible_skin: bool = True,
    blendshapes: dict | None = None,
) -> dict:
    """The wrinkle report of one face (zone_scores_from_map) of image [H,W,C] float 0..1."""
    return zone_scores_from_map(
        face_ridge_map(image, landmarks_xy, zones, None, landmarks_3d, visible_skin, blendshapes)
    )


def measure_batch(
    rgb: np.ndarray,
    face_landmarks: dict,
    face_index: int,
    with_heatmap: bool,
    geometry: dict | None = None,
    visible_skin: bool = True,
) -> tuple[list, np.ndarray | None]:
    """Per batch image ([B,H,W,3] float 0..1): the wrinkle report (None when no face) and, optionally, the heat maps.

    geometry: a dict shared by calls measuring images of the same size with the same landmarks (Wrinkle Compare):
    each face's ROI and zone masks are made once, on the first image measured, keyed by batch index.
    """
    face_landmarks = fl.fit_landmarks_to_image(face_landmarks, rgb.shape[1:3], rgb.shape[0], "Wrinkle Score")
    geometry = {} if geometry is None else geometry
    per_image, heat = [], rgb.copy() if with_heatmap else None
    for b in comfy_adapter.iterate_with_progress(range(rgb.shape[0])):
        face = select_face(face_landmarks, b, face_index)
        if face is None:
            per_image.append(None)
            continue
        lm = face["landmarks_xy"]
        roi, _, out_hw, _ = reference_frame(lm, rgb.shape[1:3])
        rgb_ref = reference_roi(rgb[b], roi, out_hw)  # the photo is read once per face
        if b not in geometry:
            geometry[b] = face_geometry(
                lm,
                rgb.shape[1:3],
                landmarks_3d=face.get("landmarks_3d"),
                blendshapes=face.get("blendshapes"),
                rgb_ref=rgb_ref if visible_skin else None,
            )
        ridge = face_ridge_map(None, lm, geometry=geometry[b], rgb_ref=rgb_ref)
        per_image.append(zone_scores_from_map(ridge))
        if with_heatmap:
            paint_heatmap(heat[b], ridge)
    if all(s is None for s in per_image):
        log.warning("FaceLab Wrinkle Score: no face %d in the landmarks; nothing measured", face_index)
    return per_image, heat


def score_batch(
    rgb: np.ndarray, face_landmarks: dict, face_index: int, zone: str
) -> tuple[object, float, np.ndarray | None]:
    """Wrinkle Score on a [B,H,W,3] batch: (report: the scores dict, or a list for a batch; the chosen zone's mean
    over the images with a face, 0 without; the heat-map batch, None when no image has the face)."""
    per_image, heat = measure_batch(rgb, face_landmarks, face_index, True)
    found = [s for s in per_image if s is not None]
    value = float(np.mean([group_mean(s, zone) for s in found])) if found else 0.0
    if len(per_image) == 1:
        report = per_image[0] if per_image[0] is not None else no_face_note(face_index)
    else:
        report = per_image
    return report, round(value, 3), heat if found else None


def no_face_note(face_index: int) -> dict:
    return {"no_face": True, "note": f"no face number {face_index} in the landmarks: nothing was measured"}


def relative_change(before: float, after: float) -> float:
    """Percent change of a score against max(before, CHANGE_FLOOR): bounded when the start is near zero."""
    return 100.0 * (float(after) - float(before)) / max(float(before), CHANGE_FLOOR)


def compare_batch(
    before: np.ndarray,
    after: np.ndarray,
    face_landmarks: dict,
    face_index: int,
    zone: str,
    target_reduction: float,
    visible_skin: bool = True,
) -> tuple[object, float]:
    """Wrinkle Compare on [B,H,W,3] batches: (report: one compare_scores() dict, or a list for a batch, the
    chosen zone's mean relative change in percent, 0 without a face). The original's skin serves both images."""
    if tuple(before.shape[:3]) != tuple(after.shape[:3]):
        raise ValueError(
            f"FaceLab: before {tuple(before.shape[:3])} and after {tuple(after.shape[:3])} differ in batch or size; "
            "compare the edited image with the original it came from"
        )
    geometry: dict = {}  # same landmarks, same size: the zone masks are made once, on the original
    scores_before, _ = measure_batch(before, face_landmarks, face_index, False, geometry, visible_skin)
    scores_after, _ = measure_batch(after, face_landmarks, face_index, False, geometry, visible_skin)
    fraction = target_reduction / 100.0 if target_reduction else None
    reports, changes = [], []
    for b_scores, a_scores in zip(scores_before, scores_after):
        if b_scores is None:
            reports.append(no_face_note(face_index))
            continue
        reports.append(compare_scores(b_scores, a_scores, fraction))
        changes.append(relative_change(group_mean(b_scores, zone), group_mean(a_scores, zone)))
    report = reports[0] if len(reports) == 1 else reports
    return report, (round(float(np.mean(changes)), 2) if changes else 0.0)


def select_face(face_landmarks: dict, batch_index: int, face_index: int) -> dict | None:
    """The face at face_index (in the landmarks' order) of one batch image, or None."""
    if face_index < 0:
        raise ValueError("FaceLab: the wrinkle score measures one face per image; face_index must be 0 or more")
    faces = fl.chosen_faces(face_landmarks, batch_index, face_index)
    return faces[0] if faces else None


def group_mean(scores: dict, selection: str) -> float:
    """Mean score of a zone, a group ("crows_feet") or "mean" (all scored zones but those a smile moves, when the
    report lists them under "expression"); zones not measured (None) are left out, and 0 when none is measured."""
    moved = set((scores.get("expression") or {}).get("zones") or ())
    scores = zone_values(scores)
    if selection == "mean":
        names = [z for z in scores if z not in moved] or list(scores)
    else:
        names = [z for z in zone_atlas.resolve_zones(selection) if z in scores]
        if not names:
            raise ValueError(f"FaceLab: {selection!r} is not a scored zone; choose one of: mean, {', '.join(scores)}")
    values = [scores[n] for n in names if scores[n] is not None]
    return float(np.mean(values)) if values else 0.0


def relative_target(current: float, reduce_fraction: float) -> float:
    """Target score for "make this zone reduce_fraction smoother": current * (1 - reduce_fraction).

    reduce_fraction 0.3 = 30% smoother; a negative fraction asks for more lines (-0.2 = 20% more).
    """
    if not -1.0 <= reduce_fraction <= 1.0:
        raise ValueError(f"FaceLab: reduce_fraction must lie in [-1, 1] (0.3 = 30% smoother), got {reduce_fraction}")
    return float(current) * (1.0 - float(reduce_fraction))


def compare_scores(before: dict[str, float], after: dict[str, float], reduce_fraction: float | None = None) -> dict:
    """Per-zone before/after change: {zone: {before, after, change, change_pct[, target, reached]}}.

    change is absolute (score points), change_pct relative to max(before, CHANGE_FLOOR) (< 0 means smoother), so a
    zone that starts near zero cannot report thousands of percent. With reduce_fraction, `target` =
    relative_target(before) and `reached` says whether after <= target (or >= for a negative fraction, i.e. aging).
    """
    out = {}
    for zone in zone_values(before):
        if zone not in after:
            continue
        if before[zone] is None or after[zone] is None:
            out[zone] = {"before": before[zone], "after": after[zone], "note": "not measured: too little visible skin"}
            continue
        b, a = float(before[zone]), float(after[zone])
        row = {"before": b, "after": a, "change": round(a - b, 3), "change_pct": round(relative_change(b, a), 1)}
        if reduce_fraction is not None and reduce_fraction != 0:
            target = relative_target(b, reduce_fraction)
            row["target"] = round(target, 3)
            row["reached"] = bool(a <= target) if reduce_fraction > 0 else bool(a >= target)
        out[zone] = row
    return out


# A perceptual dark-to-bright colour ramp (inferno-like anchors), so low response reads as dark, not as a hue.
_RAMP = (
    np.array(
        [
            [0, 0, 4],
            [40, 11, 84],
            [101, 21, 110],
            [159, 42, 99],
            [212, 72, 66],
            [245, 125, 21],
            [250, 193, 39],
            [252, 255, 164],
        ],
        dtype=np.float32,
    )
    / 255.0
)


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
    layers = torch.nn.functional.interpolate(t, size=(y1 - y0, x1 - x0), mode="bilinear", align_corners=False)[0]
    layers = layers.permute(1, 2, 0).contiguous()  # channels last, like the image: one pass over the ROI below
    region = torch.from_numpy(rgb[y0:y1, x0:x1])  # a view: painted in place
    region.mul_(1.0 - layers[..., 3:].clamp_(0.0, 1.0)).add_(layers[..., :3])
    return rgb
