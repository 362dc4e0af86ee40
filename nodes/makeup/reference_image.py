"""The reference branch's image and per-token strength for Makeup Reference Attention (pure torch/numpy).

For each source image of a FACELAB_MAKEUP encoding: the reference face warped onto the source face at full
resolution (the prior's own warp runs at a small working size: liner and lashes need the full one), pasted into
the makeup prior where the warp is valid, and the strength map max_r(strength_r x region_r) over the makeup regions
(soft edges, as the prior's masks), zero where the warp has no reference pixel. An image without a transferred
face gives the prior itself and an all-zero map: the patch leaves it alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..face.zone_masks import inter_ocular_distance
from . import mesh_warp, regions
from .encoding import ImageReference
from .transfer import ROI_MARGIN, _resize, _window

# attention region -> makeup region of regions.py ("skin" is the foundation region)
REGIONS = {"lips": "lips", "eyes": "eyes", "blush": "blush", "brows": "brows", "skin": "foundation"}
DEFAULT_REGION_STRENGTHS = {"lips": 1.0, "eyes": 1.0, "blush": 0.7, "brows": 0.5, "skin": 0.0}
SMALL_REFERENCE = 0.5  # reference face below this fraction of the source face size: upsampled, detail is soft


@dataclass
class ReferenceImage:
    image: torch.Tensor  # [H, W, 3] the prior with the warped reference face inside the valid warp
    weight: torch.Tensor  # [H, W] float32 0..1 per-pixel reference-attention strength
    notes: list[str] = field(default_factory=list)


def _warp_pair(src_face: dict, ref_face: dict, reference: torch.Tensor, hw: tuple[int, int], notes: list[str]):
    """(box, warped [h, w, 3], valid [h, w] bool) of the reference face on the source face's window."""
    src_lm = np.asarray(src_face["landmarks_xy"], dtype=np.float64)
    ref_lm = np.asarray(ref_face["landmarks_xy"], dtype=np.float64)
    iod_s, iod_r = inter_ocular_distance(src_lm), inter_ocular_distance(ref_lm)
    if iod_r < SMALL_REFERENCE * iod_s:
        notes.append(
            f"the reference face is {iod_s / iod_r:.1f}x smaller than the source face: it is upsampled, so "
            "fine detail (liner, lashes, shimmer) comes out soft; use a closer or larger reference photo"
        )
    box = _window(src_lm[: mesh_warp.N_MESH_POINTS], ROI_MARGIN * iod_s, hw)
    ref_box = _window(ref_lm[: mesh_warp.N_MESH_POINTS], ROI_MARGIN * iod_r, tuple(reference.shape[:2]))
    if min(box[2] - box[0], box[3] - box[1], ref_box[2] - ref_box[0], ref_box[3] - ref_box[1]) < 2:
        notes.append("a face lies outside its image: skipped")
        return None
    # the reference window at the source face's scale (so the warp samples about one reference pixel per pixel)
    x0, y0, x1, y1 = ref_box
    scale = iod_s / iod_r
    size = (max(1, round((y1 - y0) * scale)), max(1, round((x1 - x0) * scale)))
    ref_work = _resize(reference[y0:y1, x0:x1].float(), size)
    ref_lm_w = (ref_lm - [x0, y0]) * [size[1] / (x1 - x0), size[0] / (y1 - y0)]
    ref_3d = ref_face.get("landmarks_3d")
    ref_3d = None if ref_3d is None else np.asarray(ref_3d, dtype=np.float64)
    bw, bh = box[2] - box[0], box[3] - box[1]
    warped, valid = mesh_warp.warp_face(ref_work, ref_lm_w, src_lm - [box[0], box[1]], (bh, bw), image_points_3d=ref_3d)
    return box, warped, valid


def reference_image(entry: ImageReference, strengths: dict[str, float], feather: float = 8.0) -> ReferenceImage:
    """The reference branch's image and strength map for one source image (see the module docstring)."""
    prior = entry.prior
    hw = tuple(prior.shape[:2])
    image = prior.clone()
    weight = torch.zeros(hw, dtype=torch.float32, device=prior.device)
    out = ReferenceImage(image, weight)
    active = {r: float(s) for r, s in strengths.items() if float(s) > 0}
    if not entry.faces:
        out.notes.append(
            "no face was transferred on this image (no usable reference or source face): "
            "reference attention leaves it alone"
        )
        return out
    if not active:
        return out
    for src_face, ref_face in entry.faces:
        warp = _warp_pair(src_face, ref_face, entry.reference.to(prior.device), hw, out.notes)
        if warp is None:
            continue
        (x0, y0, x1, y1), warped, valid = warp
        valid_t = torch.from_numpy(np.asarray(valid)).to(prior.device)
        window = image[y0:y1, x0:x1]
        window[valid_t] = warped.to(prior.device, prior.dtype)[valid_t]
        src_lm = np.asarray(src_face["landmarks_xy"], dtype=np.float64) - [x0, y0]
        face_weight = torch.zeros((y1 - y0, x1 - x0), dtype=torch.float32, device=prior.device)
        for name, s in active.items():
            m = torch.from_numpy(regions.region_mask(src_lm, REGIONS[name], (y1 - y0, x1 - x0), feather=feather))
            face_weight = torch.maximum(face_weight, m.to(prior.device) * s)
        face_weight = face_weight * valid_t  # no reference pixel there: nothing to attend to
        weight[y0:y1, x0:x1] = torch.maximum(weight[y0:y1, x0:x1], face_weight)
    if not bool((weight > 0).any()):
        out.notes.append("the makeup regions got no reference pixels (pose too different): left alone")
    return out
