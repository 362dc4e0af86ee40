"""Face detection pipeline (nodes/face/detection.py) on real photos with the real MediaPipe model.

Independent oracle: dlib's HOG frontal face detector (a different algorithm and model) must agree on
where the faces are. Scale checks compare landmarks across resized copies of one photo: a point at pixel
centre x in the 1x image is at (x + 0.5) * k - 0.5 in the k-times image.
"""

from __future__ import annotations

import functools
from collections import OrderedDict

import numpy as np
import pytest
import torch
from conftest import NO_FACE_PHOTOS, PHOTOS, SINGLE_FACE_PHOTOS, load_photo, photo_tensor
from PIL import Image

import facelab

facelab.load_pack()
from comfyui_facelab.nodes.face.detection import box_iou  # noqa: E402


@pytest.fixture(scope="module")
def det(pack):
    from comfyui_facelab.nodes.face import detection

    return detection


@functools.cache
def detected(name: str, mode: str = "standard", order: str = "left_to_right", reject: bool = True) -> tuple:
    from comfyui_facelab.nodes.face import detection

    return tuple(
        detection.detect(photo_tensor(name), mode=mode, order=order, reject_false_positives=reject)["frames"][0]
    )


@functools.cache
def dlib_boxes(name: str) -> list[tuple]:
    """dlib HOG face boxes (no upsampling), run on a copy at most 1024 px long to keep the test quick."""
    import dlib

    rgb = load_photo(name)
    k = min(1.0, 1024 / max(rgb.shape[:2]))
    if k < 1.0:
        rgb = np.asarray(
            Image.fromarray(rgb).resize((round(rgb.shape[1] * k), round(rgb.shape[0] * k)), Image.BILINEAR)
        )
    return [
        tuple(v / k for v in (r.left(), r.top(), r.right(), r.bottom()))
        for r in dlib.get_frontal_face_detector()(rgb, 0)
    ]


def _centre(b):
    return ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)


def _inside(p, b) -> bool:
    return b[0] <= p[0] <= b[2] and b[1] <= p[1] <= b[3]


def _assert_matches_dlib(face: dict, dlib_box) -> None:
    box = face["bbox_xyxy"]
    assert _inside(_centre(dlib_box), box), (box, dlib_box)
    assert box_iou(box, dlib_box) > 0.45, (box, dlib_box)
    lm = face["landmarks_xy"]
    for idx in (1, 33, 263, 13):  # nose tip, outer eye corners, upper lip: dlib's box spans brows to chin
        assert _inside(lm[idx], dlib_box), (idx, lm[idx], dlib_box)


def _scale_error(lm_k: np.ndarray, lm_1: np.ndarray, k: float, face_px: float) -> np.ndarray:
    """Per-point distance between k-times landmarks mapped to 1x and the 1x landmarks, in % of face size."""
    return np.linalg.norm((lm_k + 0.5) / k - 0.5 - lm_1, axis=1) / face_px * 100


@pytest.mark.parametrize("name", SINGLE_FACE_PHOTOS + ("obama_partial_face.jpg",))
def test_single_face_photos_give_one_face_where_dlib_sees_it(det, name):
    faces = detected(name)
    assert len(faces) == 1
    face = faces[0]
    assert face["landmarks_xy"].shape == (478, 2) and face["landmarks_3d"].shape == (478, 3)
    assert face["landmarks_xy"].dtype == np.float32
    assert len(face["blendshapes"]) == 52 and face["transformation_matrix"].shape == (4, 4)
    assert 0.5 <= face["score"] <= 1.0
    # Subject's left eye (263) is on the image's right of the right eye (33) on these frontal portraits.
    assert face["landmarks_xy"][263, 0] > face["landmarks_xy"][1, 0] > face["landmarks_xy"][33, 0]
    boxes = dlib_boxes(name)
    assert len(boxes) == 1
    _assert_matches_dlib(face, boxes[0])


def test_small_faces_finds_all_six_faces_of_t1_and_dlib_agrees(det):
    faces = detected("t1.jpg", "small_faces")
    assert len(faces) == 6
    boxes = [f["bbox_xyxy"] for f in faces]
    assert all(box_iou(a, b) == 0.0 for i, a in enumerate(boxes) for b in boxes[i + 1 :]), "duplicate faces"
    sizes = [max(b[2] - b[0], b[3] - b[1]) for b in boxes]
    assert 60 < min(sizes) and max(sizes) < 160  # the small faces t1.jpg is known for (~100 px)
    oracle = dlib_boxes("t1.jpg")
    assert len(oracle) == 6
    for face in faces:  # one-to-one: each face holds exactly one dlib face
        matches = [d for d in oracle if _inside(_centre(d), face["bbox_xyxy"])]
        assert len(matches) == 1, (face["bbox_xyxy"], oracle)
        _assert_matches_dlib(face, matches[0])


def test_standard_mode_misses_t1_small_faces_and_auto_falls_back(det):
    # Documented (docs/landmarks.md): the short-range detector needs faces of ~15% of the image; t1.jpg's
    # faces are ~8%, so standard finds none and auto (standard, then small_faces if nothing) finds all six.
    assert detected("t1.jpg", "standard") == ()
    auto = detected("t1.jpg", "auto")
    assert [tuple(np.round(f["bbox_xyxy"])) for f in auto] == [
        tuple(np.round(f["bbox_xyxy"])) for f in detected("t1.jpg", "small_faces")
    ]


@pytest.mark.parametrize("name", NO_FACE_PHOTOS)
@pytest.mark.parametrize("mode", ["standard", "small_faces", "auto"])
def test_photos_without_faces_give_empty_frames(det, name, mode):
    out = det.detect(photo_tensor(name), mode=mode)
    assert out["frames"] == [[]]
    assert out["image_size"] == load_photo(name).shape[:2]
    assert "tesselation" in out["connection_sets"]


def test_colour_wheel_false_positive_is_rejected_by_its_colours(det):
    # MediaPipe meshes the colour wheel with a weak but passing score (measured 0.58).
    raw = detected("color.png", reject=False)
    assert len(raw) == 1 and 0.5 <= raw[0]["score"] < 0.7
    frame = det._Frame(load_photo("color.png"))
    assert det.hue_coherence(frame.sample(raw[0]["landmarks_xy"][:468])) < 0.2
    assert detected("color.png") == ()
    # The same colour check keeps real skin, including a photo with no colour at all.
    for name in ("astronaut.png", "biden.jpg"):
        face = detected(name)[0]
        assert det.hue_coherence(det._Frame(load_photo(name)).sample(face["landmarks_xy"][:468])) > 0.9
    grey = load_photo("grace_hopper.jpg").mean(axis=2, keepdims=True).astype(np.uint8)
    assert len(det.detect(grey)["frames"][0]) == 1


def test_min_confidence_filters_by_detector_score(det):
    partial = detected("obama_partial_face.jpg")[0]  # half the face is outside the frame: a lower score
    assert 0.6 < partial["score"] < 0.85
    strict = det.detect(photo_tensor("obama_partial_face.jpg"), min_confidence=0.9)
    assert strict["frames"] == [[]]
    assert len(det.detect(photo_tensor("grace_hopper.jpg"), min_confidence=0.9)["frames"][0]) == 1


def test_landmarks_scale_consistently_from_64px_to_4096px(det):
    rgb = load_photo("grace_hopper.jpg")  # 512 x 600
    base = detected("grace_hopper.jpg")[0]
    lm1 = base["landmarks_xy"]
    face_px = float(base["bbox_xyxy"][2] - base["bbox_xyxy"][0])
    im = Image.fromarray(rgb)
    # 2x as a float IMAGE tensor, 8x (4096 x 4800) as uint8: the pass sees a copy of at most 1280 px, mapped back.
    double = torch.from_numpy(np.asarray(im.resize((1024, 1200), Image.BICUBIC)).astype(np.float32) / 255)[None]
    lm2 = det.detect(double)["frames"][0][0]["landmarks_xy"]
    err2 = _scale_error(lm2, lm1, 2.0, face_px)
    assert np.median(err2) < 1.0 and err2.max() < 3.0
    lm8 = det.detect(np.asarray(im.resize((4096, 4800), Image.BICUBIC)))["frames"][0][0]["landmarks_xy"]
    err8 = _scale_error(lm8, lm1, 8.0, face_px)
    assert np.median(err8) < 1.0 and err8.max() < 3.0
    # 64 px wide: the face is ~23 px; the mesh is coarse there but must land on the same face.
    small = det.detect(np.asarray(im.resize((64, 75), Image.LANCZOS)))["frames"][0]
    assert len(small) == 1
    err64 = _scale_error(small[0]["landmarks_xy"], lm1, 64 / 512, face_px)
    assert np.median(err64) < 5.0 and err64.max() < 15.0


def test_batch_of_two_photos_keeps_faces_per_image(det):
    a = load_photo("astronaut.png")
    b = np.asarray(Image.fromarray(load_photo("grace_hopper.jpg")).resize((512, 512), Image.BICUBIC))
    c = np.asarray(Image.fromarray(load_photo("coffee.png")).resize((512, 512), Image.BICUBIC))
    batch = torch.from_numpy(np.stack([a, b, c]).astype(np.float32) / 255)
    out = det.detect(batch)
    assert out["image_size"] == (512, 512)
    assert [len(f) for f in out["frames"]] == [1, 1, 0]
    for i, img in enumerate((a, b)):  # each frame equals detecting that image alone
        alone = det.detect(img)["frames"][0][0]
        np.testing.assert_allclose(out["frames"][i][0]["landmarks_xy"], alone["landmarks_xy"], atol=0.5)
    assert box_iou(out["frames"][0][0]["bbox_xyxy"], out["frames"][1][0]["bbox_xyxy"]) < 0.5  # two different faces


def test_grayscale_and_rgba_inputs(det):
    rgb_face = detected("grace_hopper.jpg")[0]
    grey = torch.from_numpy(load_photo("grace_hopper.jpg").mean(axis=2, keepdims=True).astype(np.float32) / 255)[None]
    assert grey.shape[-1] == 1
    g = det.detect(grey)["frames"][0]
    assert len(g) == 1 and box_iou(g[0]["bbox_xyxy"], rgb_face["bbox_xyxy"]) > 0.9
    with Image.open(PHOTOS / "32bit.png") as im:
        assert im.mode == "RGBA"
        rgba = torch.from_numpy(np.asarray(im).astype(np.float32) / 255)[None]
    faces = det.detect(rgba)["frames"][0]
    assert len(faces) == 1
    _assert_matches_dlib(faces[0], dlib_boxes("32bit.png")[0])


def test_numpy_views_are_accepted(det):
    rgb = load_photo("obama3.jpg")  # 1434 x 2333: the pass resizes it
    rgb.setflags(write=False)
    mirrored = rgb[:, ::-1]  # a read-only view with a negative stride
    faces = det.detect(mirrored)["frames"][0]
    assert len(faces) == 1
    x0, y0, x1, y1 = detected("obama3.jpg")[0]["bbox_xyxy"]
    w = rgb.shape[1]
    assert box_iou(faces[0]["bbox_xyxy"], (w - 1 - x1, y0, w - 1 - x0, y1)) > 0.8


def test_face_orders(det):
    by_x = detected("t1.jpg", "small_faces", "left_to_right")
    by_y = detected("t1.jpg", "small_faces", "top_to_bottom")
    by_size = detected("t1.jpg", "small_faces", "largest_first")
    cx = [_centre(f["bbox_xyxy"])[0] for f in by_x]
    cy = [_centre(f["bbox_xyxy"])[1] for f in by_y]
    size = [max(f["bbox_xyxy"][2] - f["bbox_xyxy"][0], f["bbox_xyxy"][3] - f["bbox_xyxy"][1]) for f in by_size]
    assert cx == sorted(cx) and cy == sorted(cy) and size == sorted(size, reverse=True)
    key = lambda faces: sorted(tuple(np.round(f["bbox_xyxy"], 1)) for f in faces)  # noqa: E731
    assert key(by_x) == key(by_y) == key(by_size)
    assert cy != sorted(cx)  # t1's faces are not on one row: the orders really differ


def test_max_faces_keeps_the_most_confident(det):
    out = det.detect(photo_tensor("t1.jpg"), mode="small_faces", max_faces=2)["frames"][0]
    all_scores = sorted((f["score"] for f in detected("t1.jpg", "small_faces")), reverse=True)
    assert len(out) == 2
    assert sorted((f["score"] for f in out), reverse=True) == pytest.approx(all_scores[:2], abs=1e-6)


def test_bad_inputs_raise_clear_errors(det):
    img = photo_tensor("astronaut.png")
    with pytest.raises(ValueError, match="detection mode"):
        det.detect(img, mode="fast")
    with pytest.raises(ValueError, match="max_faces"):
        det.detect(img, max_faces=0)
    with pytest.raises(ValueError, match="min_confidence"):
        det.detect(img, min_confidence=1.5)
    with pytest.raises(ValueError, match="channels"):
        det.detect(img.permute(0, 3, 1, 2))
    with pytest.raises(ValueError, match="face order"):
        det.detect(img, order="random")


def test_interrupt_stops_a_batch(det, pack):
    from comfyui_facelab.nodes import comfy_adapter

    comfy_adapter.request_interrupt()
    try:
        with pytest.raises(comfy_adapter.ProcessingInterrupted):
            det.detect(photo_tensor("coffee.png"))
    finally:
        comfy_adapter.request_interrupt(False)


# --- the Face Landmarks and Select Faces nodes ---------------------------------------------------------------


def test_face_landmarks_node_outputs(pack):
    import json

    from comfyui_facelab.nodes.node_landmarks import FaceLabFaceLandmarks

    coffee = np.asarray(Image.fromarray(load_photo("coffee.png")).resize((512, 512)))
    batch = torch.cat([photo_tensor("astronaut.png"), torch.from_numpy(coffee.astype(np.float32) / 255)[None]])
    landmarks, bboxes, count, report = FaceLabFaceLandmarks().detect(batch, 8, 0.5, "standard", "left_to_right")
    assert count == 1 and [len(f) for f in landmarks["frames"]] == [1, 0]
    face = landmarks["frames"][0][0]
    box = bboxes[0][0]
    assert bboxes[1] == [] and box["label"] == "face" and box["score"] == pytest.approx(face["score"])
    assert (box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"]) == pytest.approx(
        tuple(face["bbox_xyxy"])
    )
    data = json.loads(report)
    assert data["summary"] == "1 face(s) in 2 image(s)" and data["mode"] == "standard"
    assert data["images"][1]["faces"] == []
    f0 = data["images"][0]["faces"][0]
    assert f0["bbox_xyxy"] == pytest.approx([float(v) for v in face["bbox_xyxy"]]) and f0["eyes"]["left"]["open"]
    _, _, count, report = FaceLabFaceLandmarks().detect(photo_tensor("chelsea.png"), 8, 0.5, "auto", "left_to_right")
    assert count == 0 and json.loads(report)["summary"] == "no face found"


def test_select_faces_node_on_a_group_photo(pack):
    from comfyui_facelab.nodes.face import face_landmarks as fl
    from comfyui_facelab.nodes.node_landmarks import FaceLabSelectFaces

    faces = list(detected("t1.jpg", "small_faces"))
    lms = fl.make_face_landmarks([faces], (886, 1280))
    node = FaceLabSelectFaces()
    out, boxes, n = node.select(lms, "largest_first", 0)
    assert n == 1 and len(boxes[0]) == 1
    assert fl.face_size(out["frames"][0][0]) == max(fl.face_size(f) for f in faces)
    out, _, n = node.select(lms, "top_to_bottom", -1)
    assert n == 6 and [fl.face_center(f)[1] for f in out["frames"][0]] == sorted(fl.face_center(f)[1] for f in faces)
    out, boxes, n = node.select(lms, "left_to_right", 6)  # past the last face: no face, not an error
    assert n == 0 and out["frames"] == [[]] and boxes == [[]]


def test_progress_advances_once_per_batch_image(det, pack, monkeypatch):
    from comfyui_facelab.nodes import comfy_adapter

    updates = []

    class Bar:
        def __init__(self, total):
            updates.append(("total", total))

        def update_absolute(self, value, total=None, preview=None):
            updates.append(value)

    monkeypatch.setattr(comfy_adapter, "progress_bar", Bar)
    batch = torch.cat([photo_tensor("astronaut.png")] * 3)
    assert [len(f) for f in det.detect(batch)["frames"]] == [1, 1, 1]
    assert updates == [("total", 3), 1, 2, 3]


def test_missing_model_offline_names_file_folder_and_source(det, monkeypatch, tmp_path):
    from comfyui_facelab.nodes import model_files
    from comfyui_facelab.nodes.face import landmarker

    monkeypatch.setattr(landmarker, "_cache", OrderedDict())  # force a fresh model lookup
    monkeypatch.setenv("FACELAB_MODELS_DIR", str(tmp_path))
    with pytest.raises(model_files.ModelFileError) as err:
        det.detect(photo_tensor("astronaut.png"))
    msg = str(err.value)
    assert "face_landmarker.task" in msg and str(tmp_path / "mediapipe") in msg
    assert "storage.googleapis.com/mediapipe-models/face_landmarker" in msg
