"""The default detection mode: MediaPipe's full-range detector finds the faces, each face is meshed on its own crop.

Find (bounded memory, any image size):
  1. candidates: the full-range detector (192 px input) over a pyramid of square tiles. Level 0 tiles are
     TILE0 px of the image, each next level doubles the side, the last one is the whole image. Every tile is read
     from the frame already resized to TILE_OUT px (frame.region), so no full-size copy of the image is ever made:
     extra memory is a few tiles, whatever the image size. Tiles overlap by a quarter of their side, so a face up to
     that size lies whole in some tile; larger faces are whole at the next level. Measured on a 1920 x 1280 group
     photo (tests/group_photo.py): the whole image alone finds only faces >= ~1/10 of its side (1 of 8 faces);
     640 px tiles find faces down to ~30 px (scores 0.48-0.93), 960 px tiles down to ~60 px.
  2. confirmation: each candidate (score >= CANDIDATE_MIN, or min_confidence when lower) is detected again on a crop of
     CONFIRM_FACTOR x its box, where the face is ~1/3 of the detector's input; that score must reach
     min_confidence, and its eye keypoints give the face's roll. A candidate already seen at >= CONFIRM_SKIP_PX
     in the detector's input with a score >= CONFIRM_SKIP_SCORE is kept as found (one detector pass saved per face).

Mesh (per face, on its own crop of MESH_FACTOR x the box, MESH_OUT px):
  plain    the crop is axis-aligned.
  upright  the crop is rotated so the eyes are level (the landmarker's mesh is most accurate on upright faces);
           the landmarks are mapped back through the same rotation.
  steady   upright, plus the mirrored crop; the mirrored mesh is flipped back, its points renumbered through the
           mesh's left/right correspondence (zone_atlas.MIRROR, all 478 points) and averaged with the first.
           Each face records how far the two meshes disagreed ("mesh_disagreement_pct": median and max point
           distance in % of the eye distance), so a bad mesh can be seen.

Coordinates: pixel i's centre is coordinate i (MediaPipe's output convention, see detection.py); PIL's affine
transform works in pixel-edge coordinates, so points are shifted by 0.5 on the way in and out.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from PIL import Image

from .. import comfy_adapter
from . import landmarker
from .face_landmarks import bbox_from_landmarks, box_iou
from .zone_atlas import MIRROR

log = logging.getLogger("FaceLab")

MESHING_MODES = ("steady", "upright", "plain")

TILE0 = 640  # level-0 tile side in image pixels: a ~30 px face is ~9 px in the detector's 192 px input
TILE_OUT = 256  # every tile is handed to the detector at this size (it resizes to 192 itself)
TILE_OVERLAP = 0.25  # of the tile side
FAST_READ_MAX_PX = 1_700_000  # tiles up to ~1300 px square are read through uint8 + PIL (see _read)
CONFIRM_FACTOR = 3.0  # confirmation crop side / candidate box side
CONFIRM_OUT = 192
DETECTOR_INPUT = 192  # the full-range model's input side
# A candidate at least this large in the detector's input and this confident is kept as found. Real faces score
# 0.8-0.93 there; a weaker one is confirmed (biden.jpg's suit scores 0.53 on a large tile and fails confirmation).
CONFIRM_SKIP_PX = 28
CONFIRM_SKIP_SCORE = 0.75
MESH_FACTOR = 2.2  # mesh crop side / detector box side: the landmarker's own detector sees a large, whole face
MESH_OUT = 320
MESH_CONFIDENCE = 0.3  # the landmarker's detector on a crop that holds a confirmed face
MESH_MAX_FACES = 3  # a crop may hold neighbours; the one at its centre is kept
CANDIDATE_MIN = 0.35  # tile score a candidate needs (or min_confidence if lower); 30-40 px faces score 0.48 there
DUPLICATE_IOU = 0.3
_MIRROR = np.asarray(MIRROR, dtype=np.int64)
_EYE_OUTER = (33, 263)


def _origins(extent: int, side: int) -> list[int]:
    """Evenly spread tile origins covering [0, extent) with at least TILE_OVERLAP overlap."""
    if side >= extent:
        return [0]
    n = math.ceil((extent - side) / (side * (1 - TILE_OVERLAP))) + 1
    return [round(i * (extent - side) / (n - 1)) for i in range(n)]


def tile_pyramid(W: int, H: int) -> list[tuple[int, int, int, int]]:
    """Square tiles (x0, y0, x1, y1) of every level, small tiles first, the whole image last."""
    tiles = []
    side, last = TILE0, 0
    while side < max(W, H):
        s = min(side, W, H)  # a thin image gets tiles as wide as it is (once, not once per level)
        if s != last:
            tiles += [(x, y, x + s, y + s) for y in _origins(H, s) for x in _origins(W, s)]
        side, last = side * 2, s
    return tiles + [(0, 0, W, H)]


def _same_face(a, b) -> bool:
    ca, cb = ((a[0] + a[2]) / 2, (a[1] + a[3]) / 2), ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
    inside = lambda p, q: q[0] <= p[0] <= q[2] and q[1] <= p[1] <= q[3]  # noqa: E731
    return box_iou(a, b) > DUPLICATE_IOU or inside(ca, b) or inside(cb, a)


def _read(frame, box, ow: int, oh: int) -> np.ndarray:
    """RGB uint8 of box resized to ow x oh for the detector.

    Tiles up to FAST_READ_MAX_PX are converted to uint8 at full size and resized by PIL (antialiased, one thread):
    measured 3-5x faster than torch's antialiased resize of a float slice on the busy 2-core machine, where torch's
    threads contend (17 ms per 640 px tile). Larger boxes go through frame.region's banded shrink (bounded memory).
    """
    x0, y0, x1, y1 = box
    if (x1 - x0) * (y1 - y0) > FAST_READ_MAX_PX:
        return frame.region(box, ow, oh)
    tile = frame.region(box, x1 - x0, y1 - y0)  # same size: uint8 in row blocks
    return np.asarray(Image.fromarray(tile).resize((ow, oh), Image.BILINEAR))


def _detect_in(frame, box, out: int, min_confidence: float):
    """Full-range detections inside box (read at out px on its long side), in full-image pixels."""
    x0, y0, x1, y1 = box
    k = out / max(x1 - x0, y1 - y0)
    ow, oh = max(1, round((x1 - x0) * k)), max(1, round((y1 - y0) * k))
    boxes, scores, kps = landmarker.detect_full_range(_read(frame, box, ow, oh), min_confidence)
    sx, sy = (x1 - x0) / ow, (y1 - y0) / oh
    boxes = boxes * np.float32([sx, sy, sx, sy]) + np.float32([x0, y0, x0, y0])
    kps = (kps + 0.5) * np.float32([sx, sy]) - 0.5 + np.float32([x0, y0])
    return boxes, scores, kps


def _square(cx: float, cy: float, side: float, W: int, H: int):
    h = side / 2
    return (
        max(0, math.floor(cx - h)),
        max(0, math.floor(cy - h)),
        min(W, math.ceil(cx + h)),
        min(H, math.ceil(cy + h)),
    )


def find_faces(frame, min_confidence: float) -> list[dict]:
    """Confirmed faces: {"box" xyxy, "score", "keypoints" (6, 2)} in full-image pixels, best score first."""
    cands = []
    floor = min(CANDIDATE_MIN, min_confidence)
    for tile in tile_pyramid(frame.W, frame.H):
        comfy_adapter.check_interrupt()
        boxes, scores, kps = _detect_in(frame, tile, TILE_OUT, floor)
        margin = 0.01 * (tile[2] - tile[0])
        model_px = DETECTOR_INPUT / max(tile[2] - tile[0], tile[3] - tile[1])  # detector input px per image px
        for b, s, k in zip(boxes, scores, kps):
            # A box cut by an inner tile edge is part of a face (or a face seen whole by an overlapping tile or the
            # next level): dropping it saves a confirmation pass per fragment of every large face.
            cut = (
                (b[0] <= tile[0] + margin and tile[0] > 0)
                or (b[1] <= tile[1] + margin and tile[1] > 0)
                or (b[2] >= tile[2] - margin and tile[2] < frame.W)
                or (b[3] >= tile[3] - margin and tile[3] < frame.H)
            )
            if not cut:
                clear = s >= max(min_confidence, CONFIRM_SKIP_SCORE) and (b[2] - b[0]) * model_px >= CONFIRM_SKIP_PX
                cands.append((tuple(float(v) for v in b), float(s), k, clear))
    cands.sort(key=lambda c: -c[1])
    kept: list = []
    for c in cands:  # greedy NMS over tiles and levels
        if not any(_same_face(c[0], k[0]) for k in kept):
            kept.append(c)
    faces: list[dict] = []
    for box, score, keypoints, clear in kept:
        comfy_adapter.check_interrupt()
        if clear:  # seen large and confidently: a second look would not change the verdict (saves a pass)
            if not any(_same_face(box, f["box"]) for f in faces):
                faces.append({"box": box, "score": score, "keypoints": keypoints})
            continue
        cx, cy, side = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, max(box[2] - box[0], box[3] - box[1])
        crop = _square(cx, cy, side * CONFIRM_FACTOR, frame.W, frame.H)
        boxes, scores, kps = _detect_in(frame, crop, CONFIRM_OUT, min_confidence)
        hits = [i for i in range(len(boxes)) if boxes[i][0] <= cx <= boxes[i][2] and boxes[i][1] <= cy <= boxes[i][3]]
        if not hits:  # not confirmed at a scale where the detector sees the face large: not a face
            continue
        i = max(hits, key=lambda j: scores[j])
        face = {"box": tuple(float(v) for v in boxes[i]), "score": float(scores[i]), "keypoints": kps[i]}
        if not any(_same_face(face["box"], f["box"]) for f in faces):
            faces.append(face)
    return faces


# --- meshing ---------------------------------------------------------------------------------------------------


class _Crop:
    """A square crop of the frame, rotated by `angle` (radians, y down) about (cx, cy), `out` px for `side` px."""

    def __init__(self, frame, cx: float, cy: float, side: float, angle: float, out: int):
        self.out, self.c, self.s = out, math.cos(angle), math.sin(angle)
        half = side / 2 * (abs(self.c) + abs(self.s))  # the rotated square's axis-aligned half-extent
        box = (max(0, math.floor(cx - half)), max(0, math.floor(cy - half)),
               min(frame.W, math.ceil(cx + half)), min(frame.H, math.ceil(cy + half)))  # fmt: skip
        k = out / side
        rw, rh = max(1, round((box[2] - box[0]) * k)), max(1, round((box[3] - box[1]) * k))
        region = frame.region(box, rw, rh)
        self.x0, self.y0 = box[0], box[1]
        self.sx, self.sy = (box[2] - box[0]) / rw, (box[3] - box[1]) / rh  # image px per region px
        # Centre in region edge coordinates; crop edge q -> region edge r = Rot(q - out/2) + rc.
        self.rc = ((cx + 0.5 - box[0]) / self.sx, (cy + 0.5 - box[1]) / self.sy)
        c, s, h = self.c, self.s, out / 2
        data = (c, -s, self.rc[0] - c * h + s * h, s, c, self.rc[1] - s * h - c * h)
        img = Image.fromarray(region).transform((out, out), Image.AFFINE, data, resample=Image.BILINEAR)
        self.rgb = np.asarray(img)

    def to_image(self, lm3: np.ndarray) -> np.ndarray:
        """Crop landmarks (pixel-centre coordinates, z in crop px) -> full-image pixels."""
        q = lm3[:, :2].astype(np.float64) + 0.5 - self.out / 2
        rx = self.c * q[:, 0] - self.s * q[:, 1] + self.rc[0]
        ry = self.s * q[:, 0] + self.c * q[:, 1] + self.rc[1]
        out = np.empty_like(lm3, dtype=np.float64)
        out[:, 0] = self.x0 + rx * self.sx - 0.5
        out[:, 1] = self.y0 + ry * self.sy - 0.5
        out[:, 2] = lm3[:, 2] * self.sx
        return out

    def rotate_matrix(self, m):
        """MediaPipe's face pose measured in the crop -> in the image (camera axes x right, y up: roll is -angle)."""
        if m is None:
            return None
        c, s = self.c, -self.s
        rz = np.array([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=np.float64)
        return (rz @ np.asarray(m, dtype=np.float64)).astype(np.float32)


def _mesh_crop(rgb: np.ndarray) -> dict | None:
    """The landmarker's face at the crop centre (crop pixels), or None."""
    faces = landmarker.detect_faces(rgb, max_faces=MESH_MAX_FACES, min_confidence=MESH_CONFIDENCE)
    c = (rgb.shape[1] - 1) / 2
    hits = [
        f for f in faces if f["bbox_xyxy"][0] <= c <= f["bbox_xyxy"][2] and f["bbox_xyxy"][1] <= c <= f["bbox_xyxy"][3]
    ]
    return min(hits, key=lambda f: float(np.hypot(*(f["landmarks_xy"][1] - c))), default=None)


def _swap_sides(name: str) -> str:
    return name.replace("Left", "\0").replace("Right", "Left").replace("\0", "Right")


def _mirror_back(face: dict, out: int) -> tuple[np.ndarray, dict]:
    """A mesh of the mirrored crop as a mesh of the crop: x flipped, points renumbered left <-> right."""
    lm3 = np.asarray(face["landmarks_3d"], dtype=np.float64).copy()
    lm3[:, 0] = out - 1 - lm3[:, 0]
    return lm3[_MIRROR], {_swap_sides(k): v for k, v in face["blendshapes"].items()}


def disagreement_pct(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(median, max) distance between two meshes of one face, in % of its outer-eye-corner distance."""
    eye = float(
        np.linalg.norm(
            (a[_EYE_OUTER[0], :2] + b[_EYE_OUTER[0], :2]) / 2 - (a[_EYE_OUTER[1], :2] + b[_EYE_OUTER[1], :2]) / 2
        )
    )
    d = np.linalg.norm(a[:, :2] - b[:, :2], axis=1) / max(eye, 1e-6) * 100
    return float(np.median(d)), float(d.max())


def mesh_face(frame, found: dict, meshing: str = "upright") -> dict | None:
    """Core-format face dict (full-image pixels) of one confirmed face, or None when the landmarker finds no mesh."""
    if meshing not in MESHING_MODES:
        raise ValueError(f"FaceLab: unknown meshing mode {meshing!r}; choose one of {MESHING_MODES}")
    x0, y0, x1, y1 = found["box"]
    cx, cy, side = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) * MESH_FACTOR
    eye_r, eye_l = found["keypoints"][0], found["keypoints"][1]  # the subject's right eye is on the image's left
    angle = 0.0 if meshing == "plain" else math.atan2(float(eye_l[1] - eye_r[1]), float(eye_l[0] - eye_r[0]))
    crop = _Crop(frame, cx, cy, side, angle, MESH_OUT)
    face = _mesh_crop(crop.rgb)
    if face is None and angle != 0.0:  # keypoints of a hard face can mislead the rotation: try the plain crop
        crop = _Crop(frame, cx, cy, side, 0.0, MESH_OUT)
        face = _mesh_crop(crop.rgb)
    if face is None:
        return None
    lm3 = np.asarray(face["landmarks_3d"], dtype=np.float64)
    blend = dict(face["blendshapes"])
    extra = {}
    if meshing == "steady":
        mirrored = _mesh_crop(np.ascontiguousarray(crop.rgb[:, ::-1]))
        if mirrored is not None:
            lm3_m, blend_m = _mirror_back(mirrored, crop.out)
            med, worst = disagreement_pct(lm3, lm3_m)
            extra["mesh_disagreement_pct"] = {"median": round(med, 3), "max": round(worst, 3)}
            lm3 = (lm3 + lm3_m) / 2
            blend = {k: (v + blend_m.get(k, v)) / 2 for k, v in blend.items()}
        else:
            extra["mesh_disagreement_pct"] = None  # the mirrored crop gave no mesh: nothing to compare
    full = crop.to_image(lm3).astype(np.float32)
    return {
        "bbox_xyxy": bbox_from_landmarks(full[:, :2]),
        "landmarks_xy": np.ascontiguousarray(full[:, :2]),
        "landmarks_3d": full,
        "blendshapes": blend,
        "score": found["score"],
        "presence": 1.0,
        # Pose measured in the crop, turned into the image's frame; its translation stays relative to the crop.
        "transformation_matrix": crop.rotate_matrix(face["transformation_matrix"]),
        "detector_box_xyxy": np.asarray(found["box"], dtype=np.float32),
        "meshing": meshing,
        **extra,
    }


def detect_frame(frame, min_confidence: float, meshing: str = "steady") -> list[dict]:
    """Every face of one frame (detection._Frame), meshed; faces the landmarker cannot mesh are skipped (logged)."""
    faces = []
    for found in find_faces(frame, min_confidence):
        comfy_adapter.check_interrupt()
        face = mesh_face(frame, found, meshing)
        if face is not None:
            faces.append(face)
        else:
            box = ", ".join(f"{v:.0f}" for v in found["box"])
            log.info("FaceLab: a face found at (%s), score %.2f, could not be meshed; skipped", box, found["score"])
    return faces
