"""Split Into Tiles / Merge Tiles: exact round trips, smooth overlaps, mask-only tiles, miswiring."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import photo_tensor
from test_compose_helpers import assert_bit_identical_outside, noise_like, random_blobs


@pytest.fixture(scope="module")
def tiles(pack):
    from comfyui_facelab.nodes.compose import tiles

    return tiles


@pytest.mark.parametrize(
    "tile_size, overlap",
    [(200, 32), (128, 0), (512, 64), (300, 140), (160, 8), (1024, 128)],
)
def test_unmodified_tiles_merge_back_bit_identical(tiles, tile_size, overlap):
    image = torch.cat([photo_tensor("astronaut.png"), photo_tensor("astronaut.png").flip(1)])
    t, m, plan = tiles.split(image, tile_size, overlap)
    th, tw = plan.tile_hw
    assert t.shape == (len(plan.tiles), th, tw, 3) and m.shape == (len(plan.tiles), th, tw)
    assert plan.ys[-1] + th == 512 and plan.xs[-1] + tw == 512  # the grid covers the image exactly
    if len(plan.xs) > 1:
        assert min(plan.xs[i] + tw - plan.xs[i + 1] for i in range(len(plan.xs) - 1)) >= overlap
    out = tiles.merge(image, t, plan)
    assert torch.equal(out, image)


def test_weights_are_normalised_so_a_uniform_change_comes_through_unchanged(tiles):
    image = photo_tensor("grace_hopper.jpg") * 0.8
    t, _, plan = tiles.split(image, 200, 48)
    out = tiles.merge(image, t + 0.1, plan)
    assert torch.allclose(out, image + 0.1, atol=1e-6)


def test_overlaps_blend_smoothly_without_a_hard_edge(tiles):
    """Each tile shifted by its own constant: the merged change ramps between them instead of stepping."""
    image = torch.full((1, 300, 500, 3), 0.5)
    t, _, plan = tiles.split(image, 200, 64)
    offsets = torch.linspace(-0.2, 0.2, len(plan.tiles))
    out = tiles.merge(image, t + offsets[:, None, None, None], plan)
    change = (out - image)[0, :, :, 0]
    steps = torch.cat([change.diff(dim=0).abs().flatten(), change.diff(dim=1).abs().flatten()])
    largest_offset_step = offsets.diff().abs().max() * (len(plan.xs) + 1)  # neighbours differ by 1 or by a row
    # A raised-cosine ramp over 64 px changes by at most (difference) * pi / (2 * 64) per pixel.
    bound = float(largest_offset_step) * math.pi / (2 * 64) + 1e-6
    print(
        f"largest per-pixel step of the merged change: {steps.max():.5f} (ramp bound {bound:.5f}, hard edge would be {offsets.diff().abs().max():.3f})"
    )
    assert steps.max() <= bound


def test_only_tiles_touching_the_mask_and_untouched_pixels_stay_exact(tiles):
    image = photo_tensor("astronaut.png")
    mask = torch.zeros(1, 512, 512)
    mask[0, 40:90, 60:110] = 1  # in the top-left corner only
    t, m, plan = tiles.split(image, 160, 32, mask, only_masked=True)
    full_grid = len(plan.ys) * len(plan.xs)
    assert 0 < len(plan.tiles) < full_grid
    for (b, i, j), tile_mask in zip(plan.tiles, m):
        assert tile_mask.any()  # every emitted tile touches the mask
    out = tiles.merge(image, noise_like(t), plan)
    changed = (out != image).any(-1)
    covered = torch.zeros(1, 512, 512, dtype=torch.bool)
    for b, i, j in plan.tiles:
        covered[b, plan.ys[i] : plan.ys[i] + 160, plan.xs[j] : plan.xs[j] + 160] = True
    assert not (changed & ~covered).any()  # pixels outside every emitted tile: bit-identical
    # Masked pixels are covered only by emitted tiles, so they are fully replaced by the tiles' blend.
    inside = mask[0] > 0
    assert (out[0][inside] - image[0][inside]).abs().mean() > 0.15
    assert_bit_identical_outside(out, image, covered.float())


def test_empty_mask_gives_a_placeholder_that_changes_nothing(tiles):
    image = photo_tensor("astronaut.png")
    t, m, plan = tiles.split(image, 256, 32, torch.zeros(1, 512, 512), only_masked=True)
    assert plan.placeholder and t.shape[0] == 1 and (m == 0).all()
    assert torch.equal(tiles.merge(image, noise_like(t), plan), image)


def test_tile_masks_are_the_mask_cut_to_each_tile(tiles):
    image = photo_tensor("grace_hopper.jpg")
    mask = random_blobs(600, 512, seed=4)[None]
    t, m, plan = tiles.split(image, 256, 32, mask)
    for k, (b, i, j) in enumerate(plan.tiles):
        y, x = plan.ys[i], plan.xs[j]
        assert torch.equal(m[k], mask[0, y : y + 256, x : x + 256])
        assert torch.equal(t[k], image[0, y : y + 256, x : x + 256])


def test_merge_rejects_miswired_inputs(tiles):
    image = photo_tensor("astronaut.png")
    t, _, plan = tiles.split(image, 200, 32)
    with pytest.raises(ValueError, match="expects 9 tiles but 8 arrived"):
        tiles.merge(image, t[:8], plan)
    with pytest.raises(ValueError, match="connect the same image"):
        tiles.merge(image[:, :300], t, plan)
    with pytest.raises(ValueError, match="overlap must be between 0 and half the tile size"):
        tiles.split(image, 200, 100)
    up = torch.nn.functional.interpolate(t.permute(0, 3, 1, 2), scale_factor=2, mode="bilinear").permute(0, 2, 3, 1)
    out = tiles.merge(image, up, plan)  # upscaled tiles are scaled back (and logged)
    assert (out - image).abs().mean() < 0.02 and torch.isfinite(out).all()
