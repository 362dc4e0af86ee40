"""NaN/Inf through Crop/Stitch and Split/Merge Tiles (issue 19, items 13 and 14).

An fp16 VAE that overflows decodes NaN crops or tiles; before these fixes they were turned into 0 and blended in:
the face went black while every report read normally. NaN pixels of the *original* under a face spread through
the bilinear resampling into the crop and back into their neighbours.
"""

from __future__ import annotations

import logging

import pytest
import torch
from conftest import landmarks_for, photo_tensor
from test_compose_helpers import assert_bit_identical_outside, noise_like, skin_mask


@pytest.fixture(scope="module")
def compose(pack):
    from comfyui_facelab.nodes.compose import crop, stitch, tiles

    return crop, stitch, tiles


def _face_scene(compose):
    crop_mod = compose[0]
    image = photo_tensor("obama.jpg")
    face = landmarks_for("obama.jpg")["frames"][0][0]
    mask = skin_mask(*image.shape[1:3], face, radius=0.12)[None]
    crops, _, plan = crop_mod.crop(image, mask, None, crop_mod.CropSettings(target_size=512))
    return image, mask, crops, plan


def test_an_all_nan_crop_keeps_the_original_and_says_so(compose, caplog):
    _, stitch_mod, _ = compose
    image, _, crops, plan = _face_scene(compose)
    with caplog.at_level(logging.WARNING, logger="FaceLab"):
        out, used = stitch_mod.stitch(image, torch.full_like(crops, float("nan")), plan)
    # Before the fix NaN became 0: the masked face turned black (out != image) and the blend mask read 1 there.
    assert torch.equal(out, image)
    assert not used.any()
    assert "entirely NaN/Inf" in caplog.text and "kept the original" in caplog.text


def test_a_partly_nan_crop_keeps_the_original_only_at_those_pixels(compose, caplog):
    _, stitch_mod, _ = compose
    image, _, crops, plan = _face_scene(compose)
    edited = noise_like(crops, 3)
    h = crops.shape[1]
    edited[:, : h // 2] = float("inf")  # the top half of the crop overflowed, the bottom half is a real edit
    with caplog.at_level(logging.WARNING, logger="FaceLab"):
        out, used = stitch_mod.stitch(image, edited, plan)
    assert torch.isfinite(out).all()
    assert_bit_identical_outside(out, image, used)
    # Image rows that map to the top half of the crop (3 crop px clear of the cut, for the bilinear taps) are unchanged;
    # the bottom half's edit landed.
    m = plan.entries[0].crop_to_image
    cut_y = m[1, 1] * (h // 2 - 3) + m[1, 2]
    top = torch.zeros_like(used, dtype=torch.bool)
    top[:, : int(cut_y)] = True
    assert torch.equal(out[top], image[top])
    assert (out - image).abs().amax(-1)[(used > 0.5) & ~top].mean() > 0.1
    assert "NaN/Inf pixels" in caplog.text


def test_nan_pixels_of_the_original_under_the_face_do_not_spread(compose):
    crop_mod, stitch_mod, _ = compose
    image, mask, _, _ = _face_scene(compose)
    image = image.clone()
    ys, xs = torch.nonzero(mask[0] > 0, as_tuple=True)
    cy, cx = int(ys.float().mean()), int(xs.float().mean())
    image[0, cy - 3 : cy + 3, cx - 3 : cx + 3] = float("nan")  # under the mask
    image[0, 5, 5] = float("inf")  # far outside it: must stay exactly as it is
    crops, _, plan = crop_mod.crop(image, mask, None, crop_mod.CropSettings(target_size=512))
    assert torch.isfinite(crops).all()  # before: the 6x6 NaN block spread over ~10x10 crop pixels
    for edited in (crops, noise_like(crops, 1)):
        out, used = stitch_mod.stitch(image, edited, plan)
        blended = used > 0
        assert torch.isfinite(out[blended]).all()  # before: NaN spread over the neighbours through the payload
        assert torch.equal(torch.isfinite(out[~blended]), torch.isfinite(image[~blended]))
        assert out[0, 5, 5, 0] == float("inf")
        finite = torch.isfinite(image).all(-1)
        # no-op round trip: every finite pixel within 1/255 (the NaN block itself is repaired, to 0)
        if edited is crops:
            assert (out - image)[finite].abs().max() <= 1 / 255


def test_an_all_nan_tile_keeps_the_original_and_a_partly_nan_tile_only_its_finite_pixels(compose, caplog):
    _, _, tiles = compose
    image = photo_tensor("astronaut.png")
    t, _, plan = tiles.split(image, 256, 32)
    bad = t.clone()
    bad[0] = float("nan")
    with caplog.at_level(logging.WARNING, logger="FaceLab"):
        out = tiles.merge(image, bad, plan)
    assert torch.equal(out, image)  # before: the first tile's area turned black
    assert "entirely NaN/Inf" in caplog.text
    edit = t.clone()
    edit[1] = noise_like(t[1:2], 4)[0]
    edit[1, :100] = float("nan")
    out = tiles.merge(image, edit, plan)
    assert torch.isfinite(out).all()
    y, x = plan.ys[plan.tiles[1][1]], plan.xs[plan.tiles[1][2]]
    assert torch.equal(out[0, y : y + 100, x : x + 256], image[0, y : y + 100, x : x + 256])
    assert (
        out[0, y + 100 : y + 200, x + 64 : x + 192] - image[0, y + 100 : y + 200, x + 64 : x + 192]
    ).abs().mean() > 0.1
