"""Zone nodes: a soft MASK of named face zones, and a labelled preview to choose them."""

from __future__ import annotations

import logging

import numpy as np
import torch

from . import comfy_adapter, inputs, types
from .base.tensors import as_rgb
from .face import face_landmarks as fl
from .face import zone_atlas, zone_masks, zone_preview

log = logging.getLogger("FaceLab")

_ZONES_TIP = (
    "Zones to include, separated by commas, e.g. 'crows_feet, under_eye_left, forehead'. Zone names: "
    + ", ".join(zone_atlas.ZONE_NAMES + zone_atlas.EXTRA_ZONE_NAMES)
    + ". Groups (both sides): "
    + ", ".join(zone_atlas.ZONE_GROUPS)
    + ". Left/right are the person's own sides (their left eye is on the image's right). "
    "Face Zone Preview shows every zone with its name."
)


def _check_zones(text: str) -> None:
    if not zone_atlas.resolve_zones(text):
        raise ValueError("FaceLab: the zones input is empty; give zone names such as 'crows_feet, forehead'")


class FaceLabZoneMask:
    DESCRIPTION = (
        "Makes a soft mask of named face zones (crow's feet, under-eyes, nasolabial folds, lips, skin, ...) from "
        "face landmarks, for every image of the batch. Grow and feather are relative to the face size, so the same "
        "settings work on small and very large photos. Protected features (eyes, brows, lips) can be cut out. "
        "Use it to inpaint or adjust exactly one area of a face; use Face Zone Preview to see the zones."
    )
    CATEGORY = types.category("Zones")
    FUNCTION = "make_mask"
    RETURN_TYPES = (types.MASK, "STRING")
    RETURN_NAMES = ("mask", "report")
    OUTPUT_TOOLTIPS = (
        "Soft mask (0..1) of the chosen zones, one per image, same size as the image; empty where no face was found.",
        "What was masked per image (faces, zones, covered area) or 'no face'.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": inputs.image(),
                "face_landmarks": inputs.face_landmarks(),
                "zones": ("STRING", {"default": "crows_feet, under_eye", "multiline": False, "tooltip": _ZONES_TIP}),
                "face_index": inputs.face_index(),
                "grow": inputs.grow(),
                "feather": inputs.feather(),
                "subtract": (
                    list(zone_atlas.SUBTRACT_PRESETS),
                    {
                        "default": "none",
                        "tooltip": (
                            "Protected features cut out of the mask, so an edit never touches them ('lips' protects the "
                            "whole mouth; 'hairline' the hair above the forehead)."
                        ),
                    },
                ),
            },
            "optional": {
                "visible_skin": (
                    "BOOLEAN",
                    {
                        "default": True,
                        "tooltip": (
                            "Limit the skin zones (forehead, cheeks, crow's feet, ..., skin, face_oval) to each face's own "
                            "visible skin: hair, brows, glasses, beard and background are left out, the far side of a turned "
                            "face shrinks to what the camera sees, and the forehead reaches up to where the skin ends. "
                            "Off = the zones' geometry only."
                        ),
                    },
                ),
            },
        }

    @classmethod
    def VALIDATE_INPUTS(cls, zones=None, subtract=None):
        return inputs.first_error(("zones", _check_zones, zones), ("subtract", zone_atlas.resolve_subtract, subtract))

    def make_mask(self, image, face_landmarks, zones, face_index, grow, feather, subtract, visible_skin=True):
        rgb = as_rgb(image)
        b, h, w = (int(v) for v in rgb.shape[:3])
        mask, report = zone_masks.zone_mask_batch(
            face_landmarks,
            (h, w),
            b,
            zones,
            int(face_index),
            float(grow),
            float(feather),
            subtract,
            image=rgb if visible_skin else None,
        )
        return (comfy_adapter.to_intermediate(mask), report)


class FaceLabZonePreview:
    DESCRIPTION = (
        "Draws the chosen face zones on the image, each in its own colour with its name, so you can see where every "
        "zone lies and type the names you want into Face Zone Mask. Use 'all' to see every zone. Images without a "
        "face pass through unchanged."
    )
    CATEGORY = types.category("Zones")
    FUNCTION = "preview"
    RETURN_TYPES = (types.IMAGE,)
    RETURN_NAMES = ("preview",)
    OUTPUT_TOOLTIPS = ("The image with the zones coloured, outlined and labelled.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": inputs.image(),
                "face_landmarks": inputs.face_landmarks(),
                "zones": (
                    "STRING",
                    {"default": "all", "multiline": False, "tooltip": _ZONES_TIP + " 'all' = every zone."},
                ),
            },
            "optional": {
                "opacity": (
                    "FLOAT",
                    {
                        "default": 0.45,
                        "min": 0.0,
                        "max": 1.0,
                        "step": 0.05,
                        "tooltip": ("How strongly the zone colours cover the photo (0 = outlines only)."),
                    },
                ),
                "labels": (
                    "BOOLEAN",
                    {"default": True, "tooltip": ("Write each zone's name beside the face, with a line to the zone.")},
                ),
            },
        }

    @classmethod
    def VALIDATE_INPUTS(cls, zones=None):
        return inputs.first_error(("zones", _check_zones, zones))

    def preview(self, image, face_landmarks, zones, opacity=0.45, labels=True):
        rgb = as_rgb(image)
        _check_zones(zones)  # fail early with the list of valid names
        landmarks = fl.fit_landmarks_to_image(face_landmarks, rgb.shape[1:3], rgb.shape[0], "Face Zone Preview")
        out = []
        for i in comfy_adapter.iterate_with_progress(range(int(rgb.shape[0]))):
            faces = fl.frame_faces(landmarks, i)
            if not faces:
                log.info("FaceLab Zone Preview: no face in image %d; passed through unchanged", i)
                out.append(rgb[i].cpu())
                continue
            frame = np.clip(rgb[i].cpu().numpy() * 255.0 + 0.5, 0, 255).astype(np.uint8)
            drawn = zone_preview.render_preview(frame, faces, zones, opacity=float(opacity), labels=bool(labels))
            out.append(torch.from_numpy(drawn.astype(np.float32) / 255.0))
        return (comfy_adapter.to_intermediate(torch.stack(out)),)


NODE_CLASS_MAPPINGS = {"FaceLabZoneMask": FaceLabZoneMask, "FaceLabZonePreview": FaceLabZonePreview}
NODE_DISPLAY_NAME_MAPPINGS = {"FaceLabZoneMask": "Face Zone Mask", "FaceLabZonePreview": "Face Zone Preview"}
