"""Load an identity backend and turn IMAGE batches into FACELAB_IDENTITY values.

FACELAB_IDENTITY = {"backend": "arcface" | "dlib", "model": str, "dim": int, "detector": str,
                    "image_size": (H, W), "frames": [[face, ...] per batch image]}
face = {"embedding": float32 (dim,) unit vector, "raw": float32 (dim,) backend output,
        "box": [x1, y1, x2, y2] pixels, "face_index": position in the image's face list,
        "backend": str, "model": str}
ArcFace is compared by the cosine of `embedding`; dlib by the euclidean distance between `raw`
descriptors (dlib's 0.6 threshold is defined on those). Faces come from a FACE_LANDMARKS input in its
order (face_index counts in that order, as in every node), or are detected here (ArcFace: MediaPipe mesh; dlib: its
HOG detector), left to right.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .. import comfy_adapter
from ..base.tensors import to_rgb_uint8
from ..face import face_landmarks as fl
from .arcface_onnx import ArcFaceEmbedder
from .dlib_backend import DlibEmbedder
from .model_loading import find_recognition_model, open_recognition_file, resolve_providers

log = logging.getLogger("FaceLab")

BACKENDS = ("arcface", "dlib")
DETECTORS = {"arcface": "mediapipe", "dlib": "dlib_hog"}


def load_identity_model(
    backend: str = "arcface", pack: str = "antelopev2", provider: str = "auto", onnx_path: str = ""
):
    """An embedder (ArcFaceEmbedder or DlibEmbedder). The heavy parts (ONNX sessions, dlib models) are cached
    by their modules, so calling this again is cheap and still notices a model file that was replaced."""
    if backend == "dlib":
        return DlibEmbedder()
    if backend != "arcface":
        raise ValueError(f"FaceLab: unknown identity backend {backend!r}; choose one of {BACKENDS}")
    providers = resolve_providers(provider)
    if onnx_path.strip():
        path = Path(onnx_path.strip()).expanduser()
        return ArcFaceEmbedder(open_recognition_file(path, providers), path, path.name, providers)
    path, session = find_recognition_model(pack, providers)
    return ArcFaceEmbedder(session, path, f"{pack}/{path.name}", providers)


def unit(vectors: np.ndarray) -> np.ndarray:
    v = np.asarray(vectors, dtype=np.float32)
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def check_model(model) -> None:
    """An identity backend from the Identity Model Loader, or a clear error (a wrong value wired or hand-written)."""
    if not (
        isinstance(model, (ArcFaceEmbedder, DlibEmbedder))
        or all(hasattr(model, a) for a in ("backend", "name", "dim", "detect", "embed"))
    ):
        raise ValueError(
            f"FaceLab: identity_model must come from the Identity Model Loader, got {type(model).__name__}"
        )
    if getattr(model, "backend", None) not in BACKENDS:
        raise ValueError(
            f"FaceLab: identity_model has backend {getattr(model, 'backend', None)!r}; expected one of {BACKENDS}"
        )


def faces_for_image(model, rgb: np.ndarray, face_landmarks: dict | None, batch_index: int) -> list[dict]:
    """Faces of one image: from the (fitted) landmarks input when connected, else detected by the backend."""
    if face_landmarks is None:
        return model.detect(rgb)
    return fl.frame_faces(face_landmarks, batch_index)


def embed_images(model, images, face_landmarks: dict | None = None, face_index: int = -1) -> dict:
    """FACELAB_IDENTITY of an IMAGE batch [B,H,W,C] (C = 1, 3 or 4). face_index -1 = every face."""
    if getattr(images, "ndim", 0) != 4:
        raise ValueError(f"FaceLab: expected an IMAGE batch [B,H,W,C], got shape {tuple(getattr(images, 'shape', ()))}")
    check_model(model)
    face_index = fl.check_face_index(face_index)
    if face_landmarks is not None:  # one rule for every node: validated, rescaled from a resized copy, on the image
        hw = (int(images.shape[1]), int(images.shape[2]))
        face_landmarks = fl.fit_landmarks_to_image(face_landmarks, hw, int(images.shape[0]), "Identity Embedding")
    frames: list[list[dict]] = []
    for b in comfy_adapter.iterate_with_progress(range(images.shape[0])):
        rgb = to_rgb_uint8(images[b])
        faces = fl.select_faces(faces_for_image(model, rgb, face_landmarks, b), face_index)
        raw = model.embed(rgb, faces)
        frames.append(
            [
                {
                    "embedding": unit(raw[i]),
                    "raw": raw[i],
                    "box": [float(v) for v in np.asarray(face["bbox_xyxy"]).reshape(4)],
                    "face_index": i if face_index < 0 else face_index,
                    "backend": model.backend,
                    "model": model.name,
                }
                for i, face in enumerate(faces)
            ]
        )
        if not faces:
            log.info("FaceLab: no face found in image %d for identity embedding", b)
    return {
        "backend": model.backend,
        "model": model.name,
        "dim": model.dim,
        "detector": "landmarks input" if face_landmarks is not None else DETECTORS[model.backend],
        "image_size": (int(images.shape[1]), int(images.shape[2])),
        "frames": frames,
    }


def validate_identity(value) -> dict:
    if not isinstance(value, dict) or "frames" not in value or "backend" not in value:
        raise ValueError(
            f"FaceLab: expected a FACELAB_IDENTITY value (from the Identity Embedding node), got {type(value).__name__}"
        )
    return value


def summary(identity: dict) -> dict:
    """JSON-ready description of an identity value (no vectors)."""
    return {
        "backend": identity["backend"],
        "model": identity["model"],
        "detector": identity.get("detector"),
        "images": [
            {"image": b, "faces": len(faces), "boxes": [[round(v, 1) for v in f["box"]] for f in faces]}
            for b, faces in enumerate(identity["frames"])
        ],
    }
