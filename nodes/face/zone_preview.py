"""Zone preview: the photo with each selected zone coloured, outlined and labelled with its name.

This is the picture users look at to choose zones, so labels show the exact names the mask node accepts.
Colours are fixed per zone name (the same zone has the same colour on every image). Zones covering most of
the face (face_oval, skin, forehead-sized zones are fine) are drawn as outlines when shown together with
other zones, so they do not hide the small zones. Labels use PIL's built-in font (no font files).
"""

from __future__ import annotations

import colorsys

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from .zone_atlas import EXTRA_ZONE_NAMES, ZONE_NAMES, resolve_zones
from .zone_masks import face_frame, face_zone_mask_roi, zone_hole_polygons, zone_polygons

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


def _place(box: tuple[float, float, float, float], taken: list, height: float, limit: tuple[int, int]):
    """Shift a label box down (then up) until it overlaps no placed label; keep it inside the image."""
    w, h = limit
    x1, y1, x2, y2 = box
    dx = min(0.0, w - x2) - min(0.0, x1)
    candidates = [k * height for k in (0, 1, -1, 2, -2, 3, -3, 4, -4)]
    for dy in candidates:
        b = (x1 + dx, y1 + dy, x2 + dx, y2 + dy)
        if b[1] < 0 or b[3] > h:
            continue
        if not any(b[0] < t[2] and t[0] < b[2] and b[1] < t[3] and t[1] < b[3] for t in taken):
            return b
    return (x1 + dx, y1, x2 + dx, y2)


def render_preview(rgb: np.ndarray, faces: list[dict], zones, opacity: float = 0.45, labels: bool = True) -> np.ndarray:
    """RGB uint8 (H, W, 3) with the zones of every face in `faces` coloured, outlined and labelled."""
    names = resolve_zones(zones)
    out = np.asarray(rgb, dtype=np.float32).copy()
    h, w = out.shape[:2]
    opacity = float(np.clip(opacity, 0.0, 1.0))
    sized = []  # (face, iod, [(name, mask, box)])
    for face in faces:
        lm = face["landmarks_xy"]
        iod = face_frame(lm).iod
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
            for poly in zone_polygons(lm, name) + zone_hole_polygons(lm, name):
                pts = [tuple(p) for p in poly.tolist()]
                draw.line(pts + [pts[0]], fill=ZONE_COLOURS[name], width=width, joint="curve")
        if not labels:
            continue
        font = _font(int(np.clip(iod * 0.12, 9, 48)))
        taken: list = []
        for name, mask, (x0, y0, _, _) in sorted(items, key=lambda it: it[2][1]):
            anchor = _label_anchor(mask, x0, y0)
            if anchor is None:
                continue
            tb = draw.textbbox((0, 0), name, font=font)
            tw, th = tb[2] - tb[0], tb[3] - tb[1]
            pad = max(1, th // 5)
            box = (anchor[0] - tw / 2 - pad, anchor[1] - th / 2 - pad, anchor[0] + tw / 2 + pad, anchor[1] + th / 2 + pad)
            box = _place(box, taken, th + 2 * pad, (w, h))
            taken.append(box)
            draw.rectangle(box, fill=(0, 0, 0))
            draw.rectangle((box[0], box[1], box[0] + pad, box[3]), fill=ZONE_COLOURS[name])
            draw.text((box[0] + 2 * pad - tb[0], box[1] + pad - tb[1]), name, fill=(255, 255, 255), font=font)
    return np.asarray(image)
