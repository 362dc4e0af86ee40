"""A labelled comparison grid of image variants (e.g. strength rows x seed columns).

Images fill the grid row by row. Column labels are drawn in a strip above the grid, row labels in a strip
on its left, with PIL's default font (a scalable font in Pillow >= 10.1, a small bitmap font otherwise).
"""

from __future__ import annotations

import logging
import math
import re

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger("FaceLab")

BACKGROUND = 1.0  # white canvas, dark text
TEXT_COLOUR = (20, 20, 20)


def parse_labels(text: str) -> list[str]:
    """One label per line; a single line is split at commas ('0.3, 0.4' -> ['0.3', '0.4'])."""
    lines = [t.strip() for t in (text or "").strip().splitlines()]
    if len(lines) == 1:
        lines = [t.strip() for t in re.split(r",", lines[0])]
    return [t for t in lines if t] if any(lines) else []


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow without FreeType
        return ImageFont.load_default()


def _text_size(draw: ImageDraw.ImageDraw, text: str, font) -> tuple[int, int]:
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    return x1 - x0, y1 - y0


def _label_strip(labels: list[str], width: int, height: int, centres: list[int], font, vertical: bool) -> torch.Tensor:
    """A white strip [height, width, 3] with each label centred at its row (vertical) or column centre."""
    img = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    for text, c in zip(labels, centres):
        x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
        tw, th = x1 - x0, y1 - y0
        if vertical:
            pos = (max(4, (width - tw) // 2) - x0, c - th // 2 - y0)
        else:
            pos = (c - tw // 2 - x0, (height - th) // 2 - y0)
        draw.text(pos, text, fill=TEXT_COLOUR, font=font)
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0)


def fit_to(image: torch.Tensor, hw) -> torch.Tensor:
    """[N,h,w,3] -> [N,H,W,3] (bilinear, antialiased when shrinking)."""
    if tuple(image.shape[1:3]) == tuple(hw):
        return image
    x = F.interpolate(image.permute(0, 3, 1, 2), size=tuple(hw), mode="bilinear", align_corners=False, antialias=True)
    return x.permute(0, 2, 3, 1).clamp(0.0, 1.0)


def make_grid(
    images: torch.Tensor,
    columns: int,
    row_labels: list[str],
    column_labels: list[str],
    font_size: int = 32,
    gap: int = 8,
) -> torch.Tensor:
    """images [N,H,W,3] -> one grid image [1, Hg, Wg, 3] with labels; columns 0 = about square."""
    n, h, w, _ = images.shape
    cols = columns if columns > 0 else math.ceil(math.sqrt(n))
    cols = min(cols, n)
    rows = math.ceil(n / cols)
    for what, labels, count in (("row", row_labels, rows), ("column", column_labels, cols)):
        if labels and len(labels) != count:
            log.warning(
                "FaceLab Sweep Comparison Grid: %d %s labels for %d %ss; extra labels are ignored, missing ones left blank",
                len(labels),
                what,
                count,
                what,
            )
    font = _font(font_size)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    row_labels, column_labels = row_labels[:rows], column_labels[:cols]
    left = (
        min(w, max((_text_size(probe, t, font)[0] for t in row_labels), default=0) + 2 * gap + 8) if row_labels else 0
    )
    top = int(font_size * 1.6) + gap if column_labels else 0
    gw, gh = left + cols * w + (cols - 1) * gap, top + rows * h + (rows - 1) * gap
    canvas = torch.full((gh, gw, 3), BACKGROUND, dtype=torch.float32)
    for k in range(n):
        r, c = divmod(k, cols)
        y, x = top + r * (h + gap), left + c * (w + gap)
        canvas[y : y + h, x : x + w] = images[k].to("cpu", torch.float32)
    if column_labels:
        centres = [left + c * (w + gap) + w // 2 for c in range(len(column_labels))]
        canvas[:top, :] = _label_strip(column_labels, gw, top, centres, font, vertical=False)
    if row_labels:
        centres = [top + r * (h + gap) + h // 2 for r in range(len(row_labels))]
        strip = _label_strip(row_labels, left, gh - top, [c - top for c in centres], font, vertical=True)
        canvas[top:, :left] = strip
    return canvas[None]
