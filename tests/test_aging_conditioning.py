"""Aging Zone Conditioning: regional entries built as core ConditioningSetMask + ConditioningCombine would, on a real
portrait with the real landmark model; a per-pixel denoise mask that is 0 outside the zones and grows with |score|."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import landmarks_for, photo_tensor

PHOTO = "grace_hopper.jpg"
FEATHER = 10.0
CORE_MASK_KEYS = {"mask", "set_area_to_bounds", "mask_strength"}
CORE_TIMING_KEYS = {"start_percent", "end_percent"}  # core ConditioningSetTimestepRange


class FakeClip:
    """SDXL-shaped stand-in for a ComfyUI CLIP exposing only what core CLIPTextEncode calls.

    Any other attribute the node touches fails the test. Each encoding is tagged with the index of its text in
    `texts` (cond[0, 0, 0]) so tests can tell which prompt an entry carries.
    """

    _API = ("tokenize", "encode_from_tokens_scheduled", "texts", "encoded")

    def __init__(self):
        object.__setattr__(self, "texts", [])
        object.__setattr__(self, "encoded", [])

    def __getattribute__(self, name):
        if name.startswith("__") or name in FakeClip._API:
            return object.__getattribute__(self, name)
        raise AssertionError(f"the node used CLIP.{name}, which core CLIPTextEncode does not")

    def tokenize(self, text):
        self.texts.append(text)
        chunks = 1 + len(text) // 300  # long prompts take several 77-token chunks, as in ComfyUI
        ids = [[(len(self.texts) - 1, 1.0)] * 77 for _ in range(chunks)]
        return {"g": ids, "l": ids}

    def encode_from_tokens_scheduled(self, tokens):
        k, index = len(tokens["g"]), tokens["g"][0][0][0]
        cond = torch.randn(1, 77 * k, 2048)
        cond[0, 0, 0] = index
        out = [[cond, {"pooled_output": torch.randn(1, 1280)}]]
        self.encoded.append(out)
        return out


def text_of(clip: FakeClip, entry) -> str:
    return clip.texts[int(entry[0][0, 0, 0])]


@pytest.fixture(scope="module")
def node(pack):
    return pack.NODE_CLASS_MAPPINGS["FaceLabAgingConditioning"]()


@pytest.fixture(scope="module")
def zm(pack):
    from comfyui_facelab.nodes.face import zone_masks

    return zone_masks


def run(node, scores, image=None, landmarks=None, **kw):
    clip = FakeClip()
    args = dict(
        positive="portrait photo",
        negative="blurry",
        face_index=0,
        feather=FEATHER,
        max_denoise=0.32,
        regional_strength=1.0,
    )
    args.update(kw)
    pos, neg, mask, report, *_ = node.build(
        clip,
        photo_tensor(PHOTO) if image is None else image,
        landmarks_for(PHOTO) if landmarks is None else landmarks,
        scores,
        **args,
    )
    return clip, pos, neg, mask, json.loads(report)


def check_core_structure(entry, batch, h, w):
    """What core ConditioningSetMask produces: [cond [1,77k,2048], {..., mask [B,H,W] float, bool, float}]."""
    cond, opts = entry
    assert isinstance(entry, list) and len(entry) == 2
    assert cond.ndim == 3 and cond.shape[0] == 1 and cond.shape[1] % 77 == 0 and cond.shape[2] == 2048
    assert opts["pooled_output"].shape == (1, 1280)
    assert CORE_MASK_KEYS <= set(opts)
    assert opts["mask"].dtype == torch.float32 and tuple(opts["mask"].shape) == (batch, h, w)
    assert float(opts["mask"].min()) >= 0 and float(opts["mask"].max()) <= 1
    assert type(opts["set_area_to_bounds"]) is bool and opts["set_area_to_bounds"] is False
    assert type(opts["mask_strength"]) is float


def test_regional_entries_carry_zone_masks_and_prompts(node, zm):
    lm = landmarks_for(PHOTO)
    _, h, w, _ = photo_tensor(PHOTO).shape
    clip, pos, neg, mask, report = run(node, {"forehead": -0.6, "crows_feet": 0.4, "chin": 0.0})

    # base first, untouched (no mask keys), exactly what CLIPTextEncode gives
    assert text_of(clip, pos[0]) == "portrait photo" and not CORE_MASK_KEYS & set(pos[0][1])
    assert text_of(clip, neg[0]) == "blurry" and not CORE_MASK_KEYS & set(neg[0][1])
    assert len(pos) == 3 and len(neg) == 3  # forehead + both crow's feet sides in one entry; chin (0) adds nothing

    expected = {
        ("forehead",): ("smoother", "forehead lines"),
        ("crows_feet_left", "crows_feet_right"): ("crow's feet", "airbrushed"),
    }
    for p, n, rep in zip(pos[1:], neg[1:], report["regional"]):
        check_core_structure(p, 1, h, w)
        check_core_structure(n, 1, h, w)
        zones = tuple(rep["zones"])
        want = zm.zones_mask(lm, 1, list(zones), face_index=0, feather=FEATHER)
        assert torch.equal(p[1]["mask"], torch.as_tensor(want, dtype=torch.float32))
        assert torch.equal(n[1]["mask"], p[1]["mask"])
        assert p[1]["mask_strength"] == 1.0
        pos_word, neg_word = expected[zones]
        assert text_of(clip, p) == rep["positive"] and text_of(clip, p).startswith("portrait photo, ")
        assert pos_word in text_of(clip, p)
        assert (
            text_of(clip, n) == rep["negative"]
            and text_of(clip, n).startswith("blurry, ")
            and neg_word in text_of(clip, n)
        )
    assert not any("chin" in t for t in clip.texts)
    # the regional entry is the encoded prompt with core's mask keys added (the pooled output is kept, not re-made)
    enc = {id(e[0][0]): e[0][1] for e in clip.encoded}
    for entry in pos + neg:
        assert (
            set(entry[1]) - CORE_MASK_KEYS - CORE_TIMING_KEYS == set(enc[id(entry[0])])
            and entry[1]["pooled_output"] is enc[id(entry[0])]["pooled_output"]
        )


def test_per_side_scores_make_separate_entries(node, zm):
    lm = landmarks_for(PHOTO)
    clip, pos, _, _, report = run(node, {"crows_feet_left": 0.6, "crows_feet_right": -0.3})
    assert len(pos) == 3
    by_zone = {tuple(r["zones"]): r for r in report["regional"]}
    assert set(by_zone) == {("crows_feet_left",), ("crows_feet_right",)}
    left = pos[1 + list(by_zone).index(("crows_feet_left",))][1]["mask"][0].numpy()
    # the subject's left eye corner is on the image's right for this frontal portrait
    cols = np.nonzero(left.any(axis=0))[0]
    assert cols.mean() > np.asarray(lm["frames"][0][0]["landmarks_xy"])[:, 0].mean()
    assert (
        "deeper" in by_zone[("crows_feet_left",)]["positive"]
        and "smoother" in by_zone[("crows_feet_right",)]["positive"]
    )


def test_score_zero_adds_nothing(node):
    clip, pos, neg, mask, report = run(node, {"forehead": 0.0, "nasolabial": 0.0})
    assert len(pos) == 1 and len(neg) == 1 and clip.texts == ["portrait photo", "blurry"]
    assert float(mask.abs().max()) == 0.0 and report["entries"] == [] and "0" in report["note"]
    _, pos_a, _, mask_a, _ = run(node, {"upper_lip": 0.5})
    _, pos_b, _, mask_b, _ = run(node, {"upper_lip": 0.5, "glabella": 0.0, "chin": 0.0})
    assert len(pos_a) == len(pos_b) == 2
    assert torch.equal(mask_a, mask_b) and torch.equal(pos_a[1][1]["mask"], pos_b[1][1]["mask"])


def test_denoise_mask_zero_outside_zones_and_monotonic_in_abs_score(node, zm):
    lm = landmarks_for(PHOTO)
    zones = ["forehead", "nasolabial_left", "nasolabial_right", "under_eye_left", "under_eye_right"]
    union = torch.as_tensor(zm.zones_mask(lm, 1, zones, face_index=0, feather=FEATHER))
    masks = []
    for s in (0.1, 0.3, 0.6, 1.0):
        _, _, _, m, _ = run(node, {"forehead": -s, "nasolabial": s, "under_eye": -s})
        assert m.shape == union.shape and m.dtype == torch.float32
        assert float(m[union == 0].abs().max()) == 0.0  # exactly 0 outside all zones
        assert float(m.max()) == pytest.approx(0.32 * s, rel=1e-5)  # overlaps take the max, never a sum
        masks.append(m)
        _, _, _, m_neg, _ = run(node, {"forehead": s, "nasolabial": -s, "under_eye": s})
        assert torch.equal(m_neg, m)  # depends on |score| only
    inside = union > 0
    for lo, hi in zip(masks, masks[1:]):
        assert bool((hi >= lo).all()) and bool((hi[inside] > lo[inside]).all())


def test_denoise_mask_takes_each_zones_own_strength(node, zm):
    lm = landmarks_for(PHOTO)
    _, _, _, m, _ = run(node, {"forehead": -0.25, "chin": 1.0}, feather=0.0)
    core_forehead = torch.as_tensor(zm.zones_mask(lm, 1, ["forehead"], face_index=0)) > 0.999
    core_chin = torch.as_tensor(zm.zones_mask(lm, 1, ["chin"], face_index=0)) > 0.999
    assert torch.allclose(m[core_forehead], torch.tensor(0.08))
    assert torch.allclose(m[core_chin], torch.tensor(0.32))


def test_masks_follow_a_resized_image_and_reject_another_aspect(node, zm):
    lm = landmarks_for(PHOTO)
    full = photo_tensor(PHOTO)
    h, w = full.shape[1] // 2, full.shape[2] // 2
    half = torch.nn.functional.interpolate(full.permute(0, 3, 1, 2), size=(h, w), mode="bilinear").permute(0, 2, 3, 1)
    _, pos, _, mask, _ = run(node, {"glabella": 0.8}, image=half)
    got = pos[1][1]["mask"][0].numpy()
    assert got.shape == (h, w) and mask.shape == (1, h, w)
    face = lm["frames"][0][0]
    scale = np.float32([w / full.shape[2], h / full.shape[1]])
    # the zone drawn from the landmarks rescaled to the smaller image, not a blurred resize of the big mask
    want = zm.face_zone_mask(
        np.asarray(face["landmarks_xy"], np.float32) * scale, ["glabella"], (h, w), feather=FEATHER
    )
    assert want.max() == 1.0 and np.abs(got - want).max() < 0.02
    with pytest.raises(ValueError, match="aspect ratio"):
        run(node, {"glabella": 0.8}, image=full[:, : full.shape[1] // 2])


def test_batch_no_face_and_face_index(node, pack):
    from comfyui_facelab.nodes.face import face_landmarks as fl

    lm = landmarks_for(PHOTO)
    image = photo_tensor(PHOTO)
    two = fl.make_face_landmarks([lm["frames"][0], []], lm["image_size"])
    _, pos, _, mask, report = run(node, {"chin": -0.5}, image=image.repeat(2, 1, 1, 1), landmarks=two)
    m = pos[1][1]["mask"]
    assert m.shape[0] == 2 and float(m[0].max()) > 0 and float(m[1].max()) == 0.0
    assert float(mask[0].max()) > 0 and float(mask[1].max()) == 0.0 and report["faces"] == 1

    # no face at all (a photo without one, detected with the real model): base prompts, empty mask, a note
    nothing = landmarks_for("chelsea.png")
    chelsea = photo_tensor("chelsea.png")
    _, pos, neg, mask, report = run(node, {"chin": -0.5}, image=chelsea, landmarks=nothing)
    assert len(pos) == len(neg) == 1 and float(mask.max()) == 0.0 and "no face" in report["note"]
    assert tuple(mask.shape) == (1, *chelsea.shape[1:3])
    # face_index past the last face behaves the same; -1 (all faces) equals 0 on a portrait
    _, pos, _, _, report = run(node, {"chin": -0.5}, face_index=1)
    assert len(pos) == 1 and report["faces"] == 0
    _, pos_all, _, mask_all, _ = run(node, {"chin": -0.5}, face_index=-1)
    _, pos_0, _, mask_0, _ = run(node, {"chin": -0.5}, face_index=0)
    assert torch.equal(mask_all, mask_0)
    assert len(pos_all) == len(pos_0) == 2 and torch.equal(pos_all[1][1]["mask"], pos_0[1][1]["mask"])


def test_editable_templates_and_bad_inputs(node):
    clip, pos, neg, _, report = run(
        node,
        {"upper_lip": 0.7},
        older_template="{prompt}; {amount} {feature} ({weight})",
        older_negative_template="",
        zone_phrases="upper_lip: upper lip | smoker's lines",
    )
    assert text_of(clip, pos[1]) == "portrait photo; much smoker's lines (1.21)"
    assert len(neg) == 1 and report["regional"][0]["negative"] == ""
    with pytest.raises(ValueError, match="placeholder"):
        run(node, {"chin": 0.5}, younger_template="{prompt} {age}")
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        run(node, {"chin": 2.0})
    with pytest.raises(ValueError, match="max_denoise"):
        run(node, {"chin": 0.5}, max_denoise=1.5)
    with pytest.raises(ValueError, match="FACE_LANDMARKS"):
        run(node, {"chin": 0.5}, landmarks={"faces": []})
    with pytest.raises(ValueError, match="clip"):
        node.build(None, photo_tensor(PHOTO), landmarks_for(PHOTO), {"chin": 0.5}, "a", "b", 0, 10.0, 0.3, 1.0)
    with pytest.raises(ValueError, match="steps"):
        run(node, {"chin": 0.5}, steps=0)


@pytest.mark.parametrize("scores", [{"forehead": -0.6}, {"crows_feet": 0.4}, {"nasolabial_left": 1.0}])
def test_one_zone_is_the_ungrouped_path(node, zm, pack, scores):
    """One scored zone (or both sides of one group at one score) gives exactly what the per-zone code built before
    grouping: base + one ConditioningSetMask entry of that zone's own prompt and mask, no timing keys, and the same
    denoise mask (|score| x max_denoise inside the zone)."""
    from comfyui_facelab.nodes.aging import prompts, zone_scores

    lm = landmarks_for(PHOTO)
    clip, pos, neg, mask, report = run(node, scores)
    zone_score = zone_scores.normalize_scores(scores)
    zones = [z for z, s in zone_score.items() if s]
    score = zone_score[zones[0]]
    area, feature = prompts.zone_phrase(tuple(zones), prompts.parse_zone_phrases(prompts.DEFAULT_ZONE_PHRASES))
    want_pos, want_neg = prompts.zone_prompts(score, area, feature, "portrait photo", "blurry")
    want_mask = torch.as_tensor(zm.zones_mask(lm, 1, zones, face_index=0, feather=FEATHER), dtype=torch.float32)
    assert len(pos) == len(neg) == 2
    assert [text_of(clip, e) for e in pos] == ["portrait photo", want_pos]
    assert [text_of(clip, e) for e in neg] == ["blurry", want_neg]
    for entry in (pos[1], neg[1]):
        assert set(entry[1]) == {"pooled_output"} | CORE_MASK_KEYS  # no timestep range: it is the strongest entry
        assert torch.equal(entry[1]["mask"], want_mask) and entry[1]["mask_strength"] == 1.0
    assert torch.allclose(mask, want_mask * abs(score) * 0.32)


def test_seven_zones_make_one_older_and_one_younger_entry(node, zm):
    lm = landmarks_for(PHOTO)
    # the shipped local-aging scores: 7 zones (forehead, both crow's feet, both nasolabial, both under-eye)
    scores = {"forehead": 0.6, "crows_feet": 0.5, "nasolabial": 0.6, "under_eye": -0.4}
    clip, pos, neg, mask, report = run(node, scores, max_denoise=0.5)
    assert len(pos) == len(neg) == 3  # base + older + younger, whatever the zone count
    older, younger = report["regional"]
    assert older["direction"] == "older" and len(older["zones"]) == 5 and len(younger["zones"]) == 2
    union = torch.as_tensor(zm.zones_mask(lm, 1, older["zones"], face_index=0, feather=FEATHER), dtype=torch.float32)
    # the union of the feathered zone masks (max), not a re-feathered union polygon
    parts = [torch.as_tensor(zm.zones_mask(lm, 1, [z], face_index=0, feather=FEATHER)) for z in older["zones"]]
    assert torch.equal(pos[1][1]["mask"], torch.stack(parts).amax(0).float())
    assert float((pos[1][1]["mask"] - union).abs().max()) < 0.02
    text = text_of(clip, pos[1])
    assert text.count("portrait photo") == 1 and all(f in text for f in ("forehead lines", "crow's feet", "nasolabial"))
    assert "under-eye" in text_of(clip, pos[2]) and "smoother" in text_of(clip, pos[2])
    # the older zones reach 0.3, the younger only 0.2: the younger entry is skipped in the steps before any of its
    # pixels can be released (core timestep range), the strongest one is evaluated at every step of the run
    assert "start_percent" not in pos[1][1]
    assert pos[2][1]["start_percent"] == neg[2][1]["start_percent"] == pytest.approx(1 - 0.2 - 0.005, abs=1e-6)
    assert pos[2][1]["end_percent"] == 1.0
    # per-zone strengths still live in the denoise mask
    assert float(mask.max()) == pytest.approx(0.3, rel=1e-5)


def test_sampling_plan_runs_only_the_steps_that_change_pixels(node):
    """Outside ComfyUI the schedule is linear in timestep (adapter fallback): a mask topping out at 0.3 is released
    only in the steps whose relative timestep 1 - k/24 (k = 0..23) is <= 0.3: k = 17..23, the last 7 of 24."""
    clip = FakeClip()
    out = node.build(
        clip,
        photo_tensor(PHOTO),
        landmarks_for(PHOTO),
        {"forehead": 0.6, "chin": -0.3},
        "a",
        "b",
        0,
        FEATHER,
        0.5,
        1.0,
        steps=24,
        scheduler="normal",
    )
    _, _, dmask, report, noise_mask, steps, denoise, needs = out
    thresholds = [1 - k / 24 for k in range(24)]
    want = sum(t <= 0.3 + 1e-9 for t in thresholds)
    assert steps == want == 7 and needs is True
    assert int(steps / denoise) == 24  # KSampler keeps the tail of its own 24-step schedule
    scale = 1 / thresholds[24 - steps]
    assert torch.allclose(noise_mask, (dmask * scale).clamp(max=1.0))
    assert float(noise_mask[dmask == 0].abs().max()) == 0.0 and float(noise_mask.max()) == 1.0
    # all scores zero: nothing to sample (the workflow's switch returns the original)
    out = node.build(
        FakeClip(), photo_tensor(PHOTO), landmarks_for(PHOTO), {"forehead": 0.0}, "a", "b", 0, FEATHER, 0.5, 1.0
    )
    assert out[7] is False and out[5] == 1 and float(out[4].max()) == 0.0


def test_zones_outside_the_image_are_skipped_with_a_note(node):
    """The face pushed up so its upper part lies above the image: the forehead covers no pixel and is skipped (said
    in the report), the chin is still edited; with only the forehead scored nothing needs sampling."""
    lm = landmarks_for(PHOTO)
    face = lm["frames"][0][0]
    xy = np.asarray(face["landmarks_xy"], np.float64)
    shift = xy[:, 1].mean()  # the face's centre on the top edge: eyes and forehead above the image
    moved = {
        **lm,
        "frames": [
            [
                {
                    **face,
                    "landmarks_xy": (xy - [0, shift]).tolist(),
                    "bbox_xyxy": list(np.asarray(face["bbox_xyxy"], float) - [0, shift, 0, shift]),
                }
            ]
        ],
    }
    _, pos, _, mask, report = run(node, {"forehead": -0.6, "chin": -0.5}, landmarks=moved)
    assert [s["zones"] for s in report["skipped"]] == [["forehead"]] and "outside the image" in report["skipped"][0][
        "why"
    ]
    assert len(pos) == 2 and report["regional"][0]["zones"] == ["chin"] and float(mask.max()) > 0
    out = node.build(FakeClip(), photo_tensor(PHOTO), moved, {"forehead": -0.6}, "a", "b", 0, FEATHER, 0.32, 1.0)
    assert out[7] is False and "no scored zone covers a pixel" in json.loads(out[3])["note"]


def test_visible_skin_keeps_painted_hair_out_of_the_denoise_mask(pack):
    """With visible_skin on, the zones stop at each face's own skin (as Face Zone Mask does): dark strands painted
    across the forehead leave the denoise mask there, while the skin between them stays in it."""
    from comfyui_facelab.nodes import node_aging
    from conftest import landmarks_for, photo_tensor

    image = photo_tensor("grace_hopper.jpg").clone()
    marks = landmarks_for("grace_hopper.jpg")
    lm = np.asarray(marks["frames"][0][0]["landmarks_xy"])
    top, brow = int(lm[10, 1]), int(lm[9, 1])  # forehead top and the glabella, on the mesh
    x0, x1 = int(lm[:, 0].min()), int(lm[:, 0].max())
    strands = torch.zeros(image.shape[1:3], dtype=torch.bool)
    for x in range(x0, x1, 9):  # 3 px wide dark strands, every 9 px, over the forehead
        strands[top : (top + brow) // 2, x : x + 3] = True
    image[0][strands] = torch.tensor([0.12, 0.09, 0.07])
    (scores, _) = node_aging.FaceLabZoneScores().build("custom", 1.0, **{"forehead": 0.8})
    node = node_aging.FaceLabAgingConditioning()
    args = (FakeClip(), image, marks, scores, "a photo", "blurry", 0, 10.0, 0.5, 1.0)
    geometry = node.build(*args)[2][0]
    skin = node.build(*args, visible_skin=True)[2][0]
    core = geometry > 0.5 * geometry.max()  # the denoise mask holds strengths (max_denoise x score), not 0..1
    on_strands = strands & core
    between = ~strands & core
    between[: top + 2] = False  # the forehead's own skin, below its top
    assert on_strands.sum() > 100 and between.sum() > 100
    assert float(skin[on_strands].mean()) < 0.25 * float(geometry[on_strands].mean())
    assert float(skin[between].mean()) > 0.5 * float(geometry[between].mean())
