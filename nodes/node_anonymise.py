"""Anonymisation nodes: plan the face-interior masks, repeat crops for candidates, and pick the least similar
candidate per face with an identity check and a privacy fail-safe.

Thin V1 wrappers over anonymise/*.py (pure logic).
"""

from __future__ import annotations

import logging

from . import comfy_adapter, inputs, types
from .anonymise import anonymise_plan, anonymise_select
from .anonymise.anonymise_plan import AnonymisePlan
from .base.tensors import as_mask, as_rgb
from .compose.plan import StitchPlan, check_plan
from .expression import prompts

log = logging.getLogger("FaceLab")

ORDER_CHOICES = {
    "repeated (all faces, then all faces again)": "repeated",
    "grouped (face 0's candidates, then face 1's, ...)": "grouped",
}


class FaceLabAnonymiseFaces:
    DESCRIPTION = (
        "Plans the anonymisation of every face: outputs the face-interior mask (the face inside its outline, keeping "
        "hairline, ears, hair and background) to inpaint at high denoise, a plan for 'Pick Most Anonymous Candidate', "
        "and prompt presets with optional attributes ('an older man'). Find the faces with Face Landmarks (its default "
        "full_range mode loses no face of a group photo), then crop every face with Crop Face Region."
    )
    CATEGORY = types.category("Anonymise")
    FUNCTION = "plan"
    RETURN_TYPES = (types.MASK, types.ANONYMISE, "INT", "STRING", "STRING", "STRING")
    RETURN_NAMES = ("mask", "anonymise_plan", "face_count", "positive_prompt", "negative_prompt", "report")
    OUTPUT_TOOLTIPS = (
        "The face interiors to repaint, every face of each image (soft edge inside the face outline).",
        "The faces and mask settings; connect it to 'Pick Most Anonymous Candidate'.",
        "How many faces will be anonymised in the whole batch.",
        "Positive prompt preset for a new, natural face (with your attributes first).",
        "Negative prompt preset against deformed faces.",
        "JSON: every face found (box, size, detector score), and notes on faces too small to anonymise reliably.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": inputs.image(),
                "face_landmarks": inputs.face_landmarks(),
                "hairline_margin": (
                    "FLOAT",
                    {
                        "default": anonymise_plan.DEFAULT_MARGIN,
                        "min": 0.0,
                        "max": 50.0,
                        "step": 0.5,
                        "tooltip": "How far the repainted area stays inside the face outline, in % of the eye distance: keeps the hairline, ears and jaw contour so the new face fits the head.",
                    },
                ),
                "feather": inputs.feather(anonymise_plan.DEFAULT_FEATHER, 50.0),
                "attributes": (
                    "STRING",
                    {
                        "default": "",
                        "multiline": False,
                        "tooltip": "Optional words for the new faces, put first in the positive prompt, e.g. 'an older man' or 'a young woman with freckles'.",
                    },
                ),
            }
        }

    def plan(self, image, face_landmarks, hairline_margin, feather, attributes):
        image = as_rgb(image)
        plan = anonymise_plan.make_plan(
            face_landmarks, image.shape[0], image.shape[1:3], float(hairline_margin), float(feather)
        )
        report = anonymise_plan.plan_report(plan)
        log.info("FaceLab Anonymise Faces: %s", report["summary"])
        positive, negative = prompts.anonymise_prompts(attributes)
        return (
            comfy_adapter.to_intermediate(plan.interior_mask()),
            plan,
            report["face_count"],
            positive,
            negative,
            types.report_json(report),
        )


class FaceLabRepeatForCandidates:
    DESCRIPTION = (
        "Repeats the face crops and their masks N times (all crops, then all crops again, as RepeatLatentBatch does), "
        "so one KSampler run renders N candidates per face. Repeat before InpaintModelConditioning: repeating the "
        "latent afterwards would pair crops with the wrong inpaint image when there are several faces."
    )
    CATEGORY = types.category("Anonymise")
    FUNCTION = "repeat"
    RETURN_TYPES = (types.IMAGE, types.MASK)
    RETURN_NAMES = ("crops", "crop_masks")
    OUTPUT_TOOLTIPS = (
        "The crops repeated: N x crops, in 'repeated' order.",
        "The crop masks repeated the same way.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "crops": (types.IMAGE, {"tooltip": "The crops from Crop Face Region."}),
                "crop_masks": (types.MASK, {"tooltip": "The crop masks from Crop Face Region."}),
                "candidates": (
                    "INT",
                    {"default": 4, "min": 1, "max": 64, "tooltip": "How many candidates to render per face."},
                ),
            }
        }

    def repeat(self, crops, crop_masks, candidates):
        crops = as_rgb(crops, "crops")
        masks = as_mask(crop_masks, crops.shape[0], crops.shape[1], crops.shape[2])
        n = int(candidates)
        if n < 1:
            raise ValueError(f"FaceLab Repeat For Candidates: candidates is {n}; render at least 1 candidate per face")
        return (
            comfy_adapter.to_intermediate(crops.repeat(n, 1, 1, 1)),
            comfy_adapter.to_intermediate(masks.repeat(n, 1, 1)),
        )


class FaceLabAnonymiseSelect:
    DESCRIPTION = (
        "For every face, keeps the candidate LEAST like the original person (identity similarity) that still shows a "
        "face at the right place, and stitches all faces back with a feathered edge. The report lists every face: box, "
        "similarity before and after, the candidate chosen, and pass/fail against the threshold; faces that could not "
        "be anonymised are listed and, with blur_failed, pixelated as a privacy fail-safe."
    )
    CATEGORY = types.category("Anonymise")
    FUNCTION = "select"
    RETURN_TYPES = (types.IMAGE, types.MASK, "BOOLEAN", "STRING")
    RETURN_NAMES = ("image", "changed_mask", "all_anonymised", "report")
    OUTPUT_TOOLTIPS = (
        "The photo with every face replaced by its least recognisable candidate (failed faces blurred when asked).",
        "Where the image changed: stitch blend weights and blurred boxes (0 = pixel untouched, bit-identical).",
        "True when every face passed the identity threshold.",
        "JSON report: per face its box, similarity before/after, every candidate's score, the choice, pass/fail; a "
        "list of the faces that failed.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "original": (
                    types.IMAGE,
                    {"tooltip": "The photo that went into Crop Face Region and Anonymise Faces."},
                ),
                "candidates": (
                    types.IMAGE,
                    {"tooltip": "The rendered candidates: N per face crop (decoded KSampler batch), or N full images."},
                ),
                "anonymise_plan": (types.ANONYMISE, {"tooltip": "From Anonymise Faces."}),
                "identity_model": inputs.identity_model(),
                "threshold": inputs.identity_threshold(),
                "candidate_order": (
                    list(ORDER_CHOICES),
                    {
                        "default": "repeated (all faces, then all faces again)",
                        "tooltip": "How the candidates batch is laid out: 'repeated' is what Repeat For Candidates and RepeatLatentBatch make.",
                    },
                ),
                "blur_failed": (
                    "BOOLEAN",
                    {
                        "default": True,
                        "tooltip": "Privacy fail-safe: pixelate the box of every face that could not be anonymised instead of leaving it recognisable.",
                    },
                ),
                "feather": (
                    "FLOAT",
                    {
                        "default": 0.1,
                        "min": 0.0,
                        "max": 1.0,
                        "step": 0.01,
                        "tooltip": "Soft edge of the stitch outside each face mask, as a fraction of the face region's size.",
                    },
                ),
                "color_match": (
                    "BOOLEAN",
                    {
                        "default": True,
                        "tooltip": "Match each new face's colours to the original around the mask, hiding a colour shift.",
                    },
                ),
            },
            "optional": {
                "stitch": (
                    types.STITCH,
                    {
                        "tooltip": "The stitch output of Crop Face Region when the candidates are face crops. Leave empty when they are full images."
                    },
                ),
            },
        }

    def select(
        self,
        original,
        candidates,
        anonymise_plan,
        identity_model,
        threshold,
        candidate_order,
        blur_failed,
        feather,
        color_match,
        stitch=None,
    ):
        if not isinstance(anonymise_plan, AnonymisePlan):
            raise ValueError(
                f"FaceLab {anonymise_select.NODE}: expected the anonymise_plan output of 'Anonymise Faces', got {type(anonymise_plan).__name__}"
            )
        plan = None if stitch is None else check_plan(stitch, StitchPlan, anonymise_select.NODE, "Crop Face Region")
        order = inputs.choice(ORDER_CHOICES, candidate_order, "candidate_order")
        settings = anonymise_select.Settings(
            float(threshold), order, bool(blur_failed), float(feather), bool(color_match)
        )
        device = comfy_adapter.get_torch_device()
        image, changed, passed, report = anonymise_select.anonymise(
            as_rgb(original, "original").to(device),
            as_rgb(candidates, "candidates").to(device),
            anonymise_plan,
            plan,
            identity_model,
            settings,
        )
        log.info("FaceLab %s: %s", anonymise_select.NODE, report["summary"])
        return (
            comfy_adapter.to_intermediate(image),
            comfy_adapter.to_intermediate(changed),
            bool(passed),
            types.report_json(report),
        )


NODE_CLASS_MAPPINGS = {
    "FaceLabAnonymiseFaces": FaceLabAnonymiseFaces,
    "FaceLabRepeatForCandidates": FaceLabRepeatForCandidates,
    "FaceLabAnonymiseSelect": FaceLabAnonymiseSelect,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "FaceLabAnonymiseFaces": "Anonymise Faces",
    "FaceLabRepeatForCandidates": "Repeat For Candidates",
    "FaceLabAnonymiseSelect": "Pick Most Anonymous Candidate",
}
