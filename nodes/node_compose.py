"""Compose nodes: crop a face/mask region for SDXL and stitch it back seamlessly, tiles, sweep grids."""

from __future__ import annotations

import logging

import torch

from . import comfy_adapter, inputs, types
from .base.tensors import as_mask, as_rgb
from .compose import crop as crop_mod
from .compose import grid as grid_mod
from .compose import stitch as stitch_mod
from .compose import sweep as sweep_mod
from .compose import tiles as tiles_mod
from .compose.plan import StitchPlan, TilePlan, check_plan

log = logging.getLogger("FaceLab")

RESOLUTION_CHOICES = {"SDXL area (target size squared)": "area", "keep resolution": "keep"}
PADDING_CHOICES = {
    "shift inside image": "shift",
    "replicate edge": "replicate",
    "replicate edge, mask the padding": "replicate_masked",
}
COLOR_MATCH_CHOICES = {"LAB mean/std in a ring": True, "off": False}
BLEND_CHOICES = {"add the change (keeps original detail)": "add", "replace with crop pixels": "replace"}


def _on_device(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.to(comfy_adapter.get_torch_device())


class FaceLabCrop:
    DESCRIPTION = (
        "Cuts a context region around each masked area (or each face, when landmarks are connected) and scales it to "
        "the size SDXL works best at, about target size squared pixels. Inpaint the crops, then put them back with "
        "'Stitch Face Region' using the stitch output. Several regions or faces give a batch of crops, left to right; "
        "with landmarks the crop can be rotated so the eyes are level. An empty mask or no face gives an unchanged "
        "placeholder crop that stitches back to the original image."
    )
    CATEGORY = types.category("Compose")
    FUNCTION = "crop"
    RETURN_TYPES = (types.IMAGE, types.MASK, types.STITCH, "STRING")
    RETURN_NAMES = ("crops", "crop_masks", "stitch", "report")
    OUTPUT_TOOLTIPS = (
        "The crops, one per region or face (all the same size), ready for VAE encode / inpainting.",
        "The mask of each crop: what to inpaint in it.",
        "Everything 'Stitch Face Region' needs to put these crops back. Connect it, unchanged, to the stitch node.",
        "What was cropped: one line per crop (scale, rotation, area covered) and why something was skipped.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": (types.IMAGE, {"tooltip": "The image (or batch) to crop from."}),
                "context_factor": (
                    "FLOAT",
                    {
                        "default": 1.5,
                        "min": 1.0,
                        "max": 4.0,
                        "step": 0.05,
                        "tooltip": "How much larger than the masked area (or face) the crop is: 1.5 adds a quarter of its size on each side. More context helps the model match the surroundings.",
                    },
                ),
                "min_context": (
                    "INT",
                    {
                        "default": 384,
                        "min": 16,
                        "max": 8192,
                        "step": 8,
                        "tooltip": "Smallest crop side in image pixels, so tiny masks still get enough surroundings (capped at the image size).",
                    },
                ),
                "resolution": (
                    list(RESOLUTION_CHOICES),
                    {
                        "default": "SDXL area (target size squared)",
                        "tooltip": "Scale each crop to about target size x target size pixels (aspect kept), or keep the image's own resolution (no resampling when not rotated).",
                    },
                ),
                "target_size": (
                    "INT",
                    {
                        "default": 1024,
                        "min": 256,
                        "max": 4096,
                        "step": 64,
                        "tooltip": "Crop area is about this value squared (1024 for SDXL, 512 for SD 1.5).",
                    },
                ),
                "multiple_of": (
                    ["64", "8"],
                    {
                        "default": "64",
                        "tooltip": "Crop sides are a multiple of this (64 suits SDXL best; 8 is the least the VAE accepts).",
                    },
                ),
                "padding": (
                    list(PADDING_CHOICES),
                    {
                        "default": "shift inside image",
                        "tooltip": "When a crop would stick out of the image: move it inside (real context), or fill the outside by repeating the edge pixels (optionally marking that fill in the crop mask so it gets repainted). Never mirrored.",
                    },
                ),
                "align_eyes": (
                    "BOOLEAN",
                    {
                        "default": False,
                        "tooltip": "With landmarks: rotate each face crop so the eyes are level (the stitch rotates it back).",
                    },
                ),
                "face_index": inputs.face_index(),
            },
            "optional": {
                "mask": (
                    types.MASK,
                    {
                        "tooltip": "What to edit. Each separate masked area gets its own crop (areas whose crops would overlap share one)."
                    },
                ),
                "face_landmarks": inputs.face_landmarks(),  # one crop per face; with a mask, each face's share of it
            },
        }

    def crop(
        self,
        image,
        context_factor,
        min_context,
        resolution,
        target_size,
        multiple_of,
        padding,
        align_eyes,
        face_index,
        mask=None,
        face_landmarks=None,
    ):
        image = _on_device(as_rgb(image))
        mask = _on_device(as_mask(mask, image.shape[0], image.shape[1], image.shape[2]))
        settings = crop_mod.CropSettings(
            context_factor=float(context_factor),
            min_context=int(min_context),
            resolution=inputs.choice(RESOLUTION_CHOICES, resolution, "resolution"),
            target_size=int(target_size),
            multiple=int(inputs.choice(("64", "8"), str(multiple_of), "multiple_of")),
            padding=inputs.choice(PADDING_CHOICES, padding, "padding"),
            align=bool(align_eyes),
            face_index=int(face_index),
        )
        crops, masks, plan = crop_mod.crop(image, mask, face_landmarks, settings)
        log.info("FaceLab Crop Face Region: %s", plan.report.replace("\n", "; "))
        return (comfy_adapter.to_intermediate(crops), comfy_adapter.to_intermediate(masks), plan, plan.report)


class FaceLabStitch:
    DESCRIPTION = (
        "Puts the crops from 'Crop Face Region' back into the original image with a feathered edge and optional colour "
        "matching, so no seam shows. Pixels outside the returned blend mask are exactly the original's. Use it after "
        "inpainting the crops; an unedited crop gives back the original image."
    )
    CATEGORY = types.category("Compose")
    FUNCTION = "stitch"
    RETURN_TYPES = (types.IMAGE, types.MASK)
    RETURN_NAMES = ("image", "blend_mask")
    OUTPUT_TOOLTIPS = (
        "The original image with the crops blended in.",
        "The blend weights actually used (0 = pixel untouched, 1 = fully from the crop): handy to check what changed.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "original": (types.IMAGE, {"tooltip": "The same image that went into 'Crop Face Region'."}),
                "crops": (
                    types.IMAGE,
                    {
                        "tooltip": "The edited crops (same batch and order as cropped; an upscaled batch is scaled back)."
                    },
                ),
                "stitch": (
                    types.STITCH,
                    {"tooltip": "The stitch output of the 'Crop Face Region' node that made these crops."},
                ),
                "feather": (
                    "FLOAT",
                    {
                        "default": 0.1,
                        "min": 0.0,
                        "max": 1.0,
                        "step": 0.01,
                        "tooltip": "Width of the soft edge outside the mask, as a fraction of the masked area's size. 0 pastes with a hard edge.",
                    },
                ),
                "color_match": (
                    list(COLOR_MATCH_CHOICES),
                    {
                        "default": "LAB mean/std in a ring",
                        "tooltip": "Correct a colour shift of the crop by matching its colours to the original in a ring just outside the mask.",
                    },
                ),
                "blend": (
                    list(BLEND_CHOICES),
                    {
                        "default": "add the change (keeps original detail)",
                        "tooltip": "Add only what the crop changed to the original (keeps the original's full-resolution detail; an unedited crop changes nothing), or paste the crop's own pixels.",
                    },
                ),
            }
        }

    def stitch(self, original, crops, stitch, feather, color_match, blend):
        plan = check_plan(stitch, StitchPlan, "Stitch Face Region", "Crop Face Region")
        out, used = stitch_mod.stitch(
            _on_device(as_rgb(original, "original")),
            _on_device(as_rgb(crops, "crops")),
            plan,
            feather=float(feather),
            color_match=inputs.choice(COLOR_MATCH_CHOICES, color_match, "color_match"),
            mode=inputs.choice(BLEND_CHOICES, blend, "blend"),
        )
        return (comfy_adapter.to_intermediate(out), comfy_adapter.to_intermediate(used))


class FaceLabTileSplit:
    DESCRIPTION = (
        "Splits an image (or a large crop) into overlapping tiles of one size, for sampling pictures too large for one "
        "pass. Optionally only the tiles touching a mask are emitted. Process the tiles, then join them with 'Merge Tiles': "
        "the overlaps are blended smoothly, and unchanged tiles give back the original exactly."
    )
    CATEGORY = types.category("Compose")
    FUNCTION = "split"
    RETURN_TYPES = (types.IMAGE, types.MASK, types.TILES, "INT")
    RETURN_NAMES = ("tiles", "tile_masks", "tile_plan", "tile_count")
    OUTPUT_TOOLTIPS = (
        "The tiles, image by image, row by row (all the same size).",
        "The mask cut to each tile (all ones without a mask), to inpaint each tile only where masked.",
        "The tile layout for 'Merge Tiles'. Connect it unchanged.",
        "How many tiles were emitted.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": (types.IMAGE, {"tooltip": "The image (or batch) to split."}),
                "tile_size": (
                    "INT",
                    {
                        "default": 1024,
                        "min": 64,
                        "max": 8192,
                        "step": 8,
                        "tooltip": "Tile side in pixels (smaller for an image side smaller than this).",
                    },
                ),
                "overlap": (
                    "INT",
                    {
                        "default": 128,
                        "min": 0,
                        "max": 4096,
                        "step": 8,
                        "tooltip": "Least overlap between neighbouring tiles; the blend ramp is this wide. Must be under half the tile size.",
                    },
                ),
                "only_masked_tiles": (
                    "BOOLEAN",
                    {
                        "default": True,
                        "tooltip": "With a mask: emit only tiles that touch it (the others stay as they are).",
                    },
                ),
            },
            "optional": {
                "mask": (
                    types.MASK,
                    {"tooltip": "Optional mask: cut into tile masks, and used to skip tiles that do not touch it."},
                ),
            },
        }

    def split(self, image, tile_size, overlap, only_masked_tiles, mask=None):
        image = _on_device(as_rgb(image))
        mask = _on_device(as_mask(mask, image.shape[0], image.shape[1], image.shape[2]))
        tiles, masks, plan = tiles_mod.split(image, int(tile_size), int(overlap), mask, bool(only_masked_tiles))
        log.info("FaceLab Split Into Tiles: %r", plan)
        return (
            comfy_adapter.to_intermediate(tiles),
            comfy_adapter.to_intermediate(masks),
            plan,
            0 if plan.placeholder else len(plan.tiles),
        )


class FaceLabTileMerge:
    DESCRIPTION = (
        "Joins tiles from 'Split Into Tiles' back into the full image, blending the overlaps with smooth weights so no "
        "tile edge shows. Where no tile changed, the result is exactly the original."
    )
    CATEGORY = types.category("Compose")
    FUNCTION = "merge"
    RETURN_TYPES = (types.IMAGE,)
    RETURN_NAMES = ("image",)
    OUTPUT_TOOLTIPS = ("The original image with the processed tiles blended in.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "original": (types.IMAGE, {"tooltip": "The same image that went into 'Split Into Tiles'."}),
                "tiles": (types.IMAGE, {"tooltip": "The processed tiles (same batch and order as split)."}),
                "tile_plan": (
                    types.TILES,
                    {"tooltip": "The tile_plan output of the 'Split Into Tiles' node that made these tiles."},
                ),
            }
        }

    def merge(self, original, tiles, tile_plan):
        plan = check_plan(tile_plan, TilePlan, "Merge Tiles", "Split Into Tiles")
        out = tiles_mod.merge(_on_device(as_rgb(original, "original")), _on_device(as_rgb(tiles, "tiles")), plan)
        return (comfy_adapter.to_intermediate(out),)


class FaceLabSweepGrid:
    DESCRIPTION = (
        "Lays out a batch of variants as one labelled comparison grid, filled row by row. When a list of batches "
        "arrives (e.g. one KSampler run per strength from 'Effective Strengths', each a batch of seeds), each list item "
        "becomes a row and each batch image a column. Labels are drawn into the image."
    )
    CATEGORY = types.category("Compose")
    FUNCTION = "grid"
    INPUT_IS_LIST = True
    RETURN_TYPES = (types.IMAGE,)
    RETURN_NAMES = ("grid",)
    OUTPUT_TOOLTIPS = ("The labelled grid as one image.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "images": (types.IMAGE, {"tooltip": "The variants: a batch, or a list of batches (one row each)."}),
                "columns": (
                    "INT",
                    {
                        "default": 0,
                        "min": 0,
                        "max": 64,
                        "tooltip": "Images per row. 0: one row per list item when a list arrives, otherwise about square.",
                    },
                ),
                "row_labels": (
                    "STRING",
                    {
                        "default": "",
                        "multiline": True,
                        "tooltip": "One label per row (one per line, or comma-separated on one line), e.g. the strengths text of 'Effective Strengths'.",
                    },
                ),
                "column_labels": (
                    "STRING",
                    {
                        "default": "",
                        "multiline": True,
                        "tooltip": "One label per column (one per line, or comma-separated), e.g. seed 1, seed 2.",
                    },
                ),
                "font_size": ("INT", {"default": 32, "min": 8, "max": 256, "tooltip": "Label text height in pixels."}),
                "gap": (
                    "INT",
                    {"default": 8, "min": 0, "max": 256, "tooltip": "White space between images, in pixels."},
                ),
            }
        }

    def grid(self, images, columns, row_labels, column_labels, font_size, gap):
        batches = [as_rgb(x, "images") for x in images or [] if x is not None]
        if not batches:
            raise ValueError("FaceLab Sweep Comparison Grid: no images arrived (an empty list); connect the variants")
        hw = tuple(batches[0].shape[1:3])
        if any(tuple(x.shape[1:3]) != hw for x in batches):
            log.info("FaceLab Sweep Comparison Grid: images of different sizes are resized to %dx%d", hw[1], hw[0])
        cols = int(columns[0])
        if cols == 0 and len(batches) > 1 and len({x.shape[0] for x in batches}) == 1:
            cols = batches[0].shape[0]
        stacked = torch.cat([grid_mod.fit_to(x.cpu(), hw) for x in batches])
        out = grid_mod.make_grid(
            stacked,
            cols,
            grid_mod.parse_labels(row_labels[0]),
            grid_mod.parse_labels(column_labels[0]),
            int(font_size[0]),
            int(gap[0]),
        )
        return (comfy_adapter.to_intermediate(out),)


class FaceLabSweepStrengths:
    DESCRIPTION = (
        "Lists only the denoise strengths that really give different results in ComfyUI's KSampler for a step count. "
        "KSampler always runs 'steps' steps and takes them from a schedule int(steps / denoise) long, so strengths with "
        "the same schedule length repeat the same image. Feed the strengths output to KSampler's denoise to run one "
        "sample per strength."
    )
    CATEGORY = types.category("Compose")
    FUNCTION = "strengths"
    RETURN_TYPES = ("FLOAT", "STRING", "STRING")
    RETURN_NAMES = ("strengths", "strengths_text", "report")
    OUTPUT_IS_LIST = (True, False, False)
    OUTPUT_TOOLTIPS = (
        "The distinct strengths as a list: a node fed from it runs once per strength.",
        "The same strengths, comma-separated (e.g. as row labels of the sweep grid).",
        "Each strength's schedule, and which strengths were dropped as duplicates of which.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "steps": (
                    "INT",
                    {"default": 20, "min": 1, "max": 10000, "tooltip": "The steps value of your KSampler."},
                ),
                "strengths": (
                    "STRING",
                    {
                        "default": "0.2, 0.3, 0.4, 0.5, 0.6",
                        "multiline": False,
                        "tooltip": "Strengths (denoise) to try, separated by commas or spaces. Leave empty to use minimum, maximum and count.",
                    },
                ),
                "minimum": (
                    "FLOAT",
                    {
                        "default": 0.2,
                        "min": 0.0,
                        "max": 1.0,
                        "step": 0.01,
                        "tooltip": "Lowest strength, when the strengths list is empty.",
                    },
                ),
                "maximum": (
                    "FLOAT",
                    {
                        "default": 0.6,
                        "min": 0.0,
                        "max": 1.0,
                        "step": 0.01,
                        "tooltip": "Highest strength, when the strengths list is empty.",
                    },
                ),
                "count": (
                    "INT",
                    {
                        "default": 5,
                        "min": 1,
                        "max": 256,
                        "tooltip": "How many evenly spaced strengths from minimum to maximum, when the strengths list is empty.",
                    },
                ),
            }
        }

    @classmethod
    def VALIDATE_INPUTS(cls, strengths=None):
        return inputs.first_error(("strengths", sweep_mod.check_strengths, strengths))

    def strengths(self, steps, strengths, minimum, maximum, count):
        wanted = (
            sweep_mod.parse_strengths(strengths)
            if strengths.strip()
            else sweep_mod.strength_range(minimum, maximum, count)
        )
        kept, notes = sweep_mod.effective_strengths(int(steps), wanted)
        text = ", ".join(sweep_mod.format_strength(d) for d in kept)
        return (kept, text, "\n".join(notes))


NODE_CLASS_MAPPINGS = {
    "FaceLabCrop": FaceLabCrop,
    "FaceLabStitch": FaceLabStitch,
    "FaceLabTileSplit": FaceLabTileSplit,
    "FaceLabTileMerge": FaceLabTileMerge,
    "FaceLabSweepGrid": FaceLabSweepGrid,
    "FaceLabSweepStrengths": FaceLabSweepStrengths,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "FaceLabCrop": "Crop Face Region",
    "FaceLabStitch": "Stitch Face Region",
    "FaceLabTileSplit": "Split Into Tiles",
    "FaceLabTileMerge": "Merge Tiles",
    "FaceLabSweepGrid": "Sweep Comparison Grid",
    "FaceLabSweepStrengths": "Effective Strengths",
}
