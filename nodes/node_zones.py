"""Zone nodes: a soft MASK of named face zones, and a labelled preview to choose them."""

from __future__ import annotations

import logging

import numpy as np
import torch

from . import comfy_adapter, types
from .face.image_fit import fit_landmarks_to_image
from .base.tensors import as_rgb
from .face import face_landmarks as fl
from .face import zone_atlas, zone_masks, zone_preview

log = logging.getLogger("FaceLab")

_ZONES_TIP = (
    "Zones to include, separated by commas, e.g. 'crows_feet, under_eye_left, forehead'. Zone names: "
    + ", ".join(zone_atlas.ZONE_NAMES + zone_atlas.EXTRA_ZONE_NAMES)
    + ". Groups (both sides): " + ", ".join(zone_atlas.ZONE_GROUPS)
    + ". Left/right are the person's own sides (their left eye is on the image's right). "
    "Face Zone Preview shows every zone with its name."
)
_FACE_INDEX_TIP = "Which face: -1 = every face, 0 = the leftmost face in the image, 1 = the next one to the right, ..."


def _landmarks_for(face_landmarks: dict, image: torch.Tensor) -> dict:
    """Landmarks validated against the image batch; rescaled when they were detected on a resized copy."""
    fl.validate(face_landmarks)
    b = int(image.shape[0])
    n = len(face_landmarks["frames"])
    if n not in (0, 1, b):
        raise ValueError(
            f"FaceLab: the landmarks have {n} frames but the image batch has {b} images; "
            "detect landmarks on this image batch (or a batch of the same length)"
        )
    return fit_landmarks_to_image(face_landmarks, (int(image.shape[1]), int(image.shape[2])))


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
                "image": (types.IMAGE, {"tooltip": "The image the mask is for (gives the size and the batch)."}),
                "face_landmarks": (types.FACE_LANDMARKS, {"tooltip": (
                    "Face landmarks of this image, from FaceLab's Face Landmarks node or ComfyUI's MediaPipe Face "
                    "Landmarker.")}),
                "zones": ("STRING", {"default": "crows_feet, under_eye", "multiline": False, "tooltip": _ZONES_TIP}),
                "face_index": ("INT", {"default": -1, "min": -1, "max": 63, "tooltip": _FACE_INDEX_TIP}),
                "grow": ("FLOAT", {"default": 0.0, "min": -50.0, "max": 100.0, "step": 0.5, "tooltip": (
                    "Enlarge (positive) or shrink (negative) the zones, in % of the distance between the eyes "
                    "(about 6 cm on an adult): 10 grows every edge by about 6 mm.")}),
                "feather": ("FLOAT", {"default": 10.0, "min": 0.0, "max": 100.0, "step": 0.5, "tooltip": (
                    "Width of the soft edge, in % of the distance between the eyes, centred on the zone outline. "
                    "The mask is exactly 0 beyond half of it outside the zone. 0 = a crisp (anti-aliased) edge.")}),
                "subtract": (list(zone_atlas.SUBTRACT_PRESETS), {"default": "none", "tooltip": (
                    "Protected features cut out of the mask, so an edit never touches them ('lips' protects the "
                    "whole mouth; 'hairline' the hair above the forehead).")}),
            },
            "optional": {
                "visible_skin": ("BOOLEAN", {"default": True, "tooltip": (
                    "Limit the skin zones (forehead, cheeks, crow's feet, ..., skin, face_oval) to each face's own "
                    "visible skin: hair, brows, glasses, beard and background are left out, the far side of a turned "
                    "face shrinks to what the camera sees, and the forehead reaches up to where the skin ends. "
                    "Off = the zones' geometry only.")}),
            },
        }

    def make_mask(self, image, face_landmarks, zones, face_index, grow, feather, subtract, visible_skin=True):
        rgb = as_rgb(image)
        names = zone_atlas.resolve_zones(zones)
        if not names:
            raise ValueError("FaceLab: the zones input is empty; give zone names such as 'crows_feet, forehead'")
        landmarks = _landmarks_for(face_landmarks, rgb)
        b = int(rgb.shape[0])
        skin_report: list = []
        mask = zone_masks.zones_mask(landmarks, b, names, int(face_index), float(grow), float(feather), subtract,
                                     image=rgb if visible_skin else None, skin_report=skin_report)
        lines = []
        face_found = False
        for i in range(b):
            faces = fl.frame_faces(landmarks, i)
            used = fl.select_faces(faces, int(face_index))
            face_found = face_found or bool(faces)
            if not faces:
                lines.append(f"image {i}: no face, mask is empty")
            elif not used:
                lines.append(f"image {i}: no face {face_index} ({len(faces)} found), mask is empty")
            else:
                share = float(mask[i].mean()) * 100
                lines.append(f"image {i}: {len(used)} of {len(faces)} face(s), {share:.2f}% of the image masked")
        if not face_found:
            log.info("FaceLab Zone Mask: no face in the image(s); the mask is empty")
        for row in skin_report:
            lines.append(f"image {row['image']} face {row['face']}: removed from each zone as hidden / non-skin:")
            for zone, share in row["zones"].items():
                note = f" ({share['note']})" if "note" in share else ""
                lines.append(f"  {zone}: {share['hidden']:.1f}% hidden, {share['non_skin']:.1f}% non-skin{note}")
        skin = "visible skin only" if visible_skin else "geometry only"
        settings = f"zones: {', '.join(names)}; grow {grow:g}%, feather {feather:g}%, subtract {subtract}; {skin}"
        report = "\n".join([settings, *lines])
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
                "image": (types.IMAGE, {"tooltip": "The image to draw the zones on."}),
                "face_landmarks": (types.FACE_LANDMARKS, {"tooltip": (
                    "Face landmarks of this image, from FaceLab's Face Landmarks node or ComfyUI's MediaPipe Face "
                    "Landmarker.")}),
                "zones": ("STRING", {"default": "all", "multiline": False, "tooltip": _ZONES_TIP + " 'all' = every zone."}),
            },
            "optional": {
                "opacity": ("FLOAT", {"default": 0.45, "min": 0.0, "max": 1.0, "step": 0.05, "tooltip": (
                    "How strongly the zone colours cover the photo (0 = outlines only).")}),
                "labels": ("BOOLEAN", {"default": True, "tooltip": (
                    "Write each zone's name beside the face, with a line to the zone.")}),
            },
        }

    def preview(self, image, face_landmarks, zones, opacity=0.45, labels=True):
        rgb = as_rgb(image)
        zone_atlas.resolve_zones(zones)  # fail early with the list of valid names
        landmarks = _landmarks_for(face_landmarks, rgb)
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
