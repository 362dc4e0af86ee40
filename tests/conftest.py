"""Shared test setup: real models and photos (provisioned offline), no network, ComfyUI-only tests marked.

- The pack is imported as `comfyui_facelab` (see facelab.py), as ComfyUI imports it by path.
- Test assets (MediaPipe's face_landmarker.task, public-domain portraits, the 6-face t1.jpg) are provisioned by
  tests/provision_assets.py into .cache/test-assets (or $FACELAB_TEST_ASSETS) and models are looked up there.
- Sockets to anything but loopback raise during tests.
- Tests marked `comfyui` need COMFYUI_DIR (a ComfyUI checkout with its venv); otherwise they are skipped with
  a visible reason, and the session summary says so.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import provision_assets  # noqa: E402

ASSETS = provision_assets.default_dest()
MODELS_DIR = ASSETS / "models"
PHOTOS = ASSETS / "photos"

os.environ["FACELAB_MODELS_DIR"] = str(MODELS_DIR)
os.environ["FACELAB_OFFLINE"] = "1"
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

SINGLE_FACE_PHOTOS = ("grace_hopper.jpg", "astronaut.png", "obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg")
NO_FACE_PHOTOS = ("coffee.png", "chelsea.png")


def _assets_ready() -> bool:
    mp = MODELS_DIR / "mediapipe"
    models = ("face_landmarker.task", "face_detection_full_range_sparse.tflite")
    return all((mp / m).is_file() for m in models) and all((PHOTOS / p).is_file() for p in ("t1.jpg", "camera.png"))


def pytest_configure(config):
    config.addinivalue_line("markers", "comfyui: needs a real ComfyUI (set COMFYUI_DIR to its folder)")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    if not _assets_ready():
        subprocess.run([sys.executable, str(ROOT / "tests" / "provision_assets.py"), "--dest", str(ASSETS)], check=True)


def pytest_collection_modifyitems(config, items):
    comfy_dir = os.environ.get("COMFYUI_DIR")
    if comfy_dir and (Path(comfy_dir) / "main.py").is_file():
        return
    reason = "COMFYUI_DIR is not set to a ComfyUI folder: this test needs a real ComfyUI (see docs/testing.md)"
    for item in items:
        if "comfyui" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_terminal_summary(terminalreporter):
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "COMFYUI_DIR" in str(r.longrepr)]
    if skipped:
        terminalreporter.write_line(
            f"NOTE: {len(skipped)} test(s) needing a real ComfyUI were SKIPPED (COMFYUI_DIR not set).",
            yellow=True,
            bold=True,
        )


_real_connect = socket.socket.connect


def _loopback_only_connect(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if (
        isinstance(host, str)
        and (host.startswith("127.") or host in ("localhost", "::1"))
        or self.family == socket.AF_UNIX
    ):
        return _real_connect(self, address)
    raise OSError(f"network access blocked in tests (tried {address!r})")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _loopback_only_connect)


@pytest.fixture(scope="session")
def pack():
    """The pack, imported as `comfyui_facelab`."""
    import facelab

    return facelab.load_pack()


def load_photo(name: str) -> np.ndarray:
    """RGB uint8 array of a provisioned test photo."""
    from PIL import Image

    with Image.open(PHOTOS / name) as im:
        return np.asarray(im.convert("RGB")).copy()


def photo_tensor(name: str):
    """A ComfyUI IMAGE tensor [1,H,W,3] float32 0..1 of a test photo."""
    import torch

    return torch.from_numpy(load_photo(name).astype(np.float32) / 255.0)[None]


@pytest.fixture(scope="session")
def photos_dir() -> Path:
    return PHOTOS


_LANDMARK_CACHE: dict = {}


def landmarks_for(name: str, max_faces: int = 8) -> dict:
    """FACE_LANDMARKS (core format, faces left to right) of a test photo, detected with the real model (cached)."""
    key = (name, max_faces)
    if key not in _LANDMARK_CACHE:
        import facelab

        facelab.load_pack()
        from comfyui_facelab.nodes.face import face_landmarks as fl
        from comfyui_facelab.nodes.face import landmarker

        rgb = load_photo(name)
        faces = fl.sort_faces(landmarker.detect_faces(rgb, max_faces=max_faces), "left_to_right")
        _LANDMARK_CACHE[key] = fl.make_face_landmarks([faces], rgb.shape[:2], landmarker.connection_sets())
    return _LANDMARK_CACHE[key]
