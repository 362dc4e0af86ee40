"""Mesh repeatability on group-photo faces (t1.jpg, ~100 px faces): zone masks of a photo against its mirror,
a 15-degree rotation and a 2x upscale, each detected again from scratch in the default mode.

Crisp masks (grow 0, feather 0): IoU = sum(min) / sum(max) of the anti-aliased zone coverages, every zone of
zone_atlas.ZONE_NAMES, computed in the original photo's frame (the transformed photo's mask mapped back). Per
face the median over zones; the figure asserted is the median over faces, and the worst face is printed.
The mesh's own noise is measured too: the steady meshing reports the mirror disagreement of every face.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from conftest import load_photo
from PIL import Image

ROT_DEG = 15.0
# The targets. Measured (default steady meshing; crisp masks, t1.jpg's six ~100 px faces): mirror median
# 0.941 (worst face 0.905), 15-degree rotation 0.939 (worst 0.844), 2x 0.961 (worst 0.944). One upright mesh:
# 0.845 / 0.923 / 0.951, plain: 0.864 / 0.909 / 0.960 -- only the steady mesh meets the mirror target. Mesh noise
# behind it: photo vs mirror, landmarks differ by 0.13-1.7% of the eye distance (median per face) with steady
# meshing, 1.1-6.1% with one upright mesh, 1.1-6.4% plain (docs/landmarks.md).
BOUNDS = {"mirror": 0.85, "rot15": 0.88, "2x": 0.95}


@pytest.fixture(scope="module")
def mods(pack):
    from comfyui_facelab.nodes.face import detection, zone_atlas, zone_masks

    return detection, zone_atlas, zone_masks


def _swap(zone: str) -> str:
    for a, b in (("_left", "_right"), ("_right", "_left")):
        if zone.endswith(a):
            return zone[: -len(a)] + b
    return zone


def _rotation(w: int, h: int, degrees: float):
    """(A, t): original = A @ rotated + t, a rotation about the image centre (same canvas)."""
    a = np.deg2rad(degrees)
    A = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    c = np.array([w / 2, h / 2])
    return A, c - A @ c


def _warp(img: Image.Image, A, t, size, resample) -> Image.Image:
    return img.transform(size, Image.AFFINE, (A[0, 0], A[0, 1], t[0], A[1, 0], A[1, 1], t[1]), resample)


@functools.cache
def _faces(meshing: str, variant: str) -> list[np.ndarray]:
    from comfyui_facelab.nodes.face import detection

    rgb = load_photo("t1.jpg")
    h, w = rgb.shape[:2]
    img = Image.fromarray(rgb)
    if variant == "mirror":
        rgb = np.ascontiguousarray(rgb[:, ::-1])
    elif variant == "2x":
        rgb = np.asarray(img.resize((2 * w, 2 * h), Image.BICUBIC))
    elif variant == "rot15":
        A, t = _rotation(w, h, ROT_DEG)
        rgb = np.asarray(_warp(img, A, t, (w, h), Image.BICUBIC))
    faces = detection.detect(rgb, max_faces=16, mode="full_range", meshing=meshing)["frames"][0]
    return [np.asarray(f["landmarks_xy"], np.float64) for f in faces]


def _to_original(variant: str, lm: np.ndarray, w: int, h: int) -> np.ndarray:
    """Landmarks of the transformed photo in the original photo's pixels (only used to pair faces)."""
    if variant == "mirror":
        return np.stack([w - 1 - lm[:, 0], lm[:, 1]], 1)
    if variant == "2x":
        return (lm + 0.5) / 2 - 0.5
    A, t = _rotation(w, h, ROT_DEG)
    return (lm + 0.5) @ A.T + t - 0.5


def _mask(zm, lm, zone, size, box):
    # Landmarks put pixel i's centre at i (MediaPipe, detection.py); zone_masks rasterises with pixel i covering
    # [i, i+1). The +0.5 makes the two agree, so a mirror maps a mask exactly; without it every mirrored mask is
    # shifted by one pixel (a zone_masks convention issue, reported; it costs ~0.05 IoU on these small faces).
    lm = np.asarray(lm, np.float64) + 0.5
    x0, y0, x1, y1 = box
    out = np.zeros((y1 - y0, x1 - x0), np.float32)
    roi = zm.face_zone_mask_roi(lm, zone, size)
    if roi is not None:
        m, (rx0, ry0, rx1, ry1) = roi
        ax0, ay0, ax1, ay1 = max(x0, rx0), max(y0, ry0), min(x1, rx1), min(y1, ry1)
        if ax1 > ax0 and ay1 > ay0:
            out[ay0 - y0 : ay1 - y0, ax0 - x0 : ax1 - x0] = m[ay0 - ry0 : ay1 - ry0, ax0 - rx0 : ax1 - rx0]
    return out


def _iou(a, b) -> float:
    return float(np.minimum(a, b).sum() / max(np.maximum(a, b).sum(), 1e-9))


def zone_ious(mods, meshing: str, variant: str) -> list[float]:
    """Per face of t1.jpg: the median over zones of the crisp zone IoU between the photo and `variant`."""
    _, za, zm = mods
    h, w = load_photo("t1.jpg").shape[:2]
    base, other = _faces(meshing, "plain"), _faces(meshing, variant)
    assert len(base) == 6 and len(other) == 6, (len(base), len(other))
    per_face = []
    for lm in base:
        mapped = [_to_original(variant, o, w, h) for o in other]
        j = int(np.argmin([np.linalg.norm(m[1] - lm[1]) for m in mapped]))
        o = other[j]
        lo, hi = lm.min(0), lm.max(0)
        pad = 0.5 * (hi - lo)
        x0, y0 = np.floor(np.maximum(lo - pad, 0)).astype(int)
        x1, y1 = np.ceil(np.minimum(hi + pad, [w, h])).astype(int)
        box = (int(x0), int(y0), int(x1), int(y1))
        ious = []
        for zone in za.ZONE_NAMES:
            a = _mask(zm, lm, zone, (h, w), box)
            if variant == "mirror":
                b = _mask(zm, o, _swap(zone), (h, w), (w - box[2], box[1], w - box[0], box[3]))[:, ::-1]
            elif variant == "2x":
                big = _mask(zm, o, zone, (2 * h, 2 * w), tuple(2 * v for v in box))
                b = big.reshape(box[3] - box[1], 2, box[2] - box[0], 2).mean(axis=(1, 3))
            else:
                A, t = _rotation(w, h, ROT_DEG)
                Ainv = np.linalg.inv(A)
                roi = zm.face_zone_mask_roi(o + 0.5, zone, (h, w))
                if roi is None:
                    ious.append(0.0)
                    continue
                m, (rx0, ry0, _, _) = roi
                offset = Ainv @ (np.array([box[0], box[1]]) - t) - np.array([rx0, ry0])
                size = (box[2] - box[0], box[3] - box[1])
                b = np.asarray(_warp(Image.fromarray(m, mode="F"), Ainv, offset, size, Image.BILINEAR))
            ious.append(_iou(a, b))
        per_face.append(float(np.median(ious)))
    return per_face


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["mirror", "rot15", "2x"])
def test_group_photo_zones_are_stable(mods, variant):
    per_face = zone_ious(mods, "steady", variant)
    median = float(np.median(per_face))
    print(f"t1.jpg {variant}: median zone IoU {median:.3f}, worst face {min(per_face):.3f}, per face {per_face}")
    assert median >= BOUNDS[variant], per_face
