"""Mesh one found face on its own crop (the second half of the full_range detection mode, full_range.py).

Mesh (per face, on its own crop of MESH_FACTOR x the box, MESH_OUT px):
  plain    the crop is axis-aligned.
  upright  the crop is rotated so the eyes are level (the landmarker's mesh is most accurate on upright faces);
           the landmarks are mapped back through the same rotation.
  steady   upright, plus the mirrored crop; the mirrored mesh is flipped back, its points renumbered through the
           mesh's left/right correspondence (zone_atlas.MIRROR, all 478 points) and averaged with the first.
           Each face records how far the two meshes disagreed ("mesh_disagreement_pct": median and max point
           distance in % of the eye distance), so a bad mesh can be seen. The mirrored crop is meshed on the
           worker thread (landmarker.worker) while the main thread meshes the crop.

Coordinates: pixel i's centre is coordinate i (MediaPipe's output convention, see detection.py); PIL's affine
transform works in pixel-edge coordinates, so points are shifted by 0.5 on the way in and out.
"""

from __future__ import annotations

import math
from concurrent.futures import Future

import numpy as np
from PIL import Image

from . import landmarker
from .face_landmarks import bbox_from_landmarks
from .region_resize import read_rgb
from .zone_atlas import MIRROR

MESHING_MODES = ("steady", "upright", "plain")
MESH_FACTOR = 2.2  # mesh crop side / detector box side: the landmarker's own detector sees a large, whole face
MESH_OUT = 320
MESH_CONFIDENCE = 0.3  # the landmarker's detector on a crop that holds a confirmed face
MESH_MAX_FACES = 3  # a crop may hold neighbours; the one at its centre is kept
_MIRROR = np.asarray(MIRROR, dtype=np.int64)
_EYE_OUTER = (33, 263)


def _warp(region: np.ndarray, data: tuple, out: int, cubic: bool) -> np.ndarray:
    """out x out RGB of `region` through PIL's AFFINE `data` (output pixel edge -> region pixel edge), black outside.

    OpenCV (installed with mediapipe) when it imports: 0.3 ms where PIL's transform takes 4-7 ms (measured, 320 px
    bilinear); the two differ by rounding only (0.5 levels mean).
    """
    try:
        import cv2  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - mediapipe depends on opencv-contrib-python
        resample = Image.BICUBIC if cubic else Image.BILINEAR
        return np.asarray(Image.fromarray(region).transform((out, out), Image.AFFINE, data, resample=resample))
    a = np.asarray(data, dtype=np.float64).reshape(2, 3)
    a[:, 2] += a[:, :2].sum(axis=1) * 0.5 - 0.5  # pixel edges -> OpenCV's pixel centres
    flags = (cv2.INTER_CUBIC if cubic else cv2.INTER_LINEAR) | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(np.ascontiguousarray(region), a, (out, out), flags=flags, borderMode=cv2.BORDER_CONSTANT)


class _Crop:
    """A square crop of the frame, rotated by `angle` (radians, y down) about (cx, cy), `out` px for `side` px."""

    def __init__(self, frame, cx: float, cy: float, side: float, angle: float, out: int):
        self.out, self.c, self.s = out, math.cos(angle), math.sin(angle)
        half = side / 2 * (abs(self.c) + abs(self.s))  # the rotated square's axis-aligned half-extent
        box = (max(0, math.floor(cx - half)), max(0, math.floor(cy - half)),
               min(frame.W, math.ceil(cx + half)), min(frame.H, math.ceil(cy + half)))  # fmt: skip
        bw, bh = box[2] - box[0], box[3] - box[1]
        k = out / side
        # One resampling for a face smaller than the crop: the region at its own size, scaled up (bicubic) and
        # rotated by one affine transform. A larger face is shrunk first (uint8, PIL: cheaper than torch's
        # float resize, 7-14 ms per crop measured) to about the crop's scale, then only rotated.
        rw, rh = (bw, bh) if k >= 1 else (max(1, round(bw * k)), max(1, round(bh * k)))
        region = frame.region(box, bw, bh) if k >= 1 else read_rgb(frame, box, rw, rh)
        self.x0, self.y0 = box[0], box[1]
        self.sx, self.sy = bw / rw, bh / rh  # image px per region px
        self.scale = side / out  # image px per crop px
        mx, my = self.scale / self.sx, self.scale / self.sy  # region px per crop px
        # Centre in region edge coordinates; crop edge q -> region edge r = M Rot(q - out/2) + rc, M = diag(mx, my).
        self.m = (mx, my)
        self.rc = ((cx + 0.5 - box[0]) / self.sx, (cy + 0.5 - box[1]) / self.sy)
        c, s, h = self.c, self.s, out / 2
        data = (mx * c, -mx * s, self.rc[0] - mx * (c * h - s * h), my * s, my * c, self.rc[1] - my * (s * h + c * h))
        self.rgb = _warp(region, data, out, cubic=k > 1)

    def to_image(self, lm3: np.ndarray) -> np.ndarray:
        """Crop landmarks (pixel-centre coordinates, z in crop px) -> full-image pixels."""
        q = lm3[:, :2].astype(np.float64) + 0.5 - self.out / 2
        rx = self.m[0] * (self.c * q[:, 0] - self.s * q[:, 1]) + self.rc[0]
        ry = self.m[1] * (self.s * q[:, 0] + self.c * q[:, 1]) + self.rc[1]
        out = np.empty_like(lm3, dtype=np.float64)
        out[:, 0] = self.x0 + rx * self.sx - 0.5
        out[:, 1] = self.y0 + ry * self.sy - 0.5
        out[:, 2] = lm3[:, 2] * self.scale
        return out

    def rotate_matrix(self, m):
        """MediaPipe's face pose measured in the crop -> in the image (camera axes x right, y up: roll is -angle)."""
        if m is None:
            return None
        c, s = self.c, -self.s
        rz = np.array([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=np.float64)
        return (rz @ np.asarray(m, dtype=np.float64)).astype(np.float32)


def _mesh_crop(rgb: np.ndarray, slot: int = 0) -> dict | None:
    """The landmarker's face at the crop centre (crop pixels), or None. `slot`: which landmarker instance."""
    faces = landmarker.detect_faces(rgb, max_faces=MESH_MAX_FACES, min_confidence=MESH_CONFIDENCE, slot=slot)
    c = (rgb.shape[1] - 1) / 2
    hits = [
        f for f in faces if f["bbox_xyxy"][0] <= c <= f["bbox_xyxy"][2] and f["bbox_xyxy"][1] <= c <= f["bbox_xyxy"][3]
    ]
    return min(hits, key=lambda f: float(np.hypot(*(f["landmarks_xy"][1] - c))), default=None)


def _mirror_mesh(crop: _Crop) -> Future:
    """The mesh of the mirrored crop, computed in the worker thread by a second landmarker instance."""
    return landmarker.worker().submit(_mesh_crop, np.ascontiguousarray(crop.rgb[:, ::-1]), 1)


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
    pending = _mirror_mesh(crop) if meshing == "steady" else None
    face = _mesh_crop(crop.rgb)
    if face is None and angle != 0.0:  # keypoints of a hard face can mislead the rotation: try the plain crop
        crop = _Crop(frame, cx, cy, side, 0.0, MESH_OUT)
        if pending is not None:
            pending.result()  # the mirror of the rotated crop: not needed any more
            pending = _mirror_mesh(crop)
        face = _mesh_crop(crop.rgb)
    mirrored = pending.result() if pending is not None else None  # always waited for: errors surface here
    if face is None:
        return None
    lm3 = np.asarray(face["landmarks_3d"], dtype=np.float64)
    blend = dict(face["blendshapes"])
    extra = {}
    if meshing == "steady":
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
