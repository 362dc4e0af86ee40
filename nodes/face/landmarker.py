"""MediaPipe Tasks FaceLandmarker: 478 mesh points + 52 blendshapes per face, in image pixels.

Single-pass detection on one RGB uint8 image. The model file comes from model_files (shared
models/mediapipe folder, downloaded on first use). Loaded lazily, cached per process.
Higher-level modes (resizing huge images, small-face tiling, ordering) live in detection.py.

detect_boxes() runs only the BlazeFace detector that ships inside the same face_landmarker.task
bundle: it is several times cheaper than the landmarker and, unlike the Tasks FaceLandmarker,
reports a confidence score per face.
"""

from __future__ import annotations

import atexit
import logging
import threading
import zipfile

import numpy as np

from .. import model_files
from ..base.tensors import to_rgb_uint8
from .face_landmarks import N_LANDMARKS, bbox_from_landmarks

log = logging.getLogger("FaceLab")

_lock = threading.Lock()
_cache: dict[tuple, object] = {}

# Core's connection_sets names -> MediaPipe Tasks FaceLandmarksConnections attributes.
_CONNECTION_ATTRS = {
    "face_oval": "FACE_LANDMARKS_FACE_OVAL",
    "lips": "FACE_LANDMARKS_LIPS",
    "left_eye": "FACE_LANDMARKS_LEFT_EYE",
    "right_eye": "FACE_LANDMARKS_RIGHT_EYE",
    "left_eyebrow": "FACE_LANDMARKS_LEFT_EYEBROW",
    "right_eyebrow": "FACE_LANDMARKS_RIGHT_EYEBROW",
    "left_iris": "FACE_LANDMARKS_LEFT_IRIS",
    "right_iris": "FACE_LANDMARKS_RIGHT_IRIS",
    "nose": "FACE_LANDMARKS_NOSE",
    "tesselation": "FACE_LANDMARKS_TESSELATION",
}


@atexit.register
def close_models() -> None:
    """Close the cached MediaPipe tasks (MediaPipe's own finalisers fail noisily at interpreter exit)."""
    with _lock:
        tasks = list(_cache.values())
        _cache.clear()
    for task in tasks:
        try:
            task.close()
        except Exception:  # pragma: no cover - best effort at shutdown
            pass


class MediaPipeMissing(ImportError):
    pass


def _vision():
    try:
        from mediapipe.tasks.python import vision  # type: ignore[import-not-found]
        from mediapipe.tasks.python.core.base_options import BaseOptions  # type: ignore[import-not-found]
        import mediapipe as mp  # type: ignore[import-not-found]
    except ImportError as exc:  # pragma: no cover - exercised only without mediapipe
        raise MediaPipeMissing(
            "FaceLab: the 'mediapipe' package is not installed in ComfyUI's Python. "
            "Run: <ComfyUI python> -m pip install -r custom_nodes/ComfyUI-FaceLab/requirements.txt"
        ) from exc
    return mp, vision, BaseOptions


def connection_sets() -> dict[str, frozenset]:
    """FACEMESH connection sets in core's layout (frozensets of (a, b) index pairs)."""
    _, vision, _ = _vision()
    C = vision.FaceLandmarksConnections
    sets = {name: frozenset((c.start, c.end) for c in getattr(C, attr)) for name, attr in _CONNECTION_ATTRS.items()}
    sets["irises"] = sets["left_iris"] | sets["right_iris"]
    sets["contours"] = frozenset().union(*(sets[p] for p in ("face_oval", "left_eye", "right_eye", "left_eyebrow", "right_eyebrow", "lips")))
    sets["all"] = sets["contours"] | sets["irises"] | sets["nose"]
    return sets


def _cached_task(key: tuple, what: str, create):
    """The MediaPipe task cached under key, built once by create(vision, BaseOptions, model_path)."""
    with _lock:
        if key not in _cache:
            _, vision, BaseOptions = _vision()
            path = model_files.ensure_model(model_files.FACE_LANDMARKER)
            try:
                _cache[key] = create(vision, BaseOptions, path)
            except Exception as exc:
                raise model_files.ModelFileError(
                    f"FaceLab: MediaPipe could not load the {what} from {path} ({exc}). Delete the file and get it "
                    f"again. {model_files.FACE_LANDMARKER.how_to_get}"
                ) from exc
            log.info("FaceLab: loaded MediaPipe %s from %s", what, path)
        return _cache[key]


def _landmarker(max_faces: int, min_confidence: float):
    def create(vision, BaseOptions, path):
        opts = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=path.read_bytes()),
            running_mode=vision.RunningMode.IMAGE,
            num_faces=int(max_faces),
            min_face_detection_confidence=float(min_confidence),
            min_face_presence_confidence=float(min_confidence),
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        return vision.FaceLandmarker.create_from_options(opts)

    return _cached_task((int(max_faces), round(float(min_confidence), 4)), "face landmarker", create)


def _box_detector(min_confidence: float):
    def create(vision, BaseOptions, path):
        with zipfile.ZipFile(path) as bundle:  # the detector the landmarker bundle ships
            detector_bytes = bundle.read("face_detector.tflite")
        opts = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_buffer=detector_bytes),
            running_mode=vision.RunningMode.IMAGE,
            min_detection_confidence=float(min_confidence),
        )
        return vision.FaceDetector.create_from_options(opts)

    return _cached_task(("boxes", round(float(min_confidence), 4)), "face detector", create)


def detect_boxes(rgb: np.ndarray, min_confidence: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """BlazeFace boxes only: (N, 4) float32 xyxy in pixels of `rgb` and (N,) float32 scores, best first.

    The boxes are tighter than a mesh's landmark box (brows to chin, no forehead).
    """
    mp, _, _ = _vision()
    rgb = to_rgb_uint8(rgb)
    result = _box_detector(min_confidence).detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
    boxes, scores = [], []
    for d in result.detections:
        b = d.bounding_box
        boxes.append((b.origin_x, b.origin_y, b.origin_x + b.width, b.origin_y + b.height))
        scores.append(d.categories[0].score if d.categories else 0.0)
    order = np.argsort(-np.asarray(scores, dtype=np.float32), kind="stable")
    return (
        np.asarray(boxes, dtype=np.float32).reshape(-1, 4)[order],
        np.asarray(scores, dtype=np.float32).reshape(-1)[order],
    )


def detect_faces(rgb: np.ndarray, max_faces: int = 8, min_confidence: float = 0.5) -> list[dict]:
    """One MediaPipe pass over an RGB uint8 image -> list of core-format face dicts (pixels of `rgb`)."""
    mp, _, _ = _vision()
    rgb = to_rgb_uint8(rgb)
    h, w = rgb.shape[:2]
    result = _landmarker(max_faces, min_confidence).detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
    faces = []
    for i, pts in enumerate(result.face_landmarks):
        lm3 = np.array([[p.x * w, p.y * h, p.z * w] for p in pts], dtype=np.float32)
        if lm3.shape[0] < N_LANDMARKS:
            continue
        blend = {}
        if result.face_blendshapes and i < len(result.face_blendshapes):
            blend = {c.category_name: float(c.score) for c in result.face_blendshapes[i]}
        matrix = None
        if result.facial_transformation_matrixes and i < len(result.facial_transformation_matrixes):
            matrix = np.asarray(result.facial_transformation_matrixes[i], dtype=np.float32).reshape(4, 4)
        faces.append(
            {
                "bbox_xyxy": bbox_from_landmarks(lm3[:, :2]),
                "landmarks_xy": np.ascontiguousarray(lm3[:, :2]),
                "landmarks_3d": lm3,
                "blendshapes": blend,
                # The Tasks API does not expose per-face scores; faces it returns passed min_confidence.
                "score": 1.0,
                "presence": 1.0,
                "transformation_matrix": matrix,
            }
        )
    return faces
