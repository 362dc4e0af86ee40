"""The default detection mode: MediaPipe's full-range detector finds the faces, each face is meshed on its own crop.

Find (bounded memory, any image size; a detector pass costs ~5 ms whatever it holds, so passes are what count):
  1. candidates: the full-range detector (192 px input) over a pyramid of square tiles (tile_levels). Level 0
     tiles are ~TILE0 px of the image, each next level about twice that, the last one is the whole image. The
     frame is read once, shrunk to 192 / tile side for each level (_levels), and every tile is a 192 px slice of
     that: the detector gets exactly its input size. Tiles overlap by the smallest face the next level finds
     reliably, so a face up to that size lies whole in some tile and a larger one is found by the next level.
     The model finds faces reliably from ~10 px in its input (RELIABLE_PX, measured); a 640-700 px tile shows a
     30 px face at 8-9 px. A 1920 x 1280 photo takes 9 passes (3 x 2 tiles of 696 px, 2 of 1280, the whole image;
     it was 15), t1.jpg 1280 x 886 takes 5 (was 7).
  1b. refinement (refine_tiles): around a candidate seen below REFINE_SEEN_PX at level 0 (near the model's limit),
     tiles of half that side, centred on it and on the small faces they reveal (up to REFINE_ROUNDS rounds): its
     neighbours in a group photo are as small. The 1927 Solvay photo (29 faces of 35-50 px, 1280 px, grey): 14
     faces without, 28 with (21 extra passes); photos of larger faces run no extra pass.
  2. confirmation: each candidate (score >= CANDIDATE_MIN, or min_confidence when lower) is detected again on a crop of
     CONFIRM_FACTOR x its box (_confirm); that score must reach min_confidence, and its eye keypoints give the
     face's roll. Candidates seen small are confirmed four crops to a pass; those seen large, and those the mosaic
     does not confirm, one to a pass. A candidate already seen at >= CONFIRM_SKIP_PX in the detector's input with a
     score >= CONFIRM_SKIP_SCORE is kept as found.
  Every other tile runs on a worker thread's own detector instance (landmarker.worker): two passes overlap.

Mesh: each found face on its own crop (crop_mesh.py: plain, upright, steady).
"""

from __future__ import annotations

import logging
import math

import numpy as np
from PIL import Image

from .. import comfy_adapter
from . import landmarker
from .crop_mesh import MESHING_MODES, mesh_face  # noqa: F401  (MESHING_MODES: detection's and the node's choices)
from .face_landmarks import box_iou
from .region_resize import read_rgb

log = logging.getLogger("FaceLab")

DETECTOR_INPUT = 192  # the full-range model's input side: every pass is handed exactly this (no resize inside Tasks)
# Smallest face (detector box width) the model finds reliably in its 192 px input, measured on 17 real faces
# (the four portraits plain, mirrored and rolled 30 degrees, five t1.jpg faces) pasted at random places:
# found at score >= 0.35 in 75 % of cases at 8 px, 80 % at 9, 92 % at 10, 96-100 % from 11 px up.
RELIABLE_PX = 10
TILE0 = 640  # level-0 tile side in image pixels: a 30 px face is 9 px in the detector's input
TILE_STRETCH = 1.1  # a level's tiles may grow by up to this factor when that saves a row or a column of tiles
REFINE_SEEN_PX = 16  # a candidate seen narrower than this in the detector's input: refine around it (refine_tiles)
REFINE_ROUNDS = 3  # refinement rounds at most (each round's new small faces may need tiles of their own)
REFINE_REACH = 2.0  # face widths around such a face that the finer tiles cover
TILE_MAX_OVERLAP = 0.25  # of the tile side (thin images, where the next level cannot see the face larger)
BAND_PX = 500_000  # pixels per band of rows when the whole frame is shrunk (_shrink_frame): ~12 MB of temporaries
CONFIRM_FACTOR = 3.0  # confirmation crop side / candidate box side
CONFIRM_GRID = 2  # confirmation crops per row of one detector pass: 4 crops of 96 px, each face ~32 px there
# A candidate at least this large in the detector's input and this confident is kept as found. Real faces score
# 0.8-0.93 there; a weaker one is confirmed (biden.jpg's suit scores 0.53 on a large tile and fails confirmation).
CONFIRM_SKIP_PX = 28
CONFIRM_SKIP_SCORE = 0.75
CANDIDATE_MIN = 0.35  # tile score a candidate needs (or min_confidence if lower); 30-40 px faces score 0.48 there
DUPLICATE_IOU = 0.3


def _origins(extent: int, side: int, overlap: float) -> list[int]:
    """Evenly spread tile origins covering [0, extent) with at least `overlap` px of overlap."""
    if side >= extent:
        return [0]
    n = math.ceil((extent - side) / (side - overlap)) + 1
    return [round(i * (extent - side) / (n - 1)) for i in range(n)]


def _count(extent: int, side: float, overlap: float) -> int:
    return 1 if side >= extent else math.ceil((extent - side) / (side - overlap)) + 1


def tile_levels(W: int, H: int) -> list[tuple[int, list[tuple[int, int, int, int]]]]:
    """The tile pyramid: [(side, [(x0, y0, x1, y1), ...]), ...], small tiles first, the whole image last.

    Level 0 tiles are about TILE0 px, each next level about twice that. A level's tiles overlap by the smallest face
    the next level finds reliably (RELIABLE_PX in the detector's input, with a quarter margin): a face up to that
    size lies whole in some tile, a larger one is found by the next level. A level may stretch its tiles by up to
    TILE_STRETCH when that saves a row or a column (a 1920 x 1280 photo: 3 x 2 tiles of 696 px instead of 4 x 3 of
    640). A level whose tiles would cover the image anyway is skipped: the whole-image pass sees those faces.
    """
    long_side = max(W, H)
    sides, side = [], TILE0
    while side < long_side:
        s = min(side, W, H)  # a thin image gets tiles as wide as it is (once, not once per level)
        if not sides or s != sides[-1]:
            sides.append(s)
        side *= 2
    levels = []
    for i, s in enumerate(sides):
        nxt = sides[i + 1] if i + 1 < len(sides) else long_side
        overlap = min(1.25 * RELIABLE_PX * nxt / DETECTOR_INPUT, TILE_MAX_OVERLAP * s)
        stretched = min(s * TILE_STRETCH, W, H)
        for extent in (W, H):  # the side that covers this axis with as few tiles as the stretched side does
            n = _count(extent, stretched, overlap)
            s = max(s, extent if n == 1 else math.ceil((extent + (n - 1) * overlap) / n))
        s = min(s, W, H)
        tiles = [(x, y, x + s, y + s) for y in _origins(H, s, overlap) for x in _origins(W, s, overlap)]
        if len(tiles) > 1:
            levels.append((s, tiles))
    return levels + [(long_side, [(0, 0, W, H)])]


def tile_pyramid(W: int, H: int) -> list[tuple[int, int, int, int]]:
    """Every tile (x0, y0, x1, y1) of tile_levels, small tiles first, the whole image last (one detector pass each)."""
    return [t for _, tiles in tile_levels(W, H) for t in tiles]


def _same_face(a, b) -> bool:
    ca, cb = ((a[0] + a[2]) / 2, (a[1] + a[3]) / 2), ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
    inside = lambda p, q: q[0] <= p[0] <= q[2] and q[1] <= p[1] <= q[3]  # noqa: E731
    return box_iou(a, b) > DUPLICATE_IOU or inside(ca, b) or inside(cb, a)


def _shrink_frame(frame, w: int, h: int) -> np.ndarray:
    """The whole frame as RGB uint8 at w x h (smaller), read in bands of rows: extra memory about one band.

    Each band is converted to uint8 and box-filtered by the integer part of the scale (PIL's reduce), the rest is
    one antialiased resize of that small image. Measured on a 4096² IMAGE: ~0.1 s, where frame.region's banded
    float shrink took 0.48 s and a 640 px tile read one by one (uint8, then PIL) ~5 ms each.
    """
    if w >= frame.W or h >= frame.H:  # not smaller (a tiny image, upscaled to the detector's input)
        return frame.region((0, 0, frame.W, frame.H), w, h)
    f = max(1, min(frame.W // w, frame.H // h))
    band = f * max(1, BAND_PX // frame.W // f)  # rows per band, a multiple of f so the boxes line up across bands
    reduced = Image.new("RGB", (math.ceil(frame.W / f), math.ceil(frame.H / f)))
    for y in range(0, frame.H, band):
        part = Image.fromarray(frame.region((0, y, frame.W, min(frame.H, y + band)), frame.W, min(band, frame.H - y)))
        reduced.paste(part.reduce(f) if f > 1 else part, (0, y // f))
    # The last box of a row or column may hold fewer than f pixels: map the exact extent, W / f x H / f.
    small = reduced.resize((w, h), Image.BILINEAR, box=(0, 0, frame.W / f, frame.H / f))
    del reduced  # before the copy to numpy: one image less at the peak
    return np.asarray(small)


def _levels(frame, sides: list[int]) -> list[np.ndarray]:
    """The whole frame shrunk to DETECTOR_INPUT / side for each side (ascending): every tile is a slice of these.

    The frame is read once (_shrink_frame, uint8 and PIL: one thread; torch's threaded resize contends on a busy
    machine); each next level is shrunk from the previous one. Extra memory: a band of rows and (192 / TILE0)^2 of
    the image in uint8, about a fortieth of a float32 image.
    """
    out, prev = [], None
    for side in sides:
        k = DETECTOR_INPUT / side
        w, h = max(1, round(frame.W * k)), max(1, round(frame.H * k))
        if prev is not None:
            img = np.asarray(Image.fromarray(prev).resize((w, h), Image.BILINEAR))
        else:
            img = _shrink_frame(frame, w, h)
        out.append(img)
        prev = img
    return out


def _to_image(boxes, kps, x0: float, y0: float, sx: float, sy: float):
    """Detector boxes (pixel edges) and keypoints (pixel centres) in a region at (x0, y0) read at 1/(sx, sy)."""
    boxes = boxes * np.float32([sx, sy, sx, sy]) + np.float32([x0, y0, x0, y0])
    kps = (kps + 0.5) * np.float32([sx, sy]) - 0.5 + np.float32([x0, y0])
    return boxes, kps


def _detect_tiles(frame, levels: list, floor: float):
    """Full-range detections of every tile of `levels` (tile_levels): [(tile, boxes, scores, keypoints)], image px."""
    images = _levels(frame, [side for side, _ in levels])
    jobs = []
    for (_side, tiles), img in zip(levels, images):
        sx, sy = frame.W / img.shape[1], frame.H / img.shape[0]
        for tile in tiles:
            lx0, ly0 = round(tile[0] / sx), round(tile[1] / sy)
            lx1, ly1 = min(img.shape[1], lx0 + DETECTOR_INPUT), min(img.shape[0], ly0 + DETECTOR_INPUT)
            jobs.append((tile, img[ly0:ly1, lx0:lx1], lx0 * sx, ly0 * sy, sx, sy))
    return _run(jobs, floor)


def _run(jobs: list, floor: float):
    """Detector passes over (tile, rgb, x0, y0, sx, sy) jobs -> [(tile, boxes, scores, keypoints)], image pixels.

    Every other job goes to the worker thread's own detector instance (landmarker.worker): the passes overlap.
    """
    pending = {
        i: landmarker.worker().submit(landmarker.detect_full_range, job[1], floor, 1)
        for i, job in enumerate(jobs)
        if i % 2
    }
    out = []
    for i, (tile, rgb, x0, y0, sx, sy) in enumerate(jobs):
        comfy_adapter.check_interrupt()
        boxes, scores, kps = pending[i].result() if i in pending else landmarker.detect_full_range(rgb, floor)
        boxes, kps = _to_image(boxes, kps, x0, y0, sx, sy)
        out.append((tile, boxes, scores, kps))
    return out


def refine_tiles(W: int, H: int, boxes: list, coarse_side: int, tiles: list | None = None) -> list:
    """Tiles of half the finest level's side, centred on faces that level saw small (`boxes`, image pixels).

    A face seen below REFINE_SEEN_PX in the detector's input is near the model's limit, and its neighbours in a
    group photo (the same distance from the camera) are as small: measured on the 1927 Solvay photo (29 faces of
    35-50 px in 1280 px, grey), 640 px tiles found 14 faces, half-size tiles around those 14 found 28. Refining only
    there keeps a photo of larger faces at its pass count. Greedy: a tile is centred on each small face that no tile
    so far holds with REFINE_REACH face widths to spare on every side, so it also shows the face's neighbours.
    `tiles`: tiles already run (not returned again). Returns the new tiles.
    """
    side = min(coarse_side // 2, W, H)
    if side < DETECTOR_INPUT // 2:  # more than a 2x upscale: detail the photo does not have
        return []
    done = list(tiles or [])
    tiles = []
    for b in sorted(boxes, key=lambda b: (b[1], b[0])):
        reach = REFINE_REACH * max(b[2] - b[0], b[3] - b[1])
        need = (max(0, b[0] - reach), max(0, b[1] - reach), min(W, b[2] + reach), min(H, b[3] + reach))
        held = any(t[0] <= need[0] and need[2] <= t[2] and t[1] <= need[1] and need[3] <= t[3] for t in done + tiles)
        if held:
            continue
        x0 = min(max(0, round((b[0] + b[2] - side) / 2)), W - side)
        y0 = min(max(0, round((b[1] + b[3] - side) / 2)), H - side)
        tiles.append((x0, y0, x0 + side, y0 + side))
    return tiles


def _detect_refined(frame, tiles: list, floor: float):
    jobs = []
    for tile in tiles:
        w, h = tile[2] - tile[0], tile[3] - tile[1]
        k = DETECTOR_INPUT / max(w, h)
        ow, oh = max(1, round(w * k)), max(1, round(h * k))
        jobs.append((tile, read_rgb(frame, tile, ow, oh), tile[0], tile[1], w / ow, h / oh))
    return _run(jobs, floor)


def _square(cx: float, cy: float, side: float, W: int, H: int):
    h = side / 2
    return (
        max(0, math.floor(cx - h)),
        max(0, math.floor(cy - h)),
        min(W, math.ceil(cx + h)),
        min(H, math.ceil(cy + h)),
    )


def _confirm(frame, cands: list, min_confidence: float, grid: int) -> list[dict | None]:
    """Detect each candidate (box, ...) again on a crop of CONFIRM_FACTOR x its box, grid x grid crops per pass.

    Each crop fills one cell of a DETECTOR_INPUT mosaic; a detector pass costs the same whatever it holds, so a
    mosaic of four crops (the face ~32 px there, well above RELIABLE_PX) costs a quarter of four passes. A candidate
    is confirmed when a detection at min_confidence covers its centre; that detection gives the face (box, score,
    keypoints). Returns one face or None per candidate.
    """
    cell = DETECTOR_INPUT // grid
    per_pass = grid * grid
    faces: list[dict | None] = []
    for start in range(0, len(cands), per_pass):
        comfy_adapter.check_interrupt()
        mosaic = np.zeros((DETECTOR_INPUT, DETECTOR_INPUT, 3), np.uint8)
        places = []
        for j, (box, *_) in enumerate(cands[start : start + per_pass]):
            cx, cy, side = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, max(box[2] - box[0], box[3] - box[1])
            crop = _square(cx, cy, side * CONFIRM_FACTOR, frame.W, frame.H)
            k = cell / max(crop[2] - crop[0], crop[3] - crop[1])
            ow, oh = max(1, round((crop[2] - crop[0]) * k)), max(1, round((crop[3] - crop[1]) * k))
            mx, my = (j % grid) * cell, (j // grid) * cell
            mosaic[my : my + oh, mx : mx + ow] = read_rgb(frame, crop, ow, oh)
            sx, sy = (crop[2] - crop[0]) / ow, (crop[3] - crop[1]) / oh
            places.append((mx, my, crop[0] - mx * sx, crop[1] - my * sy, sx, sy, cx, cy))
        boxes, scores, kps = landmarker.detect_full_range(mosaic, min_confidence)
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        for mx, my, ox, oy, sx, sy, cx, cy in places:
            mine = np.flatnonzero(
                (centres[:, 0] >= mx)
                & (centres[:, 0] < mx + cell)
                & (centres[:, 1] >= my)
                & (centres[:, 1] < my + cell)
            )
            b, k = _to_image(boxes[mine], kps[mine], ox, oy, sx, sy)
            hits = [i for i in range(len(b)) if b[i][0] <= cx <= b[i][2] and b[i][1] <= cy <= b[i][3]]
            if not hits:  # not confirmed at a scale where the detector sees the face large: not a face
                faces.append(None)
                continue
            i = max(hits, key=lambda j: scores[mine[j]])
            faces.append({"box": tuple(float(v) for v in b[i]), "score": float(scores[mine[i]]), "keypoints": k[i]})
    return faces


def _candidates(frame, detections, min_confidence: float) -> list:
    """(box, score, keypoints, clear, seen px) per detection not cut by an inner tile edge."""
    cands = []
    for tile, boxes, scores, kps in detections:
        margin = 0.01 * (tile[2] - tile[0])
        model_px = DETECTOR_INPUT / max(tile[2] - tile[0], tile[3] - tile[1])  # detector input px per image px
        for b, s, k in zip(boxes, scores, kps):
            # A box cut by an inner tile edge is part of a face (or a face seen whole by an overlapping tile or the
            # next level): dropping it saves a confirmation per fragment of every large face.
            cut = (
                (b[0] <= tile[0] + margin and tile[0] > 0)
                or (b[1] <= tile[1] + margin and tile[1] > 0)
                or (b[2] >= tile[2] - margin and tile[2] < frame.W)
                or (b[3] >= tile[3] - margin and tile[3] < frame.H)
            )
            if not cut:
                seen = float(b[2] - b[0]) * model_px  # the face's width in the detector's input
                clear = s >= max(min_confidence, CONFIRM_SKIP_SCORE) and seen >= CONFIRM_SKIP_PX
                cands.append((tuple(float(v) for v in b), float(s), k, clear, seen))
    return cands


def find_faces(frame, min_confidence: float) -> list[dict]:
    """Confirmed faces: {"box" xyxy, "score", "keypoints" (6, 2)} in full-image pixels, best score first."""
    floor = min(CANDIDATE_MIN, min_confidence)
    levels = tile_levels(frame.W, frame.H)
    cands = _candidates(frame, _detect_tiles(frame, levels, floor), min_confidence)
    coarse = levels[0][0]  # the finest level's tile side

    def small(found: list) -> list:  # seen small at the finest level, whatever level found it
        return [c[0] for c in found if (c[0][2] - c[0][0]) * DETECTOR_INPUT / coarse < REFINE_SEEN_PX]

    seeds, done = small(cands), []
    for _ in range(REFINE_ROUNDS):  # faces found by a round may show further neighbours
        tiles = refine_tiles(frame.W, frame.H, seeds, coarse, done) if seeds else []
        if not tiles:
            break
        found = _candidates(frame, _detect_refined(frame, tiles, floor), min_confidence)
        cands += found
        done += tiles
        seeds = small(found)
    cands.sort(key=lambda c: -c[1])
    kept: list = []
    for c in cands:  # greedy NMS over tiles and levels
        if not any(_same_face(c[0], k[0]) for k in kept):
            kept.append(c)
    # Seen large and confidently: a second look would not change the verdict.
    faces = [{"box": c[0], "score": c[1], "keypoints": c[2]} for c in kept if c[3]]
    # Candidates seen small are confirmed four to a pass (the mosaic shows them larger than their tile did); those
    # seen large already, and those the mosaic does not confirm, get a pass of their own where the face is ~64 px
    # (biden.jpg's suit, 0.54 on its tile, reaches 0.50 in a mosaic but not alone; a face of t1.jpg rotated 15
    # degrees, cut by the top border, scores 0.72 on its tile, is not confirmed at 32 px but is at 64 px).
    small = [c for c in kept if not c[3] and c[4] < CONFIRM_SKIP_PX]
    confirmed = _confirm(frame, small, min_confidence, CONFIRM_GRID)
    alone = [c for c in kept if not c[3] and c[4] >= CONFIRM_SKIP_PX] + [
        c for c, f in zip(small, confirmed) if f is None
    ]
    for face in confirmed + _confirm(frame, alone, min_confidence, 1):
        if face is not None and not any(_same_face(face["box"], f["box"]) for f in faces):
            faces.append(face)
    return sorted(faces, key=lambda f: -f["score"])


def detect_frame(frame, min_confidence: float, meshing: str = "steady") -> list[dict]:
    """Every face of one frame (detection._Frame), meshed; faces the landmarker cannot mesh are skipped (logged)."""
    faces = []
    for found in find_faces(frame, min_confidence):
        comfy_adapter.check_interrupt()
        face = mesh_face(frame, found, meshing)
        if face is not None:
            faces.append(face)
        else:
            box = ", ".join(f"{v:.0f}" for v in found["box"])
            log.info("FaceLab: a face found at (%s), score %.2f, could not be meshed; skipped", box, found["score"])
    return faces
