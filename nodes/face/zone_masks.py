"""Zone masks: rasterise atlas zones from one face's landmarks into soft, face-relative masks.

Sizes are relative to the face: grow (negative = shrink) and feather are given in % of the inter-ocular
distance (IOD, between the eye centres), so the same settings give the same mask on a 512 px and a 6000 px
photo. Feather is the width of the soft edge, centred on the (grown) zone outline: the mask is 1 inside by
feather/2 and exactly 0 beyond grow + feather/2 outside (plus one working pixel of anti-aliasing).

Speed and memory: a face is processed only inside its region of interest (ROI), at a working resolution where
the IOD spans about WORK_IOD pixels (never above the image's own resolution); the result is upsampled
bilinearly into the full-resolution ROI and pasted into the output. A 4096 px image therefore costs one
full-size output array, not one per zone, and zones_mask's output is lazily zeroed (only the faces' boxes are
ever written). Anti-aliasing: polygons are drawn with PIL at SUPERSAMPLE x the working resolution and
box-reduced; grow and feather use a signed distance from an exact Euclidean distance transform bounded to the
feather's reach (_distance_to), refined with the sub-pixel coverage on edge pixels.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from PIL import Image, ImageChops, ImageDraw
from scipy import ndimage
from scipy.spatial import ConvexHull

from .. import comfy_adapter
from ..base.numbers import finite
from . import face_landmarks as fl
from .zone_atlas import (
    EYE_RIGHT,
    MESH_OUTLINE,
    MIRROR,
    SKIN_OUTLINES,
    SKIN_ZONES,
    ZONES,
    Lerp,
    Up,
    resolve_subtract,
    resolve_zones,
)

if TYPE_CHECKING:
    from .visible_skin import FaceSkin

log = logging.getLogger("FaceLab")

WORK_IOD = 128.0  # working-resolution IOD in pixels: ~0.8% IOD per pixel, far finer than any use of a mask
SUPERSAMPLE = 4  # anti-aliasing: 17 coverage levels per working pixel

_EYE_LEFT = tuple(MIRROR[i] for i in EYE_RIGHT)


class FaceFrame(NamedTuple):
    """A face's own frame: eye centres, inter-ocular distance, unit up-axis and height (chin -> mesh top)."""

    eye_right: np.ndarray
    eye_left: np.ndarray
    iod: float
    up: np.ndarray
    height: float
    outline: np.ndarray  # convex hull of the mesh (MESH_OUTLINE), positively oriented (scipy order)


def _as_landmarks(landmarks_xy) -> np.ndarray:
    lm = np.asarray(landmarks_xy, dtype=np.float64)
    if lm.ndim != 2 or lm.shape[1] != 2 or lm.shape[0] < 468:
        raise ValueError(f"FaceLab: landmarks_xy must be MediaPipe mesh points of shape (478, 2), got {lm.shape}")
    if not np.isfinite(lm[:468]).all():
        raise ValueError("FaceLab: landmarks_xy contains NaN or infinite values; detect the landmarks again")
    return lm


def _eye_centres(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(subject's right, subject's left) eye centre: the means of the eye-contour landmarks."""
    return lm[list(EYE_RIGHT)].mean(axis=0), lm[list(_EYE_LEFT)].mean(axis=0)


_FRAMES: dict[bytes, FaceFrame] = {}  # face_frame() of recent landmark sets: one face's many zones share one frame


def face_frame(landmarks_xy) -> FaceFrame:
    lm = _as_landmarks(landmarks_xy)
    key = lm.tobytes()
    frame = _FRAMES.get(key)
    if frame is None:
        if len(_FRAMES) >= 64:
            _FRAMES.pop(next(iter(_FRAMES)))
        frame = _FRAMES[key] = _face_frame(lm)
    return frame


def _face_frame(lm: np.ndarray) -> FaceFrame:
    eye_r, eye_l = _eye_centres(lm)
    axis = lm[10] - lm[152]  # chin -> top of the mesh: follows roll and survives yaw
    height = float(np.hypot(*axis))
    if height <= 1e-6:
        raise ValueError("FaceLab: degenerate landmarks (chin and forehead coincide); detect the landmarks again")
    mesh = lm[:468]
    outline = mesh[ConvexHull(mesh).vertices]
    return FaceFrame(eye_r, eye_l, float(np.hypot(*(eye_l - eye_r))), axis / height, height, outline)


def inter_ocular_distance(landmarks_xy) -> float:
    """Distance in pixels between the two eye centres (means of the eye-contour landmarks).

    Equal to face_frame(landmarks_xy).iod, without the rest of the frame (the mesh's convex hull)."""
    eye_r, eye_l = _eye_centres(_as_landmarks(landmarks_xy))
    return float(np.hypot(*(eye_l - eye_r)))


@functools.lru_cache(maxsize=256)
def _ring_plan(ring) -> tuple:
    """A ring's points grouped by kind, as index arrays: (positions, landmarks) of plain points, (positions,
    landmarks, fractions) of Up points, (positions, a, b, t) of Lerp points. The atlas is static: built once."""
    plain = [(k, p) for k, p in enumerate(ring) if not isinstance(p, (Up, Lerp))]
    ups = [(k, p.index, p.frac) for k, p in enumerate(ring) if isinstance(p, Up)]
    lerps = [(k, p.a, p.b, p.t) for k, p in enumerate(ring) if isinstance(p, Lerp)]

    def columns(rows, dtypes):
        return tuple(np.array([r[c] for r in rows], dtype=d) for c, d in enumerate(dtypes))

    return (
        columns(plain, (np.intp, np.intp)),
        columns(ups, (np.intp, np.intp, np.float64)),
        columns(lerps, (np.intp, np.intp, np.intp, np.float64)),
    )


def _ring_points(lm: np.ndarray, frame: FaceFrame, ring) -> np.ndarray:
    if ring == MESH_OUTLINE:
        return frame.outline
    (pk, pi), (uk, ui, uf), (lk, la, lb, lt) = _ring_plan(ring)
    pts = np.empty((len(ring), 2), dtype=np.float64)
    pts[pk] = lm[pi]
    if len(uk):
        pts[uk] = lm[ui] + frame.up * (uf * frame.height)[:, None]  # same products as one point at a time
    if len(lk):
        pts[lk] = lm[la] + lt[:, None] * (lm[lb] - lm[la])
    return pts


def _clip_convex(poly: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman: the part of `poly` inside the convex, positively oriented polygon `clip`.

    One clip edge at a time, vectorised over the polygon's points (the same float64 operations as the
    point-by-point form: each kept point, then the crossing point where the next one changes side)."""
    edges = np.concatenate([clip[1:], clip[:1]]) - clip
    rel = poly[None, :, :] - clip[:, None, :]  # (edges, points, 2)
    if (edges[:, None, 0] * rel[..., 1] - edges[:, None, 1] * rel[..., 0] >= 0).all():
        return poly  # already inside: the usual case on a frontal face
    out = np.asarray(poly, dtype=np.float64)
    for (ax, ay), (ex, ey) in zip(clip.tolist(), edges.tolist()):
        if not len(out):
            break
        px, py = out[:, 0], out[:, 1]
        inside = ex * (py - ay) - ey * (px - ax) >= 0
        change = np.flatnonzero(inside != np.roll(inside, -1))
        nxt = np.concatenate([out[1:], out[:1]])
        cross = np.empty((len(out), 2), dtype=np.float64)
        if len(change):
            p, q = out[change], nxt[change]
            dx, dy = q[:, 0] - p[:, 0], q[:, 1] - p[:, 1]
            t = (ey * (p[:, 0] - ax) - ex * (p[:, 1] - ay)) / (ex * dy - ey * dx)
            cross[change, 0] = p[:, 0] + t * dx
            cross[change, 1] = p[:, 1] + t * dy
        keep = np.zeros((len(out), 2), dtype=bool)
        keep[:, 0] = inside
        keep[change, 1] = True
        out = np.stack([out, cross], axis=1)[keep]  # per point: itself if inside, then its crossing if any
    return out.reshape(-1, 2)


def _shape(lm: np.ndarray, frame: FaceFrame, name: str, skin: bool = False) -> tuple[list, list]:
    """(filled outlines, holes) of one zone in pixels, clipped to the face outline where the zone asks for it.

    skin: the outline used by visible-skin masks (the forehead reaching up to where the skin ends)."""
    zone = SKIN_OUTLINES.get(name, ZONES[name]) if skin else ZONES[name]
    fills = [_ring_points(lm, frame, r) for r in zone.rings]
    holes = [_ring_points(lm, frame, r) for r in zone.holes]
    if zone.inside_face and MESH_OUTLINE not in zone.rings:
        fills = [c for c in (_clip_convex(p, frame.outline) for p in fills) if len(c) >= 3]
    return fills, holes


def _zone_shapes(lm: np.ndarray, frame: FaceFrame, names: Iterable[str], skin: bool = False) -> list[tuple[list, list]]:
    return [_shape(lm, frame, n, skin) for n in names]


def zone_outlines(landmarks_xy, zone: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(filled outlines, holes) in pixels, each (N, 2), of every zone `zone` names (a zone, group or list)."""
    lm = _as_landmarks(landmarks_xy)
    frame = face_frame(lm)
    shapes = _zone_shapes(lm, frame, resolve_zones(zone))
    return [p for fills, _ in shapes for p in fills], [p for _, holes in shapes for p in holes]


def zone_polygons(landmarks_xy, zone: str) -> list[np.ndarray]:
    """Pixel outlines (N, 2) of one zone on one face: its filled outlines (see zone_hole_polygons for holes).

    A group or several names give the outlines of every zone they name."""
    return zone_outlines(landmarks_xy, zone)[0]


def zone_hole_polygons(landmarks_xy, zone: str) -> list[np.ndarray]:
    """Pixel outlines cut out of a zone (e.g. the mouth opening for 'lips', the features for 'skin')."""
    return zone_outlines(landmarks_xy, zone)[1]


class _Grid(NamedTuple):
    """The working grid of an ROI: full-res box [x0, x1) x [y0, y1), scale s (work px per full-res px)."""

    x0: int
    y0: int
    x1: int
    y1: int
    s: float

    @property
    def work_size(self) -> tuple[int, int]:
        return max(1, int(np.ceil((self.x1 - self.x0) * self.s))), max(1, int(np.ceil((self.y1 - self.y0) * self.s)))


def _coverage(shapes: list[tuple[list, list]], grid: _Grid) -> np.ndarray:
    """Anti-aliased union of zones (each zone's holes cut from that zone only) on the working grid, float32 0..1."""
    ww, wh = grid.work_size
    ss = SUPERSAMPLE
    k = grid.s * ss
    origin = np.array([grid.x0, grid.y0], dtype=np.float64)

    def flat(poly: np.ndarray) -> list[float]:
        # pixel i covers [i, i+1) here; PIL samples pixel centres at integer coordinates
        return ((poly - origin) * k - 0.5).ravel().tolist()

    canvas = Image.new("L", (ww * ss, wh * ss), 0)
    draw = ImageDraw.Draw(canvas)
    for fills, holes in shapes:
        if not holes:
            for poly in fills:
                draw.polygon(flat(poly), fill=255)
            continue
        layer = Image.new("L", canvas.size, 0)
        ldraw = ImageDraw.Draw(layer)
        for poly in fills:
            ldraw.polygon(flat(poly), fill=255)
        for poly in holes:
            ldraw.polygon(flat(poly), fill=0)
        canvas = ImageChops.lighter(canvas, layer)
        draw = ImageDraw.Draw(canvas)
    small = canvas.reduce(ss) if ss > 1 else canvas
    return np.asarray(small, dtype=np.float32) * np.float32(1.0 / 255.0)


BOUNDED_EDT_MAX = 32  # reach (px) up to which _distance_to's shifted minima beat scipy's full transform


def _distance_to(target: np.ndarray, reach: float) -> np.ndarray:
    """float32 Euclidean distance from every pixel to the nearest True pixel of `target`, exact up to `reach`;
    every pixel further away gets some value above reach (which is all a soft edge needs).

    Equal to scipy's distance_transform_edt(~target) there, bit for bit (sqrt of the integer squared distance in
    float64, then float32), at about half its cost for the narrow reach of a feather: the exact distance along
    each column from two running extrema, then the minimum over column offsets within reach."""
    h, w = target.shape
    r = int(np.ceil(reach))
    if r > BOUNDED_EDT_MAX or 3 * h + 2 * r + 4 >= np.iinfo(np.int16).max:
        return ndimage.distance_transform_edt(~target).astype(np.float32)
    big = r + 1  # stands for "further than reach"
    rows = np.arange(h, dtype=np.int16)[:, None]
    above = np.maximum.accumulate(np.where(target, rows, np.int16(-h - big)), axis=0)  # nearest row above (or at)
    below = np.minimum.accumulate(np.where(target, rows, np.int16(2 * h + big))[::-1], axis=0)[::-1]
    g = np.minimum(np.minimum(rows - above, below - rows), np.int16(big))
    g *= g  # squared distance along the column, capped; int16 holds 2 * (BOUNDED_EDT_MAX + 1)^2
    d2 = g.copy()
    tmp = np.empty_like(g)
    for dx in range(1, min(r, w - 1) + 1):
        shifted = tmp[:, : w - dx]
        np.add(g[:, :-dx], np.int16(dx * dx), out=shifted)
        np.minimum(d2[:, dx:], shifted, out=d2[:, dx:])
        np.add(g[:, dx:], np.int16(dx * dx), out=shifted)
        np.minimum(d2[:, :-dx], shifted, out=d2[:, :-dx])
    np.minimum(d2, np.int16(big * big), out=d2)
    return np.sqrt(np.arange(big * big + 1, dtype=np.float64)).astype(np.float32)[d2]


def _soft_edge(cov: np.ndarray, grow: float, feather: float) -> np.ndarray:
    """Coverage -> mask grown by `grow` and with a soft edge `feather` wide (both in working pixels).

    Signed distance sd to the zone outline (negative inside) from two Euclidean distance transforms; on edge
    pixels the sub-pixel coverage gives sd = 0.5 - coverage. value = 1 for sd <= grow - w/2, 0 for
    sd >= grow + w/2 (w = max(feather, 1 px): a 1 px ramp is plain anti-aliasing), smoothstep in between.
    """
    width = max(feather, 1.0)
    lo, hi = grow - width / 2, grow + width / 2
    if lo >= -0.5 and hi <= 0.5:  # no grow, no feather: the anti-aliased coverage is the answer
        return cov
    inside = cov >= 0.5
    sd = 0.5 - cov
    full_out = cov <= 0.0
    full_in = cov >= 1.0
    # Distances beyond reach only ever give 0 (outside) or 1 (inside): one pixel of slack either side.
    if hi > 0.5:
        sd = np.where(full_out, _distance_to(inside, hi + 1.5) - np.float32(0.5), sd)
    else:
        sd = np.where(full_out, np.float32(hi + 1.0), sd)
    if lo < -0.5:
        sd = np.where(full_in, np.float32(0.5) - _distance_to(~inside, 1.5 - lo), sd)
    else:
        sd = np.where(full_in, np.float32(lo - 1.0), sd)
    v = np.clip((hi - sd) / np.float32(width), 0.0, 1.0).astype(np.float32)
    if feather > 1.0:
        v = v * v * (3.0 - 2.0 * v)
    return v


def _work_scale(iod: float) -> float:
    """Working pixels per full-resolution pixel: the IOD spans WORK_IOD working pixels, never upsampled."""
    return min(1.0, WORK_IOD / max(iod, 1e-6))


def _grid_for(shapes: list[tuple[list, list]], frame: FaceFrame, image_size, margin_px: float) -> _Grid | None:
    h, w = int(image_size[0]), int(image_size[1])
    polys = [p for fills, _ in shapes for p in fills]
    if not polys:
        return None
    pts = np.concatenate(polys)
    x0 = max(0, int(np.floor(pts[:, 0].min() - margin_px)))
    y0 = max(0, int(np.floor(pts[:, 1].min() - margin_px)))
    x1 = min(w, int(np.ceil(pts[:, 0].max() + margin_px)) + 1)
    y1 = min(h, int(np.ceil(pts[:, 1].max() + margin_px)) + 1)
    if x1 <= x0 or y1 <= y0:
        return None  # the zones lie outside the image
    return _Grid(x0, y0, x1, y1, _work_scale(frame.iod))


def _upsample(work: np.ndarray, grid: _Grid) -> np.ndarray:
    """Working grid -> full-resolution ROI, bilinear (convex weights: values stay in [0, 1], zeros stay 0)."""
    import torch
    import torch.nn.functional as F

    rw, rh = grid.x1 - grid.x0, grid.y1 - grid.y0
    if grid.s >= 1.0:
        return work[:rh, :rw]
    # scale_factor 1/s without recomputation maps output pixel centres exactly onto the working grid
    # (work px j covers full-res [j/s, (j+1)/s)); the grid may extend one pixel past the ROI, cropped here.
    up = F.interpolate(
        torch.from_numpy(work)[None, None],
        scale_factor=1.0 / grid.s,
        mode="bilinear",
        align_corners=False,
        recompute_scale_factor=False,
    )[0, 0]
    out = up[:rh, :rw].numpy()
    if out.shape != (rh, rw):  # the grid rounds up, so this is only a safety net
        out = np.pad(out, ((0, rh - out.shape[0]), (0, rw - out.shape[1])), mode="edge")
    return out


def _check_size(image_size) -> tuple[int, int]:
    try:
        h, w = int(image_size[0]), int(image_size[1])
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"FaceLab: image_size must be (height, width), got {image_size!r}") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"FaceLab: image_size must be positive (height, width), got {image_size!r}")
    return h, w


def sample_field(values: np.ndarray, grid: _Grid, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Working-grid values at full-resolution points (columns xs x rows ys, separable), bilinear; 0 outside."""

    def taps(pos, n):  # (lower index, upper index, upper weight) per position, 0 weight beyond the grid
        pos = np.asarray(pos, dtype=np.float64)
        i0 = np.floor(pos).astype(np.int64)
        t = (pos - i0).astype(np.float32)
        inside = ((pos > -1) & (pos < n)).astype(np.float32)
        return np.clip(i0, 0, n - 1), np.clip(i0 + 1, 0, n - 1), t, inside

    y0, y1, ty, iny = taps((np.asarray(ys, dtype=np.float64) - grid.y0) * grid.s - 0.5, values.shape[0])
    x0, x1, tx, inx = taps((np.asarray(xs, dtype=np.float64) - grid.x0) * grid.s - 0.5, values.shape[1])
    rows = values[y0] * (1 - ty)[:, None] + values[y1] * ty[:, None]  # index space: pixel centres are integers
    out = rows[:, x0] * (1 - tx)[None, :] + rows[:, x1] * tx[None, :]
    return (out * iny[:, None] * inx[None, :]).astype(np.float32)


def _on_grid(values: np.ndarray, src: _Grid, dst: _Grid) -> np.ndarray:
    """Working-grid values of `src` on the working grid of `dst` (bilinear; 0 outside src)."""
    ww, wh = dst.work_size
    return sample_field(values, src, dst.x0 + (np.arange(ww) + 0.5) / dst.s, dst.y0 + (np.arange(wh) + 0.5) / dst.s)


def face_zone_mask_roi(
    landmarks_xy,
    zones,
    image_size,
    grow: float = 0.0,
    feather: float = 0.0,
    subtract=(),
    skin: FaceSkin | None = None,
) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """The mask of face_zone_mask only inside its region of interest: (mask (y1-y0, x1-x0), (x0, y0, x1, y1)).

    None when the zones lie entirely outside the image. Use it to combine many zones or faces without
    allocating a full-size array per zone. skin: visible_skin.face_skin() of this face to limit the skin zones
    (SKIN_ZONES) to its visible skin; None = the zones' geometry only.
    """
    names = resolve_zones(zones)
    if not names:
        raise ValueError("FaceLab: no zone selected; give at least one zone name (e.g. 'forehead, cheeks')")
    protected = resolve_subtract(subtract)
    h, w = _check_size(image_size)
    lm = _as_landmarks(landmarks_xy)
    frame = face_frame(lm)
    grow_px = float(grow) / 100.0 * frame.iod
    feather_px = max(0.0, float(feather)) / 100.0 * frame.iod
    skin_names = [n for n in names if n in SKIN_ZONES] if skin is not None else []
    other = [n for n in names if n not in skin_names]
    skin_shapes, shapes = _zone_shapes(lm, frame, skin_names, skin=True), _zone_shapes(lm, frame, other)
    margin = max(grow_px, 0.0) + feather_px / 2 + 2.0 / _work_scale(frame.iod)  # + 2 working pixels
    grid = _grid_for(skin_shapes + shapes, frame, (h, w), margin)
    if grid is None:
        return None
    if shapes:
        work = _soft_edge(_coverage(shapes, grid), grow_px * grid.s, feather_px * grid.s)
    if skin_shapes:
        limited = _soft_edge(_coverage(skin_shapes, grid), grow_px * grid.s, feather_px * grid.s)
        limited = limited * _on_grid(skin.field, skin.grid, grid)
        work = np.maximum(work, limited) if shapes else limited
    if protected:
        # Protected features are removed entirely, including every pixel they touch; the soft edge lies outside
        # them (grown by half the feather plus one working pixel), so an edit never reaches them.
        f = feather_px * grid.s
        keep = _soft_edge(_coverage(_zone_shapes(lm, frame, protected), grid), f / 2 + 1.0, f)
        work = work * (1.0 - keep)
    return _upsample(work, grid), (grid.x0, grid.y0, grid.x1, grid.y1)


def face_zone_mask(
    landmarks_xy, zones, image_size, grow: float = 0.0, feather: float = 0.0, subtract=(), skin: FaceSkin | None = None
) -> np.ndarray:
    """Union of `zones` of ONE face as a float32 (H, W) mask in [0, 1], exactly 0 outside the feathered band.

    image_size is (height, width). zones: names or groups (see zone_atlas.resolve_zones). grow (negative =
    shrink) and feather in % of the inter-ocular distance. subtract: protected zones removed from the result
    (a zone_atlas.SUBTRACT_PRESETS key such as "eyes+brows+lips", or zone names). skin: face_skin() of this
    face (visible_skin.face_skin) to limit the skin zones to its visible skin.
    """
    h, w = _check_size(image_size)
    out = np.zeros((h, w), dtype=np.float32)
    roi = face_zone_mask_roi(landmarks_xy, zones, (h, w), grow, feather, subtract, skin)
    if roi is not None:
        mask, (x0, y0, x1, y1) = roi
        out[y0:y1, x0:x1] = mask
    return out


def zones_mask(
    face_landmarks: dict,
    batch_size: int,
    zones,
    face_index: int = -1,
    grow: float = 0.0,
    feather: float = 0.0,
    subtract=(),
    image=None,
    skin_report: list | None = None,
):
    """MASK [B, H, W] (torch float32, CPU): per batch image, the union of `zones` over the selected faces.

    face_index -1 = all faces, otherwise that face in the landmarks' own order (face_landmarks.chosen_faces). A
    single-frame FACE_LANDMARKS applies to every image of the batch. All-zero where an image has no face.
    image: IMAGE [B,H,W,C] to limit the skin zones to each face's visible skin (visible_skin.face_skin); None =
    geometry only. skin_report: a list that receives, per image and face, {"image", "face", "model", "zones":
    visible_skin.skin_shares()}.
    """
    import torch

    from ..base.tensors import lazy_zeros
    from . import visible_skin  # the skin layer builds on this module

    names = resolve_zones(zones)
    if not names:
        raise ValueError("FaceLab: no zone selected; give at least one zone name (e.g. 'forehead, cheeks')")
    protected = resolve_subtract(subtract)
    h, w = _check_size(fl.validate(face_landmarks).get("image_size", (0, 0)))
    face_landmarks = fl.fit_landmarks_to_image(face_landmarks, (h, w), batch_size)  # the landmarks' own size
    if image is not None and (int(image.shape[0]) != int(batch_size) or tuple(image.shape[1:3]) != (h, w)):
        raise ValueError(
            f"FaceLab: the image {tuple(image.shape[:3])} does not match the landmarks' batch "
            f"{batch_size} and size {(h, w)}"
        )
    limit = image is not None and any(n in SKIN_ZONES for n in names)
    out = lazy_zeros((int(batch_size), h, w))  # pages outside the faces' boxes are never written: no 64 MiB fill at 4K
    for b in comfy_adapter.iterate_with_progress(range(int(batch_size))):
        faces = fl.chosen_faces(face_landmarks, b, face_index)
        for k, face in enumerate(faces):
            skin = visible_skin.face_skin(image[b], face["landmarks_xy"], face.get("landmarks_3d")) if limit else None
            if skin is not None and skin_report is not None:
                shares = visible_skin.skin_shares(face["landmarks_xy"], names, skin)
                skin_report.append({"image": b, "face": k, "model": skin.summary, "zones": shares})
            roi = face_zone_mask_roi(face["landmarks_xy"], names, (h, w), grow, feather, protected, skin)
            if roi is None:
                continue
            mask, (x0, y0, x1, y1) = roi
            region = out[b, y0:y1, x0:x1]
            torch.maximum(region, torch.from_numpy(mask), out=region)
    return out


def zone_mask_batch(
    face_landmarks,
    image_hw,
    batch_size: int,
    zones,
    face_index: int = -1,
    grow: float = 0.0,
    feather: float = 0.0,
    subtract=(),
    image=None,
) -> tuple:
    """The Zone Mask node: (MASK [B, H, W] torch float32, report text) for landmarks checked against this batch.

    image: IMAGE [B,H,W,3] limits the skin zones to visible skin (None = geometry only); the report then gives,
    per face and zone, the share removed as hidden and as non-skin."""
    names = resolve_zones(zones)
    if not names:
        raise ValueError("FaceLab: the zones input is empty; give zone names such as 'crows_feet, forehead'")
    grow, feather = finite(grow, "grow"), finite(feather, "feather")
    landmarks = fl.fit_landmarks_to_image(face_landmarks, image_hw, batch_size, "Face Zone Mask")
    skin_report: list = []
    mask = zones_mask(
        landmarks, batch_size, names, face_index, grow, feather, subtract, image=image, skin_report=skin_report
    )
    lines = []
    for i in range(int(batch_size)):
        faces = fl.frame_faces(landmarks, i)
        used = fl.chosen_faces(landmarks, i, face_index)
        if not faces:
            lines.append(f"image {i}: no face, mask is empty")
        elif not used:
            lines.append(f"image {i}: no face {face_index} ({len(faces)} found), mask is empty")
        else:
            share = float(mask[i].mean()) * 100
            lines.append(f"image {i}: {len(used)} of {len(faces)} face(s), {share:.2f}% of the image masked")
    if not fl.count_faces(landmarks):
        log.info("FaceLab Zone Mask: no face in the image(s); the mask is empty")
    for row in skin_report:
        lines.append(f"image {row['image']} face {row['face']}: removed from each zone as hidden / non-skin:")
        for zone, share in row["zones"].items():
            note = f" ({share['note']})" if "note" in share else ""
            lines.append(f"  {zone}: {share['hidden']:.1f}% hidden, {share['non_skin']:.1f}% non-skin{note}")
    what = subtract if isinstance(subtract, str) else ", ".join(subtract) or "none"
    skin = "visible skin only" if image is not None else "geometry only"
    settings = f"zones: {', '.join(names)}; grow {grow:g}%, feather {feather:g}%, subtract {what}; {skin}"
    return mask, "\n".join([settings, *lines])
