"""Makeup prior for one source face from one reference face: warp, relight, per-region transfer, composite.

Pipeline (see docs/makeup.md):
1. Source face window (landmark box + margin) and a working copy of it scaled so the inter-ocular
   distance is WORK_IOD_PX: the colour fields are smooth, so they are computed small (fast) and only the
   final Lab offset is applied at full resolution.
2. The reference face, scaled to the same face size, is warped piecewise-affinely onto the source mesh
   (mesh_warp.py); folded, edge-on or out-of-frame triangles are invalid.
3. Both faces' smooth skin fields give the relight ratio (illumination.py); the reference is relit.
4. Per region a smooth Lab offset (color_transfer.py), weighted by the feathered region mask x strength,
   is added to the source's full-resolution Lab. Pixels with weight 0 are copied from the source
   untouched (bit-identical).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..base.colorspace import lab_to_rgb, rgb_to_lab
from ..base.tensors import all_finite
from ..face.zone_masks import inter_ocular_distance
from . import color_transfer, describe, illumination, mesh_warp, regions

WORK_IOD_PX = 80.0  # inter-ocular distance of the working copies
ROI_MARGIN = 0.25  # face window margin beyond the landmark box, in inter-ocular distances
RELIGHT_LIMITS = (0.5, 2.0)  # a relight ratio beyond these is clipped (and reported): no data, not light
GREY_CHROMA = 4.0  # mean skin chroma (a*, b*) below which the reference looks black-and-white

DEFAULT_STRENGTHS = {"lips": 1.0, "eyes": 0.8, "blush": 0.6, "brows": 0.5, "foundation": 0.0}


@dataclass
class FaceMakeup:
    image: torch.Tensor  # [H, W, 3] the image with the makeup of one face applied (the source itself if in place)
    box: tuple[int, int, int, int] | None = None  # (x0, y0, x1, y1) face window that window_mask covers
    window_mask: torch.Tensor | None = None  # [y1-y0, x1-x0] feathered union of the applied regions (0 = untouched)
    regions: dict = field(default_factory=dict)  # per region: colour, strength, area, coverage, visible
    messages: list = field(default_factory=list)


def _window(points: np.ndarray, margin: float, hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """Integer (x0, y0, x1, y1) around points, grown by margin px, clipped to the image."""
    h, w = hw
    x0, y0 = np.floor(points.min(0) - margin).astype(int)
    x1, y1 = np.ceil(points.max(0) + margin).astype(int)
    return max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)


def _resize(img: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """[h, w, C] -> [H', W', C], antialiased when shrinking."""
    if tuple(img.shape[:2]) == tuple(hw):
        return img
    x = img.permute(2, 0, 1)[None]
    x = F.interpolate(x, size=hw, mode="bilinear", align_corners=False, antialias=True)
    return x[0].permute(1, 2, 0)


def _working_copy(image: torch.Tensor, lm: np.ndarray, box, scale: float):
    """Crop `box` of image, scale it, and map landmarks into it (pixel-edge convention, exact per axis)."""
    x0, y0, x1, y1 = box
    crop = image[y0:y1, x0:x1]
    hw = (max(1, round((y1 - y0) * scale)), max(1, round((x1 - x0) * scale)))
    sx, sy = hw[1] / (x1 - x0), hw[0] / (y1 - y0)
    return _resize(crop, hw), (lm - np.array([x0, y0])) * np.array([sx, sy])


def _lab_np(rgb: torch.Tensor) -> np.ndarray:
    return rgb_to_lab(rgb).cpu().numpy().astype(np.float32)


def transfer_face(
    source: torch.Tensor,
    source_face: dict,
    reference: torch.Tensor,
    reference_face: dict,
    strengths: dict[str, float] | None = None,
    feather: float = 8.0,
    normalize_illumination: bool = True,
    in_place: bool = False,
) -> FaceMakeup:
    """Apply the reference face's makeup to one source face.

    source, reference: [H, W, 3] float 0..1 (any sizes); *_face: core-format face dicts (landmarks_xy in their
    image's pixels); strengths: region -> 0..1 (missing regions use DEFAULT_STRENGTHS); feather: edge softness
    in % of the source inter-ocular distance. Raises ValueError on a malformed strength. in_place: write the
    changed pixels into source (the caller's output copy) instead of a copy of it. NaN/Inf pixels of either
    image are read as 0 (reported); the source's are replaced only where the makeup is applied.
    """
    strengths = {**DEFAULT_STRENGTHS, **(strengths or {})}
    for name, s in strengths.items():
        if name not in color_transfer.RULES:
            raise ValueError(f"FaceLab: unknown makeup region {name!r}; regions are {', '.join(color_transfer.RULES)}")
        if not 0.0 <= float(s) <= 1.0:
            raise ValueError(f"FaceLab: strength of {name} must be between 0 and 1, got {s}")
    active = [r for r in color_transfer.RULES if strengths[r] > 0]
    out = FaceMakeup(source)
    if not active:
        return out

    src_lm = np.asarray(source_face["landmarks_xy"], dtype=np.float64)
    ref_lm = np.asarray(reference_face["landmarks_xy"], dtype=np.float64)
    iod_s, iod_r = inter_ocular_distance(src_lm), inter_ocular_distance(ref_lm)
    box = _window(src_lm[: mesh_warp.N_MESH_POINTS], (ROI_MARGIN + feather / 100.0) * iod_s, source.shape[:2])
    if box[2] - box[0] < 2 or box[3] - box[1] < 2:
        out.messages.append("source face lies outside the image: nothing to do")
        return out
    scale = min(1.0, WORK_IOD_PX / iod_s)
    src_roi = _finite_window(source, box, "source", out.messages)
    src_work, src_lm_w = _working_copy(src_roi, src_lm - np.array(box[:2]), (0, 0, *src_roi.shape[1::-1]), scale)
    work_iod = iod_s * scale
    ref_box = _window(ref_lm[: mesh_warp.N_MESH_POINTS], ROI_MARGIN * iod_r, reference.shape[:2])
    if ref_box[2] - ref_box[0] < 2 or ref_box[3] - ref_box[1] < 2:
        out.messages.append("reference face lies outside the reference image: nothing to do")
        return out
    ref_roi = _finite_window(reference, ref_box, "reference", out.messages)
    ref_lm_roi = ref_lm - np.array(ref_box[:2])
    ref_work, ref_lm_w = _working_copy(ref_roi, ref_lm_roi, (0, 0, *ref_roi.shape[1::-1]), min(1.0, work_iod / iod_r))
    ref_3d = reference_face.get("landmarks_3d")
    ref_3d = None if ref_3d is None else np.asarray(ref_3d, dtype=np.float64)
    warped, valid = mesh_warp.warp_face(ref_work, ref_lm_w, src_lm_w, tuple(src_work.shape[:2]), image_points_3d=ref_3d)

    hw_w = tuple(src_work.shape[:2])
    x0, y0, x1, y1 = box
    hw = (y1 - y0, x1 - x0)
    # Each region's feathered mask is rasterised once, at full resolution; the working copy's hard region is
    # where it is >= 0.5 (zone_masks centres the soft edge on the outline).
    full_masks = {}
    for name in active:
        m = torch.from_numpy(regions.region_mask(src_lm - np.array([x0, y0]), name, hw, feather=feather))
        if bool((m > 0).any()):
            full_masks[name] = m.to(source.device)
    masks = {name: _shrink_mask(m, hw_w) >= 0.5 for name, m in full_masks.items()}
    eyes = masks["eyes"] if "eyes" in masks else None
    skin = regions.bare_skin_mask(src_lm_w, hw_w, eyes_mask=eyes) > 0.5

    src_lab, ref_lab = _lab_np(src_work), _lab_np(warped)
    if not (skin & valid).any():
        out.messages.append("the reference shows none of the source's skin (pose too different): nothing transferred")
        return out
    src_skin, ref_skin = color_transfer.skin_fields(src_lab, ref_lab, skin, valid, work_iod)
    if normalize_illumination:
        ratio = illumination.relight_ratio(src_skin, ref_skin)
        typical = float(np.median(ratio[skin]))
        if not RELIGHT_LIMITS[0] <= typical <= RELIGHT_LIMITS[1]:
            out.messages.append(
                f"reference skin is {'much darker' if typical > 1 else 'much lighter'} than the source's (lighting or skin tone): "
                "colours were relit to the source within limits; check the result"
            )
        ratio = np.clip(ratio, *RELIGHT_LIMITS)
        chroma_ratio = ratio / float(np.median(ratio[skin]))
        ref_lab = illumination.relight(ref_lab, ratio, chroma_ratio)
        ref_skin = illumination.relight(ref_skin, ratio, chroma_ratio)
    if float(np.hypot(ref_skin[skin][:, 1], ref_skin[skin][:, 2]).mean()) < GREY_CHROMA:
        out.messages.append("reference looks black-and-white: its makeup has no colour to transfer")

    feather_work = feather / 100.0 * work_iod
    transfers = {}
    for name in full_masks:
        rt = color_transfer.region_transfer(
            name, src_lab, ref_lab, src_skin, ref_skin, masks[name], valid, work_iod, margin=feather_work / 2 + 2
        )
        if rt is None:
            out.messages.append(
                f"{name}: the reference shows too little of this region (turned away or cropped): skipped"
            )
            continue
        if name in color_transfer.NEEDS_PIGMENT and not color_transfer.is_visible(name, rt.pigment):
            out.messages.append(f"{name}: the reference shows no makeup there (bare skin): left as it is")
            continue
        transfers[name] = rt
        out.regions[name] = _describe_region(name, rt, strengths[name], float(full_masks[name].sum()))
    if not transfers:
        return out
    full_masks = {name: full_masks[name] for name in transfers}

    # Full-resolution application inside the face window, only on pixels some region touches.
    union = torch.stack(list(full_masks.values())).amax(0)
    rows, cols = torch.nonzero(union > 0, as_tuple=True)
    # full-res pixel centres -> working-frame coordinates (pixel-edge convention, as _working_copy maps landmarks)
    u = (cols.to(torch.float32) + 0.5) * (hw_w[1] / hw[1])
    v = (rows.to(torch.float32) + 0.5) * (hw_w[0] / hw[0])
    weights = {name: full_masks[name][rows, cols] * float(strengths[name]) for name in transfers}
    deltas = {}
    for name, rt in transfers.items():  # each region's offset only where its weight is not 0 (0 elsewhere: unused)
        touched = torch.nonzero(weights[name] > 0, as_tuple=True)[0]
        deltas[name] = torch.zeros((len(u), 3), dtype=torch.float32, device=u.device)
        deltas[name][touched] = _sample(rt.delta, rt.box, u[touched], v[touched])
    pixels = src_roi[rows, cols]
    changed = lab_to_rgb(rgb_to_lab(pixels) + color_transfer.combine(deltas, weights)).to(source.dtype)
    image = source if in_place else source.clone()
    image[y0:y1, x0:x1][rows, cols] = changed
    out.image, out.box, out.window_mask = image, box, union
    return out


def _finite_window(image: torch.Tensor, box, what: str, messages: list) -> torch.Tensor:
    """image[y0:y1, x0:x1], with NaN/Inf read as 0 (a copy, reported) so that they cannot spread or crash the fit."""
    x0, y0, x1, y1 = box
    roi = image[y0:y1, x0:x1]
    if all_finite(roi):
        return roi
    bad = int((~torch.isfinite(roi)).any(-1).sum())
    messages.append(f"the {what} face has {bad} NaN/Inf pixels: read as black")
    return torch.nan_to_num(roi, nan=0.0, posinf=1.0, neginf=0.0)


def _shrink_mask(mask: torch.Tensor, hw: tuple[int, int]) -> np.ndarray:
    """Full-resolution [H, W] mask -> working-resolution float (h, w), area-averaged."""
    x = F.interpolate(mask[None, None].float(), size=hw, mode="bilinear", align_corners=False, antialias=True)
    return x[0, 0].cpu().numpy()


def _sample(delta: np.ndarray, box, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Bilinear samples (N, 3) of a working-frame field stored over `box`, at working coordinates (u, v)."""
    bx0, by0, bx1, by1 = box
    grid = torch.stack([2 * (u - bx0) / (bx1 - bx0) - 1, 2 * (v - by0) / (by1 - by0) - 1], dim=-1)
    field = torch.from_numpy(delta).to(u.device).permute(2, 0, 1)[None]
    out = F.grid_sample(field, grid.view(1, 1, -1, 2), mode="bilinear", padding_mode="border", align_corners=False)
    return out[0, :, 0].T


def _describe_region(name: str, rt: color_transfer.RegionTransfer, strength: float, area: float) -> dict:
    lab = [round(float(v), 2) for v in rt.ref_lab]
    info = {
        "hex": describe.lab_to_hex(lab),
        "lab": lab,
        "strength": round(float(strength), 3),
        "area_px": round(area, 1),
        "coverage": round(rt.coverage, 3),
        "visible": color_transfer.is_visible(name, rt.pigment),
        "pigment": round(rt.pigment, 2),
    }
    if name == "lips":
        info["finish"] = describe.lip_finish(rt.ref_lightness)
    return info
