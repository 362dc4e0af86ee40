"""Makeup regions on one face, built from the zone atlas (face/zone_atlas.py, face/zone_masks.py).

lips        the red lips ("lips" zone, mouth opening excluded)
eyes        eye shadow and liner: the lid between eye and brow plus a thin lash-line band around the eye,
            eyes and brows themselves excluded. The atlas has no eyelid zone, so it is derived here from
            the "eye_*" and "eyebrow_*" zone outlines (their convex hull, and the eye outline pushed out).
blush       the cheeks ("cheek_left", "cheek_right")
brows       the eyebrows
foundation  the skin ("skin" zone: face oval minus eyes, brows, mouth, nostrils)
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull

from ..face import zone_masks
from ..face.zone_masks import face_zone_mask, inter_ocular_distance, zone_polygons

REGION_ZONES = {
    "lips": ("lips",),
    "blush": ("cheek_left", "cheek_right"),
    "brows": ("eyebrow_left", "eyebrow_right"),
    "foundation": ("skin",),
}
REGION_SUBTRACT = {
    "lips": (),
    "blush": ("eye_left", "eye_right", "mouth"),
    "brows": ("eye_left", "eye_right"),
    "foundation": ("eye_left", "eye_right", "eyebrow_left", "eyebrow_right", "mouth", "nostril_left", "nostril_right"),
}
LINER_WIDTH = 0.06  # lash-line band around the eye, fraction of the inter-ocular distance
EYE_PROTECT_FEATHER = 2.0  # % IOD: soft edge kept outside the eyes and brows when cutting them out of the lids


def eyelid_polygons(landmarks_xy) -> list[np.ndarray]:
    """Per side: the hull of eye + brow (upper lid up to the brow) and the eye outline pushed out by the liner width."""
    iod = inter_ocular_distance(landmarks_xy)
    out = []
    for side in ("right", "left"):
        eye = np.concatenate(zone_polygons(landmarks_xy, f"eye_{side}"))
        brow = np.concatenate(zone_polygons(landmarks_xy, f"eyebrow_{side}"))
        both = np.vstack([eye, brow])
        out.append(both[ConvexHull(both).vertices])
        centre = eye.mean(0)
        radial = eye - centre
        norm = np.maximum(np.linalg.norm(radial, axis=1, keepdims=True), 1e-6)
        out.append(eye + radial / norm * (LINER_WIDTH * iod))
    return out


def _polygons_mask(landmarks_xy, polygons: list[np.ndarray], image_size, feather: float) -> np.ndarray:
    """Union of pixel polygons with the zone masks' anti-aliasing and soft edge (feather in % IOD).

    zone_masks has no public entry for shapes that are not atlas zones; this goes through its rasteriser
    so the eye region's edges match every other zone's exactly.
    """
    h, w = int(image_size[0]), int(image_size[1])
    frame = zone_masks.face_frame(landmarks_xy)
    shapes = [(polygons, [])]
    feather_px = max(0.0, float(feather)) / 100.0 * frame.iod
    out = np.zeros((h, w), dtype=np.float32)
    grid = zone_masks._grid_for(shapes, frame, (h, w), feather_px / 2 + 2.0 / min(1.0, zone_masks.WORK_IOD / frame.iod))
    if grid is not None:
        work = zone_masks._soft_edge(zone_masks._coverage(shapes, grid), 0.0, feather_px * grid.s)
        out[grid.y0 : grid.y1, grid.x0 : grid.x1] = zone_masks._upsample(work, grid)
    return out


def _eyes_mask(landmarks_xy, image_size, feather: float) -> np.ndarray:
    """Eye-makeup region: lids and lash line, with the eyes and brows cut out (soft edge outside them)."""
    mask = _polygons_mask(landmarks_xy, eyelid_polygons(landmarks_xy), image_size, feather)
    protect = face_zone_mask(landmarks_xy, "eye_left, eye_right, eyebrow_left, eyebrow_right", image_size,
                             grow=EYE_PROTECT_FEATHER / 2, feather=EYE_PROTECT_FEATHER)  # fmt: skip
    return mask * (1.0 - protect)


def region_mask(landmarks_xy, region: str, image_size, feather: float = 0.0) -> np.ndarray:
    """(H, W) float32 mask of one makeup region of one face; feather in % of the inter-ocular distance."""
    if region == "eyes":
        return _eyes_mask(landmarks_xy, image_size, feather)
    return face_zone_mask(
        landmarks_xy, REGION_ZONES[region], image_size, feather=feather, subtract=REGION_SUBTRACT[region]
    )


def bare_skin_mask(landmarks_xy, image_size, eyes_mask: np.ndarray | None = None) -> np.ndarray:
    """Skin that makeup other than foundation does not cover (for the skin-tone and lighting fields).

    eyes_mask: the eye-makeup region at this size when already rasterised (saves redoing it).
    """
    skin = face_zone_mask(landmarks_xy, "skin", image_size, subtract=("cheek_left", "cheek_right"))
    eyes = _eyes_mask(landmarks_xy, image_size, 0.0) if eyes_mask is None else eyes_mask
    return skin * (1.0 - eyes)
