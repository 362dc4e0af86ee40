"""Crop Face Region + Stitch Face Region on real photos: exactness outside the blend, round trips, faces, seams."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import landmarks_for, photo_tensor
from scipy import ndimage
from test_compose_helpers import (
    assert_bit_identical_outside,
    noise_like,
    random_blobs,
    skin_mask,
    tilted_portrait,
    to_tensor,
    two_face_canvas,
)


@pytest.fixture(scope="module")
def compose(pack):
    from comfyui_facelab.nodes.compose import crop, stitch

    return crop, stitch


def _settings(compose, **kw):
    kw.setdefault("target_size", 512)  # half the SDXL default keeps the tests fast; the geometry is the same
    return compose[0].CropSettings(**kw)


def _round_trip(compose, image, mask, landmarks, **kw):
    crop_mod, stitch_mod = compose
    crops, crop_masks, plan = crop_mod.crop(image, mask, landmarks, _settings(compose, **kw))
    out, used = stitch_mod.stitch(image, crops, plan)
    return crops, crop_masks, plan, out, used


def _reach(mask: torch.Tensor, feather: float) -> np.ndarray:
    """Pixels farther from the mask than the feather can reach (feather x the whole mask's size, 1.5x slack + 4 px)."""
    m = mask.numpy() > 0
    ys, xs = np.nonzero(m)
    side = math.sqrt((xs.max() - xs.min() + 1) * (ys.max() - ys.min() + 1))
    return ndimage.distance_transform_edt(~m) > 1.5 * feather * side + 4


# --- exactness outside the blend mask -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_masks_leave_every_unblended_pixel_bit_identical(compose, seed):
    crop_mod, stitch_mod = compose
    image = photo_tensor("grace_hopper.jpg")
    mask = random_blobs(*image.shape[1:3], seed=seed, count=1 + seed, soft=seed % 2 == 1)[None]
    crops, crop_masks, plan = crop_mod.crop(image, mask, None, _settings(compose))
    out, used = stitch_mod.stitch(image, noise_like(crops, seed), plan, feather=0.1)
    assert_bit_identical_outside(out, image, used)
    # The blend covers the mask fully (eroded by 2 px for the resampled edge) and never strays far from it.
    core = ndimage.binary_erosion(mask[0].numpy() >= 1.0, iterations=2)
    assert (used[0].numpy()[core] >= 0.999).all()
    assert (used[0].numpy()[_reach(mask[0], 0.1)] == 0).all()
    assert (out - image).abs().amax(-1)[used > 0.5].mean() > 0.1  # the noise really landed


def test_negative_zero_pixels_keep_their_bits(compose):
    """-0.0 is a valid black (a node that computes 0 * -x makes it); the fast blend path must not turn it into +0.0."""
    crop_mod, stitch_mod = compose
    image = photo_tensor("grace_hopper.jpg").clone()
    image[:, ::3, ::5] = -0.0  # a grid of negative zeros, inside and around the face box
    mask = random_blobs(*image.shape[1:3], seed=5, count=2, soft=True)[None]
    crops, _, plan = crop_mod.crop(image, mask, None, _settings(compose))
    out, used = stitch_mod.stitch(image, noise_like(crops, 5), plan, feather=0.1)
    assert_bit_identical_outside(out, image, used)


def test_pixels_where_the_8bit_blend_mask_is_black_are_unchanged_in_8bit(compose):
    """What a user checks in ComfyUI: SaveImage writes clip(255 x v) truncated to uint8, for the photo and the mask.

    Found by the real-ComfyUI workflow test: blend weights below 1/255 read as black in the saved mask yet nudged
    the pixel across an 8-bit level. A rotated crop (resampled weights) makes such tails likely.
    """
    crop_mod, stitch_mod = compose
    rgb, lm = tilted_portrait()
    image = to_tensor(rgb)
    mask = skin_mask(*rgb.shape[:2], lm["frames"][0][0])[None]
    crops, _, plan = crop_mod.crop(image, mask, lm, _settings(compose, align=True))
    out, used = stitch_mod.stitch(image, noise_like(crops, 7), plan, feather=0.15)

    def to8(t):
        return np.clip(255.0 * t.numpy(), 0, 255).astype(np.uint8)

    black = to8(used[0]) == 0
    assert black.any() and (~black).any()
    assert (to8(out[0])[black] == to8(image[0])[black]).all()
    assert ((used[0].numpy() > 0) & (used[0].numpy() < 1 / 255)).sum() == 0


@pytest.mark.parametrize("padding", ["shift", "replicate", "replicate_masked"])
@pytest.mark.parametrize("resolution", ["area", "keep"])
def test_border_touching_masks(compose, padding, resolution):
    crop_mod, stitch_mod = compose
    image = photo_tensor("astronaut.png")
    h, w = image.shape[1:3]
    mask = torch.zeros(1, h, w)
    mask[0, :40, :30] = 1  # a corner
    mask[0, 200:260, w - 12 :] = 1  # the right edge
    mask[0, h - 4 :, 300:340] = 1  # the bottom edge
    settings = _settings(compose, padding=padding, resolution=resolution, min_context=96)
    crops, crop_masks, plan = crop_mod.crop(image, mask, None, settings)
    assert [e.label for e in plan.entries] == ["image 0 region 0", "image 0 region 1", "image 0 region 2"]
    centres_x = [(e.crop_to_image @ np.array([crops.shape[2] / 2, crops.shape[1] / 2, 1]))[0] for e in plan.entries]
    assert centres_x == sorted(centres_x)  # corner, bottom, right edge: left to right
    out, used = stitch_mod.stitch(image, noise_like(crops), plan)
    assert_bit_identical_outside(out, image, used)
    # Masked pixels right at the image border get the full edit: no taper at crop edges beyond which there is
    # no image. (Erosion by 2 px from unmasked image pixels only, for the resampled mask edge.)
    core = ndimage.binary_erosion(mask[0].numpy() > 0, iterations=2, border_value=1)
    assert core[0, 0] and core[511, 310] and core[230, 511]
    assert (used[0].numpy()[core] >= 0.999).all()


def test_padding_replicates_edges_never_mirrors(compose):
    crop_mod, _ = compose
    image = photo_tensor("astronaut.png")
    mask = torch.zeros(1, 512, 512)
    mask[0, 0:20, 0:20] = 1
    crops, crop_masks, plan = crop_mod.crop(
        image, mask, None, _settings(compose, padding="replicate", resolution="keep", min_context=128)
    )
    x0, y0 = (int(round(v)) for v in plan.entries[0].crop_to_image[:2, 2])
    assert x0 < 0 and y0 < 0  # the box sticks out of the image at the top-left
    crop = crops[0]
    inner = crop[-y0:, -x0:]
    assert torch.equal(inner, image[0, : inner.shape[0], : inner.shape[1]])  # an exact copy inside
    # Outside: each padded row repeats the image's first row (not rows 1, 2, ... as a mirror would).
    assert torch.equal(crop[:-y0, -x0:], image[0, :1, : inner.shape[1]].expand(-y0, -1, -1))
    assert torch.equal(crop[-y0:, :-x0], image[0, : inner.shape[0], :1].expand(-1, -x0, -1))
    # "replicate edge, mask the padding" also marks the padded area for repainting.
    _, masks2, _ = crop_mod.crop(
        image, mask, None, _settings(compose, padding="replicate_masked", resolution="keep", min_context=128)
    )
    assert (masks2[0, :-y0] == 1).all() and (masks2[0, :, :-x0] == 1).all()
    # The mask is edge-replicated like the image: a mask touching the border continues past it.
    assert torch.equal(crop_masks[0, :-y0, -x0:], mask[0, :1, : inner.shape[1]].expand(-y0, -1))


def test_keep_resolution_crop_is_an_exact_copy(compose):
    crop_mod, _ = compose
    image = photo_tensor("grace_hopper.jpg")
    mask = torch.zeros(1, 600, 512)
    mask[0, 250:330, 180:300] = 1
    crops, crop_masks, plan = crop_mod.crop(
        image, mask, None, _settings(compose, resolution="keep", multiple=8, min_context=64)
    )
    x0, y0 = (int(round(v)) for v in plan.entries[0].crop_to_image[:2, 2])
    h, w = crops.shape[1:3]
    assert h % 8 == 0 and w % 8 == 0 and h >= 80 * 1.5 and w >= 120 * 1.5
    assert torch.equal(crops[0], image[0, y0 : y0 + h, x0 : x0 + w])
    assert torch.equal(crop_masks[0], mask[0, y0 : y0 + h, x0 : x0 + w])


# --- round trips ----------------------------------------------------------------------------------------------


def _rotated_face_scene():
    rgb, lm = tilted_portrait()
    return to_tensor(rgb), skin_mask(*rgb.shape[:2], lm["frames"][0][0])[None], lm, {"align": True}


def _two_face_scene():
    rgb, lm = two_face_canvas()
    m = skin_mask(*rgb.shape[:2], lm["frames"][0][0]) + skin_mask(*rgb.shape[:2], lm["frames"][0][1])
    return to_tensor(rgb), m[None].clamp(0, 1), lm, {"align": True}


SCENES = {
    "mask regions": lambda: (photo_tensor("grace_hopper.jpg"), random_blobs(600, 512, seed=7, count=3)[None], None, {}),
    "keep resolution": lambda: (
        photo_tensor("astronaut.png"),
        random_blobs(512, 512, seed=8)[None],
        None,
        {"resolution": "keep"},
    ),
    "rotated face": _rotated_face_scene,
    "two faces": _two_face_scene,
}


@pytest.mark.parametrize("name", list(SCENES))
def test_unmodified_crops_round_trip_within_1_255(compose, name):
    image, mask, lm, kw = SCENES[name]()
    crops, _, plan, out, used = _round_trip(compose, image, mask, lm, **kw)
    assert (used > 0).any()
    err = (out - image).abs().max().item()
    print(f"{name}: {len(plan.entries)} crop(s), max round-trip error {err * 255:.4f}/255")
    assert err <= 1.0 / 255.0
    assert_bit_identical_outside(out, image, used)


def test_replace_mode_round_trip_is_exact_at_kept_resolution(compose):
    crop_mod, stitch_mod = compose
    image = photo_tensor("astronaut.png")
    mask = random_blobs(512, 512, seed=3)[None]
    crops, _, plan = crop_mod.crop(image, mask, None, _settings(compose, resolution="keep"))
    out, used = stitch_mod.stitch(image, crops, plan, color_match=False, mode="replace")
    assert torch.equal(out, image)  # unrotated, unscaled: the crop's pixels are the original's


# --- faces ----------------------------------------------------------------------------------------------------


def test_aligned_crop_levels_the_eyes(compose):
    crop_mod, stitch_mod = compose
    from comfyui_facelab.nodes.compose.crop import eye_angle

    rgb, lm = tilted_portrait(20.0)
    face = lm["frames"][0][0]
    assert abs(math.degrees(eye_angle(face["landmarks_xy"])) + 20.0) < 4.0  # the photo is tilted by 20 degrees
    image = to_tensor(rgb)
    crops, _, plan = crop_mod.crop(image, None, lm, _settings(compose, align=True))
    from test_compose_helpers import detect

    in_crop = detect((crops[0].numpy() * 255).round().astype(np.uint8))["frames"][0]
    assert len(in_crop) == 1
    tilt = math.degrees(eye_angle(in_crop[0]["landmarks_xy"]))
    print(f"eye line: {math.degrees(eye_angle(face['landmarks_xy'])):.1f} deg in the photo, {tilt:.2f} deg in the crop")
    assert abs(tilt) < 1.5
    out, used = stitch_mod.stitch(image, noise_like(crops), plan)
    assert_bit_identical_outside(out, image, used)


def test_two_faces_give_two_crops_left_to_right_that_never_overwrite_each_other(compose):
    crop_mod, stitch_mod = compose
    rgb, lm = two_face_canvas()
    faces = lm["frames"][0]
    assert len(faces) == 2
    image = to_tensor(rgb)
    h, w = rgb.shape[:2]
    masks = [skin_mask(h, w, f) for f in faces]
    mask = (masks[0] + masks[1]).clamp(0, 1)[None]
    crops, crop_masks, plan = crop_mod.crop(image, mask, lm, _settings(compose))
    assert [e.label for e in plan.entries] == ["image 0 face 0", "image 0 face 1"]
    centres = [e.crop_to_image @ np.array([crops.shape[2] / 2, crops.shape[1] / 2, 1]) for e in plan.entries]
    assert centres[0][0] < w / 2 < centres[1][0]  # face 0 is the left one
    # Edit only the second face's crop: the first face's masked pixels must stay the original's.
    edited = crops.clone()
    edited[1] = noise_like(crops[1:])[0]
    out, used = stitch_mod.stitch(image, edited, plan)
    assert_bit_identical_outside(out, image, used)
    left = masks[0] > 0
    assert (out[0][left] - image[0][left]).abs().max() <= 1.0 / 255.0
    right = masks[1] > 0
    assert (out[0][right] - image[0][right]).abs().mean() > 0.1
    # And face_index picks one face.
    _, _, one = crop_mod.crop(image, mask, lm, _settings(compose, face_index=1))
    assert [e.label for e in one.entries] == ["image 0 face 1"]


def test_image_batch_with_an_empty_mask_passes_that_image_through(compose):
    crop_mod, stitch_mod = compose
    a = photo_tensor("astronaut.png")
    b = torch.flip(a, dims=[2])
    image = torch.cat([a, b])
    mask = torch.stack([random_blobs(512, 512, seed=11, count=2), torch.zeros(512, 512)])
    crops, crop_masks, plan = crop_mod.crop(image, mask, None, _settings(compose))
    assert [e.batch_index for e in plan.entries][-1] == 1 and plan.entries[-1].empty
    assert crops.shape[0] == len(plan.entries) and torch.isfinite(crops).all()
    assert "image 1: the mask is empty" in plan.report
    out, used = stitch_mod.stitch(image, noise_like(crops), plan)
    assert_bit_identical_outside(out, image, used)
    assert torch.equal(out[1], image[1]) and (used[1] == 0).all()
    assert (used[0] > 0).any()


def test_landmarks_of_core_mediapipe_node_are_accepted(compose):
    """Core's MediaPipeFaceLandmarker gives the same dict layout; only landmarks_xy / bbox_xyxy are read."""
    crop_mod, _ = compose
    lm = landmarks_for("grace_hopper.jpg")
    core_like = {
        "frames": [[{"bbox_xyxy": f["bbox_xyxy"], "landmarks_xy": f["landmarks_xy"]} for f in lm["frames"][0]]],
        "image_size": lm["image_size"],
        "connection_sets": {},
    }
    crops, _, plan = crop_mod.crop(photo_tensor("grace_hopper.jpg"), None, core_like, _settings(compose))
    assert len(plan.entries) == 1 and not plan.entries[0].empty


# --- edge cases: never NaN/Inf --------------------------------------------------------------------------------


def _one_pixel_mask():
    m = torch.zeros(1, 512, 512)
    m[0, 100, 200] = 1
    return m


EDGE_CASES = {  # name: image -> (image, mask)
    "empty mask": lambda img: (img, torch.zeros(1, 512, 512)),
    "full mask": lambda img: (img, torch.ones(1, 512, 512)),
    "one pixel": lambda img: (img, _one_pixel_mask()),
    "tiny image": lambda img: (img[:, 100:108, 200:206], torch.ones(1, 8, 6)),
    "one-pixel image": lambda img: (img[:, :1, :1], torch.ones(1, 1, 1)),
}


@pytest.mark.parametrize("name", list(EDGE_CASES))
def test_no_nan_or_inf_in_edge_cases(compose, name):
    crop_mod, stitch_mod = compose
    image, mask = EDGE_CASES[name](photo_tensor("astronaut.png"))
    crops, crop_masks, plan = crop_mod.crop(image, mask, None, _settings(compose))
    assert torch.isfinite(crops).all() and torch.isfinite(crop_masks).all()
    for inpainted in (crops, noise_like(crops), torch.full_like(crops, float("nan"))):
        out, used = stitch_mod.stitch(image, inpainted, plan)
        assert torch.isfinite(out).all() and torch.isfinite(used).all()
        if (used == 0).any():
            assert_bit_identical_outside(out, image, used)
    out, used = stitch_mod.stitch(image, crops, plan)
    assert (out - image).abs().max() <= 1.0 / 255.0
    if name == "empty mask":
        assert torch.equal(out, image) and "the mask is empty" in plan.report


# --- the seam test --------------------------------------------------------------------------------------------


def _boundary_energy(image: torch.Tensor, band: np.ndarray) -> float:
    """Median over a band along the mask boundary of |grad|^2 (summed over RGB) of the image smoothed with sigma 1.

    Smoothing by one pixel measures at the scale a seam is seen rather than JPEG grain; the median keeps the few
    strong natural edges that cross the boundary (eyebrows, nostrils) from dominating.
    """
    a = ndimage.gaussian_filter(image[0].numpy().astype(np.float64), (1, 1, 0))
    gx = np.zeros_like(a)
    gy = np.zeros_like(a)
    gx[:, :-1] = a[:, 1:] - a[:, :-1]
    gy[:-1] = a[1:] - a[:-1]
    return float(np.median((gx**2 + gy**2).sum(-1)[band]))


@pytest.mark.parametrize("photo", ["obama.jpg", "biden.jpg"])
def test_seam_colour_drift_is_invisible_with_feather_and_colour_match_but_not_when_hard_pasted(compose, photo):
    crop_mod, stitch_mod = compose
    image = photo_tensor(photo)
    h, w = image.shape[1:3]
    face = landmarks_for(photo)["frames"][0][0]
    mask = skin_mask(h, w, face, radius=0.09)[None]
    crops, _, plan = crop_mod.crop(image, mask, None, crop_mod.CropSettings())
    # An inpaint with colour drift: gain and offset on every crop pixel (warmer, a little greener-less, brighter).
    drifted = (crops * torch.tensor([1.04, 0.97, 1.0]) + torch.tensor([0.05, -0.02, 0.04])).clamp(0, 1)
    m = mask[0].numpy() > 0
    band = ndimage.binary_dilation(m, iterations=3) & ~ndimage.binary_erosion(m, iterations=3)
    reference = _boundary_energy(image, band)
    smooth, _ = stitch_mod.stitch(image, drifted, plan, feather=0.1, color_match=True)
    hard, _ = stitch_mod.stitch(image, drifted, plan, feather=0.0, color_match=False, mode="replace")
    ratio_smooth = _boundary_energy(smooth, band) / reference
    ratio_hard = _boundary_energy(hard, band) / reference
    print(
        f"{photo}: boundary gradient energy vs original: feather+colour match {ratio_smooth:.2f}x, hard paste {ratio_hard:.2f}x"
    )
    assert ratio_smooth <= 1.5
    assert ratio_hard > 1.5


# --- miswiring --------------------------------------------------------------------------------------------------


def test_stitch_rejects_miswired_inputs_and_rescales_upscaled_crops(compose, caplog):
    crop_mod, stitch_mod = compose
    image = photo_tensor("astronaut.png")
    mask = random_blobs(512, 512, seed=5, count=2)[None]
    crops, _, plan = crop_mod.crop(image, mask, None, _settings(compose))
    n = crops.shape[0]
    with pytest.raises(ValueError, match=f"expects {n} crops but {n + 1} arrived"):
        stitch_mod.stitch(image, torch.cat([crops, crops[:1]]), plan)
    with pytest.raises(ValueError, match="different aspect ratio"):
        stitch_mod.stitch(image, crops[:, :, : crops.shape[2] // 2], plan)
    with pytest.raises(ValueError, match="connect the same image"):
        stitch_mod.stitch(image[:, :256], crops, plan)
    up = torch.nn.functional.interpolate(crops.permute(0, 3, 1, 2), scale_factor=2, mode="bilinear").permute(0, 2, 3, 1)
    with caplog.at_level("INFO", logger="FaceLab"):
        out, used = stitch_mod.stitch(image, up, plan)
    assert "resizing back to the plan's" in caplog.text
    assert_bit_identical_outside(out, image, used)
    assert (out - image).abs().max() < 0.1  # an upscaled unedited crop comes back close to the original
    caplog.clear()
    with caplog.at_level("WARNING", logger="FaceLab"):
        stitch_mod.stitch(image.flip(1), crops, plan)  # same size, other picture: stitched, but warned about
    assert "differs from the one the plan was made from" in caplog.text
