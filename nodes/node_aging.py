"""Aging nodes: per-zone scores, regional aging conditioning (one sampling pass), wrinkle score and comparison."""

from __future__ import annotations

import json
import logging

import numpy as np
import torch

from . import comfy_adapter, inputs, types
from .aging import prompts, regional_conditioning, wrinkle_score, zone_scores
from .base.tensors import as_rgb

log = logging.getLogger("FaceLab")

_SCORE_WIDGET = {"default": 0.0, "min": -1.0, "max": 1.0, "step": 0.05}
_ZONE_TIPS = {
    "forehead": "horizontal forehead lines",
    "glabella": "frown lines between the eyebrows",
    "crows_feet": "crow's feet at the outer eye corners (both sides)",
    "under_eye": "lines and bags under the eyes (both sides)",
    "inter_ocular": "lines on the nose bridge between the eyes",
    "nasolabial": "the folds from the nose to the mouth corners (both sides)",
    "marionette": "lines down from the mouth corners (both sides)",
    "upper_lip": "vertical lines above the upper lip",
    "chin": "creases of the chin",
    "cheeks": "cheek skin (both sides)",
    "jawline": "sagging along the jawline",
}


def _zone_choices() -> list[str]:
    """'mean', the scored groups, then single sides ("crows_feet_left")."""
    scored = wrinkle_score.wrinkle_zones()
    groups = [g for g in zone_scores.AGING_GROUPS if set(zone_scores.group_zones(g)) <= set(scored)]
    return ["mean", *groups, *(z for z in scored if z not in groups)]


def _rgb(image: torch.Tensor, what: str = "image") -> np.ndarray:
    """IMAGE [B,H,W,C] (C = 1, 3 or 4) -> writable float32 numpy [B,H,W,3]."""
    return np.ascontiguousarray(as_rgb(image, what).detach().cpu().numpy())


class FaceLabZoneScores:
    DESCRIPTION = (
        "Sets how much each face zone should age or rejuvenate, from -1 (smoother / younger) through 0 (untouched) "
        "to +1 (more lines / older). Pick a preset and fine-tune it: the sliders are added to the preset's values "
        "(with preset 'custom' they are the values). Feed the result to Aging Zone Conditioning."
    )
    CATEGORY = types.category("Aging")
    FUNCTION = "build"
    RETURN_TYPES = (types.ZONE_SCORES, "STRING")
    RETURN_NAMES = ("zone_scores", "scores_json")
    OUTPUT_TOOLTIPS = (
        "Per-zone scores for Aging Zone Conditioning (one value per zone and side).",
        "The same scores as JSON text, to read or save.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        required = {
            "preset": (
                list(zone_scores.PRESETS),
                {
                    "default": zone_scores.CUSTOM,
                    "tooltip": (
                        "Starting values. 'custom' uses the sliders alone; any other preset adds the sliders to its values "
                        "(see the docs for each preset's values)."
                    ),
                },
            ),
            "preset_strength": (
                "FLOAT",
                {
                    "default": 1.0,
                    "min": 0.0,
                    "max": 2.0,
                    "step": 0.05,
                    "tooltip": ("Multiplies the preset's values before the sliders are added (0.5 = half the effect)."),
                },
            ),
        }
        for group in zone_scores.AGING_GROUPS:
            required[group] = (
                "FLOAT",
                {
                    **_SCORE_WIDGET,
                    "tooltip": (
                        f"{_ZONE_TIPS[group].capitalize()}: -1 smoother/younger, 0 untouched, +1 more lines/older "
                        "(added to the preset's value)."
                    ),
                },
            )
        return {
            "required": required,
            "optional": {
                "side_overrides": (
                    "STRING",
                    {
                        "default": "",
                        "tooltip": (
                            "Exact values for single sides, replacing the above, e.g. 'crows_feet_left=0.4, "
                            "nasolabial_right=-0.2'. Left/right are the person's own sides."
                        ),
                    },
                ),
            },
        }

    @classmethod
    def VALIDATE_INPUTS(cls, side_overrides=None):
        return inputs.first_error(("side_overrides", zone_scores.parse_overrides, side_overrides))

    def build(self, preset, preset_strength, side_overrides="", **group_values):
        scores = zone_scores.build_scores(preset, group_values, preset_strength, side_overrides or "")
        return (scores, zone_scores.to_json(scores))


class FaceLabAgingConditioning:
    DESCRIPTION = (
        "Ages or rejuvenates each face zone in ONE sampling pass: the base prompt for the whole image plus, for every "
        "zone with a non-zero score, a regional prompt limited to that zone (as core Conditioning (Set Mask) + "
        "Conditioning (Combine) would build). Also outputs a per-pixel denoise mask that grows with each zone's score: "
        "use it with Differential Diffusion and InpaintModelConditioning. Zones are grouped into at most one 'older' "
        "and one 'younger' regional prompt, and the sampler only runs the steps where some pixel may change: wire "
        "steps and denoise to the KSampler and noise_mask to Set Latent Noise Mask (see docs/aging.md)."
    )
    CATEGORY = types.category("Aging")
    FUNCTION = "build"
    RETURN_TYPES = ("CONDITIONING", "CONDITIONING", "MASK", "STRING", "MASK", "INT", "FLOAT", "BOOLEAN")
    RETURN_NAMES = (
        "positive",
        "negative",
        "denoise_mask",
        "prompts_json",
        "noise_mask",
        "steps",
        "denoise",
        "needs_sampling",
    )
    OUTPUT_TOOLTIPS = (
        "Base positive prompt plus at most one masked 'older' and one masked 'younger' regional prompt.",
        "Base negative prompt plus the matching masked regional negatives (what the changed zones should avoid).",
        "Per-pixel denoise strength: 0 outside the changed zones, up to max_denoise in a zone scored +-1 "
        "(for InpaintModelConditioning's mask, with noise_mask off).",
        "The prompts, scores, denoise strengths and sampling plan, as JSON.",
        "The denoise mask rescaled for the shortened run (for Set Latent Noise Mask, with Differential Diffusion).",
        "Steps for the KSampler: only the tail of the full schedule where some pixel may change.",
        "Denoise for the KSampler: makes it run that tail of the full schedule (about the highest zone strength).",
        "False when nothing would change (all scores 0, no face): feed a switch so the sampling branch is skipped.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        def text(default, tip, multiline=False):
            return ("STRING", {"default": default, "multiline": multiline, "tooltip": tip})

        return {
            "required": {
                "clip": ("CLIP", {"tooltip": "The CLIP of your SDXL (inpainting) checkpoint, to encode the prompts."}),
                "image": inputs.image(),
                "face_landmarks": inputs.face_landmarks(),
                "zone_scores": (types.ZONE_SCORES, {"tooltip": "Per-zone scores from Aging Zone Scores."}),
                "positive": text(
                    "a photo of a person, natural skin texture, detailed skin pores",
                    ("What the whole picture shows; each zone prompt starts with it."),
                    True,
                ),
                "negative": text(
                    "blurry, plastic skin, painting, cartoon, deformed", "What to avoid everywhere.", True
                ),
                "face_index": inputs.face_index(),
                "feather": inputs.feather(),
                "max_denoise": (
                    "FLOAT",
                    {
                        "default": 0.32,
                        "min": 0.0,
                        "max": 1.0,
                        "step": 0.01,
                        "tooltip": (
                            "Denoise strength of a zone scored +-1; a zone gets |score| x this. 0.18-0.32 suits wrinkle "
                            "reduction; adding age needs more."
                        ),
                    },
                ),
                "regional_strength": (
                    "FLOAT",
                    {
                        "default": 1.0,
                        "min": 0.0,
                        "max": 10.0,
                        "step": 0.05,
                        "tooltip": (
                            "Weight of the zone prompts against the base prompt inside their zones (core's mask strength)."
                        ),
                    },
                ),
            },
            "optional": {
                "older_template": text(
                    prompts.OLDER_TEMPLATE,
                    (
                        "Positive prompt of a zone scored above 0. Placeholders: {prompt} {area} {feature} {amount} {weight}."
                    ),
                ),
                "younger_template": text(
                    prompts.YOUNGER_TEMPLATE,
                    (
                        "Positive prompt of a zone scored below 0. Placeholders: {prompt} {area} {feature} {amount} {weight}."
                    ),
                ),
                "older_negative_template": text(
                    prompts.OLDER_NEGATIVE_TEMPLATE,
                    (
                        "Regional negative of an aged zone ({negative} {area} {feature} {amount} {weight}); empty = none."
                    ),
                ),
                "younger_negative_template": text(
                    prompts.YOUNGER_NEGATIVE_TEMPLATE,
                    (
                        "Regional negative of a rejuvenated zone ({negative} {area} {feature} {amount} {weight}); empty = none."
                    ),
                ),
                "zone_phrases": text(
                    prompts.DEFAULT_ZONE_PHRASES,
                    ("One line per zone: 'zone: area in words | what ages there'. Missing zones use the defaults."),
                    True,
                ),
                "steps": (
                    "INT",
                    {
                        "default": 24,
                        "min": 1,
                        "max": 10000,
                        "tooltip": (
                            "Steps of a full-strength run with your KSampler; the steps output is the part of them that "
                            "can change a pixel."
                        ),
                    },
                ),
                "scheduler": (
                    comfy_adapter.scheduler_names(),
                    {
                        "default": "karras",
                        "tooltip": (
                            "The scheduler your KSampler uses (the shortened run keeps that schedule's own steps)."
                        ),
                    },
                ),
                "visible_skin": (
                    "BOOLEAN",
                    {
                        "default": False,
                        "tooltip": (
                            "Limit the zones to each face's own visible skin, as Face Zone Mask does: hair over the "
                            "forehead or temples, brows, glasses and background are not repainted (the shipped "
                            "workflows turn it on). Off = the zones' geometry only, as in saved workflows."
                        ),
                    },
                ),
            },
        }

    @classmethod
    def VALIDATE_INPUTS(
        cls,
        older_template=None,
        younger_template=None,
        older_negative_template=None,
        younger_negative_template=None,
        zone_phrases=None,
    ):
        def template(allowed, what):
            return lambda text: prompts.check_template(text, allowed, what)

        return inputs.first_error(
            ("older_template", template(prompts.PLACEHOLDERS_POSITIVE, "older"), older_template),
            ("younger_template", template(prompts.PLACEHOLDERS_POSITIVE, "younger"), younger_template),
            (
                "older_negative_template",
                template(prompts.PLACEHOLDERS_NEGATIVE, "older negative"),
                older_negative_template,
            ),
            (
                "younger_negative_template",
                template(prompts.PLACEHOLDERS_NEGATIVE, "younger negative"),
                younger_negative_template,
            ),
            ("zone_phrases", prompts.parse_zone_phrases, zone_phrases),
        )

    def build(
        self,
        clip,
        image,
        face_landmarks,
        zone_scores,
        positive,
        negative,
        face_index,
        feather,
        max_denoise,
        regional_strength,
        older_template=None,
        younger_template=None,
        older_negative_template=None,
        younger_negative_template=None,
        zone_phrases=None,
        steps=24,
        scheduler="karras",
        visible_skin=False,
    ):
        rgb = as_rgb(image) if visible_skin else None
        pos, neg, mask, noise_mask, report = regional_conditioning.build_aging_conditioning(
            clip,
            (image.shape[0], image.shape[1], image.shape[2]),
            face_landmarks,
            zone_scores,
            positive,
            negative,
            face_index=face_index,
            feather=feather,
            max_denoise=max_denoise,
            regional_strength=regional_strength,
            older_template=prompts.OLDER_TEMPLATE if older_template is None else older_template,
            younger_template=prompts.YOUNGER_TEMPLATE if younger_template is None else younger_template,
            zone_phrases=prompts.DEFAULT_ZONE_PHRASES if zone_phrases is None else zone_phrases,
            older_negative_template=prompts.OLDER_NEGATIVE_TEMPLATE
            if older_negative_template is None
            else older_negative_template,
            younger_negative_template=prompts.YOUNGER_NEGATIVE_TEMPLATE
            if younger_negative_template is None
            else younger_negative_template,
            steps=steps,
            scheduler=scheduler,
            image=rgb,
        )
        plan = report["sampling"]
        return (
            pos,
            neg,
            comfy_adapter.to_intermediate(mask),
            json.dumps(report, indent=2),
            comfy_adapter.to_intermediate(noise_mask),
            max(plan["steps"], 1),
            plan["denoise"],
            plan["needs_sampling"],
        )


class FaceLabWrinkleScore:
    DESCRIPTION = (
        "Measures wrinkle severity per face zone from the photo itself (thin lines darker than the skin on both "
        "sides, at scales relative to the face size, averaged over each zone's visible skin: hair, brows, glasses, "
        "beard, the face contour and the far side of a turned face do not count; broad folds are reported apart, and "
        "a smile's folds are left out of the mean), and paints them as a heat map. Use it to see where "
        "lines are, to set targets ('30% smoother') and, with Wrinkle Compare, to check an edit."
    )
    CATEGORY = types.category("Aging")
    FUNCTION = "score"
    RETURN_TYPES = ("STRING", "FLOAT", types.IMAGE)
    RETURN_NAMES = ("scores_json", "score", "heatmap")
    OUTPUT_TOOLTIPS = (
        "Score per zone as JSON {zone: score} (a list, one per image, for a batch). 0 = smooth; higher = more fine "
        "lines; null = too little visible skin to measure. Also 'fold_depth' per zone (broad folds, not in the score) "
        "and 'expression' (the smile's strength and the zones it folds, left out of 'mean').",
        "The score of the chosen zone (mean over the batch images with a face; 0 when there is no face).",
        "The photo with the valley response coloured over the scored zones (dark = smooth, bright = lines).",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": inputs.image("The photo to measure."),
                "face_landmarks": inputs.face_landmarks(),
                "face_index": inputs.one_face_index(),
                "zone": (
                    _zone_choices(),
                    {
                        "default": "mean",
                        "tooltip": (
                            "Zone whose score goes to the 'score' output; a group averages its sides, 'mean' averages "
                            "all measured zones except those a smile folds."
                        ),
                    },
                ),
            }
        }

    def score(self, image, face_landmarks, face_index, zone):
        rgb = _rgb(image)
        report, value, heat = wrinkle_score.score_batch(rgb, face_landmarks, face_index, zone)
        out = comfy_adapter.to_intermediate(torch.from_numpy(heat if heat is not None else rgb))  # always 3 channels
        return (json.dumps(report, indent=2), value, out)


class FaceLabWrinkleCompare:
    DESCRIPTION = (
        "Compares the wrinkle score of each zone before and after an edit, with the same landmarks for both, and "
        "optionally checks a goal such as 'make the zones 30% smoother' (target = before x 0.7)."
    )
    CATEGORY = types.category("Aging")
    FUNCTION = "compare"
    RETURN_TYPES = ("STRING", "FLOAT")
    RETURN_NAMES = ("report_json", "change_percent")
    OUTPUT_TOOLTIPS = (
        "Per zone: before, after, change (score points), change_pct (negative = smoother; relative to the larger of "
        "'before' and 5, so a zone that starts near zero cannot report thousands of percent) and, with a target, "
        "whether it was reached.",
        "Change of the chosen zone's score in percent, relative to the larger of 'before' and 5 (negative = "
        "smoother); 0 when there is no face.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "before": (types.IMAGE, {"tooltip": "The original photo."}),
                "after": (types.IMAGE, {"tooltip": "The edited photo (same size and framing as the original)."}),
                "face_landmarks": inputs.face_landmarks("the original photo (used for both)"),
                "face_index": inputs.one_face_index(),
                "zone": (
                    _zone_choices(),
                    {"default": "mean", "tooltip": "Zone whose change goes to the 'change_percent' output."},
                ),
                "target_reduction": (
                    "FLOAT",
                    {
                        "default": 0.0,
                        "min": -100.0,
                        "max": 100.0,
                        "step": 5.0,
                        "tooltip": (
                            "Goal in percent: 30 = each zone 30% smoother than before, -20 = 20% more lines; 0 = no goal."
                        ),
                    },
                ),
            }
        }

    def compare(self, before, after, face_landmarks, face_index, zone, target_reduction):
        report, change = wrinkle_score.compare_batch(
            _rgb(before, "before"), _rgb(after, "after"), face_landmarks, face_index, zone, target_reduction
        )
        return (json.dumps(report, indent=2), change)


NODE_CLASS_MAPPINGS = {
    "FaceLabZoneScores": FaceLabZoneScores,
    "FaceLabAgingConditioning": FaceLabAgingConditioning,
    "FaceLabWrinkleScore": FaceLabWrinkleScore,
    "FaceLabWrinkleCompare": FaceLabWrinkleCompare,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "FaceLabZoneScores": "Aging Zone Scores",
    "FaceLabAgingConditioning": "Aging Zone Conditioning",
    "FaceLabWrinkleScore": "Wrinkle Score",
    "FaceLabWrinkleCompare": "Wrinkle Compare",
}
