"""ComfyUI core's FACE_LANDMARKS / BOUNDING_BOX formats: build, read and validate them.

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
"""

from __future__ import annotations

from typing import Any

import numpy as np

N_LANDMARKS = 478
FACE_ORDERS = ("left_to_right", "largest_first", "top_to_bottom", "detection")


class FaceLandmarksError(ValueError):
    pass


def make_face_landmarks(frames: list[list[dict]], image_size: tuple[int, int], connection_sets: dict | None = None) -> dict:
    return {"frames": frames, "image_size": (int(image_size[0]), int(image_size[1])), "connection_sets": connection_sets or {}}


def validate(face_landmarks: Any) -> dict:
    """Check a FACE_LANDMARKS value (ours or core's); raise a clear error when it is not one."""
    if not isinstance(face_landmarks, dict) or "frames" not in face_landmarks:
        raise FaceLandmarksError(
            "FaceLab: expected FACE_LANDMARKS (a dict with 'frames', from FaceLab's or ComfyUI core's landmark node), "
            f"got {type(face_landmarks).__name__}"
        )
    for fi, faces in enumerate(face_landmarks["frames"]):
        for face in faces:
            lm = np.asarray(face.get("landmarks_xy"))
            if lm.ndim != 2 or lm.shape[1] != 2 or lm.shape[0] < 468:
                raise FaceLandmarksError(
                    f"FaceLab: face in frame {fi} has landmarks_xy of shape {lm.shape}; expected (478, 2) MediaPipe mesh points"
                )
    return face_landmarks


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


def face_center(face: dict) -> tuple[float, float]:
    b = np.asarray(face["bbox_xyxy"], dtype=np.float64)
    return float((b[0] + b[2]) / 2), float((b[1] + b[3]) / 2)


def face_size(face: dict) -> float:
    """A robust face scale in pixels: the larger side of the landmark box."""
    b = np.asarray(face["bbox_xyxy"], dtype=np.float64)
    return float(max(b[2] - b[0], b[3] - b[1]))


def sort_faces(faces: list[dict], order: str = "left_to_right") -> list[dict]:
    """Stable, documented face order: left_to_right (by box centre x), largest_first, top_to_bottom, detection."""
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


def select_faces(faces: list[dict], face_index: int) -> list[dict]:
    """face_index -1 = all faces, otherwise the one at that position (empty if there are fewer faces)."""
    if face_index < 0:
        return list(faces)
    return [faces[face_index]] if face_index < len(faces) else []


def chosen_faces(face_landmarks: dict, batch_index: int, face_index: int = -1) -> list[dict]:
    """Faces of batch image `batch_index` in the documented left-to-right order, then selected by face_index."""
    return select_faces(sort_faces(frame_faces(face_landmarks, batch_index), "left_to_right"), int(face_index))


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
            per.append({"x": x1, "y": y1, "width": x2 - x1, "height": y2 - y1, "label": label, "score": float(f.get("score", 1.0))})
        out.append(per)
    return out


def count_faces(face_landmarks: dict) -> int:
    return sum(len(f) for f in face_landmarks["frames"])
