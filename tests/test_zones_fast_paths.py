"""The speed paths of zone masks and the makeup prior give exactly what the plain computations give (issue 16).

Bounded distance transform vs scipy's full one, the lazily zeroed zones_mask output vs per-face numpy masks, and
the makeup blur on the region's box vs the padded window: real photos, real landmarks, bit-for-bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import landmarks_for, load_photo
from scipy import ndimage

SETTINGS = {"grow": 5.0, "feather": 10.0, "subtract": "eyes+brows+lips"}


@pytest.fixture(scope="module")
def zm(pack):
    from comfyui_facelab.nodes.face import zone_masks

    return zone_masks


_GROUP: dict = {}


def group_landmarks() -> dict:
    """t1.jpg's six small faces (small-faces mode), detected once."""
    if not _GROUP:
        from comfyui_facelab.nodes.face import detection

        _GROUP["t1"] = detection.detect(load_photo("t1.jpg"), mode="small_faces")
    return _GROUP["t1"]


def _coverages(zm, name: str, zones: list[str]):
    """Working-grid coverages of each zone of each face of a photo (what _soft_edge receives)."""
    lms = group_landmarks() if name == "t1.jpg" else landmarks_for(name)
    out = []
    for face in lms["frames"][0]:
        lm = np.asarray(face["landmarks_xy"], dtype=np.float64)
        frame = zm.face_frame(lm)
        for zone in zones:
            shapes = zm._zone_shapes(lm, frame, [zone])
            grid = zm._grid_for(shapes, frame, lms["image_size"], 0.3 * frame.iod)
            if grid is not None:
                out.append(zm._coverage(shapes, grid))
    return out


@pytest.mark.parametrize("reach", [1.5, 6.3, 14.8, 40.0])  # 40 > BOUNDED_EDT_MAX: the scipy fallback
def test_bounded_distance_equals_scipy_within_reach(zm, reach):
    covs = _coverages(zm, "grace_hopper.jpg", ["lips", "skin", "crows_feet_left", "forehead", "nostril_right"])
    covs += _coverages(zm, "t1.jpg", ["cheek_right", "eye_left"])
    assert len(covs) >= 15
    far = 0
    for cov in covs:
        for target in (cov >= 0.5, cov < 0.5):  # distance to the zone (outside pixels) and to its outside (inside)
            ref = ndimage.distance_transform_edt(~target).astype(np.float32)
            got = zm._distance_to(target, reach)
            near = ref <= reach
            assert got.dtype == np.float32 and got.shape == ref.shape
            # bit-for-bit where the soft edge reads the value; beyond reach only "further than reach" matters
            assert np.array_equal(got[near], ref[near])
            assert (got[~near] > reach).all()
            assert near.any()
            far += int((~near).sum())
    assert far > 0  # the "beyond reach" case is exercised too


def test_lazily_zeroed_union_equals_the_per_face_masks(zm, pack):
    """t1.jpg: 6 faces, each pasted into the lazily zeroed output, equals the max of the numpy per-face masks."""
    from comfyui_facelab.nodes.face import zone_atlas

    lms = group_landmarks()
    names = list(zone_atlas.ZONE_NAMES)
    got = zm.zones_mask(lms, 2, names, **SETTINGS).numpy()
    h, w = lms["image_size"]
    want = np.zeros((h, w), np.float32)
    for face in lms["frames"][0]:
        want = np.maximum(want, zm.face_zone_mask(face["landmarks_xy"], names, (h, w), **SETTINGS))
    assert len(lms["frames"][0]) == 6 and want.max() == 1.0
    assert np.array_equal(got[0], want) and np.array_equal(got[1], want)  # one frame applies to both images


def test_makeup_blur_on_the_region_box_equals_the_padded_window(pack):
    """color_transfer.region_transfer blurs only the region's box + a 1 px ring; inside the region (the only
    place its offset is kept) that equals the blur of the padded window it used before, bit for bit."""
    import torch
    from comfyui_facelab.nodes.base.colorspace import rgb_to_lab
    from comfyui_facelab.nodes.makeup import illumination, regions

    rgb = load_photo("grace_hopper.jpg")
    lab = rgb_to_lab(torch.from_numpy(rgb.astype(np.float32) / 255.0)).numpy()
    lm = np.asarray(landmarks_for("grace_hopper.jpg")["frames"][0][0]["landmarks_xy"], dtype=np.float64)
    for region, sigma in (("lips", 6.4), ("blush", 6.4), ("brows", 3.2)):
        mask = regions.region_mask(lm, region, rgb.shape[:2], feather=8.0) >= 0.5
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        pad = int(np.ceil(5 + 3 * sigma))
        y0, x0 = max(rows[0] - pad, 0), max(cols[0] - pad, 0)
        y1, x1 = min(rows[-1] + 1 + pad, mask.shape[0]), min(cols[-1] + 1 + pad, mask.shape[1])
        cy0, cy1, cx0, cx1 = max(rows[0] - 1, y0), min(rows[-1] + 2, y1), max(cols[0] - 1, x0), min(cols[-1] + 2, x1)
        window, _ = illumination.masked_blur(lab[y0:y1, x0:x1], mask[y0:y1, x0:x1], sigma)
        box, _ = illumination.masked_blur(lab[cy0:cy1, cx0:cx1], mask[cy0:cy1, cx0:cx1], sigma)
        inner = mask[cy0:cy1, cx0:cx1]
        assert inner.sum() > 100
        assert np.array_equal(box[inner], window[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0][inner])


@pytest.mark.parametrize("kind", ["torch float", "numpy uint8", "numpy grey"])
@pytest.mark.parametrize("scale", [0.3, 0.77, 1.0])  # one centre sample, the 2x2 mean, every pixel
def test_skin_sampling_equals_the_plain_fancy_index(pack, kind, scale):
    """visible_skin._sample_image gathers rows, then columns; the mean of the plain 2-D fancy-indexed samples
    (in the same order) is what it must give, bit for bit, for each kind of image the node may pass."""
    import torch
    from comfyui_facelab.nodes.face import visible_skin, zone_masks

    rgb = load_photo("grace_hopper.jpg")
    image = {
        "torch float": torch.from_numpy(rgb.astype(np.float32) / 255.0),
        "numpy uint8": rgb,
        "numpy grey": rgb[..., 1],
    }[kind]
    grid = zone_masks._Grid(40, 60, 400, 520, scale)
    ww, wh = grid.work_size
    offsets = (0.25, 0.75) if scale > 0.5 else (0.5,)
    if scale >= 1.0:
        ys, xs = [np.arange(60, 520)], [np.arange(40, 400)]
    else:
        ys = [np.clip((60 + (np.arange(wh) + o) / scale).astype(np.int64), 60, 519) for o in offsets]
        xs = [np.clip((40 + (np.arange(ww) + o) / scale).astype(np.int64), 40, 399) for o in offsets]
    arr = np.asarray(image)
    parts = [
        arr[y[:, None], x[None, :]].astype(np.float32) / (255.0 if arr.dtype == np.uint8 else 1.0)
        for y in ys
        for x in xs
    ]
    want = parts[0]
    for p in parts[1:]:
        want = want + p
    want = want / len(parts)
    if want.ndim == 2:
        want = np.repeat(want[..., None], 3, axis=-1)
    got = visible_skin._sample_image(image, grid)
    assert got.shape == (wh, ww, 3) and got.dtype == np.float32
    assert np.array_equal(got, want)


def _clip_point_by_point(poly: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman one point at a time in Python floats: the oracle for the vectorised _clip_convex."""
    out = [tuple(p) for p in poly.tolist()]
    edges = (np.roll(clip, -1, axis=0) - clip).tolist()
    for (ax, ay), (ex, ey) in zip(clip.tolist(), edges):
        if not out:
            break
        inside = [ex * (py - ay) - ey * (px - ax) >= 0 for px, py in out]
        kept = []
        for k, (px, py) in enumerate(out):
            qx, qy = out[(k + 1) % len(out)]
            if inside[k]:
                kept.append((px, py))
            if inside[k] != inside[(k + 1) % len(out)]:
                dx, dy = qx - px, qy - py
                t = (ey * (px - ax) - ex * (py - ay)) / (ex * dy - ey * dx)
                kept.append((px + t * dx, py + t * dy))
        out = kept
    return np.array(out, dtype=np.float64).reshape(-1, 2)


def test_vectorised_clip_equals_point_by_point(zm, pack):
    """Every zone ring of turned and frontal faces (obama2 ~15 deg yaw, t1's six faces, one ~48 deg), clipped
    to the face outline: the vectorised clip gives exactly the point-by-point result, and many are clipped."""
    from comfyui_facelab.nodes.face import zone_atlas

    faces = list(group_landmarks()["frames"][0]) + list(landmarks_for("obama2.jpg")["frames"][0])
    clipped = 0
    for face in faces:
        lm = np.asarray(face["landmarks_xy"], dtype=np.float64)
        frame = zm.face_frame(lm)
        for name in zone_atlas.ZONE_NAMES:
            for ring in zone_atlas.ZONES[name].rings:
                poly = zm._ring_points(lm, frame, ring)
                got, want = zm._clip_convex(poly, frame.outline), _clip_point_by_point(poly, frame.outline)
                assert np.array_equal(got, want), name
                clipped += got is not poly
    assert clipped >= 5  # 7 rings here take the clipping path (not only the "already inside" shortcut)
