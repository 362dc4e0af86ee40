"""Shared fixtures of the compose tests: scenes with real faces, masks, and exactness checks."""

from __future__ import annotations

import functools

import numpy as np
import torch
from conftest import load_photo
from PIL import Image


def facelab_modules():
    import facelab

    facelab.load_pack()
    from comfyui_facelab.nodes.face import face_landmarks as fl
    from comfyui_facelab.nodes.face import landmarker

    return fl, landmarker


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb.astype(np.float32) / 255.0)[None]


def detect(rgb: np.ndarray) -> dict:
    """FACE_LANDMARKS of an RGB array with the real MediaPipe model, faces left to right."""
    fl, landmarker = facelab_modules()
    faces = fl.sort_faces(landmarker.detect_faces(rgb, max_faces=4), "left_to_right")
    return fl.make_face_landmarks([faces], rgb.shape[:2])


@functools.cache
def tilted_portrait(angle: float = 20.0):
    """obama.jpg at 440 px wide, rotated by `angle` degrees (counter-clockwise), and its landmarks."""
    im = Image.fromarray(load_photo("obama.jpg"))
    im = im.resize((440, round(440 * im.height / im.width)), Image.BILINEAR)
    rgb = np.asarray(im.rotate(angle, resample=Image.BICUBIC, fillcolor=(128, 128, 128)))
    return rgb, detect(rgb)


@functools.cache
def two_face_canvas():
    """astronaut.png and grace_hopper.jpg side by side (512 px high), and their landmarks.

    MediaPipe's short-range detector misses faces that small in a wide canvas, so each half is detected on
    its own and the right half's points are shifted by its offset: real landmarks in canvas coordinates.
    """
    fl, _ = facelab_modules()
    left = load_photo("astronaut.png")
    right = Image.fromarray(load_photo("grace_hopper.jpg"))
    right = np.asarray(right.resize((round(512 * right.width / right.height), 512), Image.BILINEAR))
    faces = []
    for half, dx in ((left, 0), (right, left.shape[1])):
        found = detect(half)["frames"][0]
        assert len(found) == 1
        face = dict(found[0])
        shift = np.array([dx, 0], np.float32)
        face["landmarks_xy"] = face["landmarks_xy"] + shift
        face["bbox_xyxy"] = face["bbox_xyxy"] + np.concatenate([shift, shift])
        faces.append(face)
    rgb = np.ascontiguousarray(np.concatenate([left, right], axis=1))
    return rgb, fl.make_face_landmarks([faces], rgb.shape[:2])


def disc_mask(h: int, w: int, centres, radius: float) -> torch.Tensor:
    yy, xx = np.mgrid[0:h, 0:w]
    m = np.zeros((h, w), np.float32)
    for cx, cy in centres:
        m[(xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2] = 1.0
    return torch.from_numpy(m)


def skin_mask(h: int, w: int, face: dict, radius: float = 0.1) -> torch.Tensor:
    """Discs on both cheeks and the forehead of a face (MediaPipe points 205, 425, 151): an aging-edit mask."""
    fl, _ = facelab_modules()
    pts = face["landmarks_xy"]
    return disc_mask(h, w, [pts[i] for i in (205, 425, 151)], radius * fl.face_size(face))


def random_blobs(h: int, w: int, seed: int, count: int = 3, soft: bool = False) -> torch.Tensor:
    """Union of random ellipses (optionally with a soft edge), some possibly touching the border."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    m = np.zeros((h, w), np.float32)
    for _ in range(count):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        rx, ry = rng.uniform(4, w / 5), rng.uniform(4, h / 5)
        r = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)
        m = np.maximum(m, np.clip((1.3 - r) / 0.3, 0, 1) if soft else (r <= 1).astype(np.float32))
    return torch.from_numpy(m.astype(np.float32))


def noise_like(crops: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """A worst-case 'inpaint': every crop pixel replaced by noise."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(crops.shape, generator=g)


def assert_bit_identical_outside(out: torch.Tensor, original: torch.Tensor, blend: torch.Tensor) -> None:
    """Every pixel whose blend weight is 0 has exactly the original's bits; no NaN/Inf anywhere."""
    assert torch.isfinite(out).all() and torch.isfinite(blend).all()
    untouched = (blend == 0)[..., None].expand_as(out)
    assert untouched.any()
    same = out.contiguous().view(torch.int32) == original[..., :3].contiguous().view(torch.int32)
    bad = untouched & ~same
    assert not bad.any(), f"{int(bad.sum())} values changed where the blend mask is 0"
