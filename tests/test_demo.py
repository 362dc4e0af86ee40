"""`python -m facelab demo` runs standalone in a subprocess, offline, with the model in FACELAB_MODELS_DIR."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from conftest import MODELS_DIR, PHOTOS
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def run_demo(*args: str, models_dir: Path = MODELS_DIR) -> subprocess.CompletedProcess:
    env = dict(os.environ, FACELAB_MODELS_DIR=str(models_dir), FACELAB_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "facelab", "demo", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def _centroid_x(path: Path) -> float:
    m = np.asarray(Image.open(path), dtype=np.float64)
    return float((m.sum(axis=0) * np.arange(m.shape[1])).sum() / m.sum())


def test_demo_on_the_bundled_sample_writes_masks_preview_and_report(tmp_path):
    res = run_demo("--out", str(tmp_path))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 face(s) in grace_hopper.jpg" in res.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    sample = Image.open(ROOT / "samples" / "grace_hopper.jpg")
    assert report["image_size"] == [sample.height, sample.width]
    assert len(report["faces"]) == 1 and report["faces"][0]["inter_ocular_px"] > 40
    assert sorted(report["masks"]) == sorted(report["zones"]) and len(report["zones"]) == 25
    for zone, entry in report["masks"].items():
        mask = Image.open(tmp_path / entry["file"])
        assert mask.mode == "L" and mask.size == sample.size
        # (a zone thinner than the default 10% feather, like an eyebrow, peaks a little below 255)
        assert np.asarray(mask).max() > 200 and entry["area_px"] > 0, zone
    # the subject's left eye is on the image's right
    assert _centroid_x(tmp_path / "masks" / "eye_left.png") > _centroid_x(tmp_path / "masks" / "eye_right.png")
    preview = Image.open(tmp_path / "preview.png")
    assert preview.size == sample.size
    assert not np.array_equal(np.asarray(preview.convert("RGB")), np.asarray(sample.convert("RGB")))


def test_demo_selected_zones_and_settings(tmp_path):
    res = run_demo(
        str(PHOTOS / "obama.jpg"),
        "--out",
        str(tmp_path),
        "--zones",
        "crows_feet, lips",
        "--grow",
        "10",
        "--feather",
        "20",
        "--subtract",
        "eyes",
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert sorted(p.name for p in (tmp_path / "masks").iterdir()) == [
        "crows_feet_left.png",
        "crows_feet_right.png",
        "lips.png",
    ]
    lips = np.asarray(Image.open(tmp_path / "masks" / "lips.png"))
    assert 0 < ((lips > 0) & (lips < 255)).sum()  # feathered
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["settings"]["subtract"] == "eyes" and report["settings"]["grow"] == 10


def test_demo_without_a_face_says_so(tmp_path):
    res = run_demo(str(PHOTOS / "chelsea.png"), "--out", str(tmp_path))
    assert res.returncode == 1
    assert "no face" in res.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["faces"] == [] and report["masks"] == {}


def test_demo_bad_zone_and_missing_model_fail_clearly(tmp_path):
    res = run_demo("--out", str(tmp_path), "--zones", "dimples")
    assert res.returncode == 2 and "'dimples'" in res.stderr and "crows_feet_left" in res.stderr
    empty = tmp_path / "models"
    empty.mkdir()
    res = run_demo("--out", str(tmp_path / "o"), models_dir=empty)
    assert res.returncode == 2
    # The default full_range mode loads MediaPipe's full-range detector first, then the landmarker.
    missing = "face_detection_full_range_sparse.tflite"
    assert missing in res.stderr and str(empty) in res.stderr and "storage.googleapis.com" in res.stderr
