"""Identity-guarded variant selection: the pure decision rule, face pairing, and the node on real photos (dlib)."""

from __future__ import annotations

import json

import pytest
import torch
from identity_helpers import letterbox


@pytest.fixture(scope="module")
def sel(pack):
    from comfyui_facelab.nodes.identity import selection

    return selection


# ------------------------------------------------------------------------------------------ pure decision rule
def test_retouch_takes_the_strongest_edit_that_keeps_identity(sel):
    scores = [0.9, 0.5, 0.2, None]
    strengths = [0.2, 0.5, 0.8, 1.0]  # the two strongest lose the identity or the face
    choice = sel.select_variant(scores, strengths, "retouch", 0.4)
    assert choice.index == 1 and choice.passed
    assert sel.select_variant(scores, strengths, "retouch", 0.6).index == 0


def test_retouch_ties_prefer_higher_similarity_then_lower_index(sel):
    assert sel.select_variant([0.5, 0.7, 0.7], [1.0, 1.0, 1.0], "retouch", 0.4).index == 1
    assert sel.select_variant([0.5, 0.5], None, "retouch", 0.4).index == 0


def test_retouch_with_no_identity_kept_passes_nothing(sel):
    choice = sel.select_variant([0.1, None], [0.1, 0.2], "retouch", 0.4)
    assert choice.index is None and not choice.passed and "original is passed through" in choice.reason


def test_anonymise_takes_the_least_similar_variant_that_has_a_face(sel):
    choice = sel.select_variant([0.8, 0.1, None, 0.3], [0.1, 0.2, 1.0, 0.9], "anonymise", 0.4)
    assert choice.index == 1 and choice.passed
    weak = sel.select_variant([0.8, 0.6], None, "anonymise", 0.4)
    assert weak.index == 1 and not weak.passed and "NOT below" in weak.reason
    none = sel.select_variant([None, None], None, "anonymise", 0.4)
    assert none.index is None and not none.passed and "NOT anonymised" in none.reason


def test_no_face_in_original_selects_nothing(sel):
    for mode in sel.MODES:
        choice = sel.select_variant([0.9, 0.1], [1, 2], mode, 0.4, has_face=False)
        assert choice.index is None and not choice.passed and "no face to guard in the original" in choice.reason


def test_bad_arguments(sel):
    with pytest.raises(ValueError, match="one strength per variant"):
        sel.select_variant([0.5, 0.6], [1.0], "retouch", 0.4)
    with pytest.raises(ValueError, match="unknown selection mode"):
        sel.select_variant([0.5], None, "swap", 0.4)
    assert sel.parse_strengths(" 0.2, 0.4;0.6 ", 3) == [0.2, 0.4, 0.6]
    assert sel.parse_strengths("", 3) is None
    with pytest.raises(ValueError, match="one strength per variant"):
        sel.parse_strengths("0.2, 0.4", 3)
    with pytest.raises(ValueError, match="numbers separated by commas"):
        sel.parse_strengths("0.2, strong", 2)


def test_faces_pair_by_overlap_then_by_order(pack):
    from comfyui_facelab.nodes.identity import similarity

    a = [[10, 10, 50, 50], [100, 10, 140, 50]]
    b_same_photo_half_size = [[50, 5, 70, 25], [5, 5, 25, 25]]  # same faces, listed right first, image half as big
    pairs = similarity.match_faces(a, (100, 200), b_same_photo_half_size, (50, 100))
    assert pairs == [(0, 1, "overlap"), (1, 0, "overlap")]
    other_photo = [[150, 60, 190, 95]]
    assert similarity.match_faces(a, (100, 200), other_photo, (100, 200)) == [(0, 0, "order")]


def test_pixel_change_measures_edits(sel):
    original = torch.zeros(1, 8, 8, 3)
    variants = torch.stack([torch.zeros(8, 8, 3), torch.full((8, 8, 3), 0.5), torch.ones(8, 8, 3)])
    assert sel.pixel_change(original, variants) == pytest.approx([0.0, 0.5, 1.0])
    rgba = torch.cat([original, torch.ones(1, 8, 8, 1)], dim=-1)  # alpha is ignored; sizes may differ
    assert sel.pixel_change(rgba, torch.full((1, 4, 4, 3), 0.25)) == pytest.approx([0.25])
    gray = torch.full((1, 8, 8, 1), 0.5)  # one channel counts as gray RGB
    assert sel.pixel_change(gray, torch.stack([torch.full((8, 8, 3), 0.5), torch.zeros(8, 8, 3)])) == pytest.approx(
        [0.0, 0.5]
    )


# --------------------------------------------------------------------------------- node on real photos (dlib)
@pytest.fixture(scope="module")
def dlib_model(pack):
    pytest.importorskip("dlib")
    from comfyui_facelab.nodes.identity import embedding

    return embedding.load_identity_model("dlib")


@pytest.fixture(scope="module")
def photos():
    return {
        n: letterbox(n)
        for n in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "grace_hopper.jpg", "chelsea.png", "coffee.png")
    }


def _select(model, original, variants, mode, strengths="", threshold=-1.0, face_index=-1):
    from comfyui_facelab.nodes import node_identity

    image, index, passed, report = node_identity.FaceLabVariantSelector().select(
        model, original, torch.cat(variants), mode, threshold, face_index, strengths
    )
    return image, index, passed, json.loads(report)


def test_retouch_picks_the_obama_variant(dlib_model, photos):
    variants = [photos["biden.jpg"], photos["obama2.jpg"], photos["grace_hopper.jpg"]]
    image, index, passed, report = _select(dlib_model, photos["obama.jpg"], variants, "retouch", "0.9, 0.3, 0.8")
    assert index == 1 and passed and torch.equal(image, photos["obama2.jpg"])
    sims = [v["similarity"] for v in report["variants"]]
    assert report["similarity_threshold"] == pytest.approx(1 - 0.6)  # dlib's distance 0.6 on the similarity scale
    assert sims[1] >= 0.4 > max(sims[0], sims[2])
    assert [v["eligible"] for v in report["variants"]] == [False, True, False]
    assert [v["strength"] for v in report["variants"]] == [0.9, 0.3, 0.8] and report["strength_source"] == "given"


def test_retouch_picks_the_strongest_of_several_that_keep_identity(dlib_model, photos):
    variants = [photos["obama2.jpg"], photos["obama3.jpg"], photos["biden.jpg"]]
    _, index, passed, _ = _select(dlib_model, photos["obama.jpg"], variants, "retouch", "0.3 0.6 0.9")
    assert index == 1 and passed


def test_anonymise_picks_a_different_person(dlib_model, photos):
    variants = [photos["biden.jpg"], photos["obama2.jpg"], photos["grace_hopper.jpg"]]
    image, index, passed, report = _select(dlib_model, photos["obama.jpg"], variants, "anonymise", "0.9, 0.3, 0.8")
    sims = [v["similarity"] for v in report["variants"]]
    assert index in (0, 2) and index != 1 and passed
    assert sims[index] == min(sims) and torch.equal(image, variants[index])


def test_retouch_without_strengths_uses_pixel_change(dlib_model, photos):
    original = photos["obama.jpg"]
    variants = [original.clone(), original * 0.85, photos["biden.jpg"]]  # biden changes most pixels but is someone else
    _, index, passed, report = _select(dlib_model, original, variants, "retouch")
    assert report["strength_source"] == "pixel_change" and index == 1 and passed
    strengths = [v["strength"] for v in report["variants"]]
    assert strengths[0] == 0 < strengths[1] < strengths[2]


def test_no_face_in_original_passes_it_through(dlib_model, photos):
    original = photos["chelsea.png"]
    image, index, passed, report = _select(dlib_model, original, [photos["obama.jpg"], photos["biden.jpg"]], "retouch")
    assert index == -1 and not passed and torch.equal(image, original)
    assert report["original_faces"] == 0 and "no face to guard in the original" in report["reason"]


def test_anonymise_rejects_variants_that_lost_the_face(dlib_model, photos):
    image, index, passed, report = _select(
        dlib_model, photos["obama.jpg"], [photos["coffee.png"], photos["chelsea.png"]], "anonymise"
    )
    assert index == -1 and not passed and torch.equal(image, photos["obama.jpg"])
    assert [v["faces_found"] for v in report["variants"]] == [0, 0] and "NOT anonymised" in report["reason"]


def test_original_must_be_one_image(dlib_model, photos):
    two = torch.cat([photos["obama.jpg"], photos["obama2.jpg"]])
    with pytest.raises(ValueError, match="must be a single image"):
        _select(dlib_model, two, [photos["biden.jpg"]], "retouch")


def test_face_index_chooses_which_faces_are_guarded(dlib_model, photos):
    """Two-person photos: the right-hand person is swapped in variant 0, the left-hand one re-shot in variant 1."""

    def pair(left, right):
        return torch.cat([photos[left], photos[right]], dim=2)

    original = pair("obama.jpg", "grace_hopper.jpg")
    variants = [pair("obama.jpg", "biden.jpg"), pair("obama2.jpg", "grace_hopper.jpg")]
    _, index, passed, report = _select(dlib_model, original, variants, "retouch", "0.9, 0.1", face_index=-1)
    assert report["original_faces"] == 2 and index == 1 and passed  # every face guarded: variant 0 lost Grace Hopper
    assert [len(v["faces"]) for v in report["variants"]] == [2, 2]
    _, index, _, _ = _select(dlib_model, original, variants, "retouch", "0.9, 0.1", face_index=0)
    assert index == 0  # only the left face (Obama, unchanged in variant 0) is guarded: the stronger edit wins
    _, index, _, _ = _select(dlib_model, original, variants, "retouch", "0.9, 0.1", face_index=1)
    assert index == 1
    _, index, passed, report = _select(dlib_model, original, variants, "retouch", "0.9, 0.1", face_index=2)
    assert index == -1 and not passed and report["original_faces"] == 2 and "face_index is beyond" in report["reason"]
