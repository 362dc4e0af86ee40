"""Face analysis (nodes/face/analysis.py) and the analysis / selection nodes, on real photos with the real model.

Reference facts used below were checked by eye on the photos: every single-face portrait has both eyes open;
astronaut and obama smile broadly, grace_hopper, biden and obama3 do not; obama2 smiles more on his own left
(image right) side; astronaut tilts her head down toward the camera.
"""

from __future__ import annotations

import functools
import json
import math

import numpy as np
import pytest
from conftest import SINGLE_FACE_PHOTOS, landmarks_for, load_photo, photo_tensor
from PIL import Image


@pytest.fixture(scope="module")
def an(pack):
    from comfyui_facelab.nodes.face import analysis

    return analysis


def face_of(name: str) -> dict:
    return landmarks_for(name)["frames"][0][0]


@functools.cache
def face_of_variant(name: str, variant: str) -> dict:
    """The face of a mirrored ("flip") or rotated ("rot+20", "rot-20") copy of a photo."""
    from comfyui_facelab.nodes.face import detection

    im = Image.fromarray(load_photo(name))
    if variant == "flip":
        im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    else:
        im = im.rotate(float(variant[3:]), resample=Image.BICUBIC)  # PIL: positive = counter-clockwise
    return detection.detect(np.asarray(im))["frames"][0][0]


@pytest.mark.parametrize("name", SINGLE_FACE_PHOTOS)
def test_open_eyes_are_judged_open(an, name):
    face = face_of(name)
    eyes = an.eye_openness(face["landmarks_xy"], face["blendshapes"])
    for side in ("left", "right"):
        e = eyes[side]
        assert e["open"], (side, e)
        assert 0.15 < e["ear"] < 0.40, (side, e)  # open-eye EAR range (closed eyes fall below ~0.1)
        assert e["blink"] is not None and e["blink"] < 0.4
    # The geometry alone (no blendshapes, as from a landmark source without them) agrees.
    assert all(v["open"] for v in an.eye_openness(face["landmarks_xy"]).values())


def test_closed_eye_geometry_is_judged_closed_on_the_right_side(an):
    lm = face_of("grace_hopper.jpg")["landmarks_xy"].copy()
    # Close the subject's left eye: put its upper-lid EAR points onto the lower-lid ones below them.
    outer, up_o, up_i, inner, low_i, low_o = an.EAR_POINTS["left"]
    lm[up_o], lm[up_i] = lm[low_o], lm[low_i]
    eyes = an.eye_openness(lm)
    assert eyes["left"]["ear"] < 0.01 and not eyes["left"]["open"]
    assert eyes["right"]["open"] and eyes["right"]["ear"] > 0.2
    # A closed-eye blink blendshape agrees with the geometry; an open one cannot outvote a shut lid alone.
    assert not an.eye_openness(lm, {"eyeBlinkLeft": 0.9, "eyeBlinkRight": 0.05})["left"]["open"]
    assert an.eye_openness(lm, {"eyeBlinkLeft": 0.0, "eyeBlinkRight": 0.0})["left"]["openness"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    "name,smiling",
    [
        ("astronaut.png", True),
        ("obama.jpg", True),
        ("grace_hopper.jpg", False),
        ("biden.jpg", False),
        ("obama3.jpg", False),
    ],
)
def test_smile_level_separates_smiles_from_neutral_mouths(an, name, smiling):
    face = face_of(name)
    s = an.smile_level(face["landmarks_xy"], face["blendshapes"])
    geometry_only = an.smile_level(face["landmarks_xy"])
    assert geometry_only["blendshape"] is None and geometry_only["level"] == s["geometry"]
    if smiling:
        assert s["level"] > 0.6 and s["geometry"] > 0.5
    else:
        assert s["level"] < 0.2 and s["geometry"] < 0.3


def test_asymmetric_smile_sides_agree_between_blendshapes_and_geometry(an):
    # obama2 smiles more on his own left: blendshape names and mouth-corner landmarks must agree on sides,
    # also after mirroring the photo (which moves the stronger side to the subject's right).
    for face, strong, weak in (
        (face_of("obama2.jpg"), "left", "right"),
        (face_of_variant("obama2.jpg", "flip"), "right", "left"),
    ):
        s = an.smile_level(face["landmarks_xy"], face["blendshapes"])
        bs = face["blendshapes"]
        assert bs[f"mouthSmile{strong.title()}"] > bs[f"mouthSmile{weak.title()}"] + 0.15
        assert s["corner_lift"][strong] > s["corner_lift"][weak] + 0.02


@pytest.mark.parametrize("name", ["obama2.jpg", "obama3.jpg", "biden.jpg"])
def test_yaw_and_roll_change_sign_on_a_mirrored_photo(an, name):
    face, mirrored = face_of(name), face_of_variant(name, "flip")
    for use_matrix in (True, False):
        pose = [
            an.head_pose(f["landmarks_xy"], f["transformation_matrix"] if use_matrix else None, f["landmarks_3d"])
            for f in (face, mirrored)
        ]
        assert pose[0]["source"] == ("matrix" if use_matrix else "landmarks_3d")
        assert abs(pose[0]["yaw"]) > 8 and pose[0]["yaw"] * pose[1]["yaw"] < 0
        assert abs(pose[0]["yaw"] + pose[1]["yaw"]) < 5
        assert abs(pose[0]["roll"] + pose[1]["roll"]) < 4
        assert abs(pose[0]["pitch"] - pose[1]["pitch"]) < 5


def test_yaw_sign_follows_the_nose(an):
    # yaw > 0 = turned toward the image's right: the nose tip then lies right of the eye-corner midpoint.
    for name in ("obama2.jpg", "obama3.jpg", "biden.jpg"):
        face = face_of(name)
        lm = face["landmarks_xy"]
        nose_offset = lm[1, 0] - (lm[33, 0] + lm[263, 0]) / 2
        yaw = an.head_pose(lm, face["transformation_matrix"])["yaw"]
        assert abs(nose_offset) > 3 and np.sign(yaw) == np.sign(nose_offset), (name, yaw, nose_offset)


@pytest.mark.parametrize("angle", [20, -20])
def test_roll_follows_an_image_rotation_and_yaw_pitch_do_not(an, angle):
    face, turned = face_of("grace_hopper.jpg"), face_of_variant("grace_hopper.jpg", f"rot{angle:+d}")
    for use_matrix in (True, False):
        a, b = (
            an.head_pose(f["landmarks_xy"], f["transformation_matrix"] if use_matrix else None, f["landmarks_3d"])
            for f in (face, turned)
        )
        assert b["roll"] - a["roll"] == pytest.approx(angle, abs=3)
        assert abs(b["yaw"] - a["yaw"]) < 3 and abs(b["pitch"] - a["pitch"]) < 3


def test_pitch_is_negative_when_looking_down(an):
    face = face_of("astronaut.png")
    # The mesh's own depth says the same: her forehead (10) is nearer the camera (smaller z) than her chin (152).
    assert face["landmarks_3d"][10, 2] < face["landmarks_3d"][152, 2] - 10
    assert an.head_pose(face["landmarks_xy"], face["transformation_matrix"])["pitch"] < -8
    assert an.head_pose(face["landmarks_xy"], None, face["landmarks_3d"])["pitch"] < -8


@pytest.mark.parametrize("name", SINGLE_FACE_PHOTOS)
def test_landmark_pose_fallback_agrees_with_mediapipe_matrix(an, name):
    face = face_of(name)
    m = an.head_pose(face["landmarks_xy"], face["transformation_matrix"], face["landmarks_3d"])
    g = an.head_pose(face["landmarks_xy"], None, face["landmarks_3d"])
    assert abs(m["yaw"] - g["yaw"]) < 6 and abs(m["pitch"] - g["pitch"]) < 9 and abs(m["roll"] - g["roll"]) < 5
    flat = an.head_pose(face["landmarks_xy"])
    assert flat["source"] == "landmarks_2d" and flat["yaw"] is None and flat["roll"] == pytest.approx(g["roll"])


def test_analyze_face_is_json_serialisable_and_scales_with_the_image(an):
    from comfyui_facelab.nodes.face import detection

    face = face_of("grace_hopper.jpg")
    a = an.analyze_face(face)
    assert json.loads(json.dumps(a)) == a  # plain Python types only
    big = Image.fromarray(load_photo("grace_hopper.jpg")).resize((1024, 1200), Image.BICUBIC)
    b = an.analyze_face(detection.detect(np.asarray(big))["frames"][0][0])
    assert b["inter_ocular_distance"] == pytest.approx(2 * a["inter_ocular_distance"], rel=0.02)
    assert b["face_size"] == pytest.approx(2 * a["face_size"], rel=0.02)
    assert b["eyes"]["left"]["ear"] == pytest.approx(a["eyes"]["left"]["ear"], abs=0.03)


# --- ComfyUI core's FACE_LANDMARKS, built the way its MediaPipeFaceLandmarker builds it ----------------------


def core_style_face(face: dict, with_matrix: bool = True) -> dict:
    """A face dict as core emits it: landmarks_3d in a de-rotated 192-px crop frame, presence a raw logit,
    python-float blendshapes and score, float64 transformation matrix (or none)."""
    lm = face["landmarks_xy"].astype(np.float32)
    centre = lm.mean(axis=0)
    d = lm[263] - lm[33]
    a = -math.atan2(d[1], d[0])  # de-rotate so the eye line is horizontal, as core's crop warp does
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    roi = 1.5 * float(max(np.ptp(lm[:, 0]), np.ptp(lm[:, 1])))
    uv = (lm - centre) @ rot.T * (192 / roi) + 96
    z = face["landmarks_3d"][:, 2:3] * (192 / roi)
    return {
        "bbox_xyxy": np.array([lm[:, 0].min(), lm[:, 1].min(), lm[:, 0].max(), lm[:, 1].max()], dtype=np.float32),
        "blendshapes": {k: float(v) for k, v in face["blendshapes"].items()},
        "landmarks_xy": lm,
        "landmarks_3d": np.concatenate([uv, z], axis=1).astype(np.float32),
        "presence": 7.25,
        "score": 0.93,
        "transformation_matrix": np.asarray(face["transformation_matrix"], dtype=np.float64) if with_matrix else None,
    }


def core_landmarks(faces: list[dict]) -> dict:
    from comfyui_facelab.nodes.face import landmarker

    return {"frames": [faces], "image_size": (600, 512), "connection_sets": landmarker.connection_sets()}


def test_core_format_landmarks_are_accepted_by_analysis(an, pack):
    from comfyui_facelab.nodes.node_landmarks import FaceLabFaceAnalysis

    ours = face_of("grace_hopper.jpg")
    core = core_style_face(ours)
    report, found, left, right, smile, yaw, pitch, roll = FaceLabFaceAnalysis().analyze(core_landmarks([core]), 0, 0)
    assert found and left > 0.6 and right > 0.6 and smile < 0.2
    expected = an.head_pose(ours["landmarks_xy"], ours["transformation_matrix"])
    assert (yaw, pitch, roll) == pytest.approx((expected["yaw"], expected["pitch"], expected["roll"]))
    face_report = json.loads(report)["images"][0]["faces"][0]
    assert face_report["score"] == pytest.approx(0.93)
    # Without the matrix, core's de-rotated crop-frame 3-D points give the same pose as ours.
    no_matrix = core_style_face(ours, with_matrix=False)
    g_core = an.head_pose(no_matrix["landmarks_xy"], None, no_matrix["landmarks_3d"])
    g_ours = an.head_pose(ours["landmarks_xy"], None, ours["landmarks_3d"])
    for k in ("yaw", "pitch", "roll"):
        assert g_core[k] == pytest.approx(g_ours[k], abs=0.5)


def test_core_format_landmarks_are_accepted_by_select_faces(pack):
    from comfyui_facelab.nodes.node_landmarks import FaceLabSelectFaces

    big = core_style_face(face_of("grace_hopper.jpg"))
    small = dict(big)
    small["landmarks_xy"] = (big["landmarks_xy"] - 200) * 0.4 + 40  # a smaller face up and to the left
    small["bbox_xyxy"] = np.array([*small["landmarks_xy"].min(0), *small["landmarks_xy"].max(0)], dtype=np.float32)
    lms = core_landmarks([big, small])
    out, boxes, n = FaceLabSelectFaces().select(lms, "largest_first", 0)
    assert n == 1 and out["frames"][0][0]["landmarks_xy"] is big["landmarks_xy"]
    assert out["connection_sets"] is lms["connection_sets"] and out["image_size"] == (600, 512)
    assert boxes[0][0]["score"] == pytest.approx(0.93)
    out, _, n = FaceLabSelectFaces().select(lms, "left_to_right", -1)
    assert n == 2 and [f["score"] for f in out["frames"][0]] == [0.93, 0.93]
    assert out["frames"][0][0]["landmarks_xy"] is small["landmarks_xy"]
    assert lms["frames"][0][0] is big  # the input is not reordered in place


# --- node outputs on detected faces -------------------------------------------------------------------------


def test_analysis_node_reports_every_face_and_selects_one(pack):
    import torch
    from comfyui_facelab.nodes.face import detection
    from comfyui_facelab.nodes.node_landmarks import FaceLabFaceAnalysis

    coffee = np.asarray(Image.fromarray(load_photo("coffee.png")).resize((512, 512)))
    batch = torch.cat([photo_tensor("astronaut.png"), torch.from_numpy(coffee.astype(np.float32) / 255)[None]])
    lms = detection.detect(batch)
    node = FaceLabFaceAnalysis()
    report, found, left, right, smile, yaw, pitch, roll = node.analyze(lms, 0, 0)
    data = json.loads(report)
    assert found and data["face_count"] == 1 and [len(i["faces"]) for i in data["images"]] == [1, 0]
    assert left > 0.6 and right > 0.6 and smile > 0.6 and pitch < -8 and abs(yaw) < 10
    assert data["images"][0]["faces"][0]["eyes"]["left"]["openness"] == pytest.approx(left)
    report, found, *numbers = node.analyze(lms, 0, 1)
    assert not found and numbers == [0.0] * 6 and json.loads(report)["selected"]["message"] == "no face found"
    report, found, *_ = node.analyze(lms, 2, 0)
    assert not found and "has 1 face" in json.loads(report)["selected"]["message"]
    with pytest.raises(ValueError, match="FACE_LANDMARKS"):
        node.analyze({"faces": []}, 0, 0)
