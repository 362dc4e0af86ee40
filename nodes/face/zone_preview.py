"""Zone preview: the photo with each selected zone coloured, outlined and labelled with its name.

This is the picture users look at to choose zones, so labels show the exact names the mask node accepts.
Colours are fixed per zone name (the same zone has the same colour on every image). The container zones
(face_oval, skin) are drawn as outlines only when shown together with other zones, and larger zones are painted
first, so small zones stay visible. Labels sit in two columns beside each face, joined to their zone by a
leader line; they use PIL's built-in font (no font files).
"""

from __future__ import annotations

import colorsys

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from .zone_atlas import EXTRA_ZONE_NAMES, ZONE_NAMES, resolve_zones
from .zone_masks import face_zone_mask_roi, inter_ocular_distance, zone_outlines

OUTLINE_ONLY = ("face_oval", "skin")  # containers: outline only when other zones are shown too


def _zone_colours() -> dict[str, tuple[int, int, int]]:
    """A fixed, well-spread colour per zone: golden-ratio hue steps, alternating lightness."""
    names = ZONE_NAMES + EXTRA_ZONE_NAMES
    colours = {}
    for k, name in enumerate(names):
        hue = (k * 0.618033988749895) % 1.0
        light = 0.5 if k % 2 == 0 else 0.62
        r, g, b = colorsys.hls_to_rgb(hue, light, 0.85)
        colours[name] = (int(r * 255), int(g * 255), int(b * 255))
    return colours


ZONE_COLOURS = _zone_colours()


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: fixed-size bitmap font
        return ImageFont.load_default()


def _label_anchor(mask: np.ndarray, x0: int, y0: int) -> tuple[float, float] | None:
    """The point deepest inside the zone (max distance to its edge), computed on a reduced copy."""
    step = max(1, int(max(mask.shape) // 96))
    small = mask[::step, ::step] >= 0.5
    if not small.any():
        return None
    depth = ndimage.distance_transform_edt(np.pad(small, 1))[1:-1, 1:-1]
    iy, ix = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return x0 + ix * step + step / 2, y0 + iy * step + step / 2


def _column_layout(anchors: list, heights: float, top: float, bottom: float) -> list[float]:
    """Label centre y per anchor (sorted by anchor y): as close to its anchor as possible, never overlapping."""
    ys, prev = [], -np.inf
    for y in anchors:
        y = max(y, prev + heights)
        ys.append(y)
        prev = y
    overflow = (ys[-1] + heights / 2) - bottom if ys else 0.0
    if overflow > 0:  # push the column up, keeping the spacing, but not above the top
        ys = [max(y - overflow, top + heights / 2 + k * heights) for k, y in enumerate(ys)]
    return ys


def render_preview(rgb: np.ndarray, faces: list[dict], zones, opacity: float = 0.45, labels: bool = True) -> np.ndarray:
    """RGB uint8 (H, W, 3) with the zones of every face in `faces` coloured, outlined and labelled."""
    names = resolve_zones(zones)
    out = np.asarray(rgb, dtype=np.float32).copy()
    h, w = out.shape[:2]
    opacity = float(np.clip(opacity, 0.0, 1.0))
    sized = []  # (face, iod, [(name, mask, box)])
    for face in faces:
        lm = face["landmarks_xy"]
        iod = inter_ocular_distance(lm)
        items = []
        for name in names:
            roi = face_zone_mask_roi(lm, [name], (h, w))
            if roi is not None:
                items.append((name, roi[0], roi[1]))
        # Largest first, so small zones are painted on top and stay visible.
        items.sort(key=lambda it: -float(it[1].sum()))
        sized.append((face, iod, items))
        for name, mask, (x0, y0, x1, y1) in items:
            if name in OUTLINE_ONLY and len(names) > 1:
                continue
            colour = np.array(ZONE_COLOURS[name], dtype=np.float32)
            a = (mask * opacity)[..., None]
            region = out[y0:y1, x0:x1]
            region *= 1.0 - a
            region += a * colour

    image = Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for face, iod, items in sized:
        lm = face["landmarks_xy"]
        width = max(1, int(round(iod / 70)))
        for name, _, _ in items:
            fills, holes = zone_outlines(lm, name)
            for poly in fills + holes:
                pts = [tuple(p) for p in poly.tolist()]
                draw.line(pts + [pts[0]], fill=ZONE_COLOURS[name], width=width, joint="curve")
        if labels:
            _draw_labels(draw, face, iod, items, (w, h))
    return np.asarray(image)


def _draw_labels(draw: ImageDraw.ImageDraw, face: dict, iod: float, items: list, size: tuple[int, int]) -> None:
    """Zone names in two columns beside the face, each joined to its zone by a leader line in the zone's colour.

    Labels sit outside the face so they hide nothing; a face at the image border gets its column inside.
    """
    w, h = size
    font = _font(int(np.clip(iod * 0.16, 10, 44)))
    lm = np.asarray(face["landmarks_xy"], dtype=np.float64)
    fx0, fx1 = float(lm[:, 0].min()), float(lm[:, 0].max())
    centre = (fx0 + fx1) / 2
    entries = []
    for name, mask, (x0, y0, _, _) in items:
        anchor = _label_anchor(mask, x0, y0)
        if anchor is not None:
            entries.append((name, anchor))
    # Sides: by anchor position; zones on the midline go to the shorter column.
    left = [e for e in entries if e[1][0] < centre - 0.08 * (fx1 - fx0)]
    right = [e for e in entries if e[1][0] > centre + 0.08 * (fx1 - fx0)]
    for e in sorted((e for e in entries if e not in left and e not in right), key=lambda e: e[1][1]):
        (left if len(left) <= len(right) else right).append(e)
    sample = draw.textbbox((0, 0), "Hg", font=font)
    th = sample[3] - sample[1]
    pad = max(1, th // 4)
    row = th + 2 * pad + max(1, th // 5)
    gap = 0.12 * iod
    for column, side in ((left, -1), (right, 1)):
        column.sort(key=lambda e: e[1][1])
        ys = _column_layout([a[1] for _, a in column], row, 0.0, float(h))
        for (name, anchor), y in zip(column, ys):
            tb = draw.textbbox((0, 0), name, font=font)
            tw = tb[2] - tb[0]
            if side < 0:
                x_edge = max(fx0 - gap, tw + 2 * pad)  # right edge of the box
                box = (x_edge - tw - 2 * pad, y - th / 2 - pad, x_edge, y + th / 2 + pad)
                start = (box[2], y)
            else:
                x_edge = min(fx1 + gap, w - tw - 2 * pad)  # left edge of the box
                box = (x_edge, y - th / 2 - pad, x_edge + tw + 2 * pad, y + th / 2 + pad)
                start = (box[0], y)
            colour = ZONE_COLOURS[name]
            draw.line([start, anchor], fill=colour, width=max(1, th // 8))
            r = max(1.5, th / 6)
            draw.ellipse((anchor[0] - r, anchor[1] - r, anchor[0] + r, anchor[1] + r), fill=colour)
            draw.rectangle(box, fill=(0, 0, 0))
            draw.rectangle((box[0], box[1], box[0] + pad, box[3]), fill=colour)
            draw.text((box[0] + 2 * pad - tb[0], box[1] + pad - tb[1]), name, fill=(255, 255, 255), font=font)


def render_contact_sheet(rgb: np.ndarray, face: dict, zones, tile: int = 200, columns: int = 5) -> np.ndarray:
    """One small picture per zone (the face cropped, the zone coloured, its name underneath), in a grid."""
    names = resolve_zones(zones)
    lm = np.asarray(face["landmarks_xy"], dtype=np.float64)
    h, w = rgb.shape[:2]
    lo, hi = lm.min(axis=0), lm.max(axis=0)
    side = 1.25 * float(max(hi - lo))
    cx, cy = (lo + hi) / 2 - np.array([0.0, 0.08 * side])  # a little headroom for the forehead extension
    box = (int(cx - side / 2), int(cy - side / 2), int(cx + side / 2), int(cy + side / 2))
    font = _font(max(10, tile // 14))
    caption = int(tile * 0.12)
    rows = -(-len(names) // columns)
    sheet = Image.new("RGB", (columns * tile, rows * (tile + caption)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    # Paint only the part of the photo the tiles show (clamped to the image; PIL's crop pads the rest black).
    cx0, cy0 = max(0, box[0]), max(0, box[1])
    part = rgb[cy0 : max(cy0, min(h, box[3])), cx0 : max(cx0, min(w, box[2]))]
    local = dict(face, landmarks_xy=lm - np.array([cx0, cy0], dtype=np.float64))
    local_box = (box[0] - cx0, box[1] - cy0, box[2] - cx0, box[3] - cy0)
    for k, name in enumerate(names):
        painted = render_preview(part, [local], [name], opacity=0.55, labels=False)
        crop = Image.fromarray(painted).crop(local_box).resize((tile, tile), Image.LANCZOS)
        x, y = (k % columns) * tile, (k // columns) * (tile + caption)
        sheet.paste(crop, (x, y))
        tb = draw.textbbox((0, 0), name, font=font)
        draw.text((x + (tile - (tb[2] - tb[0])) / 2 - tb[0], y + tile + (caption - (tb[3] - tb[1])) / 2 - tb[1]), name,
                  fill=(0, 0, 0), font=font)
    return np.asarray(sheet)
