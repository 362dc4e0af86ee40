"""Find model files in the shared model folders; download the ones with an official URL.

Lookup order for a file `name` in folder `folder`:
  1. every directory of comfy_adapter.model_dirs(folder) (ComfyUI's folder_paths, or
     $FACELAB_MODELS_DIR/<folder> / ~/.cache/comfyui-facelab/models/<folder> standalone);
  2. if the file has a known official URL: download it once into the first directory,
     verify its sha256, and move it into place atomically.
Nothing here runs at import time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from . import comfy_adapter

log = logging.getLogger("FaceLab")


@dataclass(frozen=True)
class ModelSpec:
    folder: str
    filename: str
    url: str | None
    sha256: str | None
    size: int | None
    how_to_get: str


FACE_LANDMARKER = ModelSpec(
    folder="mediapipe",
    filename="face_landmarker.task",
    url=(
        "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task"
    ),
    sha256="64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
    size=3_758_596,
    how_to_get=(
        "Download MediaPipe's official Face Landmarker model (float16, version 1, Apache-2.0) from "
        "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/"
        "face_landmarker.task and put it in that folder."
    ),
)


# MediaPipe's full-range BlazeFace (faces far from the camera: small faces in group photos, down to ~10 px in its
# 192 px input). The same file ships in the mediapipe==0.10.21 wheel (mediapipe/modules/face_detection/); this URL
# is MediaPipe's own asset storage, pinned to the generation whose sha256 is below (MediaPipe's external_files.bzl).
FACE_DETECTOR_FULL_RANGE = ModelSpec(
    folder="mediapipe",
    filename="face_detection_full_range_sparse.tflite",
    url=(
        "https://storage.googleapis.com/mediapipe-assets/face_detection_full_range_sparse.tflite"
        "?generation=1674261618323821"
    ),
    sha256="2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
    size=676_746,
    how_to_get=(
        "Download MediaPipe's full-range face detector (face_detection_full_range_sparse.tflite, Apache-2.0) from "
        "https://storage.googleapis.com/mediapipe-assets/face_detection_full_range_sparse.tflite "
        "and put it in that folder (it also ships in the mediapipe==0.10.21 wheel under "
        "mediapipe/modules/face_detection/)."
    ),
)


class ModelFileError(RuntimeError):
    """A model file is missing, unreadable or corrupt. The message says which, where and how to fix it."""


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                return h.hexdigest()
            h.update(block)


def _downloads_allowed() -> bool:
    return os.environ.get("FACELAB_OFFLINE", "").strip().lower() not in {"1", "true", "yes"}


def find_model(spec: ModelSpec) -> Path | None:
    for d in comfy_adapter.model_dirs(spec.folder):
        p = d / spec.filename
        if p.is_file():
            return p
    return None


def verify(spec: ModelSpec, path: Path) -> None:
    if spec.size is not None and path.stat().st_size != spec.size:
        raise ModelFileError(
            f"FaceLab: model file {path} has {path.stat().st_size} bytes, expected {spec.size}: it is "
            f"truncated or a different file. Delete it and get it again. {spec.how_to_get}"
        )
    if spec.sha256 is not None:
        digest = sha256_of(path)
        if digest != spec.sha256:
            raise ModelFileError(
                f"FaceLab: model file {path} has sha256 {digest}, expected {spec.sha256}: it is corrupt or a "
                f"different version. Delete it and get it again. {spec.how_to_get}"
            )


def download(spec: ModelSpec, dest_dir: Path, timeout: float = 30.0) -> Path:
    """Download spec.url into dest_dir/spec.filename atomically, checking its sha256."""
    if not spec.url:
        raise ModelFileError(f"FaceLab: no download URL known for {spec.filename}. {spec.how_to_get}")
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / spec.filename
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.filename}.", suffix=".part", dir=dest_dir)
    tmp = Path(tmp_name)
    h = hashlib.sha256()
    try:
        log.info("FaceLab: downloading %s to %s", spec.url, target)
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(spec.url, timeout=timeout) as resp:
            while True:
                block = resp.read(1 << 20)
                if not block:
                    break
                h.update(block)
                out.write(block)
        if spec.sha256 and h.hexdigest() != spec.sha256:
            raise ModelFileError(
                f"FaceLab: downloaded {spec.filename} from {spec.url} has sha256 {h.hexdigest()}, expected "
                f"{spec.sha256}; the file was not kept. {spec.how_to_get}"
            )
        os.replace(tmp, target)
        return target
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise ModelFileError(
            f"FaceLab: {spec.filename} was not found in {', '.join(str(d) for d in comfy_adapter.model_dirs(spec.folder))} "
            f"and downloading it from {spec.url} failed ({exc}). {spec.how_to_get}"
        ) from exc
    finally:
        if tmp.exists():
            tmp.unlink()


_verified: dict[Path, tuple[int, float]] = {}  # path -> (size, mtime) when its checksum last matched


def ensure_model(spec: ModelSpec, allow_download: bool | None = None) -> Path:
    """Path of a verified copy of spec's file, downloading it on first use if allowed.

    The checksum is computed once per file version (size and mtime), not on every lookup.
    """
    found = find_model(spec)
    if found is not None:
        st = found.stat()
        if _verified.get(found) != (st.st_size, st.st_mtime):
            verify(spec, found)
            _verified[found] = (st.st_size, st.st_mtime)
        return found
    dirs = comfy_adapter.model_dirs(spec.folder)
    if allow_download is None:
        allow_download = _downloads_allowed()
    if not allow_download or not spec.url:
        raise ModelFileError(
            f"FaceLab: model file {spec.filename} not found. Looked in: {', '.join(str(d) for d in dirs)}. "
            f"{spec.how_to_get}"
        )
    return download(spec, dirs[0])
