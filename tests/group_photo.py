"""A synthetic group photo built from the real public-domain test portraits (no copyrighted pixels).

Each portrait is cut around its face (2.4x the face box), scaled so the face is a chosen size, optionally
mirrored or rolled, and pasted onto a smooth background. The known face centres and sizes are the truth the
detection tests compare against. Face boxes of the source portraits were measured with MediaPipe's full-range
detector (detector box = brows to chin, about 0.85x the mesh box).
"""

from __future__ import annotations

import numpy as np
from conftest import load_photo
from PIL import Image

# Source portrait -> face box (x0, y0, x1, y1) in its own pixels, measured with the full-range detector.
FACE_BOXES = {
    "grace_hopper.jpg": (166, 130, 365, 329),
    "astronaut.png": (172, 68, 275, 171),
    "obama.jpg": (353, 133, 641, 421),
    "biden.jpg": (424, 228, 758, 562),
}

# (portrait, face width px, roll degrees (counter-clockwise), mirrored, centre x, centre y) on a 1920 x 1280 canvas.
LAYOUT = (
    ("grace_hopper.jpg", 200, 0, False, 260, 420),
    ("astronaut.png", 120, 40, False, 700, 380),
    ("obama.jpg", 60, 0, True, 1100, 300),
    ("biden.jpg", 45, 0, False, 1450, 420),
    ("grace_hopper.jpg", 32, -40, True, 1750, 300),
    ("obama.jpg", 90, -25, False, 420, 960),
    ("astronaut.png", 38, 0, True, 900, 900),
    ("biden.jpg", 150, 15, True, 1400, 930),
)
CANVAS = (1920, 1280)


def _background(w: int, h: int) -> np.ndarray:
    """A smooth two-colour gradient with mild texture: no face-like structure."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(0)
    base = np.stack([90 + 60 * xx / w, 110 + 40 * yy / h, 140 - 50 * xx / w], axis=-1)
    return np.clip(base + rng.normal(0, 6, (h, w, 1)), 0, 255).astype(np.uint8)


def _patch(name: str, face_px: int, roll: float, mirrored: bool) -> tuple[Image.Image, Image.Image]:
    """The portrait cut around its face and scaled so the face box is face_px wide; (RGB, alpha)."""
    x0, y0, x1, y1 = FACE_BOXES[name]
    side = (x1 - x0) * 2.4
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    im = Image.fromarray(load_photo(name))
    crop = im.crop((round(cx - side / 2), round(cy - side / 2), round(cx + side / 2), round(cy + side / 2)))
    out = round(face_px * 2.4)
    crop = crop.resize((out, out), Image.LANCZOS)
    if mirrored:
        crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
    # A round soft-edged patch: the edge of a square patch would itself be a strong straight structure.
    yy, xx = np.mgrid[0:out, 0:out]
    r = np.hypot(xx - (out - 1) / 2, yy - (out - 1) / 2) / (out / 2)
    alpha = Image.fromarray((np.clip((1.0 - r) / 0.15, 0, 1) * 255).astype(np.uint8))
    if roll:
        crop = crop.rotate(roll, resample=Image.BICUBIC)
        alpha = alpha.rotate(roll, resample=Image.BICUBIC)
    return crop, alpha


def build(layout=LAYOUT, canvas=CANVAS) -> tuple[np.ndarray, list[dict]]:
    """(RGB uint8 canvas, truth) with truth entries {name, centre (x, y), face_px, roll, mirrored}."""
    w, h = canvas
    img = Image.fromarray(_background(w, h))
    truth = []
    for name, face_px, roll, mirrored, cx, cy in layout:
        patch, alpha = _patch(name, face_px, roll, mirrored)
        img.paste(patch, (round(cx - patch.width / 2), round(cy - patch.height / 2)), alpha)
        truth.append({"name": name, "centre": (cx, cy), "face_px": face_px, "roll": roll, "mirrored": mirrored})
    return np.asarray(img).copy(), truth
