"""Makeup transfer on real portraits with the real landmark model.

References are made by recolouring one portrait inside its own lips (or lids) mask, keeping that portrait's
lightness texture: deep red lipstick on grace_hopper.jpg, bronze eye shadow on obama2.jpg. They are applied
to other people's portraits (obama.jpg, biden.jpg).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import landmarks_for, photo_tensor
from PIL import Image

DEEP_RED = (38.0, 55.0, 30.0)  # Lab of a deep red lipstick
BRONZE = (45.0, 17.0, 33.0)  # Lab of a bronze eye shadow
LIPS_ONLY = {"lips": 1.0, "eyes": 0.0, "blush": 0.0, "brows": 0.0, "foundation": 0.0}


def _face(name):
    return landmarks_for(name)["frames"][0][0]


def _region(name, region, image_size):
    from comfyui_facelab.nodes.makeup import regions

    return regions.region_mask(_face(name)["landmarks_xy"], region, image_size)


def _recolour(name, region, lab_target):
    """The portrait with `region` painted lab_target: a*, b* replaced, L* shifted to the target mean."""
    from comfyui_facelab.nodes.base.colorspace import lab_to_rgb, rgb_to_lab

    img = photo_tensor(name)[0]
    m = torch.from_numpy(_region(name, region, img.shape[:2]))[..., None]
    lab = rgb_to_lab(img)
    inside = m[..., 0] > 0.5
    painted = lab.clone()
    painted[..., 0] = lab[..., 0] - lab[..., 0][inside].mean() + lab_target[0]
    painted[..., 1], painted[..., 2] = lab_target[1], lab_target[2]
    return lab_to_rgb(lab + m * (painted - lab))


def _mean_lab(image, name, region):
    """Mean Lab over the fully-inside part of a face region (soft edges excluded)."""
    from comfyui_facelab.nodes.base.colorspace import rgb_to_lab

    inside = torch.from_numpy(_region(name, region, image.shape[:2]) > 0.99)
    return rgb_to_lab(image)[inside].mean(0).numpy().astype(np.float64)


def _de(a, b):
    from skimage.color import deltaE_ciede2000

    return float(deltaE_ciede2000(a, b))


@pytest.fixture(scope="module")
def red_lips(pack):
    return _recolour("grace_hopper.jpg", "lips", DEEP_RED)


@pytest.fixture(scope="module")
def transfer_batch(pack):
    from comfyui_facelab.nodes.makeup.apply import transfer_batch

    return transfer_batch


@pytest.fixture(scope="module")
def lips_on_obama(red_lips, transfer_batch):
    src = photo_tensor("obama.jpg")
    return transfer_batch(
        src, red_lips[None], landmarks_for("obama.jpg"), landmarks_for("grace_hopper.jpg"), strengths=LIPS_ONLY
    )


def _lips_error_drop(result_image, red_lips):
    src = photo_tensor("obama.jpg")[0]
    target = _mean_lab(red_lips, "grace_hopper.jpg", "lips")
    before = _de(_mean_lab(src, "obama.jpg", "lips"), target)
    after = _de(_mean_lab(result_image, "obama.jpg", "lips"), target)
    return before, after


def test_lipstick_colour_difference_drops_by_70_percent(lips_on_obama, red_lips):
    before, after = _lips_error_drop(lips_on_obama.image[0], red_lips)
    assert before > 10  # the test is meaningful: natural lips are far from deep red
    assert after <= 0.3 * before, (before, after)
    assert "deep red" in lips_on_obama.prompt and "lipstick" in lips_on_obama.prompt


def test_pixels_outside_the_mask_are_bit_identical(lips_on_obama):
    src = photo_tensor("obama.jpg")
    out, mask = lips_on_obama.image, lips_on_obama.mask
    assert out.shape == src.shape and mask.shape == src.shape[:3]
    outside = mask == 0
    assert torch.equal(out[outside], src[outside])
    assert (out[~outside] != src[~outside]).any()
    # the mask covers the lips and little else
    lips = torch.from_numpy(_region("obama.jpg", "lips", src.shape[1:3]) > 0.5)
    assert (mask[0][lips] > 0).all()
    assert (mask > 0).sum() < 2.5 * lips.sum()


def test_luminance_structure_is_kept(lips_on_obama):
    from comfyui_facelab.nodes.base.colorspace import rgb_to_lab
    from skimage.metrics import structural_similarity

    src_l = rgb_to_lab(photo_tensor("obama.jpg")[0])[..., 0].numpy()
    out_l = rgb_to_lab(lips_on_obama.image[0])[..., 0].numpy()
    _, ssim = structural_similarity(src_l, out_l, data_range=100.0, full=True)
    made_up = lips_on_obama.mask[0].numpy() > 0
    assert ssim[made_up].mean() >= 0.9


def _rotated(img: torch.Tensor, degrees: float) -> torch.Tensor:
    pil = Image.fromarray((img.numpy() * 255 + 0.5).astype(np.uint8))
    out = pil.rotate(degrees, resample=Image.BICUBIC, expand=True, fillcolor=(128, 128, 128))
    return torch.from_numpy(np.asarray(out).astype(np.float32) / 255.0)


def _cropped_smaller(img: torch.Tensor) -> torch.Tensor:
    x0, y0, x1, y1 = (int(v) for v in _face("grace_hopper.jpg")["bbox_xyxy"])
    pil = Image.fromarray((img.numpy() * 255 + 0.5).astype(np.uint8)).crop((x0 - 20, y0 - 20, x1 + 20, y1 + 20))
    pil = pil.resize((pil.width * 3 // 5, pil.height * 3 // 5), Image.LANCZOS)
    return torch.from_numpy(np.asarray(pil).astype(np.float32) / 255.0)


@pytest.mark.parametrize("variant", ["mirrored", "rotated 18 deg", "cropped to the face and scaled to 60%"])
def test_reference_size_and_pose_do_not_matter(variant, red_lips, transfer_batch):
    ref = {
        "mirrored": lambda r: torch.flip(r, dims=[1]),
        "rotated 18 deg": lambda r: _rotated(r, 18),
        "cropped to the face and scaled to 60%": _cropped_smaller,
    }[variant](red_lips)
    assert ref.shape != red_lips.shape or variant == "mirrored"
    # reference landmarks are detected by the node's own path
    result = transfer_batch(photo_tensor("obama.jpg"), ref[None], landmarks_for("obama.jpg"), None, strengths=LIPS_ONLY)
    before, after = _lips_error_drop(result.image[0], red_lips)
    assert after <= 0.3 * before, (variant, before, after, result.report)


def test_reference_lit_differently_gives_the_same_colour(lips_on_obama, red_lips, transfer_batch):
    """A reference darkened by a side-to-side gradient (1:3 in linear light) gives nearly the evenly lit result."""
    gradient = torch.linspace(0.6, 1.0, red_lips.shape[1])[None, :, None]
    dim = red_lips * gradient
    args = (photo_tensor("obama.jpg"), dim[None], landmarks_for("obama.jpg"), landmarks_for("grace_hopper.jpg"))
    even = _mean_lab(lips_on_obama.image[0], "obama.jpg", "lips")
    normalised = transfer_batch(*args, strengths=LIPS_ONLY)
    raw = transfer_batch(*args, strengths=LIPS_ONLY, normalize_illumination=False)
    d_norm = _de(_mean_lab(normalised.image[0], "obama.jpg", "lips"), even)
    d_raw = _de(_mean_lab(raw.image[0], "obama.jpg", "lips"), even)
    assert d_norm < 3.5, (d_norm, d_raw)
    assert d_norm < 0.6 * d_raw, (d_norm, d_raw)


def test_eye_shadow_lands_on_the_lids_and_bare_lids_stay_bare(pack, transfer_batch):
    eyes_only = {"lips": 0.0, "eyes": 1.0, "blush": 0.0, "brows": 0.0}
    src = photo_tensor("biden.jpg")
    src_lm, ref_lm = landmarks_for("biden.jpg"), landmarks_for("obama2.jpg")
    lids_before = _mean_lab(src[0], "biden.jpg", "eyes")

    bare = transfer_batch(src, photo_tensor("obama2.jpg"), src_lm, ref_lm, strengths=eyes_only)
    assert torch.equal(bare.image, src)  # no eye makeup on the reference: the source lids are left alone
    assert "no makeup" in bare.report and "eyeshadow" not in bare.prompt

    bronze = _recolour("obama2.jpg", "eyes", BRONZE)
    made_up = transfer_batch(src, bronze[None], src_lm, ref_lm, strengths=eyes_only)
    lids_after = _mean_lab(made_up.image[0], "biden.jpg", "eyes")
    hue = lambda lab: np.degrees(np.arctan2(lab[2], lab[1]))  # noqa: E731
    # bronze (hue ~63 deg) replaces the pinkish lids (hue ~38 deg); the eyes themselves are untouched
    assert abs(hue(lids_after) - hue(np.array(BRONZE))) < abs(hue(lids_before) - hue(np.array(BRONZE))) - 10
    eye = torch.from_numpy(_region("biden.jpg", "eyes", src.shape[1:3]) == 0) & torch.from_numpy(
        _eye_openings("biden.jpg", src.shape[1:3])
    )
    assert torch.equal(made_up.image[0][eye], src[0][eye])
    assert "eyeshadow" in made_up.prompt


def _eye_openings(name, image_size):
    from comfyui_facelab.nodes.face.zone_masks import face_zone_mask

    return face_zone_mask(_face(name)["landmarks_xy"], "eye_left, eye_right", image_size, grow=-2.0) > 0.5


def test_strength_zero_returns_the_source_exactly(red_lips, transfer_batch):
    src = photo_tensor("obama.jpg")
    zero = {k: 0.0 for k in LIPS_ONLY}
    result = transfer_batch(
        src, red_lips[None], landmarks_for("obama.jpg"), landmarks_for("grace_hopper.jpg"), strengths=zero
    )
    assert torch.equal(result.image, src)
    assert not result.mask.any()
    assert result.prompt == ""


def test_no_face_reference_or_source_passes_through_with_a_report(red_lips, transfer_batch):
    src = photo_tensor("obama.jpg")
    no_face_ref = transfer_batch(src, photo_tensor("chelsea.png"), landmarks_for("obama.jpg"), None)
    assert torch.equal(no_face_ref.image, src) and not no_face_ref.mask.any()
    assert "no face found in the reference" in no_face_ref.report
    cat = photo_tensor("coffee.png")
    no_face_src = transfer_batch(cat, red_lips[None], None, landmarks_for("grace_hopper.jpg"))
    assert torch.equal(no_face_src.image, cat) and "no source face" in no_face_src.report


def test_node_outputs_batch_and_json(pack, red_lips):
    node = pack.NODE_CLASS_MAPPINGS["FaceLabMakeupTransfer"]()
    grace = photo_tensor("grace_hopper.jpg")
    lm = landmarks_for("grace_hopper.jpg")  # one frame of landmarks applies to every image of the batch
    image, mask, makeup, prompt, report = node.transfer(
        torch.cat([grace, grace]),
        red_lips[None],
        -1,
        1.0,
        0.8,
        0.6,
        0.5,
        0.0,
        8.0,
        source_landmarks=lm,
        reference_landmarks=lm,
    )
    assert image.shape == (2, 600, 512, 3) and mask.shape == (2, 600, 512)
    assert torch.equal(image[0], image[1]) and not torch.equal(image[0], grace[0])
    data = json.loads(json.dumps(makeup))
    assert data["format"] == "facelab.makeup/1" and len(data["faces"]) == 2
    lips = data["regions"]["lips"]
    assert lips["hex"].startswith("#") and len(lips["lab"]) == 3 and lips["strength"] == 1.0 and lips["area_px"] > 0
    assert prompt == data["prompt"] and "lipstick" in prompt
    assert report.count("applied") == 2
    # RGBA input is accepted (alpha ignored) and gives the same result as RGB
    rgba = torch.cat([grace, torch.ones_like(grace[..., :1])], dim=-1)
    out_rgba = node.transfer(
        rgba, red_lips[None], 0, 1.0, 0.8, 0.6, 0.5, 0.0, 8.0, source_landmarks=lm, reference_landmarks=lm
    )[0]
    assert torch.equal(out_rgba[0], image[0])


def test_reference_landmarks_of_a_resized_copy_give_the_same_result(lips_on_obama, red_lips, transfer_batch):
    lm = landmarks_for("grace_hopper.jpg")  # 512 x 600: the half-size copy is 256 x 300, an exact factor
    half = {
        **lm,
        "image_size": (300, 256),
        "frames": [[{**f, "landmarks_xy": f["landmarks_xy"] * 0.5} for f in lm["frames"][0]]],
    }
    result = transfer_batch(
        photo_tensor("obama.jpg"), red_lips[None], landmarks_for("obama.jpg"), half, strengths=LIPS_ONLY
    )
    assert torch.equal(result.image, lips_on_obama.image) and torch.equal(result.mask, lips_on_obama.mask)


def test_node_rejects_mismatched_batches_and_landmarks(pack, red_lips):
    node = pack.NODE_CLASS_MAPPINGS["FaceLabMakeupTransfer"]()
    src = photo_tensor("obama.jpg")
    with pytest.raises(ValueError, match="reference images for"):
        node.transfer(torch.cat([src] * 3), torch.stack([red_lips] * 2), -1, 1, 0, 0, 0, 0, 8.0)
    with pytest.raises(ValueError, match="detect the landmarks on this image"):
        node.transfer(src, red_lips[None], -1, 1, 0, 0, 0, 0, 8.0, source_landmarks=landmarks_for("grace_hopper.jpg"))
    with pytest.raises(ValueError, match="check the reference landmarks"):  # another framing: refused, and which input
        node.transfer(src, red_lips[None], -1, 1, 0, 0, 0, 0, 8.0, reference_landmarks=landmarks_for("obama.jpg"))
