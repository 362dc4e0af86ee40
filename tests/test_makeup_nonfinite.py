"""Makeup Transfer with NaN/Inf pixels under a valid face (issue 19, item 14): no crash, no spread, outside exact."""

from __future__ import annotations

import numpy as np
import torch
from conftest import landmarks_for, photo_tensor
from test_makeup_transfer import DEEP_RED, LIPS_ONLY, _recolour, _region


def test_nan_pixels_on_the_lips_are_repaired_and_reported_the_rest_is_exact(pack):
    from comfyui_facelab.nodes.makeup.apply import transfer_batch

    src = photo_tensor("obama.jpg").clone()
    lips = torch.from_numpy(_region("obama.jpg", "lips", src.shape[1:3]) > 0.5)
    ys, xs = torch.nonzero(lips, as_tuple=True)
    ys, xs = ys[::40], xs[::40]
    src[0, ys, xs] = float("nan")  # fp16 overflows scattered over the lips
    src[0, 3, 3] = float("inf")  # far from the face
    ref = _recolour("grace_hopper.jpg", "lips", DEEP_RED)[None]
    ref[0, :2, :2] = float("nan")  # the reference too, outside its face
    # Before the fix the NaN block went into the skin/lip statistics and the fit (a crash or NaN everywhere).
    result = transfer_batch(
        src, ref, landmarks_for("obama.jpg"), landmarks_for("grace_hopper.jpg"), strengths=LIPS_ONLY
    )
    changed = result.mask[0] > 0
    assert changed[ys, xs].all() and torch.isfinite(result.image[0][changed]).all()
    assert torch.equal(result.image[0][~changed], src[0][~changed]) or np.array_equal(
        result.image[0][~changed].numpy(), src[0][~changed].numpy(), equal_nan=True
    )  # outside the mask: bit-identical, the Inf pixel included
    assert result.image[0, 3, 3, 0] == float("inf")
    assert "NaN/Inf pixels" in result.report
    assert "lips" in result.makeup["regions"]  # the makeup was still applied
