"""Makeup transfer over IMAGE batches: face selection, reference checks, per-face transfer, report.

Everything the node returns is built here; the node only converts inputs and outputs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from .. import comfy_adapter
from ..base.tensors import lazy_zeros, output_copy
from ..face import face_landmarks as fl
from . import describe, reference_check, transfer
from .encoding import ImageReference, MakeupEncoding

log = logging.getLogger("FaceLab")

MAKEUP_FORMAT = "facelab.makeup/1"


@dataclass
class MakeupBatch:
    image: torch.Tensor  # [B, H, W, 3]
    mask: torch.Tensor  # [B, H, W]
    makeup: dict  # FACELAB_MAKEUP (JSON-serialisable)
    prompt: str
    report: str


def _landmarks_or_detect(images: torch.Tensor, landmarks: dict | None, what: str) -> dict:
    if landmarks is None:
        from ..face import detection

        return detection.detect(images, mode="full_range", order="left_to_right")
    try:  # landmarks of a resized copy are scaled to this image; another framing is refused
        return fl.fit_landmarks_to_image(landmarks, images.shape[1:3], images.shape[0], "Makeup Transfer")
    except ValueError as e:
        raise ValueError(f"{e}; check the {what} landmarks") from None


def _reference_for(reference: torch.Tensor, b: int) -> int:
    return b if reference.shape[0] > 1 else 0


def transfer_batch(
    source: torch.Tensor,
    reference: torch.Tensor,
    source_landmarks: dict | None = None,
    reference_landmarks: dict | None = None,
    face_index: int = -1,
    reference_face_index: int = 0,
    strengths: dict[str, float] | None = None,
    feather: float = 8.0,
    normalize_illumination: bool = True,
) -> MakeupBatch:
    """Makeup prior for every selected face of every source image.

    source [B, H, W, 3], reference [1 or B, h, w, 3] (float 0..1). face_index -1 = every source face, else
    that face in the landmarks' order; reference_face_index picks the reference face the same way. One source
    with R references gives R results (one look each). A source image without a usable face or without a
    usable reference face passes through unchanged (reported).
    """
    looks = source.shape[0] == 1 and reference.shape[0] > 1
    if reference.shape[0] not in (1, source.shape[0]) and not looks:
        raise ValueError(
            f"FaceLab: {reference.shape[0]} reference images for {source.shape[0]} source images; "
            "give one reference (used for every image) or one per source image"
        )
    if reference_face_index < 0:
        raise ValueError(
            "FaceLab: reference_face_index must be 0 or more (faces of the reference, in its landmarks' order)"
        )
    src_lm = _landmarks_or_detect(source, source_landmarks, "source")
    ref_lm = _landmarks_or_detect(reference, reference_landmarks, "reference")
    if looks:  # one source, several looks: one frame of source landmarks applies to every copy
        source = source.expand(reference.shape[0], -1, -1, -1)

    images = output_copy(source)  # the one full-size copy: each face is written into it in place
    masks = lazy_zeros(source.shape[:3], source.device)  # only the face windows are written
    lines, faces_out, refs = [], [], []
    summary: dict[str, dict] = {}
    bar = comfy_adapter.progress_bar(source.shape[0])
    for b in range(source.shape[0]):
        comfy_adapter.check_interrupt()
        image, mask = images[b], masks[b]
        rb = _reference_for(reference, b)
        ref_faces = fl.frame_faces(ref_lm, rb)
        ref_face = ref_faces[reference_face_index] if reference_face_index < len(ref_faces) else None
        ref_ok, ref_msgs = reference_check.check_face(ref_face, "reference")
        if ref_face is None and ref_faces:
            ref_msgs = [
                f"the reference has {len(ref_faces)} face(s); reference_face_index {reference_face_index} does not exist"
            ]
        src_faces = fl.chosen_faces(src_lm, b, face_index)
        pairs = []
        prefix = f"image {b + 1}"
        lines.extend(f"{prefix}: {m}" for m in ref_msgs)
        if not ref_ok:
            lines.append(f"{prefix}: passed through unchanged (no usable reference face)")
        elif not src_faces:
            lines.append(
                f"{prefix}: no source face{'' if face_index < 0 else f' at index {face_index}'}: passed through unchanged"
            )
        else:
            for i, face in enumerate(src_faces):
                label = f"{prefix}, face {i + 1 if face_index < 0 else face_index + 1}"
                ok, msgs = reference_check.check_face(face, "source")
                gap = reference_check.pose_gap_message(face, ref_face)
                lines.extend(f"{label}: {m}" for m in msgs + ([gap] if gap else []))
                if not ok:
                    lines.append(f"{label}: skipped")
                    continue
                result = transfer.transfer_face(
                    image, face, reference[rb], ref_face, strengths, feather, normalize_illumination, in_place=True
                )
                if result.box is not None:
                    x0, y0, x1, y1 = result.box
                    torch.maximum(mask[y0:y1, x0:x1], result.window_mask, out=mask[y0:y1, x0:x1])
                pairs.append((face, ref_face))
                lines.extend(f"{label}: {m}" for m in result.messages)
                done = ", ".join(f"{k} {v['hex']} ({v['coverage']:.0%} seen)" for k, v in result.regions.items())
                lines.append(f"{label}: applied {done or 'nothing (all strengths 0)'}")
                faces_out.append(
                    {"image": b, "face": i if face_index < 0 else int(face_index), "regions": result.regions}
                )
                for name, info in result.regions.items():
                    if name not in summary:
                        summary[name] = dict(info)
                    else:
                        summary[name]["area_px"] = round(summary[name]["area_px"] + info["area_px"], 1)
        refs.append(ImageReference(image, reference[rb], pairs))
        bar.update_absolute(b + 1)

    prompt = describe.prompt_fragment(summary)
    makeup = MakeupEncoding(
        {
            "format": MAKEUP_FORMAT,
            "regions": summary,
            "faces": faces_out,
            "prompt": prompt,
            "feather": float(feather),
            "lighting_normalized": bool(normalize_illumination),
        },
        refs,
    )
    report = "\n".join(lines) if lines else "nothing to do"
    for line in lines:
        log.info("FaceLab makeup: %s", line)
    return MakeupBatch(images, masks, makeup, prompt, report)
