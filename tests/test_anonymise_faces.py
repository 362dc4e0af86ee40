"""Anonymisation on real photos with the real models (MediaPipe + dlib): every face of a group photo is planned,
the least recognisable candidate that still is a face wins, every face is reported, failures are blurred, and
nothing outside the face masks changes.

Candidates here are real portraits of other people cut with the same Crop Face Region settings as the original
(what an inpainted face crop looks like to the selector: a face at the same place, another identity), the
original's own crop (the same person), a cat and a shifted crop (no face where the face should be).
dlib, measured on these photos: a face's own crop scores similarity 0.92-0.97, another photo of the same man 0.61,
other people 0.10-0.35 (threshold 0.4).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import photo_tensor
from scipy import ndimage
from scipy.spatial import ConvexHull

pytest.importorskip("dlib")
pytest.importorskip("face_recognition_models")

CROP = dict(context_factor=1.6, min_context=64, resolution="SDXL area (target size squared)", target_size=384,
            multiple_of="64", padding="shift inside image", align_eyes=True, face_index=-1)  # fmt: skip
JAW_AND_TOP = (10, 109, 338, 152, 148, 176, 149, 150, 136, 172, 58, 377, 400, 378, 379, 365, 397, 288)
SELECT = dict(
    threshold=-1.0,
    candidate_order="repeated (all faces, then all faces again)",
    blur_failed=True,
    feather=0.1,
    color_match=True,
)


@pytest.fixture(scope="module")
def nodes(pack):
    from comfyui_facelab.nodes import node_anonymise, node_compose, node_identity

    (model,) = node_identity.FaceLabIdentityModelLoader().load("dlib", "antelopev2", "auto")
    return node_anonymise, node_compose, model


@pytest.fixture(scope="module")
def detect(pack):
    from comfyui_facelab.nodes.face import detection

    cache = {}

    def run(image, key, mode="standard"):
        if key not in cache:
            cache[key] = detection.detect(image, mode=mode)
        return cache[key]

    return run


def small(name: str, side: int = 512) -> torch.Tensor:
    t = photo_tensor(name)
    h, w = t.shape[1:3]
    s = side / max(h, w)
    x = F.interpolate(t.permute(0, 3, 1, 2), size=(round(h * s), round(w * s)), mode="bilinear", antialias=True)
    return x.permute(0, 2, 3, 1).contiguous()


def prepare(nodes, detect, name, image=None, mode="standard"):
    """The workflow up to the sampler: landmarks -> Anonymise Faces -> Crop Face Region (mask + landmarks)."""
    node_anonymise, node_compose, _ = nodes
    image = small(name) if image is None else image
    marks = detect(image, name, mode)
    mask, plan, count, pos, neg, report = node_anonymise.FaceLabAnonymiseFaces().plan(image, marks, 6.0, 8.0, "")
    crops, crop_masks, stitch, _ = node_compose.FaceLabCrop().crop(image, mask=mask, face_landmarks=marks, **CROP)
    return image, marks, mask, plan, crops, stitch, json.loads(report)


def resized(crops: torch.Tensor, hw) -> torch.Tensor:
    return F.interpolate(crops.permute(0, 3, 1, 2), size=tuple(hw), mode="bilinear", antialias=True).permute(0, 2, 3, 1)


def select(nodes, original, candidates, plan, stitch, **kw):
    node_anonymise, _, model = nodes
    args = {**SELECT, **kw}
    image, changed, ok, report = node_anonymise.FaceLabAnonymiseSelect().select(
        original, candidates, plan, model, stitch=stitch, **args
    )
    return image, changed, ok, json.loads(report)


@pytest.fixture(scope="module")
def obama(nodes, detect):
    image, marks, mask, plan, crops, stitch, _ = prepare(nodes, detect, "obama.jpg")
    others = {
        n: resized(prepare(nodes, detect, n)[4], crops.shape[1:3])
        for n in ("biden.jpg", "grace_hopper.jpg", "obama2.jpg")
    }
    cat = resized(small("chelsea.png"), crops.shape[1:3])
    return image, marks, mask, plan, crops, stitch, others, cat


# ---------------------------------------------------------------------------------------------------- plan
def test_every_face_of_the_group_photo_is_planned_with_its_interior_masked(nodes, detect):
    image, marks, mask, plan, crops, stitch, report = prepare(
        nodes, detect, "t1.jpg", photo_tensor("t1.jpg"), "small_faces"
    )
    assert report["face_count"] == 6 and len(plan.faces[0]) == 6 and len(report["images"][0]["faces"]) == 6
    assert crops.shape[0] == 6 and len(stitch.entries) == 6
    m = mask[0].numpy()
    labels, n = ndimage.label(m > 0)
    assert n == 6  # one separate interior per face
    for face in plan.faces[0]:
        lm = face["landmarks_xy"]
        inner = [m[int(round(lm[i, 1])), int(round(lm[i, 0]))] for i in (1, 168, 13, 6)]  # nose, bridge, mouth
        assert min(inner) == 1.0
        # The visible outline is kept where no feature touches it: the jaw and chin contour and the mesh top (the
        # hairline side) on the mesh's convex hull.
        outline = set(ConvexHull(lm[:468]).vertices) & set(JAW_AND_TOP)
        assert len(outline) >= 6
        assert max(m[int(round(lm[i, 1])), int(round(lm[i, 0]))] for i in outline) == 0.0
    assert {
        labels[int(round(f["landmarks_xy"][1, 1])), int(round(f["landmarks_xy"][1, 0]))] for f in plan.faces[0]
    } == set(range(1, 7))


def test_prompts_put_the_attributes_first(nodes):
    node_anonymise = nodes[0]
    from comfyui_facelab.nodes.face import face_landmarks as fl

    image = small("chelsea.png")
    _, plan, count, pos, neg, report = node_anonymise.FaceLabAnonymiseFaces().plan(
        image, fl.make_face_landmarks([[]], image.shape[1:3]), 6.0, 8.0, "an older man"
    )
    assert pos.startswith("an older man, ") and "different person" in pos and "deformed" in neg
    assert count == 0 and "no face" in json.loads(report)["summary"]


# ----------------------------------------------------------------------------------------------- selection
def test_picks_the_least_similar_candidate_that_still_has_a_face(nodes, obama):
    image, _, mask, plan, crops, stitch, others, cat = obama
    shifted = torch.roll(crops, shifts=crops.shape[2] // 2, dims=2)  # a face, but not where the face is
    candidates = torch.cat([crops, others["obama2.jpg"], cat, others["biden.jpg"], shifted, others["grace_hopper.jpg"]])
    out, changed, ok, report = select(nodes, image, candidates, plan, stitch)
    face = report["faces"][0]
    sims = [c["similarity"] for c in face["candidates"]]
    found = [c["face_found"] for c in face["candidates"]]
    assert found == [True, True, False, True, False, True]  # the cat and the shifted crop are rejected
    assert sims[0] >= 0.9 and sims[1] >= 0.4  # the original and another photo of him: recognised
    assert max(sims[3], sims[5]) < 0.4  # Biden, Grace Hopper: not
    assert face["chosen"] == int(np.nanargmin([np.nan if s is None else s for s in sims])) and face["chosen"] in (3, 5)
    assert face["similarity_before"] >= 0.9 and face["similarity_after"] < 0.4
    assert face["passed"] and ok and face["status"] == "anonymised" and not face["blurred"]
    assert report["failed_faces"] == [] and report["candidates_per_face"] == 6

    # The face changed; pixels the stitch did not touch are bit-identical, and it touched only the face interior
    # (plus the stitch feather, at most a fifth of the face size).
    assert float((out - image).abs().max()) > 0.2
    untouched = changed[0] == 0
    assert torch.equal(out[0][untouched], image[0][untouched])
    size = max(plan.faces[0][0]["bbox_xyxy"][2:] - plan.faces[0][0]["bbox_xyxy"][:2])
    near = ndimage.binary_dilation(mask[0].numpy() > 0, iterations=int(0.2 * size))
    assert not changed[0].numpy()[~near].any()


def test_candidates_that_all_match_fail_and_their_face_box_is_blurred(nodes, obama):
    image, _, _, plan, crops, stitch, others, _ = obama
    candidates = torch.cat([crops, others["obama2.jpg"]])  # two pictures of the same man
    out, changed, ok, report = select(nodes, image, candidates, plan, stitch)
    face = report["faces"][0]
    assert not ok and not face["passed"] and face["chosen"] == 1 and face["status"].startswith("FAILED")
    assert report["failed_faces"] == [{"image": 0, "face": 0, "box": face["box"], "status": face["status"]}]
    assert face["blurred"] and "1 FAILED" in report["summary"]
    x0, y0, x1, y1 = face["blur_box"]
    fb = face["box"]
    assert x0 <= fb[0] and y0 <= fb[1] and x1 >= fb[2] and y1 >= fb[3]  # the whole face box and more
    inside = torch.zeros(image.shape[1:3], dtype=torch.bool)
    inside[y0:y1, x0:x1] = True
    assert torch.equal(out[0][~inside], image[0][~inside])  # unchanged outside the box, bit for bit
    assert float((out[0][inside] - image[0][inside]).abs().mean()) > 0.02  # and really changed inside it
    assert torch.equal(changed[0] > 0, inside)

    # Without the fail-safe the least similar candidate is still stitched, and the face is still reported failed.
    out2, changed2, ok2, report2 = select(nodes, image, candidates, plan, stitch, blur_failed=False)
    face2 = report2["faces"][0]
    assert not ok2 and not face2["passed"] and not face2["blurred"] and face2["similarity_after"] >= 0.4
    assert float(changed2.max()) > 0 and torch.equal(out2[0][changed2[0] == 0], image[0][changed2[0] == 0])


@pytest.mark.slow
def test_report_lists_every_face_of_the_group_photo(nodes, detect):
    """Six faces, two candidates each: the face's own crop, and the crop of its right-hand neighbour (another
    person at the same place and scale). Face 2 gets only itself twice: it must be listed as failed and blurred."""
    image, marks, mask, plan, crops, stitch, _ = prepare(nodes, detect, "t1.jpg", photo_tensor("t1.jpg"), "small_faces")
    swapped = torch.roll(crops, shifts=-1, dims=0).clone()
    swapped[2] = crops[2]
    out, changed, ok, report = select(nodes, image, torch.cat([crops, swapped]), plan, stitch)
    faces = report["faces"]
    assert [(f["image"], f["face"]) for f in faces] == [(0, k) for k in range(6)]
    assert all(len(f["box"]) == 4 and f["similarity_before"] >= 0.4 for f in faces)  # each face recognises itself
    assert [f["face"] for f in report["failed_faces"]] == [2]
    for f in faces:
        if f["face"] == 2:
            assert f["blurred"] and not f["passed"]
        else:
            assert f["chosen"] == 1 and f["passed"] and f["similarity_after"] < 0.4 and not f["blurred"]
    assert report["summary"] == "6 face(s): 5 anonymised, 1 FAILED" and not ok
    untouched = changed[0] == 0
    assert torch.equal(out[0][untouched], image[0][untouched])
    assert float(untouched.float().mean()) > 0.8  # six small faces in a large photo: most of it untouched


def test_a_face_that_was_not_cropped_is_reported_and_blurred(nodes, obama):
    """Crop Face Region given an empty mask skips the face: it has no candidates, and must not be skipped silently."""
    node_compose = nodes[1]
    image, marks, mask, plan, _, _, _, _ = obama
    crops, _, stitch, _ = node_compose.FaceLabCrop().crop(
        image, mask=torch.zeros_like(mask), face_landmarks=marks, **CROP
    )
    out, changed, ok, report = select(nodes, image, crops, plan, stitch)
    face = report["faces"][0]
    assert not ok and face["status"].startswith("FAILED: this face was not cropped") and face["blurred"]
    assert report["failed_faces"][0]["face"] == 0
    x0, y0, x1, y1 = face["blur_box"]
    assert float(changed[0, y0:y1, x0:x1].min()) == 1.0 and float(changed.sum()) == (x1 - x0) * (y1 - y0)


def test_full_image_candidates_without_a_stitch_plan(nodes, obama):
    """Candidates may be whole images (e.g. a KSampler batch on the full photo): they are cut per face internally."""
    node_compose = nodes[1]
    image, _, _, plan, crops, stitch, others, _ = obama
    # A full-size candidate with another person's face: Biden's crop stitched into the photo.
    other_face, _ = node_compose.FaceLabStitch().stitch(
        image, others["biden.jpg"], stitch, 0.1, "off", "replace with crop pixels"
    )
    out, changed, ok, report = select(nodes, image, torch.cat([image, other_face]), plan, None)
    face = report["faces"][0]
    assert report["candidates_are"] == "full images" and face["chosen"] == 1 and ok
    assert face["candidates"][0]["similarity"] >= 0.9 and face["candidates"][1]["similarity"] < 0.4
    assert torch.equal(out[0][changed[0] == 0], image[0][changed[0] == 0])


def test_no_face_passes_the_image_through(nodes):
    node_anonymise, node_compose, _ = nodes
    from comfyui_facelab.nodes.face import face_landmarks as fl

    image = small("chelsea.png", 256)
    marks = fl.make_face_landmarks([[]], image.shape[1:3])
    mask, plan, *_ = node_anonymise.FaceLabAnonymiseFaces().plan(image, marks, 6.0, 8.0, "")
    crops, _, stitch, _ = node_compose.FaceLabCrop().crop(image, mask=mask, face_landmarks=marks, **CROP)
    out, changed, ok, report = select(nodes, image, crops.repeat(2, 1, 1, 1), plan, stitch)
    assert torch.equal(out, image) and float(changed.max()) == 0.0 and not ok
    assert report["faces"] == [] and report["images_without_faces"] == [0] and "no face" in report["summary"]


# ------------------------------------------------------------------------------------ batch layout, errors
def test_candidate_order_and_the_repeat_node_agree(nodes, pack):
    from comfyui_facelab.nodes.anonymise.anonymise_select import candidate_index

    crops = torch.arange(3, dtype=torch.float32).view(3, 1, 1, 1).expand(3, 2, 2, 3)
    masks = torch.zeros(3, 2, 2)
    rep, rep_masks = nodes[0].FaceLabRepeatForCandidates().repeat(crops, masks, 4)
    assert rep.shape[0] == 12 and rep_masks.shape[0] == 12
    for slot in range(3):
        for k in range(4):
            assert rep[candidate_index(slot, k, 3, 4, "repeated"), 0, 0, 0] == slot
    # RepeatLatentBatch and RepeatImageBatch tile the same way (torch.repeat over the batch).
    assert torch.equal(rep, crops.repeat(4, 1, 1, 1))
    assert [candidate_index(1, k, 3, 4, "grouped") for k in range(4)] == [4, 5, 6, 7]


def test_wrong_candidate_count_and_wrong_plan_raise(nodes, obama):
    from comfyui_facelab.nodes.anonymise import anonymise_select
    from comfyui_facelab.nodes.compose import crop as crop_mod

    image, _, _, plan, crops, stitch, _, _ = obama
    two = torch.zeros(1, 64, 64)
    two[0, 5:10, 5:10] = two[0, 50:55, 50:55] = 1.0  # two separate regions: two crops (slots)
    _, _, two_slots = crop_mod.crop(
        torch.zeros(1, 64, 64, 3), two, None, crop_mod.CropSettings(min_context=16, resolution="keep", multiple=8)
    )
    assert len(two_slots.entries) == 2
    with pytest.raises(ValueError, match="3 candidates do not divide among the 2 crops"):
        anonymise_select._candidate_crops(torch.zeros(3, *two_slots.crop_hw, 3), two_slots, False, "repeated")
    with pytest.raises(ValueError, match="Anonymise Faces"):
        select(nodes, image, crops, {"faces": []}, stitch)
    with pytest.raises(ValueError, match="original image is"):
        select(nodes, small("chelsea.png"), crops, plan, stitch)


def test_privacy_blur_is_strong_and_stays_in_its_box(pack):
    from comfyui_facelab.nodes.anonymise.privacy_blur import face_box, obscure_box

    image = photo_tensor("grace_hopper.jpg")[0]
    out = image.clone()
    box = face_box([150.0, 180.0, 350.0, 420.0], image.shape[:2])
    obscure_box(out, box)
    x0, y0, x1, y1 = box
    assert (x0, y0) == (120, 144) and x1 >= 380 and y1 >= 456
    inside = torch.zeros(image.shape[:2], dtype=torch.bool)
    inside[y0:y1, x0:x1] = True
    assert torch.equal(out[~inside], image[~inside])

    def detail(x):  # mean absolute Laplacian: fine structure (what identifies a face)
        g = x.mean(-1).numpy()
        return float(np.abs(ndimage.laplace(g)).mean())

    assert detail(out[y0:y1, x0:x1]) < 0.1 * detail(image[y0:y1, x0:x1])
    assert face_box([-50, -50, -10, -10], image.shape[:2]) is None
