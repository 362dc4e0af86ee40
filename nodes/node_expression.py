"""Expression nodes: find closed eyes / missing smiles and mask them, skip sampling when nothing needs fixing.

Thin V1 wrappers over expression/*.py (pure logic).
"""

from __future__ import annotations

import logging

from . import comfy_adapter, inputs, types
from .base.tensors import as_rgb
from .expression import analyse as analyse_mod
from .expression import expression_check

log = logging.getLogger("FaceLab")


class FaceLabExpressionAnalysis:
    DESCRIPTION = (
        "Finds faces whose eyes are closed (eye aspect ratio, confirmed by MediaPipe's blink blendshape) or that do not "
        "smile, and outputs a soft mask of only the regions to repaint: an ellipse around each closed eye and/or "
        "around the mouth, sized relative to the face. Also says whether anything needs fixing, reports every face, "
        "and gives prompt presets. Feed the mask to Crop Face Region, inpaint, stitch, and route the result through "
        "'Use Edit Only If Needed' so a photo with nothing to fix skips sampling and comes back unchanged."
    )
    CATEGORY = types.category("Expression")
    FUNCTION = "analyse"
    RETURN_TYPES = (types.MASK, "BOOLEAN", "STRING", "STRING", "STRING")
    RETURN_NAMES = ("mask", "needs_fix", "report", "positive_prompt", "negative_prompt")
    OUTPUT_TOOLTIPS = (
        "Soft mask of the regions to repaint (closed eyes, mouths without a smile) of every image; all zero when "
        "nothing needs fixing.",
        "True when at least one face of the batch needs a fix. Connect it to 'Use Edit Only If Needed'.",
        "JSON report per image and face: each eye's EAR, blink value and open/closed decision, the smile level, and "
        "what will be fixed; says so when there is no face.",
        "Positive prompt preset for what needs fixing (e.g. 'open eyes, natural relaxed gaze, detailed iris').",
        "Negative prompt preset for what needs fixing (e.g. 'closed eyes, blinking, squinting').",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": inputs.image(),
                "face_landmarks": inputs.face_landmarks(),
                "fix": (
                    list(expression_check.FIX_CHOICES),
                    {"default": "eyes", "tooltip": "What to look for and fix: closed eyes, a missing smile, or both."},
                ),
                "ear_threshold": (
                    "FLOAT",
                    {
                        "default": expression_check.EAR_THRESHOLD,
                        "min": 0.0,
                        "max": 0.6,
                        "step": 0.01,
                        "tooltip": "An eye whose aspect ratio (lid opening / eye width) is below this may be closed (0.22 as in the classic detector; open eyes measure about 0.19-0.35). Far below it (under 70%) the eye counts as closed outright; between, the blink value must confirm. 0 never calls an eye closed.",
                    },
                ),
                "blink_threshold": (
                    "FLOAT",
                    {
                        "default": expression_check.BLINK_THRESHOLD,
                        "min": 0.0,
                        "max": 1.0,
                        "step": 0.01,
                        "tooltip": "MediaPipe's eyeBlink value (0..1) that confirms a doubtful low aspect ratio as a closed eye; it tells a squint or a downward look (eye open, low ratio) from a blink. 0 trusts the aspect ratio alone.",
                    },
                ),
                "smile_threshold": (
                    "FLOAT",
                    {
                        "default": expression_check.SMILE_THRESHOLD,
                        "min": 0.0,
                        "max": 1.0,
                        "step": 0.01,
                        "tooltip": "A face whose smile level (0 neutral .. 1 broad smile) is below this gets a smile (when fix includes smile). Neutral faces measure about 0.0-0.15, smiles 0.6 and up.",
                    },
                ),
                "eye_dilation": inputs.grow(
                    10.0,
                    -20.0,
                    "Grows each eye region by this % of the eye distance (the region already has room for an open eye).",
                ),
                "mouth_dilation": inputs.grow(
                    10.0,
                    -20.0,
                    "Grows the mouth region by this % of the eye distance (a smile widens the mouth and lifts the corners).",
                ),
                "feather": inputs.feather(),
                "face_index": inputs.face_index(),
            }
        }

    def analyse(
        self,
        image,
        face_landmarks,
        fix,
        ear_threshold,
        blink_threshold,
        smile_threshold,
        eye_dilation,
        mouth_dilation,
        feather,
        face_index,
    ):
        image = as_rgb(image)
        thresholds = expression_check.Thresholds(float(ear_threshold), float(blink_threshold), float(smile_threshold))
        r = analyse_mod.analyse_batch(
            face_landmarks,
            int(image.shape[0]),
            image.shape[1:3],
            fix,
            thresholds,
            float(eye_dilation),
            float(mouth_dilation),
            float(feather),
            int(face_index),
        )
        return (comfy_adapter.to_intermediate(r.mask), r.needs_fix, types.report_json(r.report), r.positive, r.negative)


class FaceLabImageSwitch:
    DESCRIPTION = (
        "Returns the edited image when needs_fix is true, the original otherwise. Both image inputs are evaluated "
        "lazily: ComfyUI only runs the branch that is returned, so when nothing needs fixing the whole edit branch "
        "(crop, KSampler, decode, stitch) is skipped and the original comes back bit-identical."
    )
    CATEGORY = types.category("Expression")
    FUNCTION = "switch"
    RETURN_TYPES = (types.IMAGE, "BOOLEAN")
    RETURN_NAMES = ("image", "edited")
    OUTPUT_TOOLTIPS = (
        "The edited image, or the original unchanged when nothing needed fixing.",
        "True when the edited image was returned.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "needs_fix": (
                    "BOOLEAN",
                    {
                        "default": False,
                        "forceInput": True,
                        "tooltip": "From Expression Analysis (or any yes/no): whether the edit branch should run.",
                    },
                ),
                "original": (
                    types.IMAGE,
                    {"lazy": True, "tooltip": "The unedited image; returned, untouched, when needs_fix is false."},
                ),
                "edited": (
                    types.IMAGE,
                    {
                        "lazy": True,
                        "tooltip": "The result of the edit branch (e.g. Stitch Face Region). Only computed when needs_fix is true.",
                    },
                ),
            }
        }

    def check_lazy_status(self, needs_fix, original=None, edited=None):
        """The one input the switch will return, while it has not been computed yet (ComfyUI passes None)."""
        if needs_fix and edited is None:
            return ["edited"]
        if not needs_fix and original is None:
            return ["original"]
        return []

    def switch(self, needs_fix, original=None, edited=None):
        chosen = edited if needs_fix else original
        if chosen is None:
            raise ValueError(
                f"FaceLab Use Edit Only If Needed: connect the '{'edited' if needs_fix else 'original'}' image"
            )
        if not needs_fix:
            log.info(
                "FaceLab Use Edit Only If Needed: nothing needed fixing, the original is returned (edit branch skipped)"
            )
        return (chosen, bool(needs_fix))


NODE_CLASS_MAPPINGS = {
    "FaceLabExpressionAnalysis": FaceLabExpressionAnalysis,
    "FaceLabImageSwitch": FaceLabImageSwitch,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "FaceLabExpressionAnalysis": "Expression Analysis",
    "FaceLabImageSwitch": "Use Edit Only If Needed",
}
