"""Wrinkle severity per face zone, measured from the image itself, on the face's visible skin only.

Wrinkles are thin dark valleys in the skin's luminance. For each face:
  1. crop the face ROI and resample it so the eye centres are REFERENCE_IOD px apart (scores then compare
     across resolutions and face sizes);
  2. limit every zone to the face's visible skin (visible_skin.face_skin: per-face skin model x camera-facing mesh),
     eroded by the filter's reach, so hair strands, brows, lashes, glasses, beards, the face contour and the far
     side of a turned face are not read as lines; the eyes, brows and mouth are cut out as before;
  3. Sato's valley filter (skimage.filters.sato, black_ridges=True) at scales relative to the eye distance, on the
     luminance;
  4. per zone, normalised by that zone's own skin: the response is divided by the zone's median skin luminance
     (contrast, not absolute brightness: exposure changes do not read as wrinkles, and a line drawn in one zone
     does not move another zone's score), minus a fixed noise floor (fine texture, pores and JPEG noise give many
     weak valleys that average out; above the floor only line-like valleys count); the mean over the zone
     x SCORE_SCALE. The mean over the area makes big and small zones comparable.
Scores are relative measures (0 = smooth; smooth adult skin ~1-10, marked lines and folds 20-70) for comparing
zones, faces and before/after images, not a clinical grade. Changes are reported absolute and relative, the
relative one against max(before, CHANGE_FLOOR), so a near-zero start cannot blow it up.
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
SIGMAS_IOD = (0.012, 0.02, 0.03)  # valley scales as fractions of the eye distance (1.2 / 2 / 3 px at reference)
MARGIN_IOD = 0.15  # ROI margin around the zones (filter support)
PROTECT_ZONES = ("eye_left", "eye_right", "eyebrow_left", "eyebrow_right", "mouth")
PROTECT_GROW = 6.0  # % of the eye distance: the lash line and lip border are valleys too
NOISE_FLOOR = 0.01  # valley response (contrast units) below which texture does not count as a line
SCORE_SCALE = 1000.0
HEAT_SATURATION = 0.04  # normalised response shown at full heat-map colour (fixed, so maps compare before/after)
EXCLUDED_ZONES = ("jawline",)  # the face contour is an edge against the background, not skin texture
# Scored skin: skin-model probability above SKIN_SURE (mixed hair/skin at a hairline is not scored), eroded by a
# square of SKIN_ERODE_IOD half-width (~1.3 x the largest filter scale: the filter reads a hair edge as a valley).
SKIN_SURE = (0.3, 0.8)
SKIN_ERODE_IOD = 0.04
# A zone keeping less than this share of its area as visible skin (the far side of a turned face, a zone under
# hair) is not measured: what is left is a sliver whose mean would be the silhouette's or the hair's edge.
MIN_SKIN_SHARE = 0.25
CHANGE_FLOOR = 5.0  # relative change is taken against max(before, this): smooth skin scores ~1-10


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
    return rgb[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # one pass (BLAS), no temporaries


def _resize(arr: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Antialiased bilinear resize of a 2-D float array (torch, so no OpenCV)."""
    t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))[None, None]
    return torch.nn.functional.interpolate(t, size=size_hw, mode="bilinear", align_corners=False, antialias=True)[
        0, 0
    ].numpy()


def face_roi(landmarks_xy: np.ndarray, image_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) integer box around the face mesh plus a filter margin, clipped to the image."""
    lm = np.asarray(landmarks_xy, dtype=np.float64)
    iod = zone_masks.inter_ocular_distance(lm)
    # the forehead zone may extend above the mesh top: allow half an eye distance more upward
    x0, y0 = lm.min(0) - iod * MARGIN_IOD - np.array([0.0, iod * 0.5])
    x1, y1 = lm.max(0) + iod * MARGIN_IOD
    h, w = image_hw
    return max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0), min(int(np.ceil(x1)), w), min(int(np.ceil(y1)), h)


def face_geometry(
    landmarks_xy: np.ndarray,
    image_hw: tuple[int, int],
    zones: tuple[str, ...] | None = None,
    image: np.ndarray | None = None,
    landmarks_3d=None,
) -> dict:
    """What the measurement of one face needs besides the pixels: {"roi": (x0,y0,x1,y1), "scale": reference px per
    image px, "out_hw": ROI size at the reference scale, "masks": {zone: [h,w]} with the protected features cut out,
    "skin": the skin model's summary or None}.

    image ([H,W,C] float 0..1): limit the zones to this face's visible skin in it (None = the zones' geometry).
    Compute it once to measure several images of the same face (Wrinkle Compare: the original's skin for both).
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
    skin, summary = None, None
    if image is not None:
        full = visible_skin.face_skin(image, lm, landmarks_3d)
        if full is not None:
            # the reference grid's pixel centres in image pixels, then the skin eroded by the filter's reach
            xs, ys = x0 + (np.arange(out_hw[1]) + 0.5) / sx, y0 + (np.arange(out_hw[0]) + 0.5) / sy
            sure = np.clip(
                (zone_masks.sample_field(full.skin, full.grid, xs, ys) - SKIN_SURE[0]) / (SKIN_SURE[1] - SKIN_SURE[0]),
                0.0,
                1.0,
            )
            field = ndimage.minimum_filter(sure, size=2 * int(round(SKIN_ERODE_IOD * REFERENCE_IOD)) + 1)
            skin = visible_skin.skin_on_reference(field, zone_masks.sample_field(full.visible, full.grid, xs, ys), full)
            summary = full.summary
    protect = zone_masks.face_zone_mask(lm_roi, PROTECT_ZONES, out_hw, grow=PROTECT_GROW)
    keep = 1.0 - protect
    masks = {z: zone_masks.face_zone_mask(lm_roi, [z], out_hw, skin=skin) * keep for z in zones}
    unmeasured = []
    if skin is not None:  # against the zone's geometric area (outline polygons, holes cut), at the reference scale
        for z in zones:
            fills, holes = zone_masks.zone_outlines(lm_roi, z)
            area = sum(_polygon_area(p) for p in fills) - sum(_polygon_area(p) for p in holes)
            if float(masks[z].sum()) < MIN_SKIN_SHARE * area:
                unmeasured.append(z)
    return {
        "roi": (x0, y0, x1, y1),
        "scale": scale,
        "out_hw": out_hw,
        "masks": masks,
        "skin": summary,
        "unmeasured": unmeasured,
    }


def _polygon_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def face_ridge_map(
    image: np.ndarray,
    landmarks_xy: np.ndarray,
    zones: tuple[str, ...] | None = None,
    geometry: dict | None = None,
    landmarks_3d=None,
    visible_skin: bool = True,
) -> dict:
    """Valley response and zone masks of one face, at the reference scale.

    image: [H,W,C] float 0..1; geometry: face_geometry() of these landmarks on an image of this size, when
    already computed (otherwise made here, on this image's visible skin unless visible_skin is False). Returns
    {"raw": Sato response of the luminance [h,w], "norms": {zone: its median skin luminance}, "response": the
    response normalised by the scored skin's median and floored (for the heat map), "masks": {zone: [h,w]},
    "roi": (x0,y0,x1,y1), "scale": reference px per image px}.
    """
    from skimage.filters import sato  # imported on first use: keeps loading the pack light

    if geometry is None:
        geometry = face_geometry(landmarks_xy, image.shape[:2], zones, image if visible_skin else None, landmarks_3d)
    (x0, y0, x1, y1), out_hw, masks = geometry["roi"], geometry["out_hw"], geometry["masks"]
    lum = _resize(luminance(image[y0:y1, x0:x1]), out_hw)
    raw = sato(lum, sigmas=[s * REFERENCE_IOD for s in SIGMAS_IOD], black_ridges=True, mode="reflect")
    raw = raw.astype(np.float32)
    norms = {z: _median_in(lum, m) for z, m in masks.items()}
    union = np.maximum.reduce(list(masks.values())) if masks else np.zeros(out_hw, np.float32)
    overall = _median_in(lum, union) or float(np.median(lum))
    response = np.maximum(raw / max(overall, 1e-3) - NOISE_FLOOR, 0.0).astype(np.float32)
    return {
        "raw": raw,
        "norms": norms,
        "response": response,
        "masks": masks,
        "roi": geometry["roi"],
        "scale": geometry["scale"],
        "unmeasured": geometry.get("unmeasured", []),
    }


def _median_in(values: np.ndarray, mask: np.ndarray) -> float:
    """Median of `values` where the mask is at least one half (0 when it is nowhere)."""
    sel = values[mask >= 0.5]
    return float(np.median(sel)) if sel.size else 0.0


def zone_scores_from_map(ridge: dict) -> dict[str, float | None]:
    """{zone: mean floored valley contrast over the zone x SCORE_SCALE}, each zone against its own skin's median
    luminance. None (JSON null) for a zone with less than MIN_SKIN_SHARE of visible skin; NaN-free: a zone
    covering no pixel scores 0."""
    raw = ridge["raw"]
    out: dict[str, float | None] = {}
    for zone, m in ridge["masks"].items():
        if zone in ridge.get("unmeasured", ()):
            out[zone] = None
            continue
        area, norm = float(m.sum()), ridge["norms"].get(zone, 0.0)
        if area <= 0 or norm <= 0:
            out[zone] = 0.0
            continue
        resp = np.maximum(raw / max(norm, 1e-3) - NOISE_FLOOR, 0.0)
        out[zone] = round(float((resp * m).sum() / area) * SCORE_SCALE, 3)
    return out


def face_wrinkle_scores(
    image: np.ndarray,
    landmarks_xy: np.ndarray,
    zones: tuple[str, ...] | None = None,
    landmarks_3d=None,
    visible_skin: bool = True,
) -> dict[str, float]:
    return zone_scores_from_map(face_ridge_map(image, landmarks_xy, zones, None, landmarks_3d, visible_skin))


def measure_batch(
    rgb: np.ndarray,
    face_landmarks: dict,
    face_index: int,
    with_heatmap: bool,
    geometry: dict | None = None,
    visible_skin: bool = True,
) -> tuple[list, np.ndarray | None]:
    """Per batch image ([B,H,W,3] float 0..1): the scores dict (None when no face) and, optionally, the heat maps.

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
        if b not in geometry:
            geometry[b] = face_geometry(
                face["landmarks_xy"], rgb.shape[1:3], None, rgb[b] if visible_skin else None, face.get("landmarks_3d")
            )
        ridge = face_ridge_map(rgb[b], face["landmarks_xy"], geometry=geometry[b])
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


def group_mean(scores: dict[str, float | None], selection: str) -> float:
    """Mean score of a zone, a group ("crows_feet") or "mean" (all scored zones); zones not measured (None) are
    left out, and 0 when none is measured."""
    if selection == "mean":
        names = list(scores)
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
    for zone in before:
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
