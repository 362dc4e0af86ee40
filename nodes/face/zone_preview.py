"""Zone preview: the photo with each selected zone coloured, outlined and labelled with its name.

This is the picture users look at to choose zones, so labels show the exact names the mask node accepts.
Colours are fixed per zone name (the same zone has the same colour on every image). The container zones
(face_oval, skin) are drawn as outlines only when shown together with other zones, and larger zones are painted
first, so small zones stay visible. Labels sit beside each face, joined to their zone by a leader line, placed
greedily over all faces at once: each label takes the free spot nearest its zone (beside its face, in columns
further out when the first is full) that overlaps no other label, no face and no image border, so neighbouring
faces in a group photo keep readable labels; a label with no free spot is left out (and counted). They use PIL's
built-in font (no font files).
"""

from __future__ import annotations

import colorsys
import logging

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from .zone_atlas import EXTRA_ZONE_NAMES, ZONE_NAMES, resolve_zones
from .zone_masks import face_zone_mask_roi, inter_ocular_distance, zone_outlines

log = logging.getLogger("FaceLab")

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


def zone_items(faces: list[dict], zones, size_hw: tuple[int, int]) -> list:
    """Per face: (face, eye distance, [(zone name, ROI mask, ROI box)]), largest zone first (painted first, so small
    zones stay visible on top)."""
    names = resolve_zones(zones)
    sized = []
    for face in faces:
        lm = face["landmarks_xy"]
        items = []
        for name in names:
            roi = face_zone_mask_roi(lm, [name], size_hw)
            if roi is not None:
                items.append((name, roi[0], roi[1]))
        items.sort(key=lambda it: -float(it[1].sum()))
        sized.append((face, inter_ocular_distance(lm), items))
    return sized


def render_preview(rgb: np.ndarray, faces: list[dict], zones, opacity: float = 0.45, labels: bool = True) -> np.ndarray:
    """RGB uint8 (H, W, 3) with the zones of every face in `faces` coloured, outlined and labelled."""
    names = resolve_zones(zones)
    out = np.asarray(rgb, dtype=np.float32).copy()
    h, w = out.shape[:2]
    opacity = float(np.clip(opacity, 0.0, 1.0))
    sized = zone_items(faces, names, (h, w))
    for _, _, items in sized:
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
        draw_labels(draw, sized, (w, h))
    return np.asarray(image)


def face_boxes(sized: list) -> np.ndarray:
    """(N, 4) x0, y0, x1, y1 per face: its mesh plus every zone drawn for it (the forehead reaches above the mesh)."""
    boxes = []
    for face, _, items in sized:
        lm = np.asarray(face["landmarks_xy"], dtype=np.float64)
        x0, y0 = lm.min(axis=0)
        x1, y1 = lm.max(axis=0)
        for _, mask, (bx0, by0, _, _) in items:
            ys, xs = np.nonzero(mask >= 0.5)
            if len(xs):
                x0, y0 = min(x0, bx0 + xs.min()), min(y0, by0 + ys.min())
                x1, y1 = max(x1, bx0 + xs.max() + 1), max(y1, by0 + ys.max() + 1)
        boxes.append((x0, y0, x1, y1))
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def _overlaps(cands: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(C,) True where candidate box c intersects any of `boxes` (edges touching do not count)."""
    if not len(boxes):
        return np.zeros(len(cands), dtype=bool)
    c, b = cands[:, None, :], boxes[None, :, :]
    hit = (c[..., 0] < b[..., 2]) & (b[..., 0] < c[..., 2]) & (c[..., 1] < b[..., 3]) & (b[..., 1] < c[..., 3])
    return hit.any(axis=1)


def place_labels(requests: list, faces: np.ndarray, size: tuple[int, int], row: float, max_columns: int = 4) -> list:
    """Greedy label placement: per request (face k, anchor (x, y), box width, box height, preferred side -1/+1), in
    order, the free box (x0, y0, x1, y1) nearest its anchor, or None.

    Candidates lie in columns beside the request's face (the preferred side first, up to max_columns further out)
    at every row offset; a candidate must stay inside the image and overlap no placed label and no face box (its own
    face included, so labels never hide a face). Nearest = vertical offset plus the column's distance.
    """
    w, h = size
    placed: list = []
    out = []
    for k, (_, ay), bw, bh, side in requests:
        fx0, _, fx1, _ = faces[k]
        gap = 0.5 * row
        cands, costs = [], []
        offsets = np.arange(-int(h // row), int(h // row) + 1) * row
        for sgn in (side, -side):
            for col in range(max_columns):
                step = col * (bw + gap)
                if sgn < 0:
                    x1 = fx0 - gap - step
                    xs = (x1 - bw, x1)
                else:
                    x0 = fx1 + gap + step
                    xs = (x0, x0 + bw)
                y0 = ay - bh / 2 + offsets
                cands.append(np.stack([np.full_like(y0, xs[0]), y0, np.full_like(y0, xs[1]), y0 + bh], axis=1))
                costs.append(np.abs(offsets) + step + (0.0 if sgn == side else 2.0 * row))
        cands, costs = np.concatenate(cands), np.concatenate(costs)
        ok = (cands[:, 0] >= 0) & (cands[:, 1] >= 0) & (cands[:, 2] <= w) & (cands[:, 3] <= h)
        ok &= ~_overlaps(cands, faces)
        if placed:
            ok &= ~_overlaps(cands, np.asarray(placed))
        if not ok.any():
            out.append(None)
            continue
        best = cands[np.flatnonzero(ok)[np.argmin(costs[ok])]]
        placed.append(best)
        out.append(tuple(float(v) for v in best))
    return out


def draw_labels(draw: ImageDraw.ImageDraw, sized: list, size: tuple[int, int]) -> list:
    """Zone names beside their faces, each joined to its zone by a leader line in the zone's colour, placed by
    place_labels over all faces at once. Returns the label boxes (None for a label with no free place: left out,
    and logged)."""
    faces = face_boxes(sized)
    requests, styles = [], []
    for k, (_, iod, items) in enumerate(sized):
        font = _font(int(np.clip(iod * 0.16, 10, 44)))
        sample = draw.textbbox((0, 0), "Hg", font=font)
        th = sample[3] - sample[1]
        pad = max(1, th // 4)
        centre = (faces[k, 0] + faces[k, 2]) / 2
        entries = []
        for name, mask, (x0, y0, _, _) in items:
            anchor = _label_anchor(mask, x0, y0)
            if anchor is not None:
                entries.append((name, anchor))
        for name, anchor in sorted(entries, key=lambda e: e[1][1]):
            tb = draw.textbbox((0, 0), name, font=font)
            side = -1 if anchor[0] < centre else 1
            requests.append((k, anchor, tb[2] - tb[0] + 3 * pad, th + 2 * pad, side))
            styles.append((name, anchor, font, th, pad, tb))
    row = min((r[3] for r in requests), default=12.0) + 1.0
    boxes = place_labels(requests, faces, size, row)
    drawn = [(box, style) for box, style in zip(boxes, styles) if box is not None]
    for box, (name, anchor, _, th, _, _) in drawn:  # every leader line first: no line crosses a label
        colour = ZONE_COLOURS[name]
        y = (box[1] + box[3]) / 2
        start = (box[2], y) if box[2] <= anchor[0] else (box[0], y)
        draw.line([start, anchor], fill=colour, width=max(1, th // 8))
        r = max(1.5, th / 6)
        draw.ellipse((anchor[0] - r, anchor[1] - r, anchor[0] + r, anchor[1] + r), fill=colour)
    for box, (name, _, font, _, pad, tb) in drawn:
        draw.rectangle(box, fill=(0, 0, 0))
        draw.rectangle((box[0], box[1], box[0] + pad, box[3]), fill=ZONE_COLOURS[name])
        draw.text((box[0] + 2 * pad - tb[0], box[1] + pad - tb[1]), name, fill=(255, 255, 255), font=font)
    missing = sum(b is None for b in boxes)
    if missing:
        log.info("FaceLab Zone Preview: %d of %d labels found no free place and were left out", missing, len(boxes))
    return boxes


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
        draw.text(
            (x + (tile - (tb[2] - tb[0])) / 2 - tb[0], y + tile + (caption - (tb[3] - tb[1])) / 2 - tb[1]),
            name,
            fill=(0, 0, 0),
            font=font,
        )
    return np.asarray(sheet)
