"""Visible skin of one face: the per-face skin model (skin_model.py) times the camera-facing mesh (mesh_topology.py),
on a face-wide working grid, for zone masks limited to what the camera sees of the face's skin.

face_skin() is computed once per face and passed as `skin=` to zone_masks.face_zone_mask(_roi) for every zone;
skin_shares() says how much of each zone it removed as hidden and as non-skin.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw

from . import mesh_topology, skin_model
from .zone_atlas import SKIN_ZONES, resolve_zones
from .zone_masks import (
    WORK_IOD,
    _as_landmarks,
    _check_size,
    _coverage,
    _Grid,
    _grid_for,
    _shape,
    _zone_shapes,
    face_frame,
)

SKIN_MARGIN_IOD = 0.6  # the skin grid reaches this far beyond the face outline and the extended forehead
VISIBLE_MIN_COS = 0.1  # triangles seen at more than 84 deg from straight on are the silhouette sliver: hidden
VISIBLE_SUPERSAMPLE = 2  # anti-aliasing of the hidden share (5 levels per working pixel: it is multiplied, not edged)
SKIN_WORK_IOD = WORK_IOD  # the skin model's working resolution: a strand 3 % of the eye distance wide spans 4 px


class FaceSkin(NamedTuple):
    """One face's visible skin on a face-wide working grid (see face_skin)."""

    grid: _Grid
    skin: np.ndarray  # skin-model probability 0..1 (skin_model.skin_probability)
    visible: np.ndarray  # 1 - share of the pixel covered only by mesh triangles turned away from the camera
    summary: dict

    @property
    def field(self) -> np.ndarray:
        return self.skin * self.visible


def _row_gather(image):
    """rows -> image[rows] as numpy, gathered where the image lives (a GPU image sends only those rows)."""
    if hasattr(image, "detach") and (image.device.type != "cpu" or image.requires_grad):
        import torch

        return lambda rows: image.index_select(0, torch.from_numpy(rows).to(image.device)).detach().cpu().numpy()
    arr = image.numpy() if hasattr(image, "numpy") else np.asarray(image)
    return lambda rows: np.take(arr, rows, axis=0)


def _sample_image(image, grid: _Grid) -> np.ndarray:
    """The image on the working grid, [h,w,3] float32 0..1: point samples (the mean of 2x2 per working pixel when
    a working pixel spans under 2 image pixels, else its centre; not a full-resolution resize, so a 4096 px photo
    costs the same as a small one; the skin model's guided filter smooths the sampling noise)."""
    ww, wh = grid.work_size
    offsets = (0.25, 0.75) if grid.s > 0.5 else (0.5,)
    if grid.s >= 1.0:
        ys, xs = [np.arange(grid.y0, grid.y1)], [np.arange(grid.x0, grid.x1)]
    else:
        ys = [np.clip((grid.y0 + (np.arange(wh) + o) / grid.s).astype(np.int64), grid.y0, grid.y1 - 1) for o in offsets]
        xs = [np.clip((grid.x0 + (np.arange(ww) + o) / grid.s).astype(np.int64), grid.x0, grid.x1 - 1) for o in offsets]
    take = _row_gather(image)
    acc = None
    for y in ys:
        rows = take(y)  # the sampled rows first, then the columns of those: two plain gathers, not one 2-D one
        for x in xs:
            part = np.take(rows, x, axis=1)  # a new array: safe to accumulate into
            part = part.astype(np.float32) / 255.0 if part.dtype == np.uint8 else part.astype(np.float32, copy=False)
            if acc is None:
                acc = part
            else:
                acc += part  # in place: no fresh array (and its page faults) per sample
    acc /= len(ys) * len(xs)
    if acc.ndim == 2 or acc.shape[-1] == 1:
        acc = np.repeat(acc.reshape(acc.shape[0], acc.shape[1], 1), 3, axis=-1)
    return np.ascontiguousarray(acc[..., :3], dtype=np.float32)


def _visible_share(lm: np.ndarray, landmarks_3d, grid: _Grid, min_cos: float) -> np.ndarray:
    """1 - the share of each working pixel covered by mesh triangles turned away from the camera and by no
    triangle facing it (the silhouette sliver of a turned face); 1 beyond the mesh (the forehead extension).

    Drawn only over the box of the hidden triangles, at VISIBLE_SUPERSAMPLE x the working resolution."""
    ww, wh = grid.work_size
    out = np.ones((wh, ww), dtype=np.float32)
    front = mesh_topology.facing_camera(lm, landmarks_3d, min_cos)
    if front.all():
        return out
    ss = VISIBLE_SUPERSAMPLE
    tris = mesh_topology.mesh_triangles()
    pts = (lm[: mesh_topology.N_MESH_POINTS] - np.array([grid.x0, grid.y0], dtype=np.float64)) * grid.s  # work px
    back = pts[tris[~front]].reshape(-1, 2)
    bx0, by0 = np.maximum(np.floor(back.min(axis=0)).astype(int) - 1, 0)
    bx1, by1 = np.minimum(np.ceil(back.max(axis=0)).astype(int) + 1, (ww, wh))
    if bx1 <= bx0 or by1 <= by0:
        return out
    local = (pts - np.array([bx0, by0])) * ss - 0.5  # PIL samples pixel centres at integer coordinates
    tri_pts = local[tris]
    lim = np.array([(bx1 - bx0) * ss, (by1 - by0) * ss])
    near = front & (tri_pts.max(axis=1) >= 0).all(axis=1) & (tri_pts.min(axis=1) <= lim).all(axis=1)
    canvas = Image.new("L", (int(lim[0]), int(lim[1])), 0)
    draw = ImageDraw.Draw(canvas)
    for fill, sel in ((255, ~front), (0, near)):  # only facing triangles that can overlap a hidden one are drawn
        for flat in local[tris[sel]].reshape(-1, 6).tolist():  # x0, y0, x1, y1, x2, y2: one conversion
            draw.polygon(flat, fill=fill)
    hidden = np.asarray(canvas.reduce(ss), dtype=np.float32) / 255.0
    out[by0:by1, bx0:bx1] = 1.0 - hidden
    return out


def face_skin(image, landmarks_xy, landmarks_3d=None, min_cos: float = VISIBLE_MIN_COS) -> FaceSkin | None:
    """The visible skin of one face: the per-face skin model (skin_model.py) times the camera-facing mesh.

    image: [H,W,C] (numpy or torch, float 0..1 or uint8; grey-scale allowed); landmarks_3d (optional) gives the
    3-D facing test, otherwise the 2-D winding of the mesh triangles is used. None when the face lies outside
    the image. min_cos: mesh triangles seen at more than acos(min_cos) from straight on count as hidden. Pass the
    result to face_zone_mask_roi(skin=...) for every zone of this face.
    """
    lm = _as_landmarks(landmarks_xy)
    frame = face_frame(lm)
    h, w = _check_size(image.shape[:2])
    shapes = _zone_shapes(lm, frame, ["forehead", "face_oval"], skin=True)
    grid = _grid_for(shapes, frame, (h, w), SKIN_MARGIN_IOD * frame.iod)
    if grid is None:
        return None
    grid = grid._replace(s=min(1.0, SKIN_WORK_IOD / frame.iod))
    seeds = (lm[list(skin_model.SEED_POINTS)] - np.array([grid.x0, grid.y0], dtype=np.float64)) * grid.s
    prob, summary = skin_model.skin_probability(_sample_image(image, grid), seeds, frame.iod * grid.s)
    return FaceSkin(grid, prob, _visible_share(lm, landmarks_3d, grid, min_cos), summary)


def skin_on_reference(skin: np.ndarray, visible: np.ndarray, source: FaceSkin) -> FaceSkin:
    """A FaceSkin whose working grid is the arrays' own pixel grid (origin 0, scale 1): face_skin() resampled to
    a crop in which the landmarks are given (e.g. the wrinkle score's reference-scale ROI)."""
    h, w = skin.shape
    return FaceSkin(_Grid(0, 0, w, h, 1.0), skin.astype(np.float32), visible.astype(np.float32), source.summary)


def skin_shares(landmarks_xy, zones, skin: FaceSkin) -> dict[str, dict]:
    """Per skin zone: the share (%) of its crisp area removed as hidden (turned away from the camera) and as
    non-skin (hair, brows, glasses, beard, background), and the share kept; a note when nothing is left."""
    lm = _as_landmarks(landmarks_xy)
    frame = face_frame(lm)
    out = {}
    for name in resolve_zones(zones):
        if name not in SKIN_ZONES:
            continue
        geo = _coverage([_shape(lm, frame, name, skin=True)], skin.grid)
        area = float(geo.sum())
        if area <= 0:
            continue
        vis = float((geo * skin.visible).sum())
        kept = float((geo * skin.field).sum())
        row = {
            "hidden": round(100 * (1 - vis / area), 1),
            "non_skin": round(100 * (vis - kept) / area, 1),
            "kept": round(100 * kept / area, 1),
        }
        if kept < 0.02 * area:
            row["note"] = "empty: no visible skin in this zone"
        out[name] = row
    return out


def face_skin_on_roi(
    rgb_roi: np.ndarray,
    box: tuple[int, int, int, int],
    scale: float,
    landmarks_xy,
    landmarks_3d=None,
    min_cos: float = VISIBLE_MIN_COS,
) -> FaceSkin:
    """face_skin() computed directly on a face ROI the caller has already resampled (e.g. the wrinkle score's
    reference scale), so the photo is read once: rgb_roi [h,w,3] float 0..1 is the image box (x0, y0, x1, y1)
    resampled by `scale` (its pixel (i, j) centred on image point (x0 + (j + 0.5) / scale, y0 + (i + 0.5) / scale)).
    The result's grid is the ROI's own pixel grid (origin 0, scale 1)."""
    lm = _as_landmarks(landmarks_xy)
    h, w = rgb_roi.shape[:2]
    x0, y0 = box[0], box[1]
    seeds = (lm[list(skin_model.SEED_POINTS)] - np.array([x0, y0], dtype=np.float64)) * scale
    prob, summary = skin_model.skin_probability(rgb_roi, seeds, face_frame(lm).iod * scale)
    vis = _visible_share(lm, landmarks_3d, _Grid(x0, y0, box[2], box[3], scale), min_cos)[:h, :w]
    if vis.shape != (h, w):  # the grid's ceil may give one pixel less than the caller's rounding
        vis = np.pad(vis, ((0, h - vis.shape[0]), (0, w - vis.shape[1])), mode="edge")
    return FaceSkin(_Grid(0, 0, w, h, 1.0), prob, vis, summary)
