"""MediaPipe Tasks FaceLandmarker: 478 mesh points + 52 blendshapes per face, in image pixels.

Single-pass detection on one RGB uint8 image. The model files come from model_files (shared
models/mediapipe folder, downloaded on first use). Loaded lazily and cached per process in a small LRU
(MAX_TASKS): a task per (max_faces, min_confidence) setting used to be kept forever (~28 MB each, measured
410 -> 1530 MB over 40 slider values); the least recently used one is now closed. The full-range detector is
one task per model file: its threshold is a fixed floor and min_confidence is applied to its scores after.
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
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import model_files
from ..base.tensors import to_rgb_uint8
from .face_landmarks import N_LANDMARKS, bbox_from_landmarks

log = logging.getLogger("FaceLab")

_lock = threading.Lock()
_cache: OrderedDict[tuple, object] = OrderedDict()
MAX_TASKS = 6  # landmarker/detector tasks kept open at once (least recently used closed first)
FULL_RANGE_FLOOR = 0.2  # the full-range task's own threshold; callers filter its scores by their min_confidence

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
        import mediapipe as mp  # type: ignore[import-not-found]
        from mediapipe.tasks.python import vision  # type: ignore[import-not-found]
        from mediapipe.tasks.python.core.base_options import BaseOptions  # type: ignore[import-not-found]
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
    sets["contours"] = frozenset().union(
        *(sets[p] for p in ("face_oval", "left_eye", "right_eye", "left_eyebrow", "right_eyebrow", "lips"))
    )
    sets["all"] = sets["contours"] | sets["irises"] | sets["nose"]
    return sets


def _cached_task(key: tuple, what: str, create, spec: model_files.ModelSpec = model_files.FACE_LANDMARKER):
    """The MediaPipe task cached under key, built once by create(vision, BaseOptions, model_path)."""
    evicted = []
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        _, vision, BaseOptions = _vision()
        path = model_files.ensure_model(spec)
        try:
            task = create(vision, BaseOptions, path)
        except Exception as exc:
            raise model_files.ModelFileError(
                f"FaceLab: MediaPipe could not load the {what} from {path} ({exc}). Delete the file and get it "
                f"again. {spec.how_to_get}"
            ) from exc
        log.info("FaceLab: loaded MediaPipe %s from %s", what, path)
        _cache[key] = task
        while len(_cache) > MAX_TASKS:
            evicted.append(_cache.popitem(last=False)[1])
    for old in evicted:  # ComfyUI runs one prompt at a time: an evicted task is not in use
        old.close()
    return task


def _landmarker(max_faces: int, min_confidence: float, slot: int = 0):
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

    key = (int(max_faces), round(float(min_confidence), 4)) + ((int(slot),) if slot else ())
    return _cached_task(key, "face landmarker", create)


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


def _full_range_detector(slot: int = 0):
    def create(vision, BaseOptions, path):
        opts = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_buffer=path.read_bytes()),
            running_mode=vision.RunningMode.IMAGE,
            min_detection_confidence=FULL_RANGE_FLOOR,
        )
        return vision.FaceDetector.create_from_options(opts)

    key = ("full_range",) + ((int(slot),) if slot else ())
    return _cached_task(key, "full-range face detector", create, model_files.FACE_DETECTOR_FULL_RANGE)


def detect_full_range(rgb: np.ndarray, min_confidence: float = FULL_RANGE_FLOOR, slot: int = 0):
    """Full-range BlazeFace on one RGB uint8 image: boxes (N, 4) xyxy, scores (N,), keypoints (N, 6, 2), best first.

    Pixels of `rgb`. Keypoints: the subject's right eye, left eye, nose tip, mouth centre, right and left ear tragion.
    Scores below max(min_confidence, FULL_RANGE_FLOOR) are dropped. `slot` > 0: another instance of the task (for a
    second thread).
    """
    mp, _, _ = _vision()
    rgb = to_rgb_uint8(rgb)
    h, w = rgb.shape[:2]
    result = _full_range_detector(slot).detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
    boxes, scores, kps = [], [], []
    for d in result.detections:
        score = d.categories[0].score if d.categories else 0.0
        if score < min_confidence or len(d.keypoints) < 6:
            continue
        b = d.bounding_box
        boxes.append((b.origin_x, b.origin_y, b.origin_x + b.width, b.origin_y + b.height))
        scores.append(score)
        kps.append([(k.x * w, k.y * h) for k in d.keypoints[:6]])
    order = np.argsort(-np.asarray(scores, dtype=np.float32), kind="stable")
    return (
        np.asarray(boxes, dtype=np.float32).reshape(-1, 4)[order],
        np.asarray(scores, dtype=np.float32).reshape(-1)[order],
        np.asarray(kps, dtype=np.float32).reshape(-1, 6, 2)[order],
    )


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


def detect_faces(rgb: np.ndarray, max_faces: int = 8, min_confidence: float = 0.5, slot: int = 0) -> list[dict]:
    """One MediaPipe pass over an RGB uint8 image -> list of core-format face dicts (pixels of `rgb`).

    `slot` > 0 uses another instance of the same task, so that two threads can each run one at a time.
    """
    mp, _, _ = _vision()
    rgb = to_rgb_uint8(rgb)
    h, w = rgb.shape[:2]
    result = _landmarker(max_faces, min_confidence, slot).detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
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


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def worker() -> ThreadPoolExecutor:
    """One worker thread (made on first use) that runs MediaPipe passes on task instances of its own (slot 1).

    A MediaPipe pass runs outside the GIL, so two passes overlap on a multi-core CPU: measured on the 2-core
    machine at load ~4.8, a steady face's two meshes took 26-39 ms of wall time instead of 37-51 ms (the CPU time
    is the same). One worker: ComfyUI runs one prompt at a time, and more threads would only contend.
    """
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="FaceLab-mediapipe")
    return _pool
