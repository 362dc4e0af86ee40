"""ComfyUI core's FACE_LANDMARKS / BOUNDING_BOX formats: build, validate, select faces, fit to an image.

FACE_LANDMARKS = {"frames": [[face, ...] per batch image], "image_size": (H, W),
                  "connection_sets": {name: frozenset[(a, b)]}}
face = {"bbox_xyxy": float32 (4,) px, "landmarks_xy": float32 (478, 2) px,
        "landmarks_3d": float32 (478, 3), "blendshapes": {52 ARKit names: 0..1},
        "score": float, "presence": float, "transformation_matrix": (4, 4) array or None}
BOUNDING_BOX (per image) = [{"x", "y", "width", "height", "label", "score"}, ...]

Core's MediaPipeFaceLandmarker emits exactly this, so every FaceLab node that takes landmarks
accepts its output. FaceLab only relies on bbox_xyxy and landmarks_xy; blendshapes are used
when present. landmarks_3d units differ between producers (core: 192-px canonical crop,
FaceLab: image pixels with z scaled like x) and are only used for relative depth.

The rules every node follows (see docs/landmarks.md):
- one boundary check: `fit_landmarks_to_image` validates the whole structure (`validate`), checks the frame
  count against the batch, rescales landmarks found on a resized copy and refuses another aspect ratio;
- one face order: faces are taken in the order the value carries (the order Face Landmarks or Select Faces
  chose); `face_index` indexes that order (-1 = every face) through `chosen_faces` / `indexed_faces`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

N_LANDMARKS = 478
MIN_LANDMARKS = 468  # the mesh without the 10 iris points
FACE_ORDERS = ("left_to_right", "largest_first", "top_to_bottom", "detection")
ASPECT_TOLERANCE = 0.01  # relative: rounding when a photo is resized, not a crop
PRODUCER_HINT = (
    "check the node that made them (Face Landmarks, Select Faces, ComfyUI's MediaPipe Face Landmarker or a custom "
    "node that edits landmarks): it produced a malformed value"
)


class FaceLandmarksError(ValueError):
    pass


def make_face_landmarks(
    frames: list[list[dict]], image_size: tuple[int, int], connection_sets: dict | None = None
) -> dict:
    return {
        "frames": frames,
        "image_size": (int(image_size[0]), int(image_size[1])),
        "connection_sets": connection_sets or {},
    }


def _fail(node: str, what: str) -> FaceLandmarksError:
    who = f"FaceLab {node}" if node else "FaceLab"
    return FaceLandmarksError(f"{who}: face_landmarks {what}; {PRODUCER_HINT}")


def _array(value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor from a custom node, possibly on the GPU
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float32)


def _points(value, where: str, node: str) -> np.ndarray:
    try:
        lm = _array(value)
    except (TypeError, ValueError):
        raise _fail(node, f"{where}: landmarks_xy is a {type(value).__name__}, not an array of points") from None
    if lm.ndim != 2 or lm.shape[1] != 2 or lm.shape[0] < MIN_LANDMARKS:
        raise _fail(
            node, f"{where}: landmarks_xy has shape {lm.shape}; expected ({N_LANDMARKS}, 2) MediaPipe mesh points"
        )
    if not np.isfinite(lm).all():
        raise _fail(node, f"{where}: landmarks_xy holds NaN or infinite coordinates")
    if np.ptp(lm[:, 0]) <= 0 or np.ptp(lm[:, 1]) <= 0:
        raise _fail(node, f"{where}: every landmark lies on one line or point (a face without area)")
    return lm


def _box(value, lm: np.ndarray, where: str, node: str) -> np.ndarray:
    if value is None:  # derived: the extent of the mesh (what FaceLab's own detector reports)
        return bbox_from_landmarks(lm)
    try:
        box = _array(value).reshape(-1)
    except (TypeError, ValueError):
        raise _fail(node, f"{where}: bbox_xyxy is a {type(value).__name__}, not 4 numbers") from None
    if box.shape != (4,) or not np.isfinite(box).all():
        raise _fail(node, f"{where}: bbox_xyxy must be 4 finite numbers (x1, y1, x2, y2), got {box.tolist()}")
    if box[2] <= box[0] or box[3] <= box[1]:
        raise _fail(node, f"{where}: bbox_xyxy {box.tolist()} has no area (x2 <= x1 or y2 <= y1)")
    return box


def _number(value, where: str, name: str, node: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise _fail(node, f"{where}: {name} is {value!r}, not a number") from None
    if not math.isfinite(v):
        raise _fail(node, f"{where}: {name} is {v}")
    return v


def _face(face, where: str, node: str) -> dict:
    if not isinstance(face, Mapping):
        raise _fail(node, f"{where} is a {type(face).__name__}, expected a face dict with landmarks_xy")
    if face.get("landmarks_xy") is None:
        raise _fail(node, f"{where} has no landmarks_xy")
    lm = _points(face["landmarks_xy"], where, node)
    out = dict(face)
    out["landmarks_xy"] = lm
    out["bbox_xyxy"] = _box(face.get("bbox_xyxy"), lm, where, node)
    for key in ("score", "presence"):
        if face.get(key) is not None:
            out[key] = _number(face[key], where, key, node)
    blend = face.get("blendshapes")
    if blend is not None:
        if not isinstance(blend, Mapping):
            raise _fail(node, f"{where}: blendshapes is a {type(blend).__name__}, expected {{name: 0..1}}")
        out["blendshapes"] = {str(k): _number(v, where, f"blendshape {k!r}", node) for k, v in blend.items()}
    return out


def _image_size(value, node: str) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        h, w = (float(v) for v in value)
    except (TypeError, ValueError):
        raise _fail(node, f"image_size is {value!r}; expected (height, width)") from None
    if not (math.isfinite(h) and math.isfinite(w)) or h < 0 or w < 0:
        raise _fail(node, f"image_size is {value!r}; expected a positive (height, width)")
    return int(h), int(w)


def validate(face_landmarks: Any, node: str = "") -> dict:
    """The whole FACE_LANDMARKS value checked once (ours or core's): a normalised copy, or one clear error.

    Every face gets float32 landmarks_xy (finite, >= 468 points with some area) and a bbox_xyxy with area
    (derived from the landmarks when missing); frames must be lists of face dicts; image_size (H, W) when present.
    """
    if not isinstance(face_landmarks, Mapping) or "frames" not in face_landmarks:
        raise FaceLandmarksError(
            f"FaceLab{' ' + node if node else ''}: expected FACE_LANDMARKS (a dict with 'frames', from FaceLab's or "
            f"ComfyUI core's landmark node), got {type(face_landmarks).__name__}"
        )
    frames = face_landmarks["frames"]
    if isinstance(frames, (str, bytes, Mapping)) or not hasattr(frames, "__iter__"):
        raise _fail(node, f"frames is a {type(frames).__name__}, expected a list with one list of faces per image")
    checked = []
    for b, faces in enumerate(frames):
        if isinstance(faces, (str, bytes, Mapping)) or not hasattr(faces, "__iter__"):
            raise _fail(node, f"image {b} is a {type(faces).__name__}, expected a list of faces")
        checked.append([_face(f, f"image {b} face {k}", node) for k, f in enumerate(faces)])
    out = dict(face_landmarks)
    out["frames"] = checked
    size = _image_size(face_landmarks.get("image_size"), node)
    if size is not None:
        out["image_size"] = size
    return out


def fit_landmarks_to_image(face_landmarks: Any, image_hw, batch_size: int | None = None, node: str = "") -> dict:
    """THE check that landmarks belong to an image batch of size (H, W), used by every node that takes them.

    Validates the structure, then: the frame count must be 0, 1 (used for every image) or batch_size; landmarks
    found on a resized copy are rescaled to this size (a missing image_size means this size); another aspect
    ratio is another framing (a crop) that scaling cannot fix, and raises; a face with no pixel inside the
    image (a box entirely outside it) raises too, as no detector produces one.
    """
    lms = validate(face_landmarks, node)
    who = f"FaceLab {node}" if node else "FaceLab"
    h, w = int(image_hw[0]), int(image_hw[1])
    n = len(lms["frames"])
    if batch_size is not None and n not in (0, 1, int(batch_size)):
        raise FaceLandmarksError(
            f"{who}: the landmarks have {n} frames but the image batch has {batch_size} images; detect landmarks on "
            "this image batch (or a batch of the same length)"
        )
    lh, lw = lms.get("image_size") or (h, w)
    if not count_faces(lms):
        return {**lms, "image_size": (h, w)}
    if (lh, lw) != (h, w):
        if lh <= 0 or lw <= 0 or abs(lw / lh - w / h) > ASPECT_TOLERANCE * (w / h):
            raise FaceLandmarksError(
                f"{who}: the landmarks were detected on a {lw}x{lh} image but this image is {w}x{h} (another aspect "
                "ratio); detect the landmarks on this image (a resized copy is fine, a crop is not)"
            )
        sx, sy = w / lw, h / lh
        scale2, scale4 = np.float32([sx, sy]), np.float32([sx, sy, sx, sy])
        lms["frames"] = [
            [dict(f, landmarks_xy=f["landmarks_xy"] * scale2, bbox_xyxy=f["bbox_xyxy"] * scale4) for f in faces]
            for faces in lms["frames"]
        ]
    for b, faces in enumerate(lms["frames"]):
        for k, f in enumerate(faces):
            for what, box in (("box", f["bbox_xyxy"]), ("landmarks", bbox_from_landmarks(f["landmarks_xy"]))):
                x1, y1, x2, y2 = (float(v) for v in box)
                if x2 <= 0 or y2 <= 0 or x1 >= w or y1 >= h:
                    where = [round(v) for v in (x1, y1, x2, y2)]
                    raise _fail(node, f"image {b} face {k} lies entirely outside the {w}x{h} image ({what} {where})")
    return {**lms, "image_size": (h, w)}


def frame_faces(face_landmarks: dict, batch_index: int) -> list[dict]:
    """Faces of batch image `batch_index`. A single-frame landmarks value applies to every image."""
    frames = face_landmarks["frames"]
    if not frames:
        return []
    if len(frames) == 1:
        return frames[0]
    if batch_index >= len(frames):
        raise FaceLandmarksError(
            f"FaceLab: landmarks have {len(frames)} frames but image batch index {batch_index} was asked; "
            "detect landmarks on the same image batch"
        )
    return frames[batch_index]


def check_face_index(face_index, allow_all: bool = True, name: str = "face_index") -> int:
    """face_index as an int: -1 (every face, when allowed) or 0, 1, ...; anything else is a clear error."""
    try:
        k = int(face_index)
    except (TypeError, ValueError, OverflowError):
        raise FaceLandmarksError(f"FaceLab: {name} must be a whole number, got {face_index!r}") from None
    low = -1 if allow_all else 0
    if k < low:
        every = " or -1 for every face" if allow_all else ""
        raise FaceLandmarksError(f"FaceLab: {name} is {k}; use 0 for the first face, 1 for the second, ...{every}")
    return k


def select_indexed(faces: list[dict], face_index: int) -> list[tuple[int, dict]]:
    """(index, face) pairs: face_index -1 = every face, otherwise the one at that position (none if too few)."""
    k = check_face_index(face_index)
    if k < 0:
        return list(enumerate(faces))
    return [(k, faces[k])] if k < len(faces) else []


def select_faces(faces: list[dict], face_index: int) -> list[dict]:
    """face_index -1 = all faces, otherwise the one at that position (empty if there are fewer faces)."""
    return [f for _, f in select_indexed(faces, face_index)]


def indexed_faces(face_landmarks: dict, batch_index: int, face_index: int = -1) -> list[tuple[int, dict]]:
    """(index, face) pairs of batch image `batch_index`, in the value's own order, selected by face_index."""
    return select_indexed(frame_faces(face_landmarks, batch_index), face_index)


def chosen_faces(face_landmarks: dict, batch_index: int, face_index: int = -1) -> list[dict]:
    """Faces of batch image `batch_index` in the value's own order, selected by face_index (-1 = all)."""
    return [f for _, f in indexed_faces(face_landmarks, batch_index, face_index)]


def face_center(face: dict) -> tuple[float, float]:
    b = np.asarray(face["bbox_xyxy"], dtype=np.float64)
    return float((b[0] + b[2]) / 2), float((b[1] + b[3]) / 2)


def face_size(face: dict) -> float:
    """A robust face scale in pixels: the larger side of the landmark box."""
    b = np.asarray(face["bbox_xyxy"], dtype=np.float64)
    return float(max(b[2] - b[0], b[3] - b[1]))


def sort_faces(faces: list[dict], order: str = "left_to_right") -> list[dict]:
    """Face order of Face Landmarks / Select Faces: left_to_right (by box centre x), largest_first, top_to_bottom,
    detection (as given). Only those two nodes order faces; every other node keeps the order it receives."""
    if order == "detection":
        return list(faces)
    if order == "left_to_right":
        key = face_center  # (x, y): ties broken by y
    elif order == "top_to_bottom":
        key = lambda f: face_center(f)[::-1]  # noqa: E731
    elif order == "largest_first":
        key = lambda f: (-face_size(f), face_center(f)[0])  # noqa: E731
    else:
        raise FaceLandmarksError(f"FaceLab: unknown face order {order!r}; choose one of {FACE_ORDERS}")
    return sorted(faces, key=key)


def bbox_from_landmarks(landmarks_xy: np.ndarray) -> np.ndarray:
    lm = np.asarray(landmarks_xy, dtype=np.float32)
    return np.array([lm[:, 0].min(), lm[:, 1].min(), lm[:, 0].max(), lm[:, 1].max()], dtype=np.float32)


def box_iou(a, b) -> float:
    """Intersection over union of two xyxy boxes (0 when they do not overlap or are degenerate)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def bounding_boxes(face_landmarks: dict, label: str = "face") -> list[list[dict]]:
    """Core BOUNDING_BOX lists (one list per frame) from FACE_LANDMARKS."""
    out = []
    for faces in face_landmarks["frames"]:
        per = []
        for f in faces:
            x1, y1, x2, y2 = (float(v) for v in f["bbox_xyxy"])
            per.append(
                {
                    "x": x1,
                    "y": y1,
                    "width": x2 - x1,
                    "height": y2 - y1,
                    "label": label,
                    "score": float(f.get("score", 1.0)),
                }
            )
        out.append(per)
    return out


def count_faces(face_landmarks: dict) -> int:
    return sum(len(f) for f in face_landmarks["frames"])
