"""Expression Analysis over an image batch: per face decisions, the mask of regions to fix, the report.

Everything the Expression Analysis node returns is built here; the node only converts inputs and outputs.
Faces are taken in the landmarks' own order and selected by face_index (face_landmarks.indexed_faces).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from ..base.numbers import finite
from ..face import face_landmarks as fl
from . import expression_check, expression_masks, prompts

log = logging.getLogger("FaceLab")


@dataclass
class ExpressionResult:
    mask: torch.Tensor  # [B, H, W]
    needs_fix: bool
    report: dict  # JSON-ready
    positive: str
    negative: str


def analyse_batch(
    face_landmarks,
    batch_size: int,
    image_hw,
    fix: str,
    thresholds: expression_check.Thresholds,
    eye_dilation: float,
    mouth_dilation: float,
    feather: float,
    face_index: int = -1,
) -> ExpressionResult:
    """Assess every selected face of every image; mask the regions that need a fix."""
    expression_check.wants(fix)  # a bad 'fix' fails before any work
    lms = fl.fit_landmarks_to_image(face_landmarks, image_hw, batch_size, "Expression Analysis")
    h, w = int(image_hw[0]), int(image_hw[1])
    images, to_mask = [], []
    for i in range(int(batch_size)):
        assessed = [
            (k, f, expression_check.assess_face(f, thresholds, fix)) for k, f in fl.indexed_faces(lms, i, face_index)
        ]
        images.append({"image": i, "faces": [{"face": k, **a} for k, _, a in assessed]})
        to_mask.append([(f, a["fix"]) for _, f, a in assessed if a["fix"]])
    dilation = {"eye": finite(eye_dilation, "eye_dilation"), "mouth": finite(mouth_dilation, "mouth_dilation")}
    mask = expression_masks.fix_regions_mask(to_mask, (h, w), dilation, finite(feather, "feather"))
    regions = {r for faces in to_mask for _, rs in faces for r in rs}
    eyes, smile = any(r.startswith("eye") for r in regions), "mouth" in regions
    if not regions:
        eyes, smile = expression_check.wants(fix)
    positive, negative = prompts.expression_prompts(eyes, smile)
    n_faces = sum(len(im["faces"]) for im in images)
    n_fix = sum(len(f) for f in to_mask)
    if n_faces == 0:
        summary = "no face found: nothing to fix, the image passes through unchanged"
    elif n_fix:
        summary = f"{n_fix} of {n_faces} face(s) need a fix ({', '.join(sorted(regions))})"
    else:
        summary = f"nothing to fix in {n_faces} face(s)"
    log.info("FaceLab Expression Analysis: %s", summary)
    t = thresholds
    report = {
        "summary": summary, "needs_fix": n_fix > 0, "fix": fix, "face_index": int(face_index),
        "thresholds": {"ear": t.ear, "blink": t.blink, "smile": t.smile,
                       "ear_closed_outright_below": round(expression_check.UNAMBIGUOUS_EAR_FRACTION * t.ear, 4)},
        "images": images,
    }  # fmt: skip
    return ExpressionResult(mask, n_fix > 0, report, positive, negative)
