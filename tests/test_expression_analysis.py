"""Expression Analysis on real portraits: open eyes stay open, eyes painted shut are found closed and masked, smiles,
prompts, batches, no face; and the lazy 'Use Edit Only If Needed' switch."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import SINGLE_FACE_PHOTOS, landmarks_for, load_photo, photo_tensor
from PIL import Image, ImageDraw
from scipy import ndimage

UPPER_LID_RIGHT = (33, 246, 161, 160, 159, 158, 157, 173, 133)
LOWER_LID_RIGHT = (33, 7, 163, 144, 145, 153, 154, 155, 133)
SMILING = ("astronaut.png", "obama.jpg", "obama2.jpg")  # measured mouthSmile 0.61-0.94
NEUTRAL = ("grace_hopper.jpg", "obama3.jpg", "biden.jpg")  # measured mouthSmile 0.01-0.07


@pytest.fixture(scope="module")
def mods(pack):
    from comfyui_facelab.nodes import node_expression
    from comfyui_facelab.nodes.face import face_landmarks, landmarker, zone_atlas, zone_masks

    return node_expression, face_landmarks, landmarker, zone_atlas, zone_masks


def _side(ids, side, zone_atlas):
    return [i if side == "right" else zone_atlas.MIRROR[i] for i in ids]


def paint_eyes_shut(rgb: np.ndarray, lm: np.ndarray, sides, zone_atlas, iod: float) -> np.ndarray:
    """A photo with the eyes closed: each eye opening (grown a little) is filled with the median colour of the
    eyelid skin 0.15-0.3 IOD above it, its edge softened, and a dark lash line drawn along the lower lid."""
    out = rgb.astype(np.float32).copy()
    h, w = rgb.shape[:2]
    for side in sides:
        ring = lm[_side(zone_atlas.EYE_RIGHT, side, zone_atlas)]
        pad = int(iod * 0.6)
        x0, y0 = max(0, int(ring[:, 0].min()) - pad), max(0, int(ring[:, 1].min()) - pad)
        x1, y1 = min(w, int(ring[:, 0].max()) + pad), min(h, int(ring[:, 1].max()) + pad)
        roi = out[y0:y1, x0:x1]
        shift = np.array([x0, y0])
        canvas = Image.new("L", (x1 - x0, y1 - y0), 0)
        ImageDraw.Draw(canvas).polygon([tuple(p) for p in ring - shift], fill=255)
        opening = ndimage.binary_dilation(np.asarray(canvas) > 0, iterations=max(2, round(iod * 0.04)))
        ys, xs = np.nonzero(opening)
        above = [
            roi[np.clip(ys - d, 0, roi.shape[0] - 1), xs]
            for d in range(int(iod * 0.15), int(iod * 0.3), max(1, int(iod * 0.04)))
        ]
        roi[ys, xs] = np.median(np.concatenate(above), axis=0)
        soft = ndimage.gaussian_filter(opening.astype(np.float32), iod * 0.02)[..., None]
        roi[:] = roi * (1 - soft) + ndimage.gaussian_filter(roi, sigma=(iod * 0.02, iod * 0.02, 0)) * soft
        lash_canvas = Image.new("L", canvas.size, 0)
        lower = lm[_side(LOWER_LID_RIGHT, side, zone_atlas)] - shift
        ImageDraw.Draw(lash_canvas).line([tuple(p) for p in lower], fill=255, width=max(2, round(iod * 0.035)))
        lash = 0.85 * ndimage.gaussian_filter(np.asarray(lash_canvas, np.float32) / 255.0, 1.0)[..., None]
        roi[:] = roi * (1 - lash) + 25.0 * lash
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


_CLOSED: dict = {}


def closed_eyes_photo(name: str, mods, sides=("left", "right")):
    """(IMAGE, FACE_LANDMARKS re-detected with blendshapes on the edited photo, original landmarks_xy)."""
    key = (name, tuple(sides))
    if key not in _CLOSED:
        _, fl, landmarker, zone_atlas, zone_masks = mods
        face = landmarks_for(name)["frames"][0][0]
        lm = np.asarray(face["landmarks_xy"], np.float64)
        edited = paint_eyes_shut(load_photo(name), lm, sides, zone_atlas, zone_masks.inter_ocular_distance(lm))
        faces = landmarker.detect_faces(edited, max_faces=1)
        assert len(faces) == 1, f"{name}: the face must still be found with its eyes painted shut"
        marks = fl.make_face_landmarks([faces], edited.shape[:2])
        _CLOSED[key] = (torch.from_numpy(edited.astype(np.float32) / 255.0)[None], marks, lm)
    return _CLOSED[key]


def analyse(node_expression, image, marks, fix="eyes", **kw):
    args = dict(
        ear_threshold=0.22,
        blink_threshold=0.5,
        smile_threshold=0.3,
        eye_dilation=10.0,
        mouth_dilation=10.0,
        feather=10.0,
        face_index=-1,
    )
    args.update(kw)
    mask, needs_fix, report, pos, neg = node_expression.FaceLabExpressionAnalysis().analyse(image, marks, fix, **args)
    return mask, needs_fix, json.loads(report), pos, neg


def polygon_mask(poly: np.ndarray, hw, grow_px: float = 0.0) -> np.ndarray:
    canvas = Image.new("L", (hw[1], hw[0]), 0)
    ImageDraw.Draw(canvas).polygon([tuple(p) for p in poly], fill=255)
    inside = np.asarray(canvas) > 0
    if grow_px >= 1:
        inside = ndimage.binary_dilation(inside, iterations=int(grow_px))
    return inside


# ------------------------------------------------------------------------------------------------------ eyes
def test_eye_rule_uses_the_blendshape_only_in_the_doubtful_band(pack):
    from comfyui_facelab.nodes.expression.expression_check import Thresholds, eye_state

    t = Thresholds(ear=0.22, blink=0.5)
    assert eye_state(0.25, 0.9, t)[0] is False  # EAR above the threshold: open, whatever the blendshape says
    assert eye_state(0.20, 0.6, t)[0] is True  # doubtful EAR, confirmed by the blink
    assert eye_state(0.20, 0.3, t)[0] is False  # doubtful EAR, the blink says open (squint, downward gaze)
    assert eye_state(0.20, None, t)[0] is True  # no blendshapes: the EAR decides
    assert eye_state(0.15, 0.1, t)[0] is True  # below 70 % of the threshold: lids touch
    assert eye_state(0.20, 0.3, Thresholds(ear=0.22, blink=0.0))[0] is True  # blink 0: EAR alone
    assert eye_state(0.01, 1.0, Thresholds(ear=0.0))[0] is False  # EAR 0: never closed


@pytest.mark.parametrize("name", SINGLE_FACE_PHOTOS)
def test_open_eyes_are_judged_open_and_nothing_is_masked(mods, name):
    mask, needs_fix, report, pos, _ = analyse(mods[0], photo_tensor(name), landmarks_for(name))
    face = report["images"][0]["faces"][0]
    assert not face["eyes"]["left"]["closed"] and not face["eyes"]["right"]["closed"], face["eyes"]
    assert needs_fix is False and face["fix"] == []
    assert float(mask.abs().max()) == 0.0
    assert "nothing to fix" in report["summary"]
    assert "open eyes" in pos  # the preset for what was asked, harmless since nothing is sampled


def test_squinting_smile_is_not_called_closed_thanks_to_the_blendshape(mods):
    """obama.jpg smiles broadly: EAR 0.19 < 0.22 (the classic rule alone would call it closed), eyeBlink 0.28."""
    _, needs_fix, report, _, _ = analyse(mods[0], photo_tensor("obama.jpg"), landmarks_for("obama.jpg"))
    eye = report["images"][0]["faces"][0]["eyes"]["left"]
    assert eye["ear"] < 0.22 and eye["blink"] < 0.5 and not eye["closed"] and "squint" in eye["decision"]
    _, needs_fix_ear_only, _, _, _ = analyse(
        mods[0], photo_tensor("obama.jpg"), landmarks_for("obama.jpg"), blink_threshold=0.0
    )
    assert needs_fix is False and needs_fix_ear_only is True


@pytest.mark.parametrize("name", SINGLE_FACE_PHOTOS)
def test_eyes_painted_shut_are_closed_and_the_mask_covers_the_eye_openings(mods, name):
    node_expression, _, _, zone_atlas, zone_masks = mods
    image, marks, open_lm = closed_eyes_photo(name, mods)
    mask, needs_fix, report, pos, neg = analyse(node_expression, image, marks)
    face = report["images"][0]["faces"][0]
    assert face["eyes"]["left"]["closed"] and face["eyes"]["right"]["closed"], face["eyes"]
    assert needs_fix is True and sorted(face["fix"]) == ["eye_left", "eye_right"]
    assert "open eyes" in pos and "closed eyes" in neg

    hw = image.shape[1:3]
    m = mask[0].numpy()
    closed_lm = np.asarray(marks["frames"][0][0]["landmarks_xy"], np.float64)
    iod = zone_masks.inter_ocular_distance(open_lm)
    for side in ("left", "right"):
        # Full weight over the eye opening with a margin, both where the mesh sees the shut eye now and where the
        # open eye was (the room the repainted eye needs).
        for lm in (closed_lm, open_lm):
            cover = polygon_mask(lm[_side(zone_atlas.EYE_RIGHT, side, zone_atlas)], hw, grow_px=0.05 * iod)
            assert m[cover].min() == 1.0, f"{name} {side}: the mask does not cover the eye opening"
    # Only the eyes: nothing on the nose tip or the mouth, nothing farther than one eye distance from an eye.
    for idx in (1, 13, 14, 61, 291):
        x, y = np.round(closed_lm[idx]).astype(int)
        assert m[y, x] == 0.0
    ys, xs = np.nonzero(m)
    centres = [closed_lm[_side(zone_atlas.EYE_RIGHT, s, zone_atlas)].mean(0) for s in ("left", "right")]
    dist = np.min([np.hypot(xs - c[0], ys - c[1]) for c in centres], axis=0)
    assert dist.max() < iod
    assert 0.0 <= m.min() and m.max() == 1.0 and ((m > 0) & (m < 1)).any()  # soft edge


def test_one_eye_shut_masks_only_that_eye_on_the_subjects_side(mods):
    node_expression, _, _, zone_atlas, _ = mods
    image, marks, _ = closed_eyes_photo("grace_hopper.jpg", mods, sides=("left",))
    mask, needs_fix, report, _, _ = analyse(node_expression, image, marks)
    face = report["images"][0]["faces"][0]
    assert face["eyes"]["left"]["closed"] and not face["eyes"]["right"]["closed"]
    assert face["fix"] == ["eye_left"]
    lm = np.asarray(marks["frames"][0][0]["landmarks_xy"], np.float64)
    m = mask[0].numpy()
    left = lm[_side(zone_atlas.EYE_RIGHT, "left", zone_atlas)].mean(0)
    right = lm[list(zone_atlas.EYE_RIGHT)].mean(0)
    assert left[0] > right[0]  # the subject's left eye is on the image's right in this frontal portrait
    assert m[int(round(left[1])), int(round(left[0]))] == 1.0
    assert m[int(round(right[1])), int(round(right[0]))] == 0.0
    assert not m[:, : int(lm[1, 0])].any()  # nothing left of the nose tip


def test_ear_alone_decides_without_blendshapes(mods):
    """ComfyUI core's landmarks may come without blendshapes: the EAR then decides on its own."""
    node_expression = mods[0]
    image, marks, _ = closed_eyes_photo("biden.jpg", mods)
    bare = {**marks, "frames": [[{k: v for k, v in f.items() if k != "blendshapes"} for f in marks["frames"][0]]]}
    _, needs_fix, report, _, _ = analyse(node_expression, image, bare)
    face = report["images"][0]["faces"][0]
    assert needs_fix and face["has_blendshapes"] is False
    assert all(face["eyes"][s]["blink"] is None and face["eyes"][s]["closed"] for s in ("left", "right"))
    _, open_fix, _, _, _ = analyse(
        node_expression,
        photo_tensor("biden.jpg"),
        {
            **landmarks_for("biden.jpg"),
            "frames": [
                [{k: v for k, v in f.items() if k != "blendshapes"} for f in landmarks_for("biden.jpg")["frames"][0]]
            ],
        },
    )
    assert open_fix is False


# ----------------------------------------------------------------------------------------------------- smile
@pytest.mark.parametrize("name", SMILING + NEUTRAL)
def test_smile_is_added_only_to_faces_that_do_not_smile(mods, name):
    node_expression, _, _, zone_atlas, zone_masks = mods
    marks = landmarks_for(name)
    mask, needs_fix, report, pos, neg = analyse(node_expression, photo_tensor(name), marks, fix="smile")
    face = report["images"][0]["faces"][0]
    assert face["smile"]["source"] == "blendshapes"
    assert needs_fix is (name in NEUTRAL) and face["smile"]["smiling"] is (name in SMILING)
    # The mouth-corner geometry alone (landmarks without blendshapes) reaches the same decision.
    bare = {**marks, "frames": [[{k: v for k, v in f.items() if k != "blendshapes"} for f in marks["frames"][0]]]}
    _, geo_fix, geo_report, _, _ = analyse(node_expression, photo_tensor(name), bare, fix="smile")
    assert geo_fix is needs_fix and geo_report["images"][0]["faces"][0]["smile"]["source"] == "mouth-corner geometry"
    m = mask[0].numpy()
    if name in SMILING:
        assert float(m.max()) == 0.0
        return
    assert face["fix"] == ["mouth"] and "smile" in pos and "frown" in neg and "eyes" not in pos
    lm = np.asarray(marks["frames"][0][0]["landmarks_xy"], np.float64)
    iod = zone_masks.inter_ocular_distance(lm)
    lips = polygon_mask(lm[list(zone_atlas.LIPS_OUTER)], m.shape, grow_px=0.05 * iod)
    assert m[lips].min() == 1.0
    for idx in (33, 263, 468, 473):  # eyes untouched
        x, y = np.round(lm[idx]).astype(int)
        assert m[y, x] == 0.0


def test_eyes_and_smile_together_prompt_both(mods):
    image, marks, _ = closed_eyes_photo("grace_hopper.jpg", mods)  # eyes shut, neutral mouth
    mask, needs_fix, report, pos, neg = analyse(mods[0], image, marks, fix="eyes and smile")
    assert sorted(report["images"][0]["faces"][0]["fix"]) == ["eye_left", "eye_right", "mouth"]
    assert "open eyes" in pos and "smile" in pos and "closed eyes" in neg and "frown" in neg
    _, _, _, pos_eyes, _ = analyse(mods[0], image, marks, fix="eyes")
    assert "smile" not in pos_eyes


# ------------------------------------------------------------------------------------------ batches, no face
def test_batch_masks_only_the_image_that_needs_it(mods):
    node_expression, fl = mods[0], mods[1]
    image, marks, _ = closed_eyes_photo("grace_hopper.jpg", mods)
    batch = torch.cat([photo_tensor("grace_hopper.jpg"), image])
    both = fl.make_face_landmarks(
        [landmarks_for("grace_hopper.jpg")["frames"][0], marks["frames"][0]], image.shape[1:3]
    )
    mask, needs_fix, report, _, _ = analyse(node_expression, batch, both)
    assert mask.shape == (2, *image.shape[1:3]) and needs_fix
    assert float(mask[0].max()) == 0.0 and float(mask[1].max()) == 1.0
    assert [len(im["faces"][0]["fix"]) for im in report["images"]] == [0, 2]
    one_face = analyse(node_expression, batch, both, face_index=1)[2]  # no second face in either image
    assert all(im["faces"] == [] for im in one_face["images"])


def test_two_faces_in_one_image_only_the_closed_one_is_masked(mods):
    """Side by side: grace_hopper with open eyes (left) and with her eyes painted shut (right)."""
    node_expression, fl = mods[0], mods[1]
    closed, marks, _ = closed_eyes_photo("grace_hopper.jpg", mods)
    image = torch.cat([photo_tensor("grace_hopper.jpg"), closed], dim=2)
    w = closed.shape[2]
    right = [
        dict(
            f, landmarks_xy=np.asarray(f["landmarks_xy"]) + [w, 0], bbox_xyxy=np.asarray(f["bbox_xyxy"]) + [w, 0, w, 0]
        )
        for f in marks["frames"][0]
    ]
    both = fl.make_face_landmarks([right + landmarks_for("grace_hopper.jpg")["frames"][0]], image.shape[1:3])
    mask, needs_fix, report, _, _ = analyse(node_expression, image, both)
    faces = report["images"][0]["faces"]
    # faces in the order the landmarks carry (the closed-eyes face on the right was put first), not re-sorted
    assert [f["face"] for f in faces] == [0, 1] and len(faces[0]["fix"]) == 2 and faces[1]["fix"] == []
    assert needs_fix and float(mask[0, :, :w].max()) == 0.0 and float(mask[0, :, w:].max()) == 1.0
    only_first = analyse(node_expression, image, both, face_index=0)
    assert [f["face"] for f in only_first[2]["images"][0]["faces"]] == [0] and torch.equal(only_first[0], mask)
    only_second = analyse(node_expression, image, both, face_index=1)
    assert only_second[1] is False and float(only_second[0].max()) == 0.0


def test_no_face_gives_an_empty_mask_and_says_so(mods):
    node_expression, fl = mods[0], mods[1]
    image = photo_tensor("chelsea.png")
    mask, needs_fix, report, _, _ = analyse(node_expression, image, fl.make_face_landmarks([[]], image.shape[1:3]))
    assert needs_fix is False and float(mask.max()) == 0.0 and mask.shape == (1, *image.shape[1:3])
    assert "no face" in report["summary"]


def test_bad_inputs_raise_clear_errors(mods):
    node_expression = mods[0]
    with pytest.raises(ValueError, match="landmarks were detected on a .*another aspect ratio"):
        analyse(node_expression, photo_tensor("biden.jpg")[:, :100], landmarks_for("grace_hopper.jpg"))
    with pytest.raises(ValueError, match="threshold must be between"):
        analyse(node_expression, photo_tensor("grace_hopper.jpg"), landmarks_for("grace_hopper.jpg"), ear_threshold=1.5)
    with pytest.raises(ValueError, match="FACE_LANDMARKS"):
        analyse(node_expression, photo_tensor("grace_hopper.jpg"), {"faces": []})


# -------------------------------------------------------------------------------------------------- switch
def test_switch_requests_only_the_branch_it_returns(mods):
    """ComfyUI calls check_lazy_status with None for lazy inputs not computed yet, computes the names returned, and
    calls again; the node function runs once the list is empty. The edit branch is only ever asked for when
    needs_fix is true."""
    switch = mods[0].FaceLabImageSwitch()
    spec = switch.INPUT_TYPES()["required"]
    assert spec["original"][1]["lazy"] and spec["edited"][1]["lazy"] and not spec["needs_fix"][1].get("lazy")
    original, edited = photo_tensor("grace_hopper.jpg"), torch.zeros(1, 8, 8, 3)

    assert switch.check_lazy_status(False, None, None) == ["original"]
    assert switch.check_lazy_status(False, original, None) == []
    out, used = switch.switch(False, original, None)
    assert out is original and used is False  # the very tensor: bit-identical, nothing resampled

    assert switch.check_lazy_status(True, None, None) == ["edited"]
    assert switch.check_lazy_status(True, original, None) == ["edited"]
    assert switch.check_lazy_status(True, None, edited) == []
    out, used = switch.switch(True, None, edited)
    assert out is edited and used is True
    with pytest.raises(ValueError, match="connect the 'edited' image"):
        switch.switch(True, original, None)


def test_nothing_to_fix_flows_through_the_switch_unchanged(mods):
    node_expression = mods[0]
    image = photo_tensor("astronaut.png")
    _, needs_fix, _, _, _ = analyse(node_expression, image, landmarks_for("astronaut.png"), fix="eyes and smile")
    switch = node_expression.FaceLabImageSwitch()
    assert needs_fix is False and switch.check_lazy_status(needs_fix, image, None) == []
    out, _ = switch.switch(needs_fix, image, None)
    assert torch.equal(out, image)
