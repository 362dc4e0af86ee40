"""Makeup nodes: transfer a reference photo's makeup onto the source face (fast prior for SDXL inpainting)."""

from __future__ import annotations

from . import comfy_adapter, inputs, types
from .base.tensors import as_rgb
from .makeup import apply as makeup_apply
from .makeup.transfer import DEFAULT_STRENGTHS


def _strength(region: str, what: str) -> tuple:
    return (
        "FLOAT",
        {"default": DEFAULT_STRENGTHS[region], "min": 0.0, "max": 1.0, "step": 0.05,
         "tooltip": f"How much of the reference's {what} to apply: 0 keeps the source as it is, 1 copies the reference's colour."},
    )  # fmt: skip


class FaceLabMakeupTransfer:
    DESCRIPTION = (
        "Copies the makeup of a reference photo onto the source face: the reference face is warped onto the source "
        "face's shape, then lipstick, eye shadow and liner, blush, brows and foundation colours are moved over region by "
        "region, each with its own strength, keeping the source's skin texture and lighting. The result is a fast, "
        "directly usable makeup preview and a good start for SDXL inpainting at low denoise inside the makeup mask; the "
        "prompt output describes the look in words for the text prompt. A reference lit differently from the source is "
        "evened out first. Without a usable face the image passes through unchanged and the report says why."
    )
    CATEGORY = types.category("Makeup")
    FUNCTION = "transfer"
    RETURN_TYPES = (types.IMAGE, types.MASK, types.MAKEUP, "STRING", "STRING")
    RETURN_NAMES = ("makeup_prior", "makeup_mask", "makeup", "prompt", "report")
    OUTPUT_TOOLTIPS = (
        "The source with the reference's makeup applied. Pixels outside the makeup mask are exactly the source's.",
        "Where makeup was applied (soft edges): use it as the inpainting mask for the low-denoise SDXL pass.",
        "The makeup look as data: per region the reference colour (hex and Lab), strength, area and how much the reference showed; it also carries the reference and face pairs that 'Makeup Reference Attention' warps.",
        "The look in words, e.g. 'deep red matte lipstick, bronze eyeshadow, soft pink blush': add it to the positive prompt.",
        "What was done per face, and warnings about the reference (no face, tiny face, turned head, odd lighting).",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "source": (types.IMAGE, {"tooltip": "The photo (or batch) to put makeup on."}),
                "reference": (
                    types.IMAGE,
                    {
                        "tooltip": "A photo showing the makeup to copy: one image for the whole batch, one per source image, or several for one source image (one result per look). A clear, front-facing face works best."
                    },
                ),
                "face_index": inputs.face_index(),
                "lips": _strength("lips", "lipstick"),
                "eyes": _strength("eyes", "eye shadow and liner (lids and lash line)"),
                "blush": _strength("blush", "blush (cheeks)"),
                "brows": _strength("brows", "brow colour"),
                "foundation": _strength(
                    "foundation", "skin tone (foundation); changes the whole face's colour, so it starts at 0"
                ),
                "feather": inputs.feather(8.0, 50.0),
            },
            "optional": {
                "source_landmarks": inputs.face_landmarks("the source", optional=True),
                "reference_landmarks": inputs.face_landmarks("the reference", optional=True),
                "reference_face_index": inputs.one_face_index(),
                "normalize_lighting": (
                    "BOOLEAN",
                    {
                        "default": True,
                        "tooltip": "Even out lighting differences between reference and source before copying colours, so a darker or side-lit reference still gives the right shade. Turn off only to copy the reference's lightness as it is.",
                    },
                ),
            },
        }

    def transfer(self, source, reference, face_index, lips, eyes, blush, brows, foundation, feather,
                 source_landmarks=None, reference_landmarks=None, reference_face_index=0, normalize_lighting=True):  # fmt: skip
        device = comfy_adapter.get_torch_device()
        result = makeup_apply.transfer_batch(
            as_rgb(source, "source").to(device),
            as_rgb(reference, "reference").to(device),
            source_landmarks,
            reference_landmarks,
            face_index=int(face_index),
            reference_face_index=int(reference_face_index),
            strengths={"lips": lips, "eyes": eyes, "blush": blush, "brows": brows, "foundation": foundation},
            feather=float(feather),
            normalize_illumination=bool(normalize_lighting),
        )
        out = comfy_adapter.intermediate_device()
        return (result.image.to(out), result.mask.to(out), result.makeup, result.prompt, result.report)


NODE_CLASS_MAPPINGS = {"FaceLabMakeupTransfer": FaceLabMakeupTransfer}
NODE_DISPLAY_NAME_MAPPINGS = {"FaceLabMakeupTransfer": "Makeup Transfer"}
