"""Privacy fail-safe: make a face unrecognisable by pixelating and blurring its box.

Used on faces the anonymisation could not make unrecognisable. The face box (mesh box grown by BOX_MARGIN on
every side, to take in the forehead and jaw) is averaged into about BLOCKS x BLOCKS cells, then blurred with
a Gaussian of half a cell to hide the cell edges. Only pixels inside the box change (a hard edge: a fail-safe
must not fade out over the face), everything outside is left bit for bit.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

BOX_MARGIN = 0.15  # of the box width / height, on every side
BLOCKS = 8  # cells across the shorter side of the box: far below what face recognition needs


def face_box(bbox_xyxy, image_hw, margin: float = BOX_MARGIN) -> tuple[int, int, int, int] | None:
    """Integer pixel box (x0, y0, x1, y1), exclusive end, of a face box grown by `margin`; None if outside the image."""
    x0, y0, x1, y1 = (float(v) for v in bbox_xyxy[:4])
    mx, my = margin * (x1 - x0), margin * (y1 - y0)
    h, w = int(image_hw[0]), int(image_hw[1])
    bx0, by0 = max(0, math.floor(x0 - mx)), max(0, math.floor(y0 - my))
    bx1, by1 = min(w, math.ceil(x1 + mx) + 1), min(h, math.ceil(y1 + my) + 1)
    if bx1 <= bx0 or by1 <= by0:
        return None
    return bx0, by0, bx1, by1


def _gaussian(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of [C, H, W] with edge replication (only the box's own pixels are used)."""
    r = int(math.ceil(2.5 * sigma))
    if r < 1:
        return x
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[0]
    y = F.conv2d(F.pad(x[None], (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(F.pad(y, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)[0]


def obscure_box(image: torch.Tensor, box: tuple[int, int, int, int]) -> None:
    """Pixelate + blur image [H, W, C] inside box (x0, y0, x1, y1), in place."""
    x0, y0, x1, y1 = box
    region = image[y0:y1, x0:x1].permute(2, 0, 1).to(torch.float32)
    h, w = region.shape[1:]
    cell = max(2, int(round(min(h, w) / BLOCKS)))
    small = F.avg_pool2d(region[None], cell, stride=cell, ceil_mode=True)
    coarse = F.interpolate(small, scale_factor=cell, mode="nearest")[0, :, :h, :w]
    out = _gaussian(coarse, cell / 2.0).clamp(0.0, 1.0)
    image[y0:y1, x0:x1] = out.permute(1, 2, 0).to(image.dtype)
