"""Bad input at the node boundary (issue 19 items 14-17 and 19, issue 12 items 1-2): one structural check of
FACE_LANDMARKS, one rule for landmarks of another image size, and clear `FaceLab:` errors instead of crashes.

Every error case here crashed (KeyError, AttributeError, IndexError, TypeError) or gave a wrong result before.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from conftest import landmarks_for, photo_tensor

NAN = float("nan")


@pytest.fixture(scope="module")
def fl(pack):
    from comfyui_facelab.nodes.face import face_landmarks

    return face_landmarks


@pytest.fixture(scope="module")
def grace():
    """(IMAGE, FACE_LANDMARKS, the one face) of grace_hopper.jpg (512x600), real model."""
    lms = landmarks_for("grace_hopper.jpg")
    return photo_tensor("grace_hopper.jpg"), lms, lms["frames"][0][0]


def _with_face(lms: dict, **changes) -> dict:
    face = dict(lms["frames"][0][0], **changes)
    return {**lms, "frames": [[{k: v for k, v in face.items() if v is not ...}]]}


# ------------------------------------------------------------------------------------- FACE_LANDMARKS structure
def test_a_face_without_a_box_gets_one_from_its_landmarks(fl, grace, pack):
    from comfyui_facelab.nodes import node_compose, node_zones

    image, lms, face = grace
    no_box = _with_face(lms, bbox_xyxy=...)
    assert "bbox_xyxy" not in no_box["frames"][0][0]
    checked = fl.validate(no_box)
    assert np.array_equal(checked["frames"][0][0]["bbox_xyxy"], fl.bbox_from_landmarks(face["landmarks_xy"]))
    assert "bbox_xyxy" not in no_box["frames"][0][0]  # the input value is not modified
    mask, _ = node_zones.FaceLabZoneMask().make_mask(image, no_box, "nose", 0, 0.0, 0.0, "none")
    assert mask.max() == 1.0  # FaceLab's own boxes are the landmark extent: same mask
    crops, *_ = node_compose.FaceLabCrop().crop(
        image, 1.5, 64, "keep resolution", 1024, "8", "shift inside image", False, 0, face_landmarks=no_box
    )
    assert crops.shape[0] == 1


@pytest.mark.parametrize(
    "bad, words",
    [
        ({"frames": "faces"}, "frames is a str"),
        ({"frames": ["face"]}, "image 0 is a str"),
        ({"frames": [["face"]]}, "image 0 face 0 is a str"),
        ({"frames": [[{"bbox_xyxy": [0, 0, 9, 9]}]]}, "image 0 face 0 has no landmarks_xy"),
        ({"frames": [[{"landmarks_xy": "points"}]]}, "landmarks_xy is a str"),
        ({"frames": [[{"landmarks_xy": np.zeros((10, 2))}]]}, r"shape \(10, 2\)"),
        ({"frames": [[{"landmarks_xy": np.zeros((478, 3))}]]}, r"shape \(478, 3\)"),
        ({"frames": [[{"landmarks_xy": np.zeros((478, 2))}]]}, "one line or point"),
        ({"frames": [], "image_size": "big"}, "image_size is 'big'"),
        ("landmarks", "expected FACE_LANDMARKS"),
        (None, "expected FACE_LANDMARKS"),
    ],
)
def test_malformed_structures_give_one_clear_error(fl, bad, words):
    with pytest.raises(fl.FaceLandmarksError, match=words) as err:
        fl.validate(bad)
    assert str(err.value).startswith("FaceLab")


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("landmarks_xy", "nan", "NaN or infinite"),
        ("bbox_xyxy", [10.0, 10.0, 10.0, 50.0], "has no area"),
        ("bbox_xyxy", "box", "not 4 numbers"),
        ("bbox_xyxy", [1.0, 2.0, 3.0], "must be 4 finite numbers"),
        ("score", "high", "score is 'high'"),
        ("blendshapes", ["eyeBlinkLeft"], "blendshapes is a list"),
    ],
)
def test_malformed_faces_name_the_producer(fl, grace, field, value, words):
    _, lms, face = grace
    if value == "nan":
        value = np.where(np.arange(478)[:, None] == 7, np.nan, face["landmarks_xy"])
    with pytest.raises(fl.FaceLandmarksError, match=words) as err:
        fl.validate(_with_face(lms, **{field: value}), "Some Node")
    assert str(err.value).startswith("FaceLab Some Node: face_landmarks image 0 face 0")
    assert "the node that made them" in str(err.value)


def test_core_mediapipe_format_is_accepted_as_is(fl, grace):
    """Core's MediaPipeFaceLandmarker (comfy_extras/nodes_mediapipe.py, 0.33): numpy arrays, numpy-float score and
    presence, a 4x4 transformation_matrix, landmarks_3d, 52 blendshapes, connection_sets; image_size (H, W)."""
    _, lms, face = grace
    core_face = {
        "bbox_xyxy": np.asarray(face["bbox_xyxy"], np.float32),
        "blendshapes": {"eyeBlinkLeft": np.float32(0.1)},
        "landmarks_xy": np.asarray(face["landmarks_xy"], np.float32),
        "landmarks_3d": np.zeros((478, 3), np.float32),
        "presence": np.float32(0.99),
        "score": np.float32(0.9),
        "transformation_matrix": np.eye(4),
    }
    core = {"frames": [[core_face]], "image_size": (600, 512), "connection_sets": {"lips": frozenset({(0, 1)})}}
    out = fl.fit_landmarks_to_image(core, (600, 512), 1)
    assert out["connection_sets"] == core["connection_sets"] and out["image_size"] == (600, 512)
    assert np.array_equal(out["frames"][0][0]["landmarks_xy"], core_face["landmarks_xy"])
    assert out["frames"][0][0]["transformation_matrix"] is core_face["transformation_matrix"]
    as_tensors = {
        **core,
        "frames": [
            [
                dict(
                    core_face,
                    landmarks_xy=torch.from_numpy(core_face["landmarks_xy"]),
                    bbox_xyxy=torch.from_numpy(core_face["bbox_xyxy"]),
                )
            ]
        ],
    }
    again = fl.validate(as_tensors)["frames"][0][0]  # a custom node's torch tensors are read too
    assert isinstance(again["landmarks_xy"], np.ndarray) and np.array_equal(again["bbox_xyxy"], core_face["bbox_xyxy"])


def test_crop_refuses_nan_landmarks_clearly(pack, grace):
    """Issue 19 item 14: Crop crashed on NaN landmarks."""
    from comfyui_facelab.nodes import node_compose

    image, lms, face = grace
    broken = _with_face(lms, landmarks_xy=np.full_like(face["landmarks_xy"], np.nan))
    with pytest.raises(ValueError, match="FaceLab Crop Face Region: face_landmarks image 0 face 0: .*NaN"):
        node_compose.FaceLabCrop().crop(
            image, 1.5, 64, "keep resolution", 1024, "8", "shift inside image", False, -1, face_landmarks=broken
        )


@pytest.mark.parametrize("offset", [1e6, -1e6])
def test_faces_outside_the_image_are_refused_by_every_node(pack, grace, offset):
    """Issue 19 items 14 and 17: Wrinkle Score crashed on landmarks outside the image; identity vectors were made
    for faces with no pixel in it. Landmarks 1e6 px away belong to no face of this image."""
    from comfyui_facelab.nodes import node_aging, node_identity, node_zones

    image, lms, face = grace
    far = _with_face(lms, landmarks_xy=face["landmarks_xy"] + offset, bbox_xyxy=face["bbox_xyxy"] + offset)
    words = "lies entirely outside the 512x600 image"
    with pytest.raises(ValueError, match=words):
        node_aging.FaceLabWrinkleScore().score(image, far, 0, "mean")
    (model,) = node_identity.FaceLabIdentityModelLoader().load("dlib", "antelopev2", "auto")
    with pytest.raises(ValueError, match=words):
        node_identity.FaceLabIdentityEmbed().embed(model, image, -1, far)
    with pytest.raises(ValueError, match=words):
        node_zones.FaceLabZoneMask().make_mask(image, far, "nose", -1, 0.0, 0.0, "none")


def test_identity_refuses_a_zero_area_box(pack, grace):
    from comfyui_facelab.nodes import node_identity

    image, lms, face = grace
    x, y = (float(v) for v in face["bbox_xyxy"][:2])
    flat = _with_face(lms, bbox_xyxy=np.float32([x, y, x, y + 50]))
    (model,) = node_identity.FaceLabIdentityModelLoader().load("dlib", "antelopev2", "auto")
    with pytest.raises(ValueError, match="FaceLab Identity Embedding: .*has no area"):
        node_identity.FaceLabIdentityEmbed().embed(model, image, -1, flat)


# ------------------------------------------------------------------------------ one rule: landmarks fit the image
def _half(image: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.interpolate(image.permute(0, 3, 1, 2), scale_factor=0.5, mode="area").permute(0, 2, 3, 1)


def test_landmarks_of_a_resized_copy_work_in_every_node(pack, grace):
    """Issue 12 item 2: landmarks found on a half-size copy worked in Zone Mask but were refused by Expression
    Analysis, Identity Embedding and Anonymise Faces. Now every node rescales them the same way."""
    from comfyui_facelab.nodes import node_anonymise, node_expression, node_identity
    from comfyui_facelab.nodes.face import detection

    image, lms, _ = grace
    small = detection.detect(_half(image))
    assert tuple(small["image_size"]) == (300, 256)
    expr = node_expression.FaceLabExpressionAnalysis()
    full_report = json.loads(expr.analyse(image, lms, "eyes", 0.22, 0.5, 0.3, 10.0, 10.0, 10.0, -1)[2])
    half_report = json.loads(expr.analyse(image, small, "eyes", 0.22, 0.5, 0.3, 10.0, 10.0, 10.0, -1)[2])
    # the same decisions; boxes within 2 % of the face (the half-size detection is slightly different)
    full_face, half_face = full_report["images"][0]["faces"][0], half_report["images"][0]["faces"][0]
    assert full_face["fix"] == half_face["fix"] == [] and len(half_report["images"][0]["faces"]) == 1
    assert np.allclose(full_face["box"], half_face["box"], atol=0.02 * 512)
    (model,) = node_identity.FaceLabIdentityModelLoader().load("dlib", "antelopev2", "auto")
    ident, count, _ = node_identity.FaceLabIdentityEmbed().embed(model, image, -1, small)
    assert count == 1 and ident["image_size"] == (600, 512)
    assert np.allclose(ident["frames"][0][0]["box"], full_face["box"], atol=0.02 * 512)
    *_, plan_report = node_anonymise.FaceLabAnonymiseFaces().plan(image, small, 6.0, 8.0, "")
    assert json.loads(plan_report)["face_count"] == 1


def test_another_framing_is_refused_with_the_same_message_everywhere(pack, grace):
    from comfyui_facelab.nodes import node_expression, node_identity, node_zones

    image, lms, _ = grace
    cropped = image[:, :300]  # 512x300: another aspect ratio
    words = "detected on a 512x600 image but this image is 512x300 .another aspect ratio"
    with pytest.raises(ValueError, match=words):
        node_zones.FaceLabZoneMask().make_mask(cropped, lms, "nose", -1, 0.0, 0.0, "none")
    with pytest.raises(ValueError, match=words):
        node_expression.FaceLabExpressionAnalysis().analyse(cropped, lms, "eyes", 0.22, 0.5, 0.3, 10.0, 10.0, 10.0, -1)
    (model,) = node_identity.FaceLabIdentityModelLoader().load("dlib", "antelopev2", "auto")
    with pytest.raises(ValueError, match=words):
        node_identity.FaceLabIdentityEmbed().embed(model, cropped, -1, lms)


def test_frame_count_must_match_the_batch(pack, grace):
    from comfyui_facelab.nodes import node_expression

    image, lms, _ = grace
    two = {**lms, "frames": lms["frames"] * 2}
    with pytest.raises(ValueError, match="2 frames but the image batch has 3 images"):
        node_expression.FaceLabExpressionAnalysis().analyse(
            image.repeat(3, 1, 1, 1), two, "eyes", 0.22, 0.5, 0.3, 10.0, 10.0, 10.0, -1
        )


# ------------------------------------------------------------------------------------------- other node inputs
@pytest.mark.parametrize("channels", [1, 4])
def test_wrinkle_score_no_face_pass_through_has_three_channels(pack, channels):
    """Issue 19 item 16: the no-face pass-through returned the 1- or 4-channel input (SaveImage then fails)."""
    from comfyui_facelab.nodes import node_aging

    image = photo_tensor("chelsea.png")
    image = image.mean(-1, keepdim=True) if channels == 1 else torch.cat([image, torch.ones_like(image[..., :1])], -1)
    empty = {"frames": [[]], "image_size": tuple(image.shape[1:3])}
    _, score, heat = node_aging.FaceLabWrinkleScore().score(image, empty, 0, "mean")
    assert score == 0.0 and heat.shape == (*image.shape[:3], 3)
    assert torch.equal(heat[..., 0], image[..., 0])  # still the image itself, unchanged


def test_face_analysis_refuses_negative_indices(pack, grace):
    """Issue 19 item 19: face_index -1 silently described the last face."""
    from comfyui_facelab.nodes import node_landmarks

    _, lms, _ = grace
    node = node_landmarks.FaceLabFaceAnalysis()
    with pytest.raises(ValueError, match="face_index is -1; use 0 for the first face"):
        node.analyze(lms, -1, 0)
    with pytest.raises(ValueError, match="image_index is -2"):
        node.analyze(lms, 0, -2)
    report, found, *_ = node.analyze(lms, 1, 0)
    assert found is False and "face_index 1 does not exist" in report


@pytest.mark.parametrize("n", [0, -1])
def test_repeat_for_candidates_needs_one_or_more(pack, n):
    from comfyui_facelab.nodes import node_anonymise

    crops = torch.rand(2, 64, 64, 3)
    with pytest.raises(ValueError, match=f"candidates is {n}"):
        node_anonymise.FaceLabRepeatForCandidates().repeat(crops, torch.ones(2, 64, 64), n)


def test_sweep_grid_without_images_is_a_clear_error(pack):
    from comfyui_facelab.nodes import node_compose

    with pytest.raises(ValueError, match="FaceLab Sweep Comparison Grid: no images arrived"):
        node_compose.FaceLabSweepGrid().grid([], [0], [""], [""], [32], [8])


def test_out_of_list_combo_values_are_named(pack, grace):
    """ComfyUI checks combos in the UI; a hand-written API prompt can still carry another value (was a KeyError)."""
    from comfyui_facelab.nodes import node_compose

    image, lms, _ = grace
    with pytest.raises(ValueError, match="resolution 'huge' is not one of: SDXL area"):
        node_compose.FaceLabCrop().crop(
            image, 1.5, 64, "huge", 1024, "8", "shift inside image", False, -1, face_landmarks=lms
        )
    crops, _, plan, _ = node_compose.FaceLabCrop().crop(
        image, 1.5, 64, "keep resolution", 1024, "8", "shift inside image", False, -1, face_landmarks=lms
    )
    with pytest.raises(ValueError, match="blend 'mix' is not one of"):
        node_compose.FaceLabStitch().stitch(image, crops, plan, 0.1, "off", "mix")


def test_a_non_model_identity_model_is_named(pack):
    from comfyui_facelab.nodes import node_identity

    with pytest.raises(ValueError, match="identity_model must come from the Identity Model Loader, got str"):
        node_identity.FaceLabIdentityEmbed().embed("dlib", photo_tensor("grace_hopper.jpg"), -1)


def test_nan_widget_values_are_refused(pack):
    """Issue 19 item 14: NaN sliders became -1 (Zone Scores) or inverted the same-person decision (Similarity)."""
    from comfyui_facelab.nodes import node_aging, node_identity

    with pytest.raises(ValueError, match="forehead is nan"):
        node_aging.FaceLabZoneScores().build("custom", 1.0, forehead=NAN)
    with pytest.raises(ValueError, match="preset_strength is nan"):
        node_aging.FaceLabZoneScores().build("age +10y", NAN)
    vec = np.ones(128, np.float32) / math.sqrt(128)
    face = {
        "embedding": vec,
        "raw": vec,
        "box": [0.0, 0.0, 10.0, 10.0],
        "face_index": 0,
        "backend": "dlib",
        "model": "m",
    }
    ident = {"backend": "dlib", "model": "m", "dim": 128, "detector": "x", "image_size": (10, 10), "frames": [[face]]}
    node = node_identity.FaceLabIdentitySimilarity()
    assert node.compare(-1.0, identity_a=ident, identity_b=ident)[2] is True  # identical: the same person
    with pytest.raises(ValueError, match="identity threshold is nan"):
        node.compare(NAN, identity_a=ident, identity_b=ident)


def test_nan_sizes_are_refused_before_they_crash(pack, grace):
    """NaN grow / feather / dilation / margin crashed with 'cannot convert float NaN to integer'."""
    from comfyui_facelab.nodes import node_anonymise, node_expression, node_zones

    image, lms, _ = grace
    with pytest.raises(ValueError, match="FaceLab: grow is nan"):
        node_zones.FaceLabZoneMask().make_mask(image, lms, "lips", -1, NAN, 10.0, "none")
    with pytest.raises(ValueError, match="FaceLab: feather is nan"):
        node_zones.FaceLabZoneMask().make_mask(image, lms, "lips", -1, 0.0, NAN, "none")
    with pytest.raises(ValueError, match="FaceLab: eye_dilation is nan"):
        node_expression.FaceLabExpressionAnalysis().analyse(image, lms, "eyes", 0.22, 0.5, 0.3, NAN, 10.0, 10.0, -1)
    with pytest.raises(ValueError, match="FaceLab: hairline_margin is nan"):
        node_anonymise.FaceLabAnonymiseFaces().plan(image, lms, NAN, 8.0, "")
