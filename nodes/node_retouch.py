"""Retouch nodes: Smooth Wrinkles (prior), the deterministic line removal that SDXL then refines."""

from __future__ import annotations

import json
import logging

import numpy as np
import torch

from . import comfy_adapter, inputs, types
from .aging import retouch_prior
from .base.tensors import as_rgb
from .face import face_landmarks as fl

log = logging.getLogger("FaceLab")


class FaceLabSmoothWrinkles:
    DESCRIPTION = (
        "Removes the thin dark lines that Wrinkle Score measures, zone by zone, without sampling: frequency separation "
        "at the face's own scale, guided by the valley map, fills each line from the skin around it while pores and "
        "the face's shading stay. Zones scored below 0 in Aging Zone Scores are smoothed by |score|; pixels outside "
        "them are returned bit for bit. Feed the result to a low-denoise SDXL pass to restore natural texture."
    )
    CATEGORY = types.category("Aging")
    FUNCTION = "smooth"
    RETURN_TYPES = (types.IMAGE, types.MASK, "STRING")
    RETURN_NAMES = ("image", "mask", "report")
    OUTPUT_TOOLTIPS = (
        "The photo with the lines of the chosen zones filled (identical outside the mask).",
        "Where and how strongly the prior acted (0 = pixel untouched).",
        "Per image and face: zones and strengths used, zones skipped, faces declined (too small), as JSON.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": inputs.image(),
                "face_landmarks": inputs.face_landmarks(),
                "zone_scores": (
                    types.ZONE_SCORES,
                    {
                        "tooltip": (
                            "Per-zone scores from Aging Zone Scores: a zone scored -1 is smoothed fully, -0.5 half; zones "
                            "scored 0 or above are left alone."
                        )
                    },
                ),
                "face_index": inputs.face_index(),
                "strength": (
                    "FLOAT",
                    {
                        "default": 1.0,
                        "min": 0.0,
                        "max": 2.0,
                        "step": 0.05,
                        "tooltip": ("Multiplies every zone's |score| (capped at a full fill)."),
                    },
                ),
            }
        }

    def smooth(self, image, face_landmarks, zone_scores, face_index, strength):
        rgb = np.ascontiguousarray(as_rgb(image).detach().cpu().numpy(), dtype=np.float32)
        face_landmarks = fl.fit_landmarks_to_image(face_landmarks, rgb.shape[1:3], rgb.shape[0], "Smooth Wrinkles")

        total = sum(len(fl.chosen_faces(face_landmarks, b, face_index)) for b in range(rgb.shape[0]))
        bar, done = comfy_adapter.progress_bar(total), [0]

        def tick():  # before each face: honour Cancel, advance the bar
            comfy_adapter.check_interrupt()
            done[0] += 1
            bar.update_absolute(done[0])

        out, masks, report = retouch_prior.smooth_batch(rgb, face_landmarks, zone_scores, face_index, strength, tick)
        for infos in report["images"]:
            for info in infos:
                if info.get("declined") or "no face" in info.get("note", ""):
                    log.warning("FaceLab Smooth Wrinkles: %s", info["note"])
        result = image if not masks.any() and image.shape[-1] == 3 else torch.from_numpy(out)  # untouched: as given
        return (
            comfy_adapter.to_intermediate(result),
            comfy_adapter.to_intermediate(torch.from_numpy(masks)),
            json.dumps(report, indent=2),
        )


NODE_CLASS_MAPPINGS = {"FaceLabSmoothWrinkles": FaceLabSmoothWrinkles}
NODE_DISPLAY_NAME_MAPPINGS = {"FaceLabSmoothWrinkles": "Smooth Wrinkles (prior)"}
