"""Smooth Wrinkles (prior) on the offline older portraits, with the real landmark model: the Wrinkle Score of the
treated zones falls, pore-scale texture stays, nothing outside the returned mask moves, small faces are declined."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import landmarks_for, load_photo, photo_tensor

OLDER = ("grace_hopper.jpg", "biden.jpg")


@pytest.fixture(scope="module")
def rp(pack):
    from comfyui_facelab.nodes.aging import retouch_prior

    return retouch_prior


@pytest.fixture(scope="module")
def ws(pack):
    from comfyui_facelab.nodes.aging import wrinkle_score

    return wrinkle_score


def measured(ws, original, edited, lm) -> tuple[dict, dict]:
    """Wrinkle scores of the original and the edit with the original's skin-limited zones, as Wrinkle Compare
    measures an edit (the skin model learned again on the edit moves the zone edges where a lifted fold joins the
    skin: Hopper's nasolabial_right then gains area and reads higher while its lines fall 28 -> 12)."""
    geo = ws.face_geometry(lm, original.shape[:2], image=original)
    return tuple(ws.zone_scores_from_map(ws.face_ridge_map(im, lm, geometry=geo)) for im in (original, edited))


def face(name):
    img = load_photo(name).astype(np.float32) / 255.0
    return img, np.asarray(landmarks_for(name)["frames"][0][0]["landmarks_xy"], np.float64)


@pytest.mark.parametrize("name", OLDER)
def test_full_strength_removes_lines_and_keeps_texture(rp, ws, name):
    img, lm = face(name)
    zones = ws.wrinkle_zones()
    out, mask, info = rp.smooth_face(img, lm, {z: 1.0 for z in zones})
    assert not info["declined"] and mask.max() == 1.0
    before, after = measured(ws, img, out, lm)
    # a zone with too little visible skin is not scored (None; Biden's crows_feet_left under white hair)
    zones = [z for z in zones if before[z] is not None and after[z] is not None]
    assert len(zones) >= 10, zones
    mean_b, mean_a = np.mean([before[z] for z in zones]), np.mean([after[z] for z in zones])
    # issue 15's target: -40 % over the treated zones at strength 1 (measured -52 % Hopper, -58 % Biden)
    assert mean_a <= 0.6 * mean_b, (mean_b, mean_a)
    assert all(after[z] <= before[z] for z in zones), {z: (before[z], after[z]) for z in zones}  # no zone gets worse
    # pore-scale texture energy inside the zones stays >= 80 % (measured 0.83 Hopper, 0.94 Biden); a plain blur of
    # the same zones would remove most of it (checked below so the measure can fail)
    kept = rp.texture_energy(out, lm, zones) / rp.texture_energy(img, lm, zones)
    assert kept >= 0.8, kept
    from scipy.ndimage import gaussian_filter

    blurred = gaussian_filter(img, (2.0, 2.0, 0.0))
    blur_mix = img + (blurred - img) * mask[..., None]
    assert rp.texture_energy(blur_mix, lm, zones) / rp.texture_energy(img, lm, zones) < 0.6
    # the face's shading stays: the coarse luminance (blurred at a tenth of the eye distance, well above line width)
    # inside the zones keeps its pattern (correlation with the original), though lifted lines brighten it slightly
    from comfyui_facelab.nodes.face import zone_masks

    iod = zone_masks.inter_ocular_distance(lm)
    coarse_b = gaussian_filter(ws.luminance(img), 0.1 * iod)[mask > 0]
    coarse_a = gaussian_filter(ws.luminance(out), 0.1 * iod)[mask > 0]
    corr = float(np.corrcoef(coarse_b, coarse_a)[0, 1])
    assert corr > 0.97, corr


def test_outside_the_mask_is_bit_identical_and_only_asked_zones_change(rp, ws):
    img, lm = face("grace_hopper.jpg")
    out, mask, _ = rp.smooth_face(img, lm, {"forehead": 1.0, "crows_feet_left": 0.6})
    assert np.array_equal(out[mask == 0], img[mask == 0]) and (out != img).any()
    from comfyui_facelab.nodes.face import zone_masks

    # the mask stays within the asked zones (plus the few pixels of bilinear resampling at their edge)
    near = zone_masks.face_zone_mask(lm, ["forehead", "crows_feet_left"], img.shape[:2], grow=3.0)
    assert mask[near == 0].max() == 0.0
    before, after = ws.face_wrinkle_scores(img, lm), ws.face_wrinkle_scores(out, lm)
    # the chin's pixels are untouched; its score moves only through the score's normalisation by the mean skin
    # luminance of all zones (the lifted forehead brightens that mean a little)
    assert after["forehead"] < 0.8 * before["forehead"] and after["chin"] == pytest.approx(before["chin"], rel=0.05)


def test_strength_scales_the_fill(rp, ws):
    img, lm = face("biden.jpg")
    zones = ("forehead", "under_eye_left", "under_eye_right", "crows_feet_left", "crows_feet_right")
    before = ws.face_wrinkle_scores(img, lm)
    zones = tuple(z for z in zones if before[z] is not None)  # not scored: too little visible skin
    assert len(zones) >= 4, zones
    means = []
    for s in (0.0, 0.5, 1.0):
        out, _, _ = rp.smooth_face(img, lm, {z: s for z in zones})
        after = ws.face_wrinkle_scores(out, lm)
        means.append(np.mean([after[z] for z in zones]))
    assert means[0] == pytest.approx(np.mean([before[z] for z in zones]))  # strength 0: untouched
    assert means[0] > means[1] > means[2]


def test_small_face_is_declined_and_hidden_zones_are_skipped(rp):
    img, lm = face("grace_hopper.jpg")
    small = (
        torch.nn.functional.interpolate(torch.from_numpy(img).permute(2, 0, 1)[None], scale_factor=0.25, mode="area")[0]
        .permute(1, 2, 0)
        .numpy()
        .copy()
    )
    out, mask, info = rp.smooth_face(small, lm * 0.25, {"forehead": 1.0})  # eye distance ~21 px < MIN_IOD
    assert info["declined"] and "too small" in info["note"] and np.array_equal(out, small) and mask.max() == 0
    # the lower half of the photo: the forehead lies outside it, the chin inside
    y = int(np.asarray(lm)[:, 1].mean())
    out, mask, info = rp.smooth_face(img[y:].copy(), lm - [0, y], {"forehead": 1.0, "chin": 1.0})
    assert "forehead" in info["skipped"] and "chin" not in info["skipped"] and mask.max() > 0
    out, mask, info = rp.smooth_face(img[y:].copy(), lm - [0, y], {"forehead": 1.0})
    assert "hidden" in info["note"] and np.array_equal(out, img[y:])


def test_node_batch_scores_and_no_face(pack):
    from comfyui_facelab.nodes.face import face_landmarks as fl

    node = pack.NODE_CLASS_MAPPINGS["FaceLabSmoothWrinkles"]()
    image = photo_tensor("grace_hopper.jpg")
    lm = landmarks_for("grace_hopper.jpg")
    two = fl.make_face_landmarks([lm["frames"][0], []], lm["image_size"])
    out, mask, report = node.smooth(image.repeat(2, 1, 1, 1), two, {"forehead": -1.0, "chin": 0.5}, -1, 1.0)
    report = json.loads(report)
    assert out.shape == (2, *image.shape[1:]) and mask.shape == (2, *image.shape[1:3])
    assert report["zones"] == {"forehead": 1.0}  # chin scored +0.5 (older): not the prior's job
    assert float(mask[0].max()) > 0 and float(mask[1].max()) == 0.0 and torch.equal(out[1], image[0])
    assert "no face" in report["images"][1][0]["note"]
    # no zone scored below 0: the input comes back as it is
    same, mask, report = node.smooth(image, lm, {"forehead": 0.0}, 0, 1.0)
    assert same is image and float(mask.max()) == 0.0 and "nothing to smooth" in json.loads(report)["note"]
    with pytest.raises(ValueError, match="strength"):
        node.smooth(image, lm, {"forehead": -1.0}, 0, 3.0)
