"""Model lookup and first-use download: verified, atomic, and clear when something is wrong.

The download is exercised against a local HTTP server on 127.0.0.1 serving the real face_landmarker.task
(or a corrupted copy), so the real code path runs without touching the network.
"""

from __future__ import annotations

import dataclasses
import http.server
import threading
from pathlib import Path

import pytest
from conftest import MODELS_DIR


@pytest.fixture(scope="module")
def mf(pack):
    from comfyui_facelab.nodes import model_files

    return model_files


@pytest.fixture()
def served(tmp_path_factory):
    """A loopback HTTP server; yields (base_url, folder it serves)."""
    root = tmp_path_factory.mktemp("www")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(root), **k)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def _spec(mf, url: str):
    return dataclasses.replace(mf.FACE_LANDMARKER, url=url)


REAL = MODELS_DIR / "mediapipe" / "face_landmarker.task"


def test_download_on_first_use_is_verified_and_atomic(mf, served, tmp_path, monkeypatch):
    base, root = served
    (root / "face_landmarker.task").write_bytes(REAL.read_bytes())
    monkeypatch.setenv("FACELAB_MODELS_DIR", str(tmp_path))
    path = mf.ensure_model(_spec(mf, f"{base}/face_landmarker.task"), allow_download=True)
    assert path == tmp_path / "mediapipe" / "face_landmarker.task"
    assert mf.sha256_of(path) == mf.FACE_LANDMARKER.sha256
    assert [p.name for p in path.parent.iterdir()] == ["face_landmarker.task"]  # no .part left behind
    # Second use: found in the folder, no server needed.
    assert mf.ensure_model(_spec(mf, "http://127.0.0.1:9/unreachable"), allow_download=True) == path


def test_download_with_wrong_checksum_keeps_nothing(mf, served, tmp_path, monkeypatch):
    base, root = served
    data = bytearray(REAL.read_bytes())
    data[1000] ^= 0xFF
    (root / "face_landmarker.task").write_bytes(bytes(data))
    monkeypatch.setenv("FACELAB_MODELS_DIR", str(tmp_path))
    with pytest.raises(mf.ModelFileError, match="sha256") as err:
        mf.ensure_model(_spec(mf, f"{base}/face_landmarker.task"), allow_download=True)
    assert "was not kept" in str(err.value)
    assert list((tmp_path / "mediapipe").iterdir()) == []


def test_unreachable_download_names_file_folder_and_url(mf, tmp_path, monkeypatch):
    monkeypatch.setenv("FACELAB_MODELS_DIR", str(tmp_path))
    url = "http://127.0.0.1:9/face_landmarker.task"  # discard port: connection refused at once
    with pytest.raises(mf.ModelFileError) as err:
        mf.ensure_model(_spec(mf, url), allow_download=True)
    msg = str(err.value)
    assert "face_landmarker.task" in msg and str(tmp_path / "mediapipe") in msg and url in msg
    assert not any((tmp_path / "mediapipe").iterdir())


def test_offline_mode_never_downloads(mf, tmp_path, monkeypatch):
    monkeypatch.setenv("FACELAB_MODELS_DIR", str(tmp_path))
    monkeypatch.setenv("FACELAB_OFFLINE", "1")
    with pytest.raises(mf.ModelFileError, match="not found") as err:
        mf.ensure_model(mf.FACE_LANDMARKER)
    assert "storage.googleapis.com" in str(err.value)
    assert not (tmp_path / "mediapipe").exists()


def test_truncated_model_in_the_folder_is_reported_with_its_path(mf, tmp_path, monkeypatch):
    broken = tmp_path / "mediapipe" / "face_landmarker.task"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(REAL.read_bytes()[:100_000])
    monkeypatch.setenv("FACELAB_MODELS_DIR", str(tmp_path))
    with pytest.raises(mf.ModelFileError) as err:
        mf.ensure_model(mf.FACE_LANDMARKER, allow_download=False)
    assert str(broken) in str(err.value) and "truncated" in str(err.value)


def test_standalone_models_dir_follows_the_environment(pack, tmp_path, monkeypatch):
    from comfyui_facelab.nodes import comfy_adapter

    monkeypatch.setenv("FACELAB_MODELS_DIR", str(tmp_path))
    assert comfy_adapter.model_dirs("insightface") == [Path(tmp_path) / "insightface"]
    monkeypatch.delenv("FACELAB_MODELS_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert comfy_adapter.model_dirs("mediapipe") == [tmp_path / "xdg" / "comfyui-facelab" / "models" / "mediapipe"]
