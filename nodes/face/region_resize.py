"""Shrink a huge image region to a small one without float temporaries of the region's size.

Detection reads huge photos through small resized copies. Resizing a whole [H, W, C] region at once costs float
temporaries about the image size again (issue: +1.75 GB at 12288^2 in the old tile mode). Here rows are shrunk
first, one output row at a time from its band of input rows (converted to float on the fly), with torch's own
antialiased bilinear weights (aten's `_compute_indices_min_size_weights_aa`); blocks of those rows are then resized
along the width by torch, which together gives torch's one-resize pixels (max difference measured 3e-5).
Extra memory: one block of full-width float rows.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def aa_bilinear_weights(in_size: int, out_size: int) -> list[tuple[int, np.ndarray]]:
    """Per output index: (first input index, normalised weights), torch's antialiased bilinear (align_corners=False)."""
    scale = in_size / out_size
    support = scale if scale >= 1.0 else 1.0
    inv = 1.0 / scale if scale >= 1.0 else 1.0
    out = []
    for i in range(out_size):
        center = scale * (i + 0.5)
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), in_size)
        x = (np.arange(lo, hi, dtype=np.float64) - center + 0.5) * inv
        w = np.clip(1.0 - np.abs(x), 0.0, None)
        out.append((lo, (w / w.sum()).astype(np.float32)))
    return out


def shrink(region, out_h: int, out_w: int, block: int = 64) -> torch.Tensor:
    """[H, W, C] (torch or numpy; uint8 read as 0..255) -> float32 torch [out_h, out_w, C] in 0..1 (float input as is).

    Rows first, `block` output rows at a time, each block then resized along the width by torch (its vertical
    weights are the identity at equal height), so memory stays at one block of full-width rows.
    """
    is_torch = isinstance(region, torch.Tensor)
    scale = 255.0 if str(region.dtype) in ("uint8", "torch.uint8") else 1.0
    h, w, c = (int(v) for v in region.shape)
    out = torch.empty((out_h, out_w, c), dtype=torch.float32)
    weights = aa_bilinear_weights(h, out_h)
    for r0 in range(0, out_h, block):
        rows = torch.empty((min(block, out_h - r0), w, c), dtype=torch.float32)
        for i, (lo, wts) in enumerate(weights[r0 : r0 + block]):
            band = region[lo : lo + len(wts)]
            band = band.float() if is_torch else torch.from_numpy(np.asarray(band, dtype=np.float32))
            rows[i] = torch.tensordot(torch.from_numpy(wts), band, dims=1) / scale
        narrow = F.interpolate(rows.permute(2, 0, 1)[None], size=(rows.shape[0], out_w), mode="bilinear",
                               antialias=True, align_corners=False)  # fmt: skip
        out[r0 : r0 + rows.shape[0]] = narrow[0].permute(1, 2, 0)
    return out


FAST_READ_MAX_PX = 1_700_000  # boxes up to ~1300 px square are read as uint8 at full size, then shrunk by PIL


def read_rgb(frame, box, ow: int, oh: int) -> np.ndarray:
    """RGB uint8 of box resized to ow x oh (a small box: converted to uint8 at full size, resized by PIL)."""
    x0, y0, x1, y1 = box
    if (x1 - x0) * (y1 - y0) > FAST_READ_MAX_PX or ow > x1 - x0:
        return frame.region(box, ow, oh)
    img = Image.fromarray(frame.region(box, x1 - x0, y1 - y0))  # same size: uint8 in row blocks
    factor = min((x1 - x0) // ow, (y1 - y0) // oh)
    if factor >= 2:  # a box filter by an integer factor first: half the cost of PIL's antialiased resize alone
        img = img.reduce(factor)
    return np.asarray(img.resize((ow, oh), Image.BILINEAR))
