"""Helpers shared by the identity tests."""

from __future__ import annotations

import numpy as np
import torch
from conftest import load_photo
from PIL import Image


def letterbox(name: str, size: int = 384) -> torch.Tensor:
    """A test photo as IMAGE [1,size,size,3]: scaled to fit, centred on black (keeps the face undistorted)."""
    im = Image.fromarray(load_photo(name))
    scale = size / max(im.size)
    im = im.resize((max(1, round(im.size[0] * scale)), max(1, round(im.size[1] * scale))), Image.BILINEAR)
    canvas = Image.new("RGB", (size, size))
    canvas.paste(im, ((size - im.size[0]) // 2, (size - im.size[1]) // 2))
    return torch.from_numpy(np.asarray(canvas).astype(np.float32) / 255.0)[None]
