"""The default full_range detection mode (nodes/face/full_range.py) on real photos with the real MediaPipe models.

Truth: dlib's HOG detector (an independent algorithm) for t1.jpg and the portraits; for the synthetic group photo
(tests/group_photo.py: the public-domain portraits pasted at 32-200 px, rolled up to 40 degrees, mirrored) the
known paste positions. Geometry checks compare landmarks of a transformed photo with the original's landmarks
transformed the same way, in % of the eye distance (outer eye corners 33-263).
"""

from __future__ import annotations

import functools
import json
import math
import os
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import group_photo
import numpy as np
import pytest
from conftest import NO_FACE_PHOTOS, SINGLE_FACE_PHOTOS, load_photo, photo_tensor
from PIL import Image
from test_detection import _assert_matches_dlib, _centre, _inside, dlib_boxes

EYE_OUTER = (33, 263)


@pytest.fixture(scope="module")
def det(pack):
    from comfyui_facelab.nodes.face import detection

    return detection


@functools.cache
def found(name: str, meshing: str = "steady") -> tuple:
    from comfyui_facelab.nodes.face import detection

    return tuple(detection.detect(photo_tensor(name), max_faces=16, mode="full_range", meshing=meshing)["frames"][0])


@functools.cache
def group() -> tuple[np.ndarray, list[dict], tuple]:
    from comfyui_facelab.nodes.face import detection

    rgb, truth = group_photo.build()
    return rgb, truth, tuple(detection.detect(rgb, max_faces=16, mode="full_range")["frames"][0])


def _eye_distance(lm: np.ndarray) -> float:
    return float(np.linalg.norm(lm[EYE_OUTER[0]] - lm[EYE_OUTER[1]]))


def test_every_face_of_t1_is_found_and_dlib_agrees(det):
    faces = found("t1.jpg")
    assert len(faces) == 6  # t1.jpg's six ~100 px faces; the old standard mode found none of them
    oracle = dlib_boxes("t1.jpg")
    assert len(oracle) == 6
    for face in faces:  # one-to-one: each face holds exactly one dlib face
        matches = [d for d in oracle if _inside(_centre(d), face["bbox_xyxy"])]
        assert len(matches) == 1, (face["bbox_xyxy"], oracle)
        _assert_matches_dlib(face, matches[0])
        assert face["meshing"] == "steady" and face["landmarks_xy"].shape == (478, 2)
        assert 0.5 <= face["score"] <= 1.0


@pytest.mark.parametrize("name", ("grace_hopper.jpg", "biden.jpg"))
@pytest.mark.parametrize("scale", (1.0, 0.6))
def test_a_face_filling_the_frame_is_found(det, name, scale):
    """A tight face crop (a makeup reference, landmarks taken again on a crop): the full-range detector alone
    misses it (measured on grace_hopper cropped to the mesh box: 0 faces), the short-range fallback finds it."""
    (face,) = found(name)
    x0, y0, x1, y1 = (int(v) for v in face["bbox_xyxy"])
    crop = Image.fromarray(load_photo(name)).crop((x0, y0, x1, y1))
    crop = crop.resize((round(crop.width * scale), round(crop.height * scale)), Image.LANCZOS)
    faces = det.detect(np.asarray(crop), mode="full_range")["frames"][0]
    assert len(faces) == 1
    nose = faces[0]["landmarks_xy"][1]
    assert 0.3 * crop.width < nose[0] < 0.7 * crop.width and 0.3 * crop.height < nose[1] < 0.8 * crop.height


@pytest.mark.parametrize("name", SINGLE_FACE_PHOTOS + ("obama_partial_face.jpg",))
def test_single_portraits_give_one_face_where_dlib_sees_it(det, name):
    faces = found(name)
    assert len(faces) == 1
    face = faces[0]
    assert len(face["blendshapes"]) == 52 and face["transformation_matrix"].shape == (4, 4)
    assert face["landmarks_xy"][263, 0] > face["landmarks_xy"][1, 0] > face["landmarks_xy"][33, 0]
    _assert_matches_dlib(face, dlib_boxes(name)[0])


def test_synthetic_group_photo_small_rolled_and_mirrored_faces_are_all_found(det):
    _, truth, faces = group()
    assert len(faces) == len(truth)  # every pasted face, nothing else (the background is a smooth gradient)
    for t in truth:
        hits = [f for f in faces if _inside(t["centre"], f["bbox_xyxy"])]
        assert len(hits) == 1, t
        # the mesh box spans brow..chin+forehead: 0.9-1.6x the detector-box width the face was pasted at
        w = hits[0]["bbox_xyxy"][2] - hits[0]["bbox_xyxy"][0]
        assert 0.8 * t["face_px"] < w < 1.8 * t["face_px"], (t, w)


@pytest.mark.parametrize("name", NO_FACE_PHOTOS + ("color.png",))
def test_no_false_positive_on_photos_without_faces(det, name):
    # color.png (a colour wheel) is meshed as a face by the landmarker's own short-range detector (score 0.58),
    # which full_range falls back to when its own detector finds nothing; the hue check drops it.
    assert det.detect(photo_tensor(name), mode="full_range")["frames"] == [[]]
    unchecked = det.detect(photo_tensor(name), mode="full_range", reject_false_positives=False)["frames"][0]
    assert len(unchecked) == (1 if name == "color.png" else 0)


def _rotated(name: str, degrees: float):
    """The photo rotated counter-clockwise (canvas expanded, nothing cut) and the map of its pixel coordinates."""
    im = Image.fromarray(load_photo(name))
    out = im.rotate(degrees, resample=Image.BICUBIC, expand=True)
    a = math.radians(degrees)
    c_in = np.array([im.width / 2, im.height / 2])
    c_out = np.array([out.width / 2, out.height / 2])

    def to_rotated(p: np.ndarray) -> np.ndarray:  # pixel-centre coordinates -> the rotated photo's
        q = p + 0.5 - c_in
        return (
            np.stack([math.cos(a) * q[:, 0] + math.sin(a) * q[:, 1], -math.sin(a) * q[:, 0] + math.cos(a) * q[:, 1]], 1)
            + c_out
            - 0.5
        )

    return np.asarray(out), to_rotated


@pytest.mark.parametrize("name", ["astronaut.png", "grace_hopper.jpg", "obama.jpg", "obama2.jpg"])
@pytest.mark.parametrize("degrees", [40, -40])
def test_rolled_face_eye_landmarks_land_on_the_eyes(det, name, degrees):
    from comfyui_facelab.nodes.face import analysis, landmarker

    sets = landmarker.connection_sets()
    eyes = sorted({i for pair in sets["left_eye"] | sets["right_eye"] for i in pair})
    upright = found(name)[0]["landmarks_xy"].astype(np.float64)
    rgb, to_rotated = _rotated(name, degrees)
    want = to_rotated(upright)
    eye = _eye_distance(upright)
    for meshing in ("upright", "steady"):
        faces = det.detect(rgb, mode="full_range", meshing=meshing)["frames"][0]
        assert len(faces) == 1
        err = np.linalg.norm(faces[0]["landmarks_xy"][eyes] - want[eyes], axis=1) / eye * 100
        # Measured: eye points within 0.1-1.2% (median) / 2.9% (max) of the eye distance; half an eye height
        # (the failure the issue describes) would be ~15%.
        assert np.median(err) < 3.0 and err.max() < 6.0, (meshing, np.median(err), err.max())
        # The pose measured on the upright crop is turned back into the image: roll matches the rotation.
        pose = analysis.head_pose(faces[0]["landmarks_xy"], faces[0]["transformation_matrix"])
        assert abs(pose["roll"] - degrees) < 8.0, pose


def test_upright_crop_maps_landmarks_back_exactly(det):
    # Upright and plain meshing crop the same face differently (rotated vs not); on an upright portrait both
    # must land on the same points: a sign or half-pixel error in the crop mapping shows up here.
    plain = found("grace_hopper.jpg", "plain")[0]["landmarks_xy"]
    upright = found("grace_hopper.jpg", "upright")[0]["landmarks_xy"]
    d = np.linalg.norm(plain - upright, axis=1) / _eye_distance(plain) * 100
    assert np.median(d) < 2.0, np.median(d)  # measured 0.5-1% (two meshes of slightly different crops)


def test_steady_meshing_is_mirror_consistent_and_reports_disagreement(det):
    from comfyui_facelab.nodes.face.zone_atlas import MIRROR

    rgb = load_photo("obama2.jpg")  # turned ~30 degrees: the hardest mirror case of the portraits
    w = rgb.shape[1]
    mirror = np.ascontiguousarray(rgb[:, ::-1])
    spread = {}
    for meshing in ("upright", "steady"):
        a = det.detect(rgb, mode="full_range", meshing=meshing)["frames"][0][0]
        b = det.detect(mirror, mode="full_range", meshing=meshing)["frames"][0][0]
        back = np.stack([w - 1 - b["landmarks_xy"][:, 0], b["landmarks_xy"][:, 1]], 1)[list(MIRROR)]
        spread[meshing] = float(
            np.median(np.linalg.norm(back - a["landmarks_xy"], axis=1)) / _eye_distance(a["landmarks_xy"]) * 100
        )
    d = a["mesh_disagreement_pct"]
    assert 0.0 < d["median"] <= d["max"] < 20.0
    # Averaging with the mirrored mesh makes photo and mirror agree better than one upright mesh does
    # (t1.jpg faces: 0.13-1.7% vs 1.1-6.1%, docs/landmarks.md).
    assert spread["steady"] < spread["upright"] and spread["steady"] < 1.5, spread


def test_node_report_gives_meshing_and_disagreement(pack):
    from comfyui_facelab.nodes.node_landmarks import FaceLabFaceLandmarks

    node = FaceLabFaceLandmarks()
    defaults = {k: v[1].get("default") for k, v in node.INPUT_TYPES()["required"].items() if len(v) > 1}
    assert defaults["mode"] == "full_range" and node.INPUT_TYPES()["optional"]["meshing"][1]["default"] == "steady"
    _, _, count, report = node.detect(photo_tensor("t1.jpg"), 16, 0.5, "full_range", "left_to_right")
    data = json.loads(report)
    assert count == 6 and data["meshing"] == "steady"
    for face in data["images"][0]["faces"]:
        assert face["meshing"] == "steady" and 0.0 < face["mesh_disagreement_pct"]["median"] < 10.0


def test_bad_meshing_name_is_refused(det):
    with pytest.raises(ValueError, match="meshing"):
        det.detect(photo_tensor("astronaut.png"), mode="full_range", meshing="wobbly")


def test_missing_full_range_model_names_file_folder_and_url(det, monkeypatch, tmp_path):
    from comfyui_facelab.nodes import model_files
    from comfyui_facelab.nodes.face import landmarker

    monkeypatch.setattr(landmarker, "_cache", OrderedDict())
    monkeypatch.setenv("FACELAB_MODELS_DIR", str(tmp_path))
    with pytest.raises(model_files.ModelFileError) as err:
        det.detect(photo_tensor("astronaut.png"), mode="full_range")
    msg = str(err.value)
    assert "face_detection_full_range_sparse.tflite" in msg and str(tmp_path / "mediapipe") in msg
    assert "storage.googleapis.com/mediapipe-assets/face_detection_full_range_sparse.tflite" in msg


# --- memory ------------------------------------------------------------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.slow
def test_task_cache_stays_bounded_over_50_settings(det):
    from comfyui_facelab.nodes.face import landmarker

    rgb = load_photo("astronaut.png")
    for k in range(landmarker.MAX_TASKS + 2):  # fill the cache first: its bounded size is part of the baseline
        landmarker.detect_faces(rgb, max_faces=1 + k, min_confidence=0.31)
    start = _rss_mb()
    for k in range(50):  # 50 distinct (max_faces, min_confidence) settings, as slider moves would give
        assert len(landmarker.detect_faces(rgb, max_faces=1 + k % 8, min_confidence=0.4 + k / 200)) == 1
        landmarker.detect_boxes(rgb, min_confidence=0.4 + k / 200)
    grown = _rss_mb() - start
    assert len(landmarker._cache) <= landmarker.MAX_TASKS
    # Each landmarker task holds ~28 MB (issue: 40 settings 410 -> 1530 MB). Measured over these 100 task settings:
    # +78 MB with the bounded cache, +1442 MB with MAX_TASKS set to 1000 (the old unbounded behaviour).
    assert grown < 150, grown


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["full_range", "small_faces"])
def test_detection_on_a_large_canvas_needs_less_than_half_the_image_again(mode):
    # A 6000^2 float32 IMAGE (432 MB) with a real face pasted in, measured in a fresh process (tests/memory_probe.py).
    # Measured: full_range +40 MB (+16 MB when each tile was read on its own; the frame is now shrunk once, in
    # bands of rows, for all tiles: 4x faster on a 4096^2 image), small_faces +103 MB (was +650 MB, 1.5x the image,
    # before tiles were read one by one and huge regions shrunk in row bands).
    probe = Path(__file__).with_name("memory_probe.py")
    res = subprocess.run(
        [sys.executable, str(probe), mode, "6000", "float32"], capture_output=True, text=True, timeout=600
    )
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["faces"] == 1
    assert out["extra_peak_bytes"] <= 0.5 * out["image_bytes"], out


def test_tiny_grey_cut_and_thin_images(det):
    g = load_photo("grace_hopper.jpg")
    tiny = np.asarray(Image.fromarray(g).resize((64, 75), Image.LANCZOS))  # a ~23 px face: one tile, upscaled
    assert len(det.detect(tiny, mode="full_range")["frames"][0]) == 1
    grey = g.mean(axis=2, keepdims=True).astype(np.uint8)
    assert len(det.detect(grey, mode="full_range")["frames"][0]) == 1
    assert len(det.detect(np.ascontiguousarray(g[:, :300]), mode="full_range")["frames"][0]) == 1  # cut by the border
    assert det.detect(np.zeros((1, 1, 3), np.uint8), mode="full_range")["frames"] == [[]]
    # A 5000 x 100 strip: one row of 100 px tiles, not one per pyramid level.
    from comfyui_facelab.nodes.face import full_range

    assert len(full_range.tile_pyramid(5000, 100)) == 68
    assert det.detect(np.zeros((100, 5000, 3), np.uint8), mode="full_range")["frames"] == [[]]
