"""Put (inpainted) crops back into their source images, with a feathered blend that leaves no seam.

Per crop: build the blend weights in crop space (the crop's mask, feathered outward by a width relative
to the masked region's size, kept off other crops' pixels, tapered to 0 at crop edges inside the image),
optionally colour-match the crop to the original in a ring around the mask, then map the weights and the
crop back with the inverse transform. All of it runs in a window around the mask (plus feather and ring),
band by band over the image rows it covers (a few MB of temporaries whatever the face size), and only those
image pixels are touched; the full-size image is read once, for the output copy.

Two blend modes:
- "add" (default) adds the crop's change, crop - (original resampled exactly as the crop was), to the
  original. Resampling only touches the change, so the original's full-resolution detail survives and an
  unmodified crop reproduces the input (to float rounding, far below 1/255).
- "replace" pastes the crop's pixels (resampled back). Fine detail lost to the crop's scale is lost.

Guarantee: every pixel whose blend weight is 0 is copied bit for bit (out = where(w > 0, blend, original)).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch

from .. import comfy_adapter
from ..base.tensors import all_finite, lazy_zeros, nan_free, output_copy, scratch
from . import feather as feathering
from . import warp
from .color_match import MAX_SAMPLES, apply_lut_planes, lut_texture, ring_mapping
from .plan import StitchPlan, check_original, check_source, fit_batch

log = logging.getLogger("FaceLab")

MODES = ("add", "replace")
NODE = "Stitch Face Region"
MIN_TAPER = 0.03  # crop-edge taper, as a fraction of the crop's shorter side, when the feather is narrower
MIN_WEIGHT = 1.0 / 255.0  # smallest blend weight applied (see _stitch_one)
RING_WIDTH = 0.05  # colour-match ring, as a fraction of the region size, when the feather is narrower
BAND_PIXELS = 1 << 16  # image pixels blended per band (bounds the temporaries to about 3 MB)


def region_side(box) -> float:
    """Size (px) of a masked region from its bounding box: the geometric mean of the sides."""
    u0, v0, u1, v1 = box
    return math.sqrt((u1 - u0) * (v1 - v0))


def stitch(
    original: torch.Tensor,
    crops: torch.Tensor,
    plan: StitchPlan,
    feather: float = 0.1,
    color_match: bool = True,
    mode: str = "add",
) -> tuple[torch.Tensor, torch.Tensor]:
    """original [B,H,W,3], crops [N,h,w,3] -> (stitched [B,H,W,3], blend weights used [B,H,W]).

    The full-size image is touched once (the output copy); everything else runs on the crops' windows.
    Non-finite crop pixels (NaN/Inf, e.g. from an fp16 VAE) keep the original there and are logged; non-finite
    pixels of the original under the blend are repaired (read as 0), those outside it are kept as they are.
    """
    if mode not in MODES:
        raise ValueError(f"FaceLab {NODE}: blend mode must be one of {MODES}, got {mode!r}")
    if not feather >= 0.0:
        raise ValueError(f"FaceLab {NODE}: feather must be >= 0, got {feather}")
    check_original(original, plan.batch_size, plan.source_hw, NODE)
    check_source(original, plan.probes, NODE)
    crops = fit_batch(crops, len(plan.entries), plan.crop_hw, NODE, "crops").to(original.device, torch.float32)
    bsz, h, w, _ = original.shape
    out = output_copy(original)
    used = lazy_zeros((bsz, h, w), original.device)  # zero pages cost nothing: only the blended boxes are written
    for k, entry in comfy_adapter.iterate_with_progress(list(enumerate(plan.entries))):
        if not entry.empty:
            note = _stitch_one(out, used, original, crops[k], entry, plan.crop_hw, feather, color_match, mode)
            if note:
                log.warning("FaceLab %s: crop %d (%s) %s", NODE, k, entry.label, note)
    if all(e.empty for e in plan.entries):
        log.info("FaceLab %s: nothing was cropped (no mask or face), the image passes through unchanged", NODE)
    return out, used


def blend_weights(entry, crop_hw, image_hw, feather: float, window, side: float, device) -> torch.Tensor:
    """Blend weights of one crop over a crop-space window (u0, v0, u1, v1): 0 wherever it may not change anything."""
    u0, v0, u1, v1 = window
    width = feather * side
    w = feathering.feather(entry.mask[v0:v1, u0:u1].to(device), width)
    if entry.keepout is not None:
        w = w * (1.0 - entry.keepout[v0:v1, u0:u1].to(device))
    taper_width = max(width, MIN_TAPER * min(crop_hw))
    h, cw = crop_hw
    if min(u0, v0, cw - u1, h - v1) > taper_width:  # the window is clear of every crop edge: no taper there
        return w
    return feathering.edge_taper(entry.crop_to_image, crop_hw, image_hw, taper_width, window, device, into=w)


def _close_window_edges(weights: torch.Tensor, window, crop_hw) -> torch.Tensor:
    """Zero the window's outer pixels wherever the window ends inside the crop.

    Resampling back replicates the window's edge values outward; this makes them 0, so nothing past the
    window is ever blended (the feather has already fallen to 0 there; this makes it exact).
    """
    u0, v0, u1, v1 = window
    if v0 > 0:
        weights[0] = 0
    if u0 > 0:
        weights[:, 0] = 0
    if v1 < crop_hw[0]:
        weights[-1] = 0
    if u1 < crop_hw[1]:
        weights[:, -1] = 0
    return weights


def _stitch_one(out, used, original, crop, entry, crop_hw, feather, color_match, mode) -> str | None:
    """Blend one crop into out/used; returns a note for the log when the crop had non-finite pixels."""
    device = original.device
    b = entry.batch_index
    h, w = original.shape[1:3]
    mask_box = feathering.support_box(entry.mask, margin=0)
    if mask_box is None:
        return None
    side = region_side(mask_box)
    ring_width = max(feather * side, RING_WIDTH * side, 3.0)
    # Everything happens in a window around the mask that the feather and the colour-match ring fit in
    # (both may reach about 20% past their nominal width: they are computed at a reduced resolution).
    window = feathering.grow(mask_box, 1.25 * max(feather * side, ring_width if color_match else 0.0) + 4, crop_hw)
    u0, v0, u1, v1 = window
    sub_hw = (v1 - v0, u1 - u0)
    sub = entry.crop_to_image @ warp.translation(u0, v0)  # window pixel -> image pixel
    weights = _close_window_edges(blend_weights(entry, crop_hw, (h, w), feather, window, side, device), window, crop_hw)
    edited = crop[v0:v1, u0:u1]  # a view; clamped in _window_source
    note = None
    repair = not all_finite(edited)
    finite = torch.isfinite(edited).all(-1) if repair else None
    if repair:
        bad = int((~finite & (weights > 0)).sum())
        if bad and not bool((finite & (weights > 0)).any()):
            return "is entirely NaN/Inf where it would be blended (e.g. an fp16 VAE overflow): kept the original there"
        if bad:
            note = f"has {bad} NaN/Inf pixels (e.g. an fp16 VAE overflow): kept the original at those pixels"
        weights = weights * finite  # nothing of those pixels is blended: the original stays
    if not feathering.any_positive(weights):
        return note
    source_chw = original[b].permute(2, 0, 1)
    lut = None
    if color_match:
        # The ring's statistics need about MAX_SAMPLES pixels: find the ring on every s-th row and column of the
        # window (s from the ring's expected area), not on all of it.
        mw, mh = mask_box[2] - mask_box[0], mask_box[3] - mask_box[1]
        s = max(1, int(math.sqrt(2.0 * (mw + mh + 2.0 * ring_width) * ring_width / MAX_SAMPLES)))
        own = entry.mask[v0:v1:s, u0:u1:s].to(device)
        ring_grid = sub @ np.diag([s, s, 1.0])  # subgrid pixel -> image pixel
        ring = feathering.ring(own, ring_width / s) & warp.inside(ring_grid, own.shape, (h, w), device)
        if repair:
            ring &= finite[::s, ::s]
        if entry.keepout is not None:
            ring &= entry.keepout[v0:v1:s, u0:u1:s].to(device) <= 0
        # The original resampled as the crop was (same box averaging), at those pixels only.
        reference = warp.sample(source_chw, ring_grid, own.shape, finite=True, box=warp.box_factor(sub))
        lut = ring_mapping(edited[::s, ::s], reference.permute(1, 2, 0), ring)
        del reference
    # Apply the colour mapping where there are fewer pixels: in the crop, or after mapping back to the image.
    lut_in_image = lut is not None and entry.scale > 1.0

    # The window was sized for the feather's farthest reach (1.25x); the source and the bands need only the
    # weights' support and one k x k block of zero weights around it (what the bilinear samples read next to it;
    # past it the border padding replicates those zeros, as it did the closed edges). Whole blocks from the
    # window's origin: the box averages, hence the source values, stay the same.
    k = warp.box_factor(np.linalg.inv(sub))
    a0, b0, a1, b1 = feathering.support_box(weights, margin=0)
    t0, s0 = max(0, (a0 // k - 1) * k), max(0, (b0 // k - 1) * k)
    t1, s1 = min(sub_hw[1], ((a1 - 1) // k + 2) * k), min(sub_hw[0], ((b1 - 1) // k + 2) * k)
    if (t0, s0, t1, s1) != (0, 0, sub_hw[1], sub_hw[0]):
        weights, edited = weights[s0:s1, t0:t1], edited[s0:s1, t0:t1]
        finite = None if finite is None else finite[s0:s1, t0:t1]
        sub, sub_hw = sub @ warp.translation(t0, s0), (s1 - s0, t1 - t0)
    fx0, fy0, fx1, fy1 = warp.footprint(sub, sub_hw)
    x0, y0 = max(0, math.floor(fx0 + 0.5)), max(0, math.floor(fy0 + 0.5))
    x1, y1 = min(w, math.ceil(fx1 + 0.5)), min(h, math.ceil(fy1 + 0.5))
    if x1 <= x0 or y1 <= y0:
        return note
    to_window = np.linalg.inv(sub)  # image pixel -> window pixel; k > 1: window pixels box-averaged once here
    source = _window_source(edited, (source_chw, sub), weights, finite if repair else None, lut, lut_in_image, mode, k)
    del weights
    tex = None if lut is None else lut_texture(lut)
    to_source = warp.pooled_matrix(to_window, k)  # image pixel -> source pixel
    from_source = np.linalg.inv(to_source)
    extents = _row_extents(source[-1])
    rows = max(8, BAND_PIXELS // (x1 - x0))
    # Band by band over the image rows: the temporaries stay a few MB whatever the face size.
    for by0 in range(y0, y1, rows):
        by1 = min(y1, by0 + rows)
        # Only the columns whose samples can reach a weight > 0 (an oval face leaves the box's corners out).
        cols = _band_columns(extents, to_source, from_source, (x0, by0, x1, by1))
        if cols is None:
            continue
        bx0, bx1 = cols
        band_hw = (by1 - by0, bx1 - bx0)
        back = to_source @ warp.translation(bx0, by0)  # band pixel -> source pixel
        sampled = warp.sample(source, back, band_hw)  # every channel in one resampling
        if lut_in_image:
            change = apply_lut_planes(tex, *sampled[:3])
            if mode == "add":
                change -= sampled[3:6]
        else:
            change = sampled[:3]
        _blend(out[b, by0:by1, bx0:bx1], used[b, by0:by1, bx0:bx1], change, sampled[-1], mode)
    return note


def _window_source(edited, original, weights, finite, lut, lut_in_image: bool, mode: str, k: int) -> torch.Tensor:
    """What the bands resample back to the image, for the whole window at once, box-averaged by k: [C, h/k, w/k].

    Channels: the change to add (crop - reference, colour-matched; "add") or the crop's colours ("replace"), then
    the weights; with the colour mapping applied in the image (lut_in_image), the crop's colours, the reference
    (for "add") and the weights. The reference is the original resampled exactly as the crop was; original is
    (image [3, H, W], window pixel -> image pixel). Built in row chunks so that the temporaries stay small, into
    one buffer of huge pages (a fresh buffer's 4 KB page faults cost more than the arithmetic here); with k > 1
    each chunk is box-averaged straight into it (the same values as averaging the whole window).
    """
    image, to_image = original
    hc, wc = weights.shape
    with_ref = lut_in_image and mode == "add"
    channels = 7 if with_ref else 4
    tex = None if lut is None or lut_in_image else lut_texture(lut)
    step = max(k, BAND_PIXELS // wc // k * k)  # whole k x k blocks per chunk: each is box-averaged on its own
    if k == 1:
        out = chunk = scratch((channels, hc, wc), weights.device)
    else:  # each chunk is averaged as soon as it is built: no window-sized buffer (its fresh pages cost more)
        out = scratch((channels, -(-hc // k), -(-wc // k)), weights.device)
        chunk = torch.empty((channels, min(step, hc), wc), device=weights.device)
    for r0 in range(0, hc, step):
        r1 = min(hc, r0 + step)
        src = chunk[:, : r1 - r0] if k > 1 else chunk[:, r0:r1]
        e, dst = edited[r0:r1].permute(2, 0, 1), src[:3]
        ref = warp.sample(image, to_image @ warp.translation(0, r0), (r1 - r0, wc), finite=True)
        if finite is not None:
            e = torch.where(finite[r0:r1], e, ref)
        torch.clamp(e, 0.0, 1.0, out=dst)
        if tex is not None:
            apply_lut_planes(tex, *dst, out=dst)
        if with_ref:
            src[3:6] = ref
        elif mode == "add":
            dst -= ref
        src[-1] = weights[r0:r1]
        if k > 1:
            warp.box_average(src, k, out=out[:, r0 // k : -(-r1 // k)])
    return out


_ONE_BITS = np.float32(1.0).view(np.uint32)


def _clean(o: np.ndarray) -> bool:
    """Whether the float32 array o holds only finite values within 0..1 and no -0.0: base + 0 * change is then
    base itself, bit for bit (-0.0 + 0.0 would read +0.0).

    One read pass, in cache (a band): as unsigned integers, exactly the floats +0.0 ... 1.0 are <= the bits of 1.0
    (a sign bit, NaN or Inf make the integer larger).
    """
    return bool(o.view(np.uint32).max() <= _ONE_BITS)


def _row_extents(weights: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) column of a weight > 0 in each row of [h, w] (w and -1 for a row without any)."""
    nz = weights.cpu().numpy() > 0  # numpy: torch's comparison into a bool tensor is many times slower here
    w = nz.shape[1]
    found = nz.any(1)
    first = np.where(found, nz.argmax(1), w)
    last = np.where(found, w - 1 - nz[:, ::-1].argmax(1), -1)
    return first, last


def _band_columns(extents, to_source, from_source, box) -> tuple[int, int] | None:
    """The image columns (x0, x1) of the band box (x0, y0, x1, y1) whose bilinear samples can reach a weight > 0.

    extents: _row_extents of the source weights. None: no such column (the band is skipped). Exact for every
    rotation: the source rectangle holding the reachable weights is mapped back to the image and its bounding
    box taken.
    """
    x0, y0, x1, y1 = box
    first, last = extents
    fu0, fv0, fu1, fv1 = warp.footprint(to_source @ warp.translation(x0, y0), (y1 - y0, x1 - x0))
    v0, v1 = max(0, math.floor(fv0) - 1), min(len(first), math.ceil(fv1) + 2)  # + the bilinear neighbours
    if v1 <= v0:
        return None
    c0, c1 = int(first[v0:v1].min()), int(last[v0:v1].max())
    c0, c1 = max(c0, math.floor(fu0) - 1), min(c1, math.ceil(fu1) + 1)
    if c1 < c0:
        return None
    # Image pixels within one source pixel of these columns read them; the rest read only zero weights.
    gx0, _, gx1, _ = warp.footprint(from_source @ warp.translation(c0 - 1, v0), (v1 - v0, c1 - c0 + 3))
    bx0, bx1 = max(x0, math.floor(gx0)), min(x1, math.ceil(gx1) + 1)
    return (bx0, bx1) if bx1 > bx0 else None


def _blend(o, used, change: torch.Tensor, weights: torch.Tensor, mode: str) -> None:
    """Blend change [3, h, w] into the image view o [h, w, 3] with the resampled weights, in place.

    Pixels of weight 0 keep their value bit for bit. change and weights are fresh tensors (modified here).
    Where o holds only finite values within 0..1 (_clean), base + 0 * change, clipped, is base itself and no
    per-pixel selection is needed. On the CPU the passes run in numpy: single-threaded, they avoid torch's
    per-operation thread hand-offs, which made a band 3-10x slower with 2 threads on a loaded machine
    (bench_compose, --threads 1,2); torch's thread count is left alone.
    """
    if o.device.type == "cpu":
        _blend_numpy(o.numpy(), used.numpy(), change.numpy(), weights.numpy(), mode)
        return
    m = weights.clamp_(0.0, 1.0)
    m.masked_fill_(m < MIN_WEIGHT, 0.0)  # see _blend_numpy
    if not bool(m.any()):
        return
    base = nan_free(o)
    mm = m[..., None]
    change = change.permute(1, 2, 0)
    blended = torch.addcmul(base, mm, change) if mode == "add" else torch.lerp(base, change, mm)
    o.copy_(torch.where(mm > 0, blended.clamp_(0.0, 1.0), o))
    torch.maximum(used, m, out=used)


def _blend_numpy(o: np.ndarray, used: np.ndarray, change: np.ndarray, m: np.ndarray, mode: str) -> None:
    np.clip(m, 0.0, 1.0, out=m)
    # A weight below 1/255 moves a pixel by less than one 8-bit level, yet would make it differ from the original
    # where the blend mask, saved as an 8-bit image, reads 0. Drop such weights: "mask 0 = untouched" holds in 8 bits.
    m[m < MIN_WEIGHT] = 0.0
    if not m.any():
        return
    # The change arrives as channel planes (the resampling's layout) and is blended plane by plane: numpy is slow
    # at transposing operands (3x), and the image's channel c is a plain strided view.
    base_clean = _clean(o)
    base = o if base_clean else np.nan_to_num(o, nan=0.0, posinf=1.0, neginf=0.0)
    keep = None if base_clean else m > 0
    for c in range(3):
        d = change[c]
        if mode == "replace":
            d -= base[..., c]
        d *= m
        d += base[..., c]
        if keep is None:  # weight 0: base + 0, clipped, is base itself (finite, within 0..1, no -0.0)
            np.clip(d, 0.0, 1.0, out=o[..., c])
        else:
            np.clip(d, 0.0, 1.0, out=d)
            np.copyto(o[..., c], d, where=keep)  # pixels of weight 0 are not even rewritten
    np.maximum(used, m, out=used)
