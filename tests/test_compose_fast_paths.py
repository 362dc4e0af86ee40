"""The shortcuts the crop and stitch take for speed give what the plain computation gives (issue 16, round 2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_compose_helpers import skin_mask, tilted_portrait, to_tensor


@pytest.fixture(scope="module")
def compose(pack):
    from comfyui_facelab.nodes.compose import crop, stitch, warp

    return crop, stitch, warp


def _full_mask_sample(warp, mask: torch.Tensor, m: np.ndarray, crop_hw) -> torch.Tensor:
    """The crop mask as it was made before: the whole crop resampled, NaN/Inf repaired, clamped."""
    return warp.sample(mask[None], m, crop_hw, finite=True)[0].clamp(0.0, 1.0)


@pytest.mark.parametrize("border", [False, True])
def test_crop_mask_resampled_near_its_support_equals_the_whole_crop_resampled(compose, border):
    """A real tilted face (with `border`, rotated upright: align_eyes), a skin mask with soft dust far from it (0.5/255: below the region
    threshold, yet inside a crop every value counts) and, with `border`, a masked strip on the image's left edge
    (edge replication carries it past the border). Resampling only the part of the crop the support can reach
    must give the whole-crop resampling, to float32 coordinate rounding (1e-4: bilinear weights of coordinates
    rounded near 1e-4 px at these sizes); outside that part it must be exactly 0 where the full one is 0."""
    crop_mod, _, warp = compose
    rgb, lm = tilted_portrait()
    image = to_tensor(rgb)
    h, w = rgb.shape[:2]
    mask = skin_mask(h, w, lm["frames"][0][0]).clone()
    ys, xs = np.nonzero(mask.numpy() > 0)
    clean = mask.clone()
    mask[max(0, ys.min() - 6), (xs.min() + xs.max()) // 2] = 0.5 / 255.0  # dust just above the face
    if border:
        mask[ys.min() : ys.max(), 0:6] = 1.0
    padding = "replicate" if border else "shift"  # replicate: the crop reaches past the image border
    settings = crop_mod.CropSettings(target_size=512, align=border, padding=padding)
    crops, masks, plan = crop_mod.crop(image, mask[None], lm, settings)
    entry = plan.entries[0]
    assert (abs(entry.angle) > 0.05) == border  # rotated: the support box is mapped through a rotation
    want = _full_mask_sample(warp, mask, entry.crop_to_image, plan.crop_hw)
    assert (want > 0).sum() > 1000
    assert not torch.equal(want, _full_mask_sample(warp, clean, entry.crop_to_image, plan.crop_hw))  # dust in crop
    assert torch.allclose(masks[0], want, atol=1e-4, rtol=0)
    assert not bool((masks[0][want == 0] > 1e-4).any())
    if border:  # the crop reaches past the image's left edge, where the replicated strip is masked
        x0 = entry.crop_to_image @ np.array([0.0, plan.crop_hw[0] / 2, 1.0])
        assert x0[0] < 0 and float(want[:, :4].max()) > 0.5


def test_clean_base_check_reads_the_float_bits(compose):
    """_clean must accept exactly the floats for which base + 0 * change == base bit for bit after clipping:
    +0.0 ... 1.0 (denormals included); -0.0 (would become +0.0), negatives, values above 1, NaN and Inf fail."""
    _, stitch_mod, _ = compose
    ok = [0.0, 1e-40, 0.5, 1.0]
    bad = [-0.0, -1e-40, -0.5, np.nextafter(np.float32(1.0), np.float32(2.0)), 2.0, np.nan, np.inf, -np.inf]
    base = np.full((4, 5, 3), 0.25, np.float32)
    for v in ok + bad:
        band = base.copy()
        band[2, 3, 1] = v
        assert stitch_mod._clean(band[1:3, 1:4]) == (v in ok and not np.signbit(v)), v
    strided = np.zeros((6, 8, 3), np.float32)[::2, 1:7]  # a band view of a larger image, as the stitch passes it
    assert stitch_mod._clean(strided)


@pytest.mark.parametrize("k", [2, 3])
def test_box_average_chunk_by_chunk_equals_the_whole(compose, k):
    """_window_source box-averages row chunks of whole k x k blocks into one buffer; every value must be the one
    averaging the whole array gives, bit for bit (the same sums in the same order), partial blocks included."""
    _, _, warp = compose
    src = torch.rand((4, 7 * k + 1, 5 * k + 2), generator=torch.Generator().manual_seed(k))
    whole = warp.box_average(src, k)
    out = torch.full_like(whole, float("nan"))
    step = 2 * k
    for r0 in range(0, src.shape[1], step):
        r1 = min(src.shape[1], r0 + step)
        warp.box_average(src[:, r0:r1], k, out=out[:, r0 // k : -(-r1 // k)])
    assert torch.equal(out, whole)


def test_any_positive_and_the_dust_threshold(pack):
    """any_positive (one maximum instead of a bool tensor) must answer as (t > 0).any() does, a NaN included;
    the feather's dust threshold must zero exactly the float32 weights below 1e-4 (what `x < 1e-4` zeroed)."""
    from comfyui_facelab.nodes.compose import feather

    cases = [
        torch.zeros(5, 7),
        -torch.ones(3, 3),
        torch.tensor([[0.0, -1.0], [1e-30, 0.0]]),
        torch.tensor([float("nan"), 0.0, 0.5]),
        torch.tensor([float("nan"), 0.0, -0.5]),
        torch.zeros(0, 4),
    ]
    for t in cases:
        assert feather.any_positive(t) == bool((t > 0).any()), t
    one_e4 = np.float32(1e-4)
    x = torch.tensor([np.nextafter(one_e4, np.float32(0)), one_e4, np.nextafter(one_e4, np.float32(1)), 0.5])
    got = torch.nn.functional.threshold(x, feather._DUST, 0.0)
    assert torch.equal(got, x.masked_fill(x < 1e-4, 0.0))
    assert got[0] == 0 and got[1] == x[1]
