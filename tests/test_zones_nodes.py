"""Face Zone Mask and Face Zone Preview nodes on real photos with the real model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import landmarks_for, load_photo, photo_tensor


@pytest.fixture(scope="module")
def nodes(pack):
    from comfyui_facelab.nodes import node_zones

    return node_zones


@pytest.fixture(scope="module")
def detection(pack):
    from comfyui_facelab.nodes.face import detection

    return detection


def _square(name: str, side: int = 512) -> torch.Tensor:
    """A centred square crop of a photo as IMAGE [1, side, side, 3] (to batch photos of different shapes)."""
    rgb = load_photo(name)
    h, w = rgb.shape[:2]
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    from PIL import Image

    crop = Image.fromarray(rgb[y0 : y0 + s, x0 : x0 + s]).resize((side, side), Image.LANCZOS)
    return torch.from_numpy(np.asarray(crop).astype(np.float32) / 255.0)[None]


def test_mask_node_batch_of_two_photos(nodes, detection):
    from comfyui_facelab.nodes.face import zone_masks

    batch = torch.cat([_square("grace_hopper.jpg"), _square("astronaut.png")])
    lms = detection.detect(batch)
    mask, report = nodes.FaceLabZoneMask().make_mask(batch, lms, "lips", -1, 0.0, 0.0, "none")
    assert mask.shape == (2, 512, 512) and mask.dtype == torch.float32
    for i in range(2):
        face = lms["frames"][i][0]
        alone = torch.from_numpy(zone_masks.face_zone_mask(face["landmarks_xy"], "lips", (512, 512)))
        assert torch.allclose(mask[i], alone)  # each image gets its own face's lips
        ys, xs = torch.nonzero(mask[i] > 0.5, as_tuple=True)
        lip_centre = face["landmarks_xy"][[13, 14]].mean(axis=0)
        assert abs(xs.float().mean() - lip_centre[0]) < 10 and abs(ys.float().mean() - lip_centre[1]) < 10
    assert not torch.allclose(mask[0], mask[1])
    assert "image 0: 1 of 1 face(s)" in report and "image 1: 1 of 1 face(s)" in report


def test_mask_node_no_face_gives_empty_mask_and_says_so(nodes, detection):
    image = photo_tensor("chelsea.png")
    lms = detection.detect(image)
    assert lms["frames"] == [[]]
    mask, report = nodes.FaceLabZoneMask().make_mask(image, lms, "crows_feet", -1, 0.0, 10.0, "none")
    assert mask.shape == image.shape[:3] and mask.max() == 0.0
    assert "no face" in report


def test_mask_node_face_index_counts_left_to_right(nodes, detection):
    image = photo_tensor("t1.jpg")
    lms = detection.detect(image, mode="small_faces")
    faces = lms["frames"][0]
    assert len(faces) == 6
    node = nodes.FaceLabZoneMask()
    all_faces, report = node.make_mask(image, lms, "face_oval", -1, 0.0, 0.0, "none")
    centres = []
    for k in range(len(faces)):
        one, rep = node.make_mask(image, lms, "face_oval", k, 0.0, 0.0, "none")
        assert "1 of 6 face(s)" in rep
        ys, xs = torch.nonzero(one[0] > 0.5, as_tuple=True)
        centres.append(float(xs.float().mean()))
        assert (one <= all_faces + 1e-6).all()
    assert centres == sorted(centres)
    _, rep = node.make_mask(image, lms, "face_oval", 6, 0.0, 0.0, "none")
    assert "no face 6 (6 found)" in rep


def test_mask_node_grow_feather_subtract_and_sizes(nodes):
    image = photo_tensor("obama.jpg")
    lms = landmarks_for("obama.jpg")
    node = nodes.FaceLabZoneMask()
    crisp, _ = node.make_mask(image, lms, "under_eye, eyes", -1, 0.0, 0.0, "none")
    soft, _ = node.make_mask(image, lms, "under_eye, eyes", -1, 10.0, 20.0, "none")
    cut, _ = node.make_mask(image, lms, "under_eye, eyes", -1, 10.0, 20.0, "eyes")
    eyes, _ = node.make_mask(image, lms, "eyes", -1, 0.0, 0.0, "none")
    assert soft.sum() > crisp.sum() and ((soft > 0) & (soft < 1)).sum() > ((crisp > 0) & (crisp < 1)).sum()
    assert cut[eyes > 0].max() == 0.0 and soft[eyes > 0].mean() > 0.9
    # landmarks detected on a half-size copy are rescaled to this image
    half = torch.nn.functional.interpolate(image.permute(0, 3, 1, 2), scale_factor=0.5, mode="area").permute(0, 2, 3, 1)
    from comfyui_facelab.nodes.face import detection

    small_lms = detection.detect(half)
    rescaled, _ = node.make_mask(image, small_lms, "under_eye, eyes", -1, 10.0, 20.0, "none")
    iou = float(torch.minimum(rescaled, soft).sum() / torch.maximum(rescaled, soft).sum())
    assert iou > 0.85
    other_shape = {"frames": lms["frames"], "image_size": (100, 300)}
    with pytest.raises(ValueError, match="aspect"):
        node.make_mask(image, other_shape, "eyes", -1, 0.0, 0.0, "none")


def test_mask_node_accepts_core_format_and_rgba_gray(nodes):
    """Core's MediaPipeFaceLandmarker faces carry the same keys; blendshapes may be empty. RGBA/gray images work."""
    lms = landmarks_for("grace_hopper.jpg")
    face = lms["frames"][0][0]
    core_like = {
        "frames": [[{"bbox_xyxy": face["bbox_xyxy"], "landmarks_xy": face["landmarks_xy"], "blendshapes": {}}]],
        "image_size": lms["image_size"],
        "connection_sets": {},
    }
    rgb = photo_tensor("grace_hopper.jpg")
    rgba = torch.cat([rgb, torch.ones_like(rgb[..., :1])], dim=-1)
    gray = rgb.mean(dim=-1, keepdim=True)
    node = nodes.FaceLabZoneMask()
    a, _ = node.make_mask(rgb, lms, "nose", -1, 0.0, 5.0, "none")
    b, _ = node.make_mask(rgba, core_like, "nose", -1, 0.0, 5.0, "none")
    c, _ = node.make_mask(gray, core_like, "nose", -1, 0.0, 5.0, "none")
    assert torch.equal(a, b) and torch.equal(a, c) and a.max() == 1.0


def test_mask_node_rejects_unknown_zones_with_the_valid_list(nodes):
    lms = landmarks_for("grace_hopper.jpg")
    with pytest.raises(ValueError) as err:
        nodes.FaceLabZoneMask().make_mask(photo_tensor("grace_hopper.jpg"), lms, "crows feet", -1, 0.0, 0.0, "none")
    assert "'crows'" in str(err.value) and "crows_feet_left" in str(err.value)
    with pytest.raises(ValueError, match="empty"):
        nodes.FaceLabZoneMask().make_mask(photo_tensor("grace_hopper.jpg"), lms, "  ", -1, 0.0, 0.0, "none")


def test_preview_colours_zones_and_keeps_the_rest(nodes):
    from comfyui_facelab.nodes.face import zone_masks, zone_preview

    image = photo_tensor("obama.jpg")
    lms = landmarks_for("obama.jpg")
    (out,) = nodes.FaceLabZonePreview().preview(image, lms, "eye_left, lips", 0.6, False)
    assert out.shape == image.shape and out.dtype == torch.float32
    lm = lms["frames"][0][0]["landmarks_xy"]
    h, w = image.shape[1:3]
    changed = (out[0] - image[0]).abs().amax(dim=-1) > 2 / 255
    eye = torch.from_numpy(zone_masks.face_zone_mask(lm, "eye_left", (h, w)) >= 1.0)
    assert changed[eye].float().mean() > 0.95
    colour = torch.tensor(zone_preview.ZONE_COLOURS["eye_left"], dtype=torch.float32) / 255
    before = (image[0][eye] - colour).norm(dim=-1).mean()
    after = (out[0][eye] - colour).norm(dim=-1).mean()
    assert after < 0.6 * before  # the eye took on its zone colour
    near = torch.from_numpy(zone_masks.face_zone_mask(lm, "eye_left, lips", (h, w), grow=10) > 0)
    assert not changed[~near].any()  # nothing drawn away from the zones without labels
    (labelled,) = nodes.FaceLabZonePreview().preview(image, lms, "eye_left, lips", 0.6, True)
    assert ((labelled[0] - out[0]).abs().amax(dim=-1) > 0.1)[~near].sum() > 100  # labels beside the face


def test_preview_no_face_passes_through_unchanged(nodes):
    image = torch.cat([photo_tensor("coffee.png")] * 2)
    (out,) = nodes.FaceLabZonePreview().preview(image, {"frames": [[], []], "image_size": image.shape[1:3]}, "all")
    assert torch.equal(out, image)


def test_contact_sheet_tiles_are_the_painted_face_cropped():
    """Each tile is the face painted with one zone, cropped and scaled: the same as painting the whole photo."""
    from comfyui_facelab.nodes.face import zone_preview
    from PIL import Image

    rgb = load_photo("grace_hopper.jpg")
    face = landmarks_for("grace_hopper.jpg")["frames"][0][0]
    names = ["eye_left", "lips", "forehead"]
    sheet = zone_preview.render_contact_sheet(rgb, face, ", ".join(names), tile=120, columns=2)
    caption = int(120 * 0.12)
    assert sheet.shape == (2 * (120 + caption), 240, 3) and sheet.dtype == np.uint8
    # the face box of the sheet (1.25 x the landmark extent, a little headroom), here partly outside the photo
    lm = np.asarray(face["landmarks_xy"], dtype=np.float64)
    lo, hi = lm.min(axis=0), lm.max(axis=0)
    side = 1.25 * float(max(hi - lo))
    cx, cy = (lo + hi) / 2 - np.array([0.0, 0.08 * side])
    box = (int(cx - side / 2), int(cy - side / 2), int(cx + side / 2), int(cy + side / 2))
    plain = np.asarray(Image.fromarray(rgb).crop(box).resize((120, 120), Image.LANCZOS), dtype=np.float32)
    for k, name in enumerate(names):
        x, y = (k % 2) * 120, (k // 2) * (120 + caption)
        tile = sheet[y : y + 120, x : x + 120].astype(np.float32)
        whole = zone_preview.render_preview(rgb, [face], [name], opacity=0.55, labels=False)
        expected = np.asarray(Image.fromarray(whole).crop(box).resize((120, 120), Image.LANCZOS), dtype=np.float32)
        assert np.abs(tile - expected).mean() < 0.5, name
        assert np.abs(tile - plain).max() > 60, name  # the zone is painted
    assert np.abs(sheet[:120, :120].astype(int) - sheet[:120, 120:240]).max() > 60  # different zones, different tiles
