"""The compose building blocks on their own: resampling, feather, crop-edge taper, colour match."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import photo_tensor
from scipy import ndimage
from test_compose_helpers import disc_mask


@pytest.fixture(scope="module")
def parts(pack):
    from comfyui_facelab.nodes.compose import color_match, feather, warp

    return warp, feather, color_match


def test_integer_translation_is_an_exact_copy_with_edge_replication(parts):
    warp, _, _ = parts
    src = photo_tensor("astronaut.png")[0].permute(2, 0, 1)
    out = warp.sample(src, warp.translation(-3, 5), (20, 30))
    assert torch.equal(out[:, :, 3:], src[:, 5:25, :27])
    assert torch.equal(out[:, :, :3], src[:, 5:25, :1].expand(-1, -1, 3))  # replicated, not mirrored


def test_downscaling_averages_instead_of_aliasing(parts):
    """A 1-px checkerboard shrunk 4x must come out flat grey (point sampling would keep black or white)."""
    warp, _, _ = parts
    yy, xx = torch.meshgrid(torch.arange(256), torch.arange(256), indexing="ij")
    board = ((yy + xx) % 2).float()[None]
    m = warp.crop_matrix((127.5, 127.5), 0.25, 0.0, (64, 64))
    out = warp.sample(board, m, (64, 64))
    assert (out - 0.5).abs().max() < 0.02


def test_rotated_sampling_follows_the_matrix(parts):
    """A crop turned by 90 degrees about (250.5, 300.5): crop pixel (u, v) shows image pixel (x, y) = (300 - v, 251 + u)."""
    warp, _, _ = parts
    src = photo_tensor("grace_hopper.jpg")[0].permute(2, 0, 1)
    m = warp.crop_matrix((250.5, 300.5), 1.0, math.radians(90), (100, 100))
    out = warp.sample(src, m, (100, 100))
    window = src[:, 251:351, 201:301]  # window[:, a, b] = image pixel (x = 201 + b, y = 251 + a)
    assert (out - window.flip(2).transpose(1, 2)).abs().max() < 1e-4


def test_feather_is_full_inside_and_zero_beyond_its_width(parts):
    _, feather, _ = parts
    mask = disc_mask(400, 400, [(200, 200)], 80)
    for width in (6.0, 30.0, 90.0):
        w = feather.feather(mask, width)
        dist = ndimage.distance_transform_edt(mask.numpy() == 0)
        assert (w[mask > 0] == 1).all()
        # Square filters: 1.25 x width along the axes (the stitch window relies on that), 1.45 x towards corners.
        ys, xs = np.nonzero(w.numpy())
        assert xs.min() >= 120 - 1.25 * width - 1 and xs.max() <= 280 + 1.25 * width + 1
        assert (w.numpy()[dist > 1.45 * width + 1] == 0).all()
        assert (w.numpy()[(dist > 0) & (dist < 0.3 * width)] > 0.5).all()  # a ramp, not a step
        row = w[200, 280:].numpy()
        assert (np.diff(row) <= 1e-6).all()  # falls monotonically away from the mask
    assert torch.equal(feather.feather(mask, 0.0), mask)  # no feather: the mask itself


def test_edge_taper_only_where_the_image_continues(parts):
    warp, feather, _ = parts
    # A 100x100 crop whose left edge lies on the image border (x = -0.5) and whose other edges are inside.
    m = warp.translation(0, 50)
    t = feather.edge_taper(m, (100, 100), (400, 400), 10.0)
    assert (t[:, 0][20:80] > 0.99).all()  # left edge: nothing beyond it, no taper
    assert (t[:, -1] == 0).all() and (t[0] == 0).all() and (t[-1] == 0).all()
    assert (t[50, 10:90] == 1).all()


def test_colour_match_removes_a_colour_drift_measured_in_the_ring(parts):
    _, feather, color_match = parts
    ref = photo_tensor("obama.jpg")[0, 200:600, 250:650]
    drifted = (ref * torch.tensor([1.05, 0.96, 1.0]) + torch.tensor([0.04, -0.02, 0.05])).clamp(0, 1)
    mask = disc_mask(400, 400, [(200, 200)], 100)
    inside_edit = drifted.clone()
    inside_edit[mask > 0] = torch.tensor([0.9, 0.1, 0.1])  # an intended change inside the mask
    ring = feather.ring(mask, 40.0)
    fixed = color_match.match_to_reference(inside_edit, ref, ring)
    outside = mask == 0
    before = (inside_edit[outside] - ref[outside]).abs().mean()
    after = (fixed[outside] - ref[outside]).abs().mean()
    print(f"mean colour error outside the mask: {before * 255:.1f}/255 drifted, {after * 255:.1f}/255 matched")
    assert after < before / 4
    assert (fixed[mask > 0][:, 0] > 0.8).all()  # the intended red survives
    assert torch.equal(
        color_match.match_to_reference(drifted, ref, torch.zeros_like(ring)), drifted
    )  # no ring: unchanged


def test_colour_lookup_is_trilinear_interpolation_of_the_lattice(parts):
    """The 2-D texture lookup must give what a trilinear lookup of the 33^3 lattice gives (torch's 3-D grid_sample,
    the former implementation), on a real photo and at the cube's faces, where a lattice cell ends."""
    import torch.nn.functional as F

    _, _, color_match = parts
    from comfyui_facelab.nodes.base.colorspace import lab_to_rgb, rgb_to_lab

    shift = torch.tensor([-3.0, 2.0, 4.0])  # a typical drift correction in Lab
    lut = color_match.colour_lut(lambda rgb: lab_to_rgb(rgb_to_lab(rgb) * torch.tensor([1.05, 0.9, 1.1]) + shift))
    image = photo_tensor("obama.jpg")[0, 100:300, 200:400].clone()
    image[:8] = 0.0  # black, white, and single channels at 0 and 1: the lattice's first and last cells
    image[8:16] = 1.0
    image[16:24, :, 0], image[24:32, :, 2] = 0.0, 1.0
    grid = (image * 2.0 - 1.0)[None, None]
    expected = F.grid_sample(lut, grid, mode="bilinear", padding_mode="border", align_corners=True)[0, :, 0]
    got = color_match.apply_lut(lut, image).permute(2, 0, 1)
    assert (got - expected).abs().max() < 1e-4  # float rounding of the texture coordinates, << 1/255
    identity = color_match.apply_lut(color_match.colour_lut(lambda rgb: rgb), image)
    assert (identity - image).abs().max() < 1e-4


@pytest.mark.parametrize("k", [2, 3])
def test_box_average_matches_average_pooling_with_partial_blocks(parts, k):
    """warp.box_average (strided sums) must equal avg_pool2d with ceil_mode: partial blocks at the end average only
    the pixels they hold. A channels-last view (how crops arrive) and odd sizes, so partial blocks occur."""
    import torch.nn.functional as F

    warp, _, _ = parts
    src = photo_tensor("astronaut.png")[0, :101, :67].permute(2, 0, 1)  # strided view, 101 x 67
    expected = F.avg_pool2d(src.contiguous()[None], k, stride=k, ceil_mode=True)[0]
    got = warp.box_average(src, k)
    assert got.shape == expected.shape and (got - expected).abs().max() < 1e-6
