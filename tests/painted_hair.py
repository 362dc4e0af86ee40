"""Hair painted on real faces for the skin-model and Wrinkle Score tests (one drawing, so both test the same hair)."""

from __future__ import annotations

import numpy as np


def paint_strands(
    rgb: np.ndarray, lm: np.ndarray, iod: float, colour=(0.1, 0.08, 0.07)
) -> tuple[np.ndarray, np.ndarray]:
    """Ten hair-like wavy strands (3 % of the eye distance wide; black-brown by default) hanging over the forehead
    like a fringe: (painted image, strand mask)."""
    from PIL import Image, ImageDraw

    h, w = rgb.shape[:2]
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    top = lm[10] - np.array([0.0, 0.35 * iod])
    for k in range(10):
        x = top[0] + (k - 4.5) * 0.1 * iod
        pts = [(x + 0.12 * iod * np.sin(3 * t + k), top[1] + t * 0.75 * iod) for t in np.linspace(0, 1, 16)]
        draw.line(pts, fill=255, width=max(2, int(0.03 * iod)))
    strands = np.asarray(canvas) > 0
    out = rgb.copy()
    out[strands] = colour
    return out, strands
