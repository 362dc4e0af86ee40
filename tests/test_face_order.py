"""One face convention in every node: faces are taken in the order the FACE_LANDMARKS value carries, and face_index
indexes that order (issue 12, item 1).

The photo: two real portraits side by side, obama.jpg shrunk into the left part and grace_hopper.jpg at full size on
the right, with their landmarks found by the real MediaPipe model on each portrait and moved into the canvas. So
left_to_right gives [obama, grace] and largest_first gives [grace, obama]: with the old left-to-right re-sorting in
Zone Mask, Crop, Aging, Wrinkle, Expression, Makeup and Anonymise, face 0 after largest_first was obama there but
grace in Identity Embedding and Face Analysis. Each test below checks that face 0 (and face 1) is the face the
landmarks list first (second), for both orders, node by node.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import landmarks_for, load_photo
from PIL import Image

OBAMA_W, OBAMA_H, OBAMA_TOP = 256, 320, 140  # obama.jpg (910x1137) shrunk to 256x320, pasted at (0, 140)
GRACE_X = OBAMA_W  # grace_hopper.jpg (512x600) pasted at (256, 0)
ORDERS = ("left_to_right", "largest_first")


def _moved(face: dict, scale: float, dx: float, dy: float) -> dict:
    shift = np.float32([dx, dy])
    return dict(
        face,
        landmarks_xy=np.asarray(face["landmarks_xy"], np.float32) * scale + shift,
        bbox_xyxy=np.asarray(face["bbox_xyxy"], np.float32) * scale + np.tile(shift, 2),
    )


@pytest.fixture(scope="module")
def two_faces(pack):
    """(IMAGE [1,600,768,3], {order: FACE_LANDMARKS}, {order: [name of face 0, name of face 1]})."""
    from comfyui_facelab.nodes import node_landmarks
    from comfyui_facelab.nodes.face import face_landmarks as fl

    obama = np.asarray(Image.fromarray(load_photo("obama.jpg")).resize((OBAMA_W, OBAMA_H), Image.LANCZOS))
    canvas = np.full((600, OBAMA_W + 512, 3), 128, np.uint8)
    canvas[OBAMA_TOP : OBAMA_TOP + OBAMA_H, :OBAMA_W] = obama
    canvas[:, GRACE_X:] = load_photo("grace_hopper.jpg")
    image = torch.from_numpy(canvas.astype(np.float32) / 255.0)[None]
    faces = [
        _moved(landmarks_for("grace_hopper.jpg")["frames"][0][0], 1.0, GRACE_X, 0.0),
        _moved(landmarks_for("obama.jpg")["frames"][0][0], OBAMA_W / 910.0, 0.0, OBAMA_TOP),
    ]
    raw = fl.make_face_landmarks([faces], (600, OBAMA_W + 512))
    ordered, names = {}, {}
    for order in ORDERS:
        out, _, n = node_landmarks.FaceLabSelectFaces().select(raw, order, -1)
        assert n == 2
        ordered[order] = out
        names[order] = ["grace" if fl.face_center(f)[0] > GRACE_X else "obama" for f in out["frames"][0]]
    # the premise: the two orders differ, so a node that re-sorts picks the other face
    assert names == {"left_to_right": ["obama", "grace"], "largest_first": ["grace", "obama"]}
    return image, ordered, names


def _inside(box, point) -> bool:
    x1, y1, x2, y2 = (float(v) for v in box)
    return x1 <= point[0] <= x2 and y1 <= point[1] <= y2


def _centroid(mask: torch.Tensor) -> tuple[float, float]:
    ys, xs = torch.nonzero(mask > 0.5, as_tuple=True)
    assert len(xs), "empty mask"
    return float(xs.float().mean()), float(ys.float().mean())


def _box(lms: dict, k: int):
    return lms["frames"][0][k]["bbox_xyxy"]


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("k", [0, 1])
def test_zone_mask_face_index(pack, two_faces, order, k):
    from comfyui_facelab.nodes import node_zones

    image, lms, _ = two_faces
    mask, report = node_zones.FaceLabZoneMask().make_mask(image, lms[order], "face_oval", k, 0.0, 0.0, "none")
    assert _inside(_box(lms[order], k), _centroid(mask[0])) and "1 of 2 face(s)" in report


@pytest.mark.parametrize("order", ORDERS)
def test_crop_face_index(pack, two_faces, order):
    from comfyui_facelab.nodes import node_compose

    image, lms, _ = two_faces
    node = node_compose.FaceLabCrop()
    _, _, plan, _ = node.crop(
        image, 1.5, 64, "keep resolution", 1024, "8", "shift inside image", False, 0, face_landmarks=lms[order]
    )
    (entry,) = [e for e in plan.entries if not e.empty]
    x0, y0, x1, y1 = entry.roi
    assert _inside(_box(lms[order], 0), ((x0 + x1) / 2, (y0 + y1) / 2)) and entry.label == "image 0 face 0"
    # every face: crops come in the landmarks' order too
    _, _, plan_all, _ = node.crop(
        image, 1.5, 64, "keep resolution", 1024, "8", "shift inside image", False, -1, face_landmarks=lms[order]
    )
    centres = [((e.roi[0] + e.roi[2]) / 2, (e.roi[1] + e.roi[3]) / 2) for e in plan_all.entries]
    assert [_inside(_box(lms[order], k), c) for k, c in enumerate(centres)] == [True, True]


@pytest.mark.parametrize("order", ORDERS)
def test_aging_conditioning_face_index(pack, two_faces, order):
    from comfyui_facelab.nodes import node_aging
    from test_aging_conditioning import FakeClip

    image, lms, _ = two_faces
    (scores, _) = node_aging.FaceLabZoneScores().build("custom", 1.0, **{"forehead": 0.5})
    _, _, mask, *_ = node_aging.FaceLabAgingConditioning().build(
        FakeClip(), image, lms[order], scores, "a photo", "blurry", 0, 10.0, 0.3, 1.0
    )
    assert _inside(_box(lms[order], 0), _centroid(mask[0] / mask.max()))


@pytest.mark.parametrize("order", ORDERS)
def test_wrinkle_score_face_index(pack, two_faces, order):
    from comfyui_facelab.nodes import node_aging

    image, lms, _ = two_faces
    _, _, heat = node_aging.FaceLabWrinkleScore().score(image, lms[order], 0, "mean")
    changed = (heat[0] - image[0]).abs().amax(-1) > 1e-3  # the heat map is painted on the measured face only
    assert _inside(_box(lms[order], 0), _centroid(changed.float()))


@pytest.mark.parametrize("order", ORDERS)
def test_face_analysis_and_expression_face_index(pack, two_faces, order):
    from comfyui_facelab.nodes import node_expression, node_landmarks

    image, lms, _ = two_faces
    report = json.loads(node_landmarks.FaceLabFaceAnalysis().analyze(lms[order], 0, 0)[0])
    assert np.allclose(report["images"][0]["faces"][0]["bbox_xyxy"], _box(lms[order], 0))
    _, _, text, _, _ = node_expression.FaceLabExpressionAnalysis().analyse(
        image, lms[order], "eyes", 0.22, 0.5, 0.3, 10.0, 10.0, 10.0, 0
    )
    (face,) = json.loads(text)["images"][0]["faces"]
    assert face["face"] == 0 and np.allclose(face["box"], _box(lms[order], 0), atol=0.06)


@pytest.mark.parametrize("order", ORDERS)
def test_identity_embedding_face_index(pack, two_faces, order):
    from comfyui_facelab.nodes import node_identity

    image, lms, _ = two_faces
    (model,) = node_identity.FaceLabIdentityModelLoader().load("dlib", "antelopev2", "auto")
    identity, count, _ = node_identity.FaceLabIdentityEmbed().embed(model, image, 0, lms[order])
    assert count == 1 and np.allclose(identity["frames"][0][0]["box"], _box(lms[order], 0))


@pytest.mark.parametrize("order", ORDERS)
def test_makeup_face_index(pack, two_faces, order):
    from comfyui_facelab.nodes import node_makeup

    image, lms, _ = two_faces
    reference = image[:, :, GRACE_X:]  # grace's portrait: a clear frontal reference face
    _, mask, _, _, report = node_makeup.FaceLabMakeupTransfer().transfer(
        image,
        reference,
        0,
        1.0,
        0.0,
        0.0,
        0.0,
        0.0,
        8.0,
        source_landmarks=lms[order],
        reference_landmarks=landmarks_for("grace_hopper.jpg"),
    )
    assert float(mask.max()) > 0.5, report
    assert _inside(_box(lms[order], 0), _centroid(mask[0]))


@pytest.mark.parametrize("order", ORDERS)
def test_anonymise_plan_keeps_the_order(pack, two_faces, order):
    from comfyui_facelab.nodes import node_anonymise

    image, lms, _ = two_faces
    *_, text = node_anonymise.FaceLabAnonymiseFaces().plan(image, lms[order], 6.0, 8.0, "")
    boxes = [f["box"] for f in json.loads(text)["images"][0]["faces"]]
    assert np.allclose(boxes, [_box(lms[order], 0), _box(lms[order], 1)], atol=0.06)
