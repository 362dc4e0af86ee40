"""The compose nodes as ComfyUI calls them: registration, input conversion, outputs, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import PHOTOS, landmarks_for, photo_tensor
from PIL import Image
from test_compose_helpers import assert_bit_identical_outside, noise_like, skin_mask

NODES = (
    "FaceLabCrop",
    "FaceLabStitch",
    "FaceLabTileSplit",
    "FaceLabTileMerge",
    "FaceLabSweepGrid",
    "FaceLabSweepStrengths",
)


def _defaults(cls) -> dict:
    spec = cls.INPUT_TYPES()["required"]
    out = {}
    for name, entry in spec.items():
        opts = entry[1] if len(entry) > 1 else {}
        if "default" in opts:  # widgets only; connected inputs are given by the test
            out[name] = opts["default"]
    return out


def test_nodes_are_registered_with_plain_names(pack):
    for node_id in NODES:
        assert node_id in pack.NODE_CLASS_MAPPINGS
    assert pack.NODE_DISPLAY_NAME_MAPPINGS["FaceLabCrop"] == "Crop Face Region"
    assert pack.NODE_DISPLAY_NAME_MAPPINGS["FaceLabStitch"] == "Stitch Face Region"
    assert pack.NODE_DISPLAY_NAME_MAPPINGS["FaceLabSweepGrid"] == "Sweep Comparison Grid"
    assert pack.NODE_DISPLAY_NAME_MAPPINGS["FaceLabSweepStrengths"] == "Effective Strengths"


def test_crop_and_stitch_nodes_on_an_rgba_portrait_with_landmarks(pack):
    from comfyui_facelab.nodes.node_compose import FaceLabCrop, FaceLabStitch

    with Image.open(PHOTOS / "32bit.png") as im:
        rgba = torch.from_numpy(np.asarray(im.convert("RGBA")).astype(np.float32) / 255.0)[None]
    lm = landmarks_for("32bit.png")
    h, w = rgba.shape[1:3]
    mask = skin_mask(h, w, lm["frames"][0][0])  # a bare [H, W] mask is accepted too
    kw = _defaults(FaceLabCrop) | {"target_size": 512, "align_eyes": True}
    crops, crop_masks, plan, report = FaceLabCrop().crop(rgba, mask=mask, face_landmarks=lm, **kw)
    assert crops.shape[-1] == 3 and crops.shape[1] * crops.shape[2] == pytest.approx(512 * 512, rel=0.15)
    assert crops.shape[1] % 64 == 0 and crops.shape[2] % 64 == 0
    assert crop_masks.shape == crops.shape[:3] and "image 0 face 0" in report
    out, used = FaceLabStitch().stitch(rgba, noise_like(crops), plan, **(_defaults(FaceLabStitch)))
    assert out.shape == (1, h, w, 3) and used.shape == (1, h, w)
    assert_bit_identical_outside(out, rgba, used)


def test_crop_node_without_mask_or_landmarks_says_what_to_connect(pack):
    from comfyui_facelab.nodes.node_compose import FaceLabCrop

    with pytest.raises(ValueError, match="connect a mask, face landmarks, or both"):
        FaceLabCrop().crop(photo_tensor("astronaut.png"), **_defaults(FaceLabCrop))


def test_crop_node_rejects_landmarks_of_another_image_and_mismatched_masks(pack):
    from comfyui_facelab.nodes.node_compose import FaceLabCrop

    kw = _defaults(FaceLabCrop)
    with pytest.raises(ValueError, match="detect the landmarks on this image"):
        FaceLabCrop().crop(photo_tensor("astronaut.png"), face_landmarks=landmarks_for("grace_hopper.jpg"), **kw)
    with pytest.raises(ValueError, match="the mask is 256x256 but the image is 512x512"):
        FaceLabCrop().crop(photo_tensor("astronaut.png"), mask=torch.ones(1, 256, 256), **kw)
    with pytest.raises(ValueError, match="2 masks for 1 images"):
        FaceLabCrop().crop(photo_tensor("astronaut.png"), mask=torch.ones(2, 512, 512), **kw)


def test_crop_node_scales_landmarks_found_on_a_resized_copy(pack):
    """Landmarks detected on a half-size copy (same framing) give the same crops as the full-size ones."""
    from comfyui_facelab.nodes.node_compose import FaceLabCrop

    image = photo_tensor("grace_hopper.jpg")  # 512 x 600: half size is exact
    lm = landmarks_for("grace_hopper.jpg")
    half = {
        **lm,
        "image_size": (300, 256),
        "frames": [
            [{**f, "landmarks_xy": f["landmarks_xy"] * 0.5, "bbox_xyxy": f["bbox_xyxy"] * 0.5} for f in lm["frames"][0]]
        ],
    }
    kw = _defaults(FaceLabCrop) | {"target_size": 512}
    full_crops, _, full_plan, _ = FaceLabCrop().crop(image, face_landmarks=lm, **kw)
    half_crops, _, half_plan, _ = FaceLabCrop().crop(image, face_landmarks=half, **kw)
    assert len(half_plan.entries) == len(full_plan.entries) == 1 and not half_plan.entries[0].empty
    assert np.allclose(half_plan.entries[0].crop_to_image, full_plan.entries[0].crop_to_image, atol=1e-4)
    assert torch.equal(half_crops, full_crops)


def test_no_face_passes_the_image_through_and_reports_it(pack):
    from comfyui_facelab.nodes.node_compose import FaceLabCrop, FaceLabStitch

    image = photo_tensor("chelsea.png")  # a cat: no face
    no_faces = {"frames": [[]], "image_size": tuple(image.shape[1:3]), "connection_sets": {}}
    crops, crop_masks, plan, report = FaceLabCrop().crop(image, face_landmarks=no_faces, **_defaults(FaceLabCrop))
    assert crops.shape[0] == 1 and (crop_masks == 0).all() and plan.entries[0].empty
    assert "0 crop(s)" in report and "no face found" in report
    out, used = FaceLabStitch().stitch(image, noise_like(crops), plan, **_defaults(FaceLabStitch))
    assert torch.equal(out, image) and (used == 0).all()


def test_stitch_node_rejects_a_tile_plan(pack):
    from comfyui_facelab.nodes.node_compose import FaceLabStitch, FaceLabTileSplit

    image = photo_tensor("astronaut.png")
    tiles, _, tile_plan, _ = FaceLabTileSplit().split(image, 256, 32, False)
    with pytest.raises(ValueError, match="expected the plan output of 'Crop Face Region'"):
        FaceLabStitch().stitch(image, tiles, tile_plan, **_defaults(FaceLabStitch))


def test_tile_nodes_round_trip(pack):
    from comfyui_facelab.nodes.node_compose import FaceLabTileMerge, FaceLabTileSplit

    image = photo_tensor("grace_hopper.jpg")
    tiles, tile_masks, plan, count = FaceLabTileSplit().split(image, 256, 64, True)
    assert count == tiles.shape[0] == 9 and (tile_masks == 1).all()  # no mask: every tile, fully editable
    (out,) = FaceLabTileMerge().merge(image, tiles, plan)
    assert torch.equal(out, image)
