"""Cut a context region around each masked area or face, sized for SDXL, and record how to put it back.

Regions come from the mask's connected parts (merged while their crops would overlap) or, with
landmarks, one per face (the mask is shared between faces by nearest face, so two crops never edit the
same masked pixel). Every crop of one run has the same size (a batch must): the output aspect is the median
of the regions' aspects, and each region's box is widened to it, never cut. Crops are sampled with
warp.sample (bilinear, edge replication beyond the image border); unrotated crops kept at their
resolution are exact copies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from .. import comfy_adapter
from ..base.mesh import LEFT_EYE_CORNERS, RIGHT_EYE_CORNERS
from ..base.tensors import all_finite, scratch
from ..face import face_landmarks as fl
from . import warp
from .plan import CropEntry, StitchPlan, source_probes

RESOLUTIONS = ("area", "keep")
PADDINGS = ("shift", "replicate", "replicate_masked")
MASK_THRESHOLD = 1.0 / 255.0  # mask values below this do not make a region (soft-mask dust)
REGION_GRID = 1024  # regions are found on the mask max-pooled to at most this many pixels per side
MAX_REGIONS = 32  # more separate parts than this become one region
ASPECT_LIMITS = (0.25, 4.0)
OWNER_BLOCK = 4  # crop pixels per side of the blocks that decide which face owns a masked pixel
SAMPLE_PIXELS = 1 << 17  # crop pixels sampled per chunk (bounds the temporaries)


@dataclass
class CropSettings:
    context_factor: float = 1.5  # crop side / region side
    min_context: int = 384  # smallest crop side, in image pixels (capped at the image side)
    resolution: str = "area"  # "area": about target_size**2 pixels; "keep": 1 crop pixel per image pixel
    target_size: int = 1024
    multiple: int = 64  # crop sides are multiples of this
    padding: str = "shift"  # "shift" the box inside the image, "replicate" edges, or also mask them
    align: bool = False  # rotate face crops so the eyes are level
    face_index: int = -1  # -1: every face

    def __post_init__(self):
        if self.resolution not in RESOLUTIONS:
            raise ValueError(f"FaceLab: resolution must be one of {RESOLUTIONS}, got {self.resolution!r}")
        if self.padding not in PADDINGS:
            raise ValueError(f"FaceLab: padding must be one of {PADDINGS}, got {self.padding!r}")
        if not self.context_factor >= 1.0:
            raise ValueError(
                f"FaceLab: context factor must be >= 1 (the crop contains the region), got {self.context_factor}"
            )
        if self.multiple < 1 or self.target_size < self.multiple:
            raise ValueError(f"FaceLab: target size {self.target_size} must be at least the multiple {self.multiple}")


@dataclass
class _Region:
    batch_index: int
    label: str
    center: np.ndarray  # image coordinates of the needed box centre
    size: np.ndarray  # needed (w, h) in the crop's rotated frame, image pixels, before context
    angle: float = 0.0
    face: int | None = None  # index in the image's face list, in the landmarks' order (face mode)
    bbox: tuple[float, float, float, float] | None = None  # axis-aligned needed box (mask mode, for merging)
    placeholder: bool = False
    matrix: np.ndarray | None = field(default=None, repr=False)
    scale: float = 1.0


def _pooled_support(mask: torch.Tensor) -> tuple[np.ndarray, int, tuple[int, int, int, int] | None]:
    """(bool [h', w'] of mask > threshold, max-pooled by an integer factor f to at most REGION_GRID px, f, box).

    box: (x0, y0, x1, y1) image pixels holding every pixel > 0 (dust included: inside a crop every value counts),
    None when there is none. The mask is read once in full (its row maxima); only the bounding box of its
    support is pooled.
    """
    h, w = mask.shape
    f = max(1, math.ceil(max(h, w) / REGION_GRID))
    support = np.zeros((-(-h // f), -(-w // f)), bool)
    rows = mask.amax(1)
    if not all_finite(rows):  # a NaN would hide its whole block: use the repaired mask instead (rare)
        mask = torch.nan_to_num(mask, nan=0.0)
        rows = mask.amax(1)
    on = (rows > 0).nonzero()
    if len(on) == 0:
        return support, f, None
    z0, z1 = int(on[0]), int(on[-1]) + 1
    cols = mask[z0:z1].amax(0)
    on = (cols > 0).nonzero()
    box = (int(on[0]), z0, int(on[-1]) + 1, z1)
    on = (rows > MASK_THRESHOLD).nonzero()
    if len(on) == 0:
        return support, f, box
    r0, r1 = int(on[0]) // f * f, min(h, (int(on[-1]) // f + 1) * f)  # whole blocks
    on = (cols > MASK_THRESHOLD).nonzero()  # rows z0:z1 hold every row with a value above the threshold
    c0, c1 = int(on[0]) // f * f, min(w, (int(on[-1]) // f + 1) * f)
    pooled = block_max(mask[r0:r1, c0:c1], f).cpu().numpy() > MASK_THRESHOLD
    support[r0 // f : r0 // f + pooled.shape[0], c0 // f : c0 // f + pooled.shape[1]] = pooled
    return support, f, box


def block_max(x: torch.Tensor, f: int) -> torch.Tensor:
    """Max over f x f blocks of [H, W] (partial blocks at the end included); faster than max_pool2d on CPU."""
    if f == 1:
        return x
    h, w = x.shape
    if h % f or w % f:  # pad with the minimum so partial blocks keep their own maximum
        x = F.pad(x[None, None], (0, -w % f, 0, -h % f), value=float(x.min()))[0, 0]
        h, w = x.shape
    return x.view(h // f, f, w).amax(1).view(h // f, w // f, f).amax(2)  # view: a window of the mask is not copied


def _mask_regions(b: int, mask: torch.Tensor, pooled) -> list[_Region]:
    support, f, _ = pooled
    h, w = mask.shape
    rows, cols = np.flatnonzero(support.any(1)), np.flatnonzero(support.any(0))
    if len(rows) == 0:
        return []
    r0, c0 = rows[0], cols[0]  # label only the support's bounding box (a face is a small part of the image)
    labels, n = ndimage.label(support[r0 : rows[-1] + 1, c0 : cols[-1] + 1], structure=np.ones((3, 3), bool))
    boxes = []
    for ys, xs in ndimage.find_objects(labels):
        y0, y1, x0, x1 = ys.start + r0, ys.stop + r0, xs.start + c0, xs.stop + c0
        boxes.append((x0 * f, y0 * f, min(x1 * f, w), min(y1 * f, h)))
    if len(boxes) > MAX_REGIONS:
        boxes = [_union(boxes)]
    return sorted((_box_region(b, box) for box in boxes), key=lambda r: (r.center[0], r.center[1]))  # left to right


def _union(boxes):
    a = np.array(boxes, dtype=np.float64)
    return (a[:, 0].min(), a[:, 1].min(), a[:, 2].max(), a[:, 3].max())


def _box_region(b: int, box) -> _Region:
    x0, y0, x1, y1 = (float(v) for v in box)
    # Pixel-centre coordinates: the box covers pixel areas [x0-0.5, x1-0.5].
    return _Region(
        b, "", np.array([(x0 + x1) / 2 - 0.5, (y0 + y1) / 2 - 0.5]), np.array([x1 - x0, y1 - y0]), bbox=(x0, y0, x1, y1)
    )


def eye_angle(landmarks_xy: np.ndarray) -> float:
    """Angle (radians) of the line from the subject's right eye to their left eye (0 for a level, upright face)."""
    lm = np.asarray(landmarks_xy, dtype=np.float64)
    right = lm[list(RIGHT_EYE_CORNERS)].mean(0)  # eye corners, not irises: the gaze does not tilt the crop
    left = lm[list(LEFT_EYE_CORNERS)].mean(0)
    d = left - right
    return math.atan2(d[1], d[0])


def nearest_face(x: torch.Tensor, y: torch.Tensor, faces: list[dict]) -> torch.Tensor:
    """Index of the nearest face for each point (distance to the face centre relative to its size)."""
    best, arg = None, None
    for k, face in enumerate(faces):
        cx, cy = fl.face_center(face)
        d = ((x - cx) ** 2 + (y - cy) ** 2) / max(fl.face_size(face), 1.0) ** 2
        if best is None:
            best, arg = d, torch.zeros_like(d, dtype=torch.long)
        else:
            closer = d < best
            best, arg = torch.where(closer, d, best), torch.where(closer, k, arg)
    return arg


def _face_regions(b: int, faces: list[dict], pooled, s: CropSettings) -> tuple[list[_Region], list[str]]:
    if not faces:
        return [], [f"image {b}: no face found, nothing to crop"]
    notes = []
    share_boxes: dict[int, tuple] = {}
    if pooled is not None:
        support, f, _ = pooled
        ys, xs = np.nonzero(support)
        if len(xs) == 0:
            return [], [f"image {b}: the mask is empty, nothing to crop"]
        px = torch.as_tensor((xs + 0.5) * f - 0.5, dtype=torch.float32)
        py = torch.as_tensor((ys + 0.5) * f - 0.5, dtype=torch.float32)
        owner = nearest_face(px, py, faces).numpy()
        for k in np.unique(owner):
            sel = owner == k
            share_boxes[int(k)] = (
                xs[sel].min() * f,
                ys[sel].min() * f,
                (xs[sel].max() + 1) * f,
                (ys[sel].max() + 1) * f,
            )
    chosen = [k for k, _ in fl.select_indexed(faces, s.face_index)]
    if not chosen:
        notes.append(f"image {b}: there is no face number {s.face_index} (faces found: {len(faces)}), nothing to crop")
    regions = []
    for k in chosen:
        if pooled is not None and k not in share_boxes:
            notes.append(f"image {b} face {k}: no masked pixels, skipped")
            continue
        lm = np.asarray(faces[k]["landmarks_xy"], dtype=np.float64)
        angle = eye_angle(lm) if s.align else 0.0
        pts = lm
        if k in share_boxes:
            x0, y0, x1, y1 = share_boxes[k]
            corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], dtype=np.float64) - 0.5
            pts = np.vstack([lm, corners])
        c0 = np.array(fl.face_center(faces[k]))
        rot = np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])  # image -> crop frame
        q = (pts - c0) @ rot.T
        lo, hi = q.min(0), q.max(0)
        center = c0 + rot.T @ ((lo + hi) / 2)
        regions.append(_Region(b, f"image {b} face {k}", center, hi - lo, angle=angle, face=k))
    return regions, notes


def _round_multiple(v: float, m: int, up: bool = False) -> int:
    return max(m, int(math.ceil(v / m) if up else round(v / m)) * m)


def _context_size(r: _Region, image_hw, s: CropSettings) -> np.ndarray:
    if r.placeholder:
        return r.size.astype(np.float64)
    h, w = image_hw
    floor = np.array([min(s.min_context, w), min(s.min_context, h)], dtype=np.float64)
    return np.maximum(r.size * s.context_factor, floor)


def _layout(regions: list[_Region], image_hw, s: CropSettings) -> tuple[int, int]:
    """Choose the common crop size (h, w) and set each region's scale and crop matrix."""
    sizes = [_context_size(r, image_hw, s) for r in regions]
    real = [sz for sz, r in zip(sizes, regions) if not r.placeholder] or sizes
    if s.resolution == "keep":
        cw = _round_multiple(max(sz[0] for sz in real), s.multiple, up=True)
        ch = _round_multiple(max(sz[1] for sz in real), s.multiple, up=True)
    else:
        aspect = float(np.clip(np.median([sz[0] / sz[1] for sz in real]), *ASPECT_LIMITS))
        cw = _round_multiple(s.target_size * math.sqrt(aspect), s.multiple)
        ch = _round_multiple(s.target_size / math.sqrt(aspect), s.multiple)
    for r, sz in zip(regions, sizes):
        r.scale = min(cw / sz[0], ch / sz[1])
        if s.resolution == "keep" and not r.placeholder:
            r.scale = 1.0
        r.matrix = _place(r, (ch, cw), image_hw, s)
    return ch, cw


def _place(r: _Region, crop_hw, image_hw, s: CropSettings) -> np.ndarray:
    ch, cw = crop_hw
    h, w = image_hw
    center = r.center.astype(np.float64)  # a copy
    m = warp.crop_matrix(center, r.scale, r.angle, (cw, ch))
    if s.padding == "shift" or r.placeholder:
        fx0, fy0, fx1, fy1 = warp.footprint(m, crop_hw)
        for axis, (lo, hi, n) in enumerate(((fx0, fx1, w), (fy0, fy1, h))):
            if hi - lo <= n:
                center[axis] += max(0.0, -0.5 - lo) - max(0.0, hi - (n - 0.5))
            else:  # larger than the image: centre it (the image, hence the region, stays inside)
                center[axis] += (n - 1) / 2.0 - (lo + hi) / 2.0
    if r.scale == 1.0 and r.angle == 0.0:  # an exact copy: snap the box to whole pixels
        center = np.round(center - np.array([cw / 2 - 0.5, ch / 2 - 0.5])) + np.array([cw / 2 - 0.5, ch / 2 - 0.5])
    return warp.crop_matrix(center, r.scale, r.angle, (cw, ch))


def _boxes_overlap(a: _Region, b: _Region, crop_hw) -> bool:
    ax0, ay0, ax1, ay1 = warp.footprint(a.matrix, crop_hw)
    bx0, by0, bx1, by1 = warp.footprint(b.matrix, crop_hw)
    return ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1


def _merge_overlapping(regions: list[_Region], image_hw, s: CropSettings) -> tuple[int, int]:
    """Lay out the regions; merge mask regions of one image whose crops overlap, until none do."""
    while True:
        crop_hw = _layout(regions, image_hw, s)
        pair = next(
            (
                (i, j)
                for i, a in enumerate(regions)
                for j in range(i + 1, len(regions))
                if a.bbox is not None
                and regions[j].bbox is not None
                and a.batch_index == regions[j].batch_index
                and _boxes_overlap(a, regions[j], crop_hw)
            ),
            None,
        )
        if pair is None:
            return crop_hw
        i, j = pair
        merged = _box_region(regions[i].batch_index, _union([regions[i].bbox, regions[j].bbox]))
        regions[:] = [r for k, r in enumerate(regions) if k not in pair] + [merged]
        regions.sort(key=lambda r: (r.batch_index, r.center[0], r.center[1]))


def crop(
    image: torch.Tensor, mask: torch.Tensor | None, landmarks: dict | None, s: CropSettings
) -> tuple[torch.Tensor, torch.Tensor, StitchPlan]:
    """image [B,H,W,3], mask [B,H,W] or None, FACE_LANDMARKS or None -> (crops [N,h,w,3], crop masks [N,h,w], plan)."""
    if mask is None and landmarks is None:
        raise ValueError("FaceLab Crop Face Region: connect a mask, face landmarks, or both")
    bsz, h, w, _ = image.shape
    if mask is not None:
        mask = mask.to(image.device, torch.float32)
    faces_per_image = []
    if landmarks is not None:
        landmarks = fl.fit_landmarks_to_image(landmarks, (h, w), bsz, "Crop Face Region")
        faces_per_image = [fl.frame_faces(landmarks, b) for b in range(bsz)]  # in the landmarks' own face order

    regions, notes, boxes = [], [], {}
    for b in range(bsz):
        pooled = None if mask is None else _pooled_support(mask[b])
        if pooled is not None:
            boxes[b] = pooled[2]
        if landmarks is not None:
            found, why = _face_regions(b, faces_per_image[b], pooled, s)
            notes += why
        else:
            found = _mask_regions(b, mask[b], pooled)
            if not found:
                notes.append(f"image {b}: the mask is empty, nothing to crop")
        if not found:
            r = _box_region(b, (0, 0, w, h))
            r.placeholder, r.bbox, r.label = True, None, f"image {b} (unchanged)"
            found = [r]
        regions += found
    crop_hw = _merge_overlapping(regions, (h, w), s)
    for b in range(bsz):  # stable names for mask regions, left to right
        for i, r in enumerate(x for x in regions if x.batch_index == b and x.bbox is not None):
            r.label = f"image {b} region {i}"

    crops = scratch((len(regions), *crop_hw, 3), image.device)  # filled in place: no stacking copy
    masks = scratch((len(regions), *crop_hw), image.device)
    entries = []
    for i, r in enumerate(comfy_adapter.iterate_with_progress(regions)):
        src = image[r.batch_index].permute(2, 0, 1)
        # NaN/Inf pixels (finite=True) read as 0 instead of spreading over their neighbours into the crop.
        _sample_rows(crops[i], src, r.matrix)
        sampled = None
        if mask is not None and not r.placeholder:
            sampled = _sample_mask(mask[r.batch_index], r.matrix, crop_hw, boxes[r.batch_index])
        if r.placeholder:
            own, keepout = torch.zeros(crop_hw, device=image.device), None
        else:
            own, keepout = _crop_masks(r, sampled, faces_per_image, crop_hw, image.device)
        if s.padding == "replicate_masked" and not r.placeholder:
            masks[i] = torch.maximum(own, (~warp.inside(r.matrix, crop_hw, (h, w), image.device)).float())
        else:
            masks[i] = own
        fx0, fy0, fx1, fy1 = warp.footprint(r.matrix, crop_hw)
        roi = (
            max(0, math.floor(fx0 + 0.5)),
            max(0, math.floor(fy0 + 0.5)),
            min(w, math.ceil(fx1 + 0.5)),
            min(h, math.ceil(fy1 + 0.5)),
        )
        entries.append(
            CropEntry(
                r.batch_index,
                r.label,
                r.matrix,
                roi,
                r.scale,
                r.angle,
                own.detach().cpu(),
                None if keepout is None else keepout.detach().cpu(),
                empty=r.placeholder,
            )
        )
    report = _report(entries, crop_hw, notes)
    plan = StitchPlan((h, w), bsz, crop_hw, entries, source_probes(image), report)
    return crops, masks, plan


def _sample_rows(dst: torch.Tensor, src: torch.Tensor, m: np.ndarray) -> None:
    """warp.sample(src [3,H,W], m) written into dst [h, w, 3] row chunk by row chunk (small temporaries)."""
    h, w = dst.shape[:2]
    step = max(1, SAMPLE_PIXELS // w)
    for r0 in range(0, h, step):
        r1 = min(h, r0 + step)
        dst[r0:r1] = warp.sample(src, m @ warp.translation(0, r0), (r1 - r0, w), finite=True).permute(1, 2, 0)


def _sample_mask(mask: torch.Tensor, m: np.ndarray, crop_hw, box) -> torch.Tensor:
    """warp.sample of mask [H, W] (NaN/Inf repaired, clamped to 0..1) onto the crop, resampling only the part of the
    crop that the mask's support box (image pixels) can reach; the rest is 0. A buffer of huge pages (kept by the
    plan: its fresh 4 KB pages cost more than the sampling).

    The mask is edge-replicated too: a mask touching the image border continues past it, so its feather ramps out
    there and border pixels get the full edit.
    """
    out = scratch(crop_hw, mask.device)
    h, w = mask.shape
    ch, cw = crop_hw
    fx0, fy0, fx1, fy1 = warp.footprint(m, crop_hw)
    x0, y0, x1, y1 = box if box is not None else (0, 0, 0, 0)
    # Grown by the bilinear reach (1 px); a side on the image border reaches as far as the crop (replication).
    x0, y0 = (x0 - 1.0 if x0 > 0 else fx0 - 1.0), (y0 - 1.0 if y0 > 0 else fy0 - 1.0)
    x1, y1 = (x1 + 1.0 if x1 < w else fx1 + 1.0), (y1 + 1.0 if y1 < h else fy1 + 1.0)
    corners = np.array([[x0, x1, x0, x1], [y0, y0, y1, y1], [1.0, 1.0, 1.0, 1.0]]) - np.array([[0.5], [0.5], [0.0]])
    uv = (np.linalg.inv(m) @ corners)[:2]
    u0, v0 = max(0, math.floor(uv[0].min())), max(0, math.floor(uv[1].min()))
    u1, v1 = min(cw, math.ceil(uv[0].max()) + 1), min(ch, math.ceil(uv[1].max()) + 1)
    if box is None or u1 <= u0 or v1 <= v0:
        return out.zero_()
    if (u0, v0, u1, v1) != (0, 0, cw, ch):
        out.zero_()
    part = warp.sample(mask[None], m @ warp.translation(u0, v0), (v1 - v0, u1 - u0), finite=True)[0]
    torch.clamp(part, 0.0, 1.0, out=out[v0:v1, u0:u1])
    return out


def _crop_masks(r: _Region, sampled, faces_per_image, crop_hw, device) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The crop's own mask and the masked pixels it must leave to other crops, in crop space."""
    if sampled is None:  # no mask: the whole face crop
        sampled = torch.ones(crop_hw, device=device)
    if r.face is None or len(faces_per_image[r.batch_index]) < 2:
        return sampled, None
    # Which face each pixel is nearest to, on blocks of OWNER_BLOCK crop pixels (a smooth partition; 16x cheaper).
    h, w = crop_hw
    k = OWNER_BLOCK
    coarse = r.matrix @ np.diag([k, k, 1.0]) @ warp.translation((k - 1) / (2.0 * k), (k - 1) / (2.0 * k))
    x, y = warp.mapped_grid(coarse, (-(-h // k), -(-w // k)), device).unbind(-1)
    mine = nearest_face(x, y, faces_per_image[r.batch_index]) == r.face
    mine = mine.repeat_interleave(k, 0).repeat_interleave(k, 1)[:h, :w]
    zero = torch.zeros((), device=device)
    return torch.where(mine, sampled, zero), torch.where(mine, zero, sampled)


def _report(entries: list[CropEntry], crop_hw, notes: list[str]) -> str:
    real = [e for e in entries if not e.empty]
    lines = [
        f"{len(real)} crop(s) of {crop_hw[1]}x{crop_hw[0]}"
        + (" (+ unchanged placeholders)" if len(real) < len(entries) else "")
    ]
    for e in real:
        lines.append(
            f"{e.label}: scale {e.scale:.2f}, rotation {math.degrees(e.angle):.1f} deg, covers x {e.roi[0]}..{e.roi[2]}, y {e.roi[1]}..{e.roi[3]}"
        )
    lines += notes
    return "\n".join(lines)
