"""Find every face in every image of a batch: FACE_LANDMARKS in ComfyUI core's format, full resolution.

Pipeline per image (all passes are MediaPipe Tasks, see landmarker.py):
  full_range   (default) MediaPipe's full-range detector over a bounded tile pyramid, each face confirmed and
               meshed on its own (upright, optionally mirrored: `meshing`) crop. See full_range.py and crop_mesh.py.
  standard     one landmarker pass on a copy whose long side is at most PASS_MAX_SIDE (tiny images are
               upscaled to MIN_PASS_SIDE), mapped back to full resolution.
  small_faces  standard, plus the cheap BlazeFace box detector over overlapping tiles (a pyramid of
               TILE-px tiles at half-tile stride, then tiles twice as large, ...) so faces down to about
               60 px are seen at a scale the short-range detector handles; each new candidate is confirmed
               and meshed by a landmarker pass on a crop around it. Cost grows with the megapixels.
  auto         standard; small_faces only when standard found nothing.

Coordinates: every pass sees an integer pixel region resized to an integer size, and its landmarks are
mapped back with that pass's exact scale factors about pixel centres (pixel i's centre is coordinate i in
MediaPipe's output; torch's align_corners=False resize keeps centres aligned the same way). Scaling about
pixel edges instead left a measured half-pixel bias on 64-256 px images. `transformation_matrix` is MediaPipe's for the pass that measured the face: the whole image in
standard mode; for faces found by small_faces, the crop around the face (its rotation is still the head
pose, measured with the crop as the camera frame; its translation is relative to that crop).

False positives: MediaPipe meshes some colourful non-faces (e.g. a colour wheel, score ~0.58). With
`reject_false_positives` a face is dropped when the colours under its mesh do not share one dominant hue
(real skin does, in any lighting, and grey photos carry no hue and always pass). See docs/landmarks.md.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
import torch.nn.functional as F

from .. import comfy_adapter
from ..base.tensors import to_rgb_uint8
from . import full_range, landmarker, region_resize
from .face_landmarks import bbox_from_landmarks, box_iou, face_size, make_face_landmarks, sort_faces

log = logging.getLogger("FaceLab")

DETECTION_MODES = ("full_range", "standard", "small_faces", "auto")
MESHING_MODES = full_range.MESHING_MODES

LARGE_REGION_PX = 16_000_000  # regions above this are shrunk in row bands (bounded memory), see region_resize.py
PASS_MAX_SIDE = 1280  # long side of the copy the standard pass sees
MIN_PASS_SIDE = 256  # tiny images are upscaled to this for the pass
CROP_FACE_PX = 320  # a candidate's crop is scaled down so its face is this size (never up: the mesh model resamples)
CANDIDATE_CROP_FACTOR = 3.0  # crop side / detector-box side: the face fills about a third of the crop
CROP_MAX_FACES = 3  # a crop may hold neighbours; the one at the expected place is kept
TILE = 384  # detector tile side in pixels of the pyramid level; stride is half of it
DUPLICATE_IOU = 0.3
HUE_COHERENCE_MIN = 0.5  # real faces measure 0.97-1.0, the colour wheel 0.13 (docs/landmarks.md)
GREY_CHROMA = 0.04  # mean chroma (0..1) below which an image region has no meaningful hue

Box = tuple[int, int, int, int]


class _Frame:
    """One image (torch or numpy, HxWxC, float 0..1 or uint8), read as RGB uint8 regions, resized on the way."""

    def __init__(self, image):
        self.data = image
        if self.data.ndim == 2:
            self.data = self.data[..., None]
        self.H, self.W, self.C = (int(v) for v in self.data.shape)

    def region(self, box: Box, out_w: int, out_h: int) -> np.ndarray:
        """RGB uint8 of pixels box=(x0, y0, x1, y1), resized (antialiased bilinear) to out_w x out_h."""
        x0, y0, x1, y1 = box
        crop = self.data[y0:y1, x0:x1, : min(self.C, 3)]
        if (x1 - x0, y1 - y0) == (out_w, out_h):
            out = np.empty((out_h, out_w, 3), dtype=np.uint8)
            for r in range(0, out_h, 512):  # in row blocks: no full-size float temporaries on 8K images
                out[r : r + 512] = to_rgb_uint8(crop[r : r + 512])
            return out
        upscale = out_w > x1 - x0
        if not upscale and out_h < y1 - y0 and (x1 - x0) * (y1 - y0) > LARGE_REGION_PX:
            # torch would first copy the whole region as float (about the image size again): shrink it in bands
            # of rows instead, with the same weights (region_resize.py).
            return to_rgb_uint8(region_resize.shrink(crop, out_h, out_w))
        if isinstance(crop, np.ndarray):  # torch needs writeable memory with positive strides (not a flipped view)
            crop = torch.from_numpy(crop if crop.flags.writeable and min(crop.strides) >= 0 else crop.copy())
        if upscale or crop.dtype != torch.uint8:
            crop = crop.float() / 255.0 if crop.dtype == torch.uint8 else crop.float()
        # HWC permuted to NCHW is channels-last in memory, torch's fast path (uint8 too): no full-size copy.
        small = F.interpolate(
            crop.permute(2, 0, 1)[None],
            size=(out_h, out_w),
            mode="bicubic" if upscale else "bilinear",
            antialias=not upscale,
            align_corners=False,
        )
        return to_rgb_uint8(small[0].permute(1, 2, 0))

    def sample(self, xy: np.ndarray) -> np.ndarray:
        """RGB float 0..1 of the pixels under points xy (N, 2), clamped to the image."""
        xs = np.clip(np.floor(xy[:, 0]).astype(np.int64), 0, self.W - 1)
        ys = np.clip(np.floor(xy[:, 1]).astype(np.int64), 0, self.H - 1)
        if isinstance(self.data, torch.Tensor):
            px = self.data[torch.as_tensor(ys), torch.as_tensor(xs)].detach().cpu().float().numpy()
        else:
            px = np.asarray(self.data[ys, xs], dtype=np.float32)
        if str(self.data.dtype) in ("uint8", "torch.uint8"):
            px = px / 255.0
        if px.shape[1] == 1:
            px = np.repeat(px, 3, axis=1)
        return px[:, :3]


def _frames(image) -> list:
    """Batch tensor [B,H,W,C] -> list of [H,W,C]; one HxWxC (or HxW) array -> [it]."""
    if image is None or not hasattr(image, "ndim"):
        raise ValueError(f"FaceLab: expected an IMAGE tensor [B,H,W,C] or an HxWxC array, got {type(image).__name__}")
    if image.ndim == 4:
        frames = [image[i] for i in range(image.shape[0])]
    elif image.ndim in (2, 3):
        frames = [image]
    else:
        raise ValueError(f"FaceLab: expected an image of shape [B,H,W,C] or [H,W,C], got {tuple(image.shape)}")
    for f in frames:
        if f.ndim == 3 and f.shape[-1] not in (1, 3, 4):
            raise ValueError(
                f"FaceLab: expected 1, 3 or 4 colour channels last ([B,H,W,C]), got shape {tuple(image.shape)}; "
                "a channels-first tensor must be permuted first"
            )
        if f.shape[0] < 1 or f.shape[1] < 1:
            raise ValueError(f"FaceLab: the image is empty (shape {tuple(image.shape)})")
    return frames


def _map_face(face: dict, x0: float, y0: float, sx: float, sy: float) -> dict:
    """Move a face measured in a resized region back to full-image pixels."""
    lm3 = np.asarray(face["landmarks_3d"], dtype=np.float64).copy()
    # MediaPipe's pixel coordinates put pixel i's centre at i: scale about the pixel centres.
    lm3[:, 0] = (lm3[:, 0] + 0.5) * sx - 0.5 + x0
    lm3[:, 1] = (lm3[:, 1] + 0.5) * sy - 0.5 + y0
    lm3[:, 2] *= sx  # MediaPipe scales z like x
    lm3 = lm3.astype(np.float32)
    out = dict(face)
    out["landmarks_3d"] = lm3
    out["landmarks_xy"] = np.ascontiguousarray(lm3[:, :2])
    out["bbox_xyxy"] = bbox_from_landmarks(lm3[:, :2])
    return out


def _inside(pt, box) -> bool:
    return box[0] <= pt[0] <= box[2] and box[1] <= pt[1] <= box[3]


def _same_face(box_a, box_b) -> bool:
    ca = ((box_a[0] + box_a[2]) / 2, (box_a[1] + box_a[3]) / 2)
    cb = ((box_b[0] + box_b[2]) / 2, (box_b[1] + box_b[3]) / 2)
    return box_iou(box_a, box_b) > DUPLICATE_IOU or _inside(ca, box_b) or _inside(cb, box_a)


def _landmark_pass(rgb: np.ndarray, max_faces: int, min_confidence: float) -> list[dict]:
    """Landmarker on one RGB uint8 image; each face gets the BlazeFace score of the box on its nose."""
    faces = landmarker.detect_faces(rgb, max_faces=max_faces, min_confidence=min_confidence)
    if not faces:
        return faces
    boxes, scores = landmarker.detect_boxes(rgb, min_confidence)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    for face in faces:
        nose = face["landmarks_xy"][1]
        hits = [i for i in range(len(boxes)) if _inside(centres[i], face["bbox_xyxy"])]
        # The landmarker ran the same detector at the same threshold, so a box is expected; if none
        # matches, min_confidence is the best lower bound we know.
        best = min(hits, key=lambda i: float(np.hypot(*(centres[i] - nose))), default=None)
        face["score"] = float(scores[best]) if best is not None else float(min_confidence)
    return faces


def _square_around(cx: float, cy: float, side: float, W: int, H: int) -> Box:
    half = side / 2
    return (
        max(0, math.floor(cx - half)),
        max(0, math.floor(cy - half)),
        min(W, math.ceil(cx + half)),
        min(H, math.ceil(cy + half)),
    )


def _crop_pass(frame: _Frame, box: Box, face_px: float, min_confidence: float) -> list[dict]:
    """Landmarker on a full-resolution crop, scaled down so a face of face_px becomes CROP_FACE_PX."""
    x0, y0, x1, y1 = box
    scale = min(1.0, CROP_FACE_PX / max(face_px, 1.0))
    ow, oh = max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))
    rgb = frame.region(box, ow, oh)
    return [
        _map_face(f, x0, y0, (x1 - x0) / ow, (y1 - y0) / oh)
        for f in _landmark_pass(rgb, CROP_MAX_FACES, min_confidence)
    ]


def _pick(faces: list[dict], centre) -> dict | None:
    """The face of a crop pass whose box holds `centre`, nearest by nose tip."""
    hits = [f for f in faces if _inside(centre, f["bbox_xyxy"])]
    return min(hits, key=lambda f: float(np.hypot(*(f["landmarks_xy"][1] - centre))), default=None)


def _standard(frame: _Frame, max_faces: int, min_confidence: float) -> list[dict]:
    scale = min(1.0, PASS_MAX_SIDE / max(frame.H, frame.W))
    if max(frame.H, frame.W) < MIN_PASS_SIDE:
        scale = MIN_PASS_SIDE / max(frame.H, frame.W)
    ow, oh = max(1, round(frame.W * scale)), max(1, round(frame.H * scale))
    rgb = frame.region((0, 0, frame.W, frame.H), ow, oh)
    # No full-resolution refinement: the detector only finds faces of >= ~15% of the image, i.e. >= ~190 px
    # in this copy, which the mesh model (256 px input) already sees at full detail. Measured on obama3/biden
    # (2333/2204 px): copy vs full-resolution pass differ by 0.3% of the face size (median).
    return [_map_face(f, 0.0, 0.0, frame.W / ow, frame.H / oh) for f in _landmark_pass(rgb, max_faces, min_confidence)]


def _tile_origins(extent: int, side: int) -> list[int]:
    if side >= extent:
        return [0]
    origins = list(range(0, extent - side, side // 2))
    return origins + [extent - side]


def _tile_candidates(frame: _Frame, min_confidence: float) -> list[tuple[tuple, float, bool]]:
    """BlazeFace boxes over a tile pyramid: (box xyxy full px, score, touches an inner tile edge).

    Level k sees the image at 1/2^k scale, cut into TILE-px tiles at half-tile stride; levels stop when the
    image fits in one tile, which the standard pass already covers. Each tile is read from the frame on its own
    (resized on the way), never a whole level: extra memory stays a few tiles whatever the image size (a whole
    level-0 copy was about the image size again).
    """
    cands = []
    level = 0
    while True:
        lw, lh = max(1, round(frame.W / 2**level)), max(1, round(frame.H / 2**level))
        if max(lw, lh) <= TILE:
            return cands
        sx, sy = frame.W / lw, frame.H / lh
        for y0 in _tile_origins(lh, TILE):
            comfy_adapter.check_interrupt()
            for x0 in _tile_origins(lw, TILE):
                tw, th = min(TILE, lw - x0), min(TILE, lh - y0)
                fx0, fy0 = round(x0 * sx), round(y0 * sy)
                fx1, fy1 = min(frame.W, round((x0 + tw) * sx)), min(frame.H, round((y0 + th) * sy))
                tile = frame.region((fx0, fy0, fx1, fy1), tw, th)
                kx, ky = (fx1 - fx0) / tw, (fy1 - fy0) / th
                boxes, scores = landmarker.detect_boxes(tile, min_confidence)
                for b, s in zip(boxes, scores):
                    # A box cut by an inner tile edge is a partial face; the neighbouring tile sees it whole.
                    cut = (
                        (b[0] <= 2 and x0 > 0)
                        or (b[1] <= 2 and y0 > 0)
                        or (b[2] >= tw - 2 and x0 + tw < lw)
                        or (b[3] >= th - 2 and y0 + th < lh)
                    )
                    box = (fx0 + b[0] * kx, fy0 + b[1] * ky, fx0 + b[2] * kx, fy0 + b[3] * ky)
                    cands.append((box, float(s), bool(cut)))
        level += 1


def _small_faces(frame: _Frame, min_confidence: float, faces: list[dict]) -> list[dict]:
    """Add the faces a tile pyramid finds to `faces` (those of the standard pass)."""
    faces = list(faces)
    cands = sorted(_tile_candidates(frame, min_confidence), key=lambda c: (c[2], -c[1]))
    kept: list[tuple] = []
    for box, _score, _cut in cands:  # greedy NMS: whole, confident boxes win over cut or weak ones
        if any(_same_face(box, k) for k in kept) or any(_same_face(box, f["bbox_xyxy"]) for f in faces):
            continue
        kept.append(box)
    for box in kept:
        comfy_adapter.check_interrupt()
        centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        side = max(box[2] - box[0], box[3] - box[1])
        crop = _square_around(centre[0], centre[1], side * CANDIDATE_CROP_FACTOR, frame.W, frame.H)
        # A detector box is 0.85-0.95 of the mesh box's size (measured): close enough to size the crop scale.
        face = _pick(_crop_pass(frame, crop, side, min_confidence), centre)
        if face is None:  # the landmarker does not confirm the detector: not a face
            continue
        if any(_same_face(face["bbox_xyxy"], f["bbox_xyxy"]) for f in faces):
            continue
        faces.append(face)
    return faces


def hue_coherence(rgb: np.ndarray) -> float:
    """How much colours share one hue: 1 = all one hue (or grey), 0 = hues all around the colour circle.

    Chroma-weighted resultant length of the hue angles, computed in an opponent-colour plane.
    """
    rgb = np.asarray(rgb, dtype=np.float64).reshape(-1, 3)
    a = rgb[:, 0] - 0.5 * (rgb[:, 1] + rgb[:, 2])
    b = (math.sqrt(3) / 2) * (rgb[:, 1] - rgb[:, 2])
    chroma = np.hypot(a, b)
    if chroma.size == 0 or chroma.mean() < GREY_CHROMA:
        return 1.0
    return float(np.hypot(a.sum(), b.sum()) / chroma.sum())


def is_plausible_face(frame_image, face: dict) -> bool:
    """False when the colours under the face mesh span the colour circle (not skin)."""
    frame = frame_image if isinstance(frame_image, _Frame) else _Frame(frame_image)
    return hue_coherence(frame.sample(np.asarray(face["landmarks_xy"])[:468])) >= HUE_COHERENCE_MIN


def detect_frame(
    image,
    max_faces: int = 8,
    min_confidence: float = 0.5,
    mode: str = "standard",
    reject_false_positives: bool = True,
    meshing: str = "steady",
) -> list[dict]:
    """All faces of one HxWxC image (torch or numpy), best score first, in full-resolution pixels."""
    frame = image if isinstance(image, _Frame) else _Frame(image)
    if mode == "full_range":
        faces = full_range.detect_frame(frame, min_confidence, meshing)
        if not faces:
            # The full-range detector misses a face that fills the frame (a tight face crop, e.g. a makeup
            # reference or landmarks taken again on a crop): the landmarker's own short-range detector finds it.
            faces = _standard(frame, max_faces, min_confidence)
    else:
        faces = _standard(frame, max_faces, min_confidence)
    if mode == "small_faces" or (mode == "auto" and not faces):
        faces = _small_faces(frame, min_confidence, faces)
    if reject_false_positives:
        kept = [f for f in faces if is_plausible_face(frame, f)]
        if len(kept) < len(faces):
            log.info(
                "FaceLab: dropped %d detection(s) whose colours are not skin-like (false positive)",
                len(faces) - len(kept),
            )
        faces = kept
    faces.sort(key=lambda f: (-f["score"], -face_size(f)))
    return faces[:max_faces]


def detect(
    image,
    max_faces: int = 8,
    min_confidence: float = 0.5,
    mode: str = "standard",
    order: str = "left_to_right",
    reject_false_positives: bool = True,
    meshing: str = "steady",
) -> dict:
    """FACE_LANDMARKS (core format) of every face in every image of an IMAGE batch [B,H,W,C] or one HxWxC array.

    Faces are ordered per image by `order` (face_landmarks.FACE_ORDERS; "detection" = best score first).
    When more than max_faces are found the best-scoring ones are kept. No face -> an empty list for that image.
    `meshing` (full_range mode only): steady, upright or plain (crop_mesh.py). The Face Landmarks node, the demo
    and the shipped workflows use mode "full_range"; this function keeps "standard" as its default so existing
    callers inside the pack keep their behaviour.
    """
    if mode not in DETECTION_MODES:
        raise ValueError(f"FaceLab: unknown detection mode {mode!r}; choose one of {DETECTION_MODES}")
    if meshing not in MESHING_MODES:
        raise ValueError(f"FaceLab: unknown meshing mode {meshing!r}; choose one of {MESHING_MODES}")
    if int(max_faces) < 1:
        raise ValueError(f"FaceLab: max_faces must be at least 1, got {max_faces}")
    if not 0.0 <= float(min_confidence) <= 1.0:
        raise ValueError(f"FaceLab: min_confidence must be between 0 and 1, got {min_confidence}")
    sort_faces([], order)  # validates the order name before any work
    frames = _frames(image)
    H, W = (int(frames[0].shape[0]), int(frames[0].shape[1])) if frames else (0, 0)
    out = []
    for img in comfy_adapter.iterate_with_progress(frames):
        faces = detect_frame(img, int(max_faces), float(min_confidence), mode, reject_false_positives, meshing)
        out.append(sort_faces(faces, order))
    if frames and not any(out):
        log.info("FaceLab: no face found in %d image(s) (mode %s)", len(frames), mode)
    return make_face_landmarks(out, (H, W), landmarker.connection_sets())
