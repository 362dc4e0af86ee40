"""Generate FaceLab's shipped workflows: workflows/<name>.json (UI/LiteGraph format, for ComfyUI's template browser)
and their API copies workflows/api/<name>.json (through tools/export_api_workflows.py's converter).

    python tools/build_workflows.py            # write every workflow and its API copy
    python tools/build_workflows.py --check    # write nothing; exit 1 when a file is missing or out of date

The graphs are built from the node schemas (core: tests/data/core_object_info.json, FaceLab: NODE_CLASS_MAPPINGS),
so socket order and widget values are those the frontend saves. Thumbnails: tools/render_workflow_thumbnails.py.

Conventions every graph follows (docs/client.md, tests/test_comfyui_workflows.py):
- a LoadImage titled "Input Image" (file "example.png"; the headless client and the tests set it by title);
- CheckpointLoaderSimple with an SDXL inpainting checkpoint name (tests swap in their own checkpoint by type);
- the edit goes through Crop Face Region -> SDXL -> Stitch Face Region, so every pixel outside the stitch's blend
  mask is the input's; a SaveImage titled "Save Result" saves the photo, one titled "Edit Mask" that mask (or the
  anonymiser's changed_mask, or black when the expression fix had nothing to do);
- prompts titled "Positive Prompt" / "Negative Prompt", the KSampler "Sampler", FaceLab edit nodes "Face Edit".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / "workflows"
sys.path.insert(0, str(ROOT / "tools"))

import workflow_notes as notes  # noqa: E402
from export_api_workflows import api_text, load_schemas  # noqa: E402
from workflow_canvas import (  # noqa: E402
    AGING_REGION_ZONES,
    CHECKPOINT,
    EDIT_MASK_TITLE,
    EXAMPLE_IMAGE,
    GROUP_COLORS,
    INPUT_TITLE,
    PROTECTED,
    RESULT_TITLE,
    SAMPLER,
    WRINKLE_ZONES,
    Canvas,
    face_crop,
    inpaint,
    photo_and_face,
    save_pair,
    save_result,
    sdxl_models,
    stitch_and_save,
    zone_mask,
)

__all__ = [
    "BUILDERS",
    "CHECKPOINT",
    "EDIT_MASK_TITLE",
    "EXAMPLE_IMAGE",
    "INPUT_TITLE",
    "PROTECTED",
    "RESULT_TITLE",
    "WORKFLOWS",
    "WRINKLE_ZONES",
    "build_all",
    "main",
]


# --- the workflows --------------------------------------------------------------------------------------------------


def _zone_edit(c: Canvas, col: int, prior, crop_faces, scores, max_denoise: float):
    """SDXL models, Aging Zone Conditioning ("Face Edit") on the prior's output, and its short sampling run in the
    next column; returns (edit node, decoded, refs)."""
    ckpt, model, _, _, model_refs = sdxl_models(c, col, prompts=False)
    edit = c.add(
        "FaceLabAgingConditioning",
        col,
        size=(320, 520),
        title="Face Edit",
        clip=ckpt["CLIP"],
        image=prior["image"],
        face_landmarks=crop_faces["face_landmarks"],
        zone_scores=scores["zone_scores"],
        positive="photo of a person, natural skin texture, detailed skin pores, same person",
        face_index=0,
        max_denoise=max_denoise,
        steps=SAMPLER["steps"],
        scheduler=SAMPLER["scheduler"],
        visible_skin=True,  # hair over the forehead or temples is not repainted
    )
    decoded, inpaint_refs = _zone_edit_sampling(c, col + 1, ckpt, model[0], edit, prior["image"])
    return edit, decoded, model_refs + [edit] + inpaint_refs


def _smoothing_prior(c: Canvas, crop, crop_faces, scores):
    """Smooth Wrinkles (prior) on the crop's largest face, driven by the zone scores (column 2)."""
    return c.add(
        "FaceLabSmoothWrinkles",
        2,
        title="Smooth Wrinkles (prior)",
        image=crop["crops"],
        face_landmarks=crop_faces["face_landmarks"],
        zone_scores=scores["zone_scores"],
        face_index=0,
    )


def _zone_edit_sampling(c: Canvas, col: int, ckpt, model, edit, pixels):
    """Aging Zone Conditioning -> SDXL, the short run: InpaintModelConditioning sees the per-pixel denoise mask
    (noise_mask off), Set Latent Noise Mask takes the mask rescaled for the short run, and the KSampler runs only the
    steps where a pixel may change (its steps and denoise come from the conditioning node)."""
    cond = c.add(
        "InpaintModelConditioning",
        col,
        positive=edit["positive"],
        negative=edit["negative"],
        vae=ckpt["VAE"],
        pixels=pixels,
        mask=edit["denoise_mask"],
        noise_mask=False,
    )
    noise = c.add("SetLatentNoiseMask", col, samples=cond["latent"], mask=edit["noise_mask"])
    sampler = c.add(
        "KSampler",
        col,
        size=(320, 290),
        title="Sampler",
        model=model,
        positive=cond["positive"],
        negative=cond["negative"],
        latent_image=noise[0],
        **{**SAMPLER, "steps": edit["steps"], "denoise": edit["denoise"]},
    )
    decoded = c.add("VAEDecode", col, samples=sampler[0], vae=ckpt["VAE"])
    return decoded, [cond, noise, sampler, decoded]


def _stitch_if_needed(c: Canvas, col: int, image, decoded, plan, needs, prefix: str):
    """Stitch, then a lazy switch: with nothing to change (all scores 0, no face) the original is saved and the
    whole sampling branch is skipped. Returns (switched image node, refs)."""
    stitch = c.add("FaceLabStitch", col, original=image["IMAGE"], crops=decoded[0], stitch=plan)
    switch = c.add(
        "FaceLabImageSwitch",
        col,
        title="Use Edit Only If Needed",
        needs_fix=needs,
        original=image["IMAGE"],
        edited=stitch["image"],
    )
    mask_switch, mask_refs = _edit_mask_if(c, col, image, stitch["blend_mask"], needs)
    saves = save_pair(c, col + 1, switch["image"], mask_switch["image"], prefix)
    return switch, [stitch, switch, *mask_refs, *saves]


def _edit_mask_if(c: Canvas, col: int, image, blend_mask, edited):
    """The saved edit mask follows the result: the blend mask when the edit was used, else an all-black mask of
    the photo's size (no pixel of a 0..1 image exceeds 1.0). Returns (switch node, refs)."""
    blend = c.add("MaskToImage", col, title="Mask (edited)", mask=blend_mask)
    channel = c.add("ImageToMask", col, title="Photo as Mask", image=image["IMAGE"], channel="red")
    empty = c.add("ThresholdMask", col, title="Mask (nothing to do)", mask=channel[0], value=1.0)
    no_edit = c.add("MaskToImage", col, title="Mask (unchanged)", mask=empty[0])
    mask_switch = c.add(
        "FaceLabImageSwitch", col, title="Edit Mask If Needed", needs_fix=edited, original=no_edit[0], edited=blend[0]
    )
    return mask_switch, [blend, channel, empty, no_edit, mask_switch]


def wrinkle_reduction(schemas) -> dict:
    c = Canvas(schemas)
    c.note(notes.NOTES["facelab_wrinkle_reduction"])
    image, faces = photo_and_face(c)
    scores = c.add("FaceLabZoneScores", 1, size=(320, 470), title="Zone Scores", preset="soften wrinkles")
    mask, zone_refs = zone_mask(c, 1, image, faces, WRINKLE_ZONES)
    c.group("2 · How much to soften each zone", [scores] + zone_refs, GROUP_COLORS["zones"])
    crop, crop_refs = face_crop(c, 2, image, mask["mask"], faces)
    crop_faces = c.add(
        "FaceLabFaceLandmarks", 2, title="Face Landmarks (on the crop)", image=crop["crops"], face_order="largest_first"
    )
    prior = _smoothing_prior(c, crop, crop_faces, scores)
    prior_change = c.add(
        "FaceLabWrinkleCompare",
        2,
        before=crop["crops"],
        after=prior["image"],
        face_landmarks=crop_faces["face_landmarks"],
    )
    prior_shown = c.add(
        "PreviewAny", 2, size=(320, 200), title="Wrinkle Change (prior alone)", source=prior_change["report_json"]
    )
    c.group(
        "3 · Crop each face, remove the lines (prior)",
        crop_refs + [crop_faces, prior, prior_change, prior_shown],
        GROUP_COLORS["crop"],
    )
    edit, decoded, sdxl_refs = _zone_edit(c, 3, prior, crop_faces, scores, max_denoise=0.32)
    c.group("4 · SDXL refine at low strength, per zone", sdxl_refs, GROUP_COLORS["sdxl"])
    result, out_refs = _stitch_if_needed(
        c, 5, image, decoded, crop["stitch"], edit["needs_sampling"], "wrinkle_reduction"
    )
    compare = c.add(
        "FaceLabWrinkleCompare",
        5,
        before=image["IMAGE"],
        after=result["image"],
        face_landmarks=faces["face_landmarks"],
        target_reduction=30.0,
    )
    shown = c.add("PreviewAny", 5, size=(320, 260), title="Wrinkle Change", source=compare["report_json"])
    c.group("5 · Stitch back, save, measure", out_refs + [compare, shown], GROUP_COLORS["output"])
    return c.workflow("facelab_wrinkle_reduction")


def strength_seed_sweep(schemas) -> dict:
    c = Canvas(schemas)
    c.note(notes.NOTES["facelab_strength_seed_sweep"], size=(440, 940))
    photo = c.add("LoadImage", 0, size=(320, 400), title=INPUT_TITLE, image=EXAMPLE_IMAGE)
    faces = c.add("FaceLabFaceLandmarks", 0, image=photo["IMAGE"])
    image = {"IMAGE": photo["IMAGE"]}
    c.group("1 · Photo and face", [photo, faces], GROUP_COLORS["input"])
    mask, zone_refs = zone_mask(c, 1, image, faces, WRINKLE_ZONES, preview=False)
    crop, crop_refs = face_crop(c, 1, image, mask["mask"], faces)
    c.group("2 · Zones and crop", zone_refs + crop_refs, GROUP_COLORS["zones"])
    strengths = c.add(
        "FaceLabSweepStrengths", 2, title="Strengths", steps=SAMPLER["steps"], strengths="0.18, 0.25, 0.32"
    )
    seeds = c.add("FaceLabSweepSeeds", 2, title="Seeds", strengths=strengths["strengths"], seeds="42, 1234")
    report = c.add("PreviewAny", 2, size=(320, 200), title="Strengths Report", source=strengths["report"])
    c.group("3 · Strengths x seeds to try", [strengths, seeds, report], GROUP_COLORS["check"])
    ckpt, model, pos, neg, model_refs = sdxl_models(c, 3)
    decoded, inpaint_refs = inpaint(
        c, 4, ckpt, model[0], pos[0], neg[0], crop["crops"], crop["crop_masks"], seeds["strengths"], seed=seeds["seeds"]
    )
    c.group("4 · SDXL inpaint, once per strength and seed", model_refs + inpaint_refs, GROUP_COLORS["sdxl"])
    grid = c.add(
        "FaceLabSweepGrid",
        5,
        images=decoded[0],
        columns=seeds["columns"],
        row_labels=strengths["strengths_text"],
        column_labels=seeds["column_labels"],
        font_size=40,
    )
    save_grid = c.add(
        "SaveImage", 6, size=(360, 420), title="Save Grid", images=grid[0], filename_prefix="FaceLab/sweep_grid"
    )
    c.group("5 · Labelled grid", [grid, save_grid], GROUP_COLORS["output"])
    c.align(5, 6)
    _, out_refs = stitch_and_save(c, 5, photo["IMAGE"], decoded[0], crop["stitch"], "sweep", new_group=True)
    c.group("6 · Every variant stitched back", out_refs, GROUP_COLORS["output"])
    return c.workflow("facelab_strength_seed_sweep")


def local_aging(schemas) -> dict:
    c = Canvas(schemas)
    c.note(notes.NOTES["facelab_local_aging"])
    image, faces = photo_and_face(c)
    region, region_refs = zone_mask(
        c, 1, image, faces, AGING_REGION_ZONES, subtract="eyes+brows+lips+nostrils", preview=False
    )
    crop, crop_refs = face_crop(c, 1, image, region["mask"], faces)
    c.group("2 · Crop the face for SDXL", region_refs + crop_refs, GROUP_COLORS["crop"])
    crop_faces = c.add(
        "FaceLabFaceLandmarks", 2, title="Face Landmarks (on the crop)", image=crop["crops"], face_order="largest_first"
    )
    scores = c.add(
        "FaceLabZoneScores",
        2,
        size=(320, 470),
        title="Zone Scores",
        preset="custom",
        forehead=0.6,
        crows_feet=0.5,
        nasolabial=0.6,
        under_eye=-0.6,
    )
    # the 'younger' zones: lines removed deterministically first, SDXL then only refines them at low strength
    prior = _smoothing_prior(c, crop, crop_faces, scores)
    c.group(
        "3 · Per-zone scores, younger zones smoothed (on the crop)", [crop_faces, scores, prior], GROUP_COLORS["zones"]
    )
    edit, decoded, sdxl_refs = _zone_edit(c, 3, prior, crop_faces, scores, max_denoise=0.5)
    prompts = c.add("PreviewAny", 4, size=(320, 240), title="Zone Prompts", source=edit["prompts_json"])
    c.group("4 · SDXL: one short pass, per-zone prompt and strength", sdxl_refs + [prompts], GROUP_COLORS["sdxl"])
    _, out_refs = _stitch_if_needed(c, 5, image, decoded, crop["stitch"], edit["needs_sampling"], "local_aging")
    c.group("5 · Stitch back (only if something changes) and save", out_refs, GROUP_COLORS["output"])
    return c.workflow("facelab_local_aging")


def large_photo_edit(schemas) -> dict:
    c = Canvas(schemas)
    c.note(notes.NOTES["facelab_large_photo_edit"])
    image, faces = photo_and_face(c)
    mask, zone_refs = zone_mask(c, 1, image, faces, WRINKLE_ZONES, preview=False)
    crop, crop_refs = face_crop(c, 1, image, mask["mask"], faces, resolution="keep resolution")
    c.group("2 · Zones, crop at full resolution", zone_refs + crop_refs, GROUP_COLORS["crop"])
    tiles = c.add(
        "FaceLabTileSplit",
        2,
        image=crop["crops"],
        mask=crop["crop_masks"],
        tile_size=1024,
        overlap=128,
        only_masked_tiles=True,
    )
    c.group("3 · Split into SDXL tiles", [tiles], GROUP_COLORS["crop"])
    ckpt, model, pos, neg, model_refs = sdxl_models(c, 3)
    decoded, inpaint_refs = inpaint(c, 4, ckpt, model[0], pos[0], neg[0], tiles["tiles"], tiles["tile_masks"], 0.25)
    c.group("4 · SDXL inpaint, every tile", model_refs + inpaint_refs, GROUP_COLORS["sdxl"])
    merged = c.add("FaceLabTileMerge", 5, original=crop["crops"], tiles=decoded[0], tile_plan=tiles["tile_plan"])
    c.group("5 · Merge tiles", [merged], GROUP_COLORS["crop"])
    _, out_refs = stitch_and_save(c, 6, image["IMAGE"], merged[0], crop["stitch"], "large_photo_edit")
    c.group("6 · Stitch back and save", out_refs, GROUP_COLORS["output"])
    return c.workflow("facelab_large_photo_edit")


def identity_guarded_retouch(schemas) -> dict:
    c = Canvas(schemas)
    c.note(notes.NOTES["facelab_identity_guarded_retouch"])
    image, faces = photo_and_face(c)
    mask, zone_refs = zone_mask(c, 1, image, faces, WRINKLE_ZONES, preview=False)
    crop, crop_refs = face_crop(c, 1, image, mask["mask"], faces)
    strengths = c.add(
        "FaceLabSweepStrengths", 1, title="Strengths", steps=SAMPLER["steps"], strengths="0.25, 0.35, 0.45"
    )
    c.group("2 · Zones, crop, strengths", zone_refs + crop_refs + [strengths], GROUP_COLORS["zones"])
    ckpt, model, pos, neg, model_refs = sdxl_models(c, 2)
    decoded, inpaint_refs = inpaint(
        c, 3, ckpt, model[0], pos[0], neg[0], crop["crops"], crop["crop_masks"], strengths["strengths"]
    )
    c.group("3 · SDXL inpaint, once per strength", model_refs + inpaint_refs, GROUP_COLORS["sdxl"])
    stitch = c.add("FaceLabStitch", 4, original=image["IMAGE"], crops=decoded[0], stitch=crop["stitch"])
    variants = c.add("RebatchImages", 4, title="Variants as one batch", images=stitch["image"], batch_size=64)
    grid = c.add("FaceLabSweepGrid", 4, images=variants[0], row_labels=strengths["strengths_text"], columns=1)
    shown = c.add("PreviewImage", 4, size=(320, 360), title="Variants", images=grid[0])
    loader = c.add("FaceLabIdentityModelLoader", 5, backend="dlib")
    select = c.add(
        "FaceLabVariantSelector",
        5,
        size=(320, 300),
        identity_model=loader[0],
        original=image["IMAGE"],
        variants=variants[0],
        mode="retouch",
        strengths=strengths["strengths_text"],
    )
    report = c.add("PreviewAny", 5, size=(320, 260), title="Selection Report", source=select["report"])
    c.group(
        "4 · Stitch, measure identity, choose",
        [stitch, variants, grid, shown, loader, select, report],
        GROUP_COLORS["check"],
    )
    # When no variant keeps the person, the selector returns the photo itself: the saved edit mask is then empty.
    mask_switch, mask_refs = _edit_mask_if(c, 6, image, stitch["blend_mask"], select["passed"])
    saves = save_pair(c, 7, select["image"], mask_switch["image"], "identity_guarded_retouch")
    c.group("5 · Save the chosen variant and what it changed", [*mask_refs, *saves], GROUP_COLORS["output"])
    return c.workflow("facelab_identity_guarded_retouch")


def makeup_transfer(schemas) -> dict:
    c = Canvas(schemas)
    c.note(notes.NOTES["facelab_makeup_transfer"])
    image, faces = photo_and_face(c)
    reference = c.add(
        "LoadImage", 0, size=(320, 400), new_group=True, title="Makeup Reference", image="makeup_reference.png"
    )
    c.group("2 · Makeup reference", [reference], GROUP_COLORS["input"])
    transfer = c.add(
        "FaceLabMakeupTransfer",
        1,
        size=(320, 420),
        source=image["IMAGE"],
        reference=reference["IMAGE"],
        source_landmarks=faces["face_landmarks"],
    )
    prior = c.add("PreviewImage", 1, size=(320, 360), title="Makeup Preview", images=transfer["makeup_prior"])
    report = c.add("PreviewAny", 1, size=(320, 200), title="Makeup Report", source=transfer["report"])
    c.group("3 · Makeup prior (reference → this face)", [transfer, prior, report], GROUP_COLORS["zones"])
    crop = c.add(
        "FaceLabCrop",
        2,
        image=transfer["makeup_prior"],
        mask=transfer["makeup_mask"],
        face_landmarks=faces["face_landmarks"],
    )
    base = c.add(
        "PrimitiveStringMultiline",
        2,
        size=(320, 160),
        title="Positive Prompt",
        value="photo of a person wearing makeup, natural skin texture, same person",
    )
    prompt = c.add("StringConcatenate", 2, string_a=base[0], string_b=transfer["prompt"], delimiter=", ")
    c.group("4 · Crop and prompt", [crop, base, prompt], GROUP_COLORS["crop"])
    ckpt, model, _, _, model_refs = sdxl_models(c, 3, prompts=False)
    # the reference's look inside the sampler: the patch sits between the checkpoint and the sampler, cut like the crop
    attention = c.add(
        "FaceLabMakeupReferenceAttention",
        3,
        size=(320, 380),
        model=model[0],
        vae=ckpt["VAE"],
        makeup=transfer["makeup"],
        stitch=crop["stitch"],
    )
    pos = c.add("CLIPTextEncode", 3, size=(320, 120), title="Prompt With Makeup", clip=ckpt["CLIP"], text=prompt[0])
    neg = c.add(
        "CLIPTextEncode",
        3,
        size=(320, 150),
        title="Negative Prompt",
        clip=ckpt["CLIP"],
        text="smudged makeup, blurry, plastic skin, painting, cartoon, artifacts, different person",
    )
    decoded, inpaint_refs = inpaint(
        c, 4, ckpt, attention["model"], pos[0], neg[0], crop["crops"], crop["crop_masks"], 0.25
    )
    c.group(
        "5 · SDXL refine inside the makeup mask",
        model_refs + [attention, pos, neg] + inpaint_refs,
        GROUP_COLORS["sdxl"],
    )
    _, out_refs = stitch_and_save(c, 5, transfer["makeup_prior"], decoded[0], crop["stitch"], "makeup_transfer")
    c.group("6 · Stitch back and save", out_refs, GROUP_COLORS["output"])
    return c.workflow("facelab_makeup_transfer")


def expression_fix(schemas) -> dict:
    c = Canvas(schemas)
    c.note(notes.NOTES["facelab_expression_fix"])
    image, faces = photo_and_face(c)
    analysis = c.add(
        "FaceLabExpressionAnalysis",
        1,
        size=(320, 380),
        image=image["IMAGE"],
        face_landmarks=faces["face_landmarks"],
        fix="eyes",
    )
    report = c.add("PreviewAny", 1, size=(320, 260), title="Expression Report", source=analysis["report"])
    c.group("2 · What needs fixing", [analysis, report], GROUP_COLORS["zones"])
    crop, crop_refs = face_crop(c, 2, image, analysis["mask"], faces, report=False, align_eyes=True)
    c.group("3 · Crop the faces to fix", crop_refs, GROUP_COLORS["crop"])
    ckpt, model, pos, neg, model_refs = sdxl_models(
        c,
        3,
        positive=analysis["positive_prompt"],
        negative=analysis["negative_prompt"],
        titles=("Fix Prompt", "Fix Negative Prompt"),
    )
    decoded, inpaint_refs = inpaint(
        c, 4, ckpt, model[0], pos[0], neg[0], crop["crops"], crop["crop_masks"], 0.85, steps=30, cfg=5.5
    )
    c.group("4 · SDXL repaint (runs only when needed)", model_refs + inpaint_refs, GROUP_COLORS["sdxl"])
    stitch = c.add("FaceLabStitch", 5, original=image["IMAGE"], crops=decoded[0], stitch=crop["stitch"])
    switch = c.add(
        "FaceLabImageSwitch", 5, needs_fix=analysis["needs_fix"], original=image["IMAGE"], edited=stitch["image"]
    )
    # The saved edit mask follows the same switch: the stitch's blend mask, or the (empty) analysis mask.
    no_fix = c.add("MaskToImage", 5, title="Mask (nothing to fix)", mask=analysis["mask"])
    blend = c.add("MaskToImage", 5, title="Mask (edited)", mask=stitch["blend_mask"])
    mask_switch = c.add(
        "FaceLabImageSwitch",
        5,
        title="Edit Mask If Needed",
        needs_fix=analysis["needs_fix"],
        original=no_fix[0],
        edited=blend[0],
    )
    saves = save_pair(c, 6, switch["image"], mask_switch["image"], "expression_fix")
    c.group(
        "5 · Stitch, use only if needed, save",
        [stitch, switch, no_fix, blend, mask_switch, *saves],
        GROUP_COLORS["output"],
    )
    return c.workflow("facelab_expression_fix")


def _anonymise_front(c: Canvas, candidates: int):
    """Photo, faces, plan, crops repeated for candidates; returns (image, plan, crop, candidates)."""
    image, faces = photo_and_face(c, mode="full_range", max_faces=16)
    plan = c.add("FaceLabAnonymiseFaces", 1, image=image["IMAGE"], face_landmarks=faces["face_landmarks"])
    report = c.add("PreviewAny", 1, size=(320, 200), title="Faces Report", source=plan["report"])
    c.group("2 · Every face to anonymise", [plan, report], GROUP_COLORS["zones"])
    crop, crop_refs = face_crop(c, 2, image, plan["mask"], faces, align_eyes=True)
    repeated = c.add(
        "FaceLabRepeatForCandidates", 2, crops=crop["crops"], crop_masks=crop["crop_masks"], candidates=candidates
    )
    c.group("3 · Crop every face, N candidates each", crop_refs + [repeated], GROUP_COLORS["crop"])
    return image, plan, crop, repeated


def _inversion(c: Canvas, col: int, ckpt, model, negative, repeated, skip: float, steps: int = 50):
    """Source prompt -> InpaintModelConditioning -> scheduler -> DDPM Invert; returns (cond, sigmas, invert, refs).
    The face crops are inverted under a neutral source prompt; the regeneration changes the prompt (and identity)."""
    source = c.add(
        "CLIPTextEncode",
        col,
        size=(320, 130),
        title="Source Prompt (inversion)",
        clip=ckpt["CLIP"],
        text="photo of a person's face",
    )
    cond = c.add(
        "InpaintModelConditioning",
        col,
        positive=source[0],
        negative=negative,
        vae=ckpt["VAE"],
        pixels=repeated["crops"],
        mask=repeated["crop_masks"],
        noise_mask=True,
    )
    sigmas = c.add("BasicScheduler", col, model=model, scheduler="karras", steps=steps, denoise=1.0)
    invert = c.add(
        "FaceLabDDPMInvert",
        col,
        title="DDPM Invert",
        model=model,
        positive=cond["positive"],
        negative=cond["negative"],
        cfg=1.0,
        latent=cond["latent"],
        sigmas=sigmas[0],
        skip=skip,
        seed=42,
    )
    return cond, sigmas, invert, [source, cond, sigmas, invert]


def _regeneration(c: Canvas, col: int, ckpt, positive, negative, repeated, cond, sigmas, invert, guider_node):
    """Edit conditioning, DisableNoise + DDPM Inversion Sampler + SamplerCustomAdvanced ("Sampler") + VAEDecode."""
    edit = c.add(
        "InpaintModelConditioning",
        col,
        title="Inpaint Conditioning (new face)",
        positive=positive,
        negative=negative,
        vae=ckpt["VAE"],
        pixels=repeated["crops"],
        mask=repeated["crop_masks"],
        noise_mask=True,
    )
    guider = guider_node(edit)
    noise = c.add("DisableNoise", col)
    sampler = c.add("FaceLabDDPMInversionSampler", col, inversion=invert["inversion"])
    run = c.add(
        "SamplerCustomAdvanced",
        col,
        size=(320, 160),
        title="Sampler",
        noise=noise[0],
        guider=guider[0],
        sampler=sampler[0],
        sigmas=sigmas[0],
        latent_image=cond["latent"],
    )
    decoded = c.add("VAEDecode", col, samples=run[0], vae=ckpt["VAE"])
    return decoded, [edit, guider, noise, sampler, run, decoded]


def _anonymise_back(c: Canvas, col: int, image, plan, crop, decoded, prefix: str):
    loader = c.add("FaceLabIdentityModelLoader", col, backend="dlib")
    select = c.add(
        "FaceLabAnonymiseSelect",
        col,
        size=(320, 330),
        original=image["IMAGE"],
        candidates=decoded[0],
        anonymise_plan=plan["anonymise_plan"],
        identity_model=loader[0],
        stitch=crop["stitch"],
    )
    shown = c.add("PreviewAny", col, size=(320, 260), title="Anonymisation Report", source=select["report"])
    c.group("6 · Measure, pick, stitch", [loader, select, shown], GROUP_COLORS["check"])
    out_refs = save_result(c, col + 1, select["image"], select["changed_mask"], prefix)
    c.group("7 · Save", out_refs, GROUP_COLORS["output"])


def anonymise(schemas) -> dict:
    c = Canvas(schemas)
    c.note(notes.NOTES["facelab_anonymise"])
    image, plan, crop, repeated = _anonymise_front(c, candidates=2)
    ckpt, model, pos, neg, model_refs = sdxl_models(
        c,
        3,
        positive=plan["positive_prompt"],
        negative=plan["negative_prompt"],
        titles=("New Face Prompt", "New Face Negative Prompt"),
    )
    c.group("4 · SDXL and the new face's prompt", model_refs, GROUP_COLORS["sdxl"])
    cond, sigmas, invert, inv_refs = _inversion(c, 4, ckpt, model[0], neg[0], repeated, skip=0.4)

    def cfg_guider(edit):
        return c.add("CFGGuider", 5, model=model[0], positive=edit["positive"], negative=edit["negative"], cfg=6.0)

    decoded, regen_refs = _regeneration(c, 5, ckpt, pos[0], neg[0], repeated, cond, sigmas, invert, cfg_guider)
    c.group("5 · Invert each face crop (keeps pose, expression, light)", inv_refs, GROUP_COLORS["sdxl"])
    c.align(4, 5)
    c.group("5b · Regenerate with the new face's prompt", regen_refs, GROUP_COLORS["sdxl"])
    _anonymise_back(c, 6, image, plan, crop, decoded, "anonymise")
    return c.workflow("facelab_anonymise")


def anonymise_faceid(schemas) -> dict:
    c = Canvas(schemas)
    c.note(notes.NOTES["facelab_anonymise_faceid"], size=(440, 1100))
    image, plan, crop, repeated = _anonymise_front(c, candidates=2)
    ckpt, model, pos, neg, model_refs = sdxl_models(
        c,
        3,
        positive=plan["positive_prompt"],
        negative=plan["negative_prompt"],
        titles=("New Face Prompt", "New Face Negative Prompt"),
    )
    # The FaceID LoRA patches the weights: apply it before the split so base and identity run the same weights;
    # only the identity branch gets the FaceID attention patches (the face's own embedding, one per crop).
    faceid_loader = c.add(
        "IPAdapterUnifiedLoaderFaceID", 3, model=model[0], preset="FACEID PLUS V2", lora_strength=0.6, provider="CPU"
    )
    faceid = c.add(
        "IPAAdapterFaceIDBatch",
        3,
        size=(320, 330),
        title="Identity (IPAdapter FaceID, per face)",
        model=faceid_loader["MODEL"],
        ipadapter=faceid_loader["ipadapter"],
        image=repeated["crops"],
        weight=1.0,
        weight_faceidv2=1.0,
        weight_type="linear",
        combine_embeds="concat",
        start_at=0.0,
        end_at=1.0,
        embeds_scaling="V only",
        attn_mask=repeated["crop_masks"],
    )
    c.group("4 · SDXL, prompts, FaceID identity model", model_refs + [faceid_loader, faceid], GROUP_COLORS["sdxl"])
    base = faceid_loader["MODEL"]
    cond, sigmas, invert, inv_refs = _inversion(c, 4, ckpt, base, neg[0], repeated, skip=0.7)

    def identity_guider(edit):
        return c.add(
            "FaceLabIdentityGuider",
            5,
            size=(320, 300),
            title="Identity Guider",
            model=base,
            positive=edit["positive"],
            negative=edit["negative"],
            cfg=6.0,
            identity_scale=-10.0,
            start_percent=0.0,
            end_percent=1.0,
            identity_model=faceid["MODEL"],
        )

    decoded, regen_refs = _regeneration(c, 5, ckpt, pos[0], neg[0], repeated, cond, sigmas, invert, identity_guider)
    c.group("5 · Invert each face crop (keeps pose, expression, light)", inv_refs, GROUP_COLORS["sdxl"])
    c.align(4, 5)
    c.group("5b · Regenerate pushed AWAY from the face's identity", regen_refs, GROUP_COLORS["sdxl"])
    _anonymise_back(c, 6, image, plan, crop, decoded, "anonymise_faceid")
    return c.workflow("facelab_anonymise_faceid")


BUILDERS = {
    "facelab_wrinkle_reduction": wrinkle_reduction,
    "facelab_strength_seed_sweep": strength_seed_sweep,
    "facelab_local_aging": local_aging,
    "facelab_large_photo_edit": large_photo_edit,
    "facelab_identity_guarded_retouch": identity_guarded_retouch,
    "facelab_makeup_transfer": makeup_transfer,
    "facelab_expression_fix": expression_fix,
    "facelab_anonymise": anonymise,
    "facelab_anonymise_faceid": anonymise_faceid,
}


def ui_text(workflow: dict) -> str:
    return json.dumps(workflow, indent=1, ensure_ascii=False) + "\n"


def build_all(schemas) -> dict[Path, str]:
    """{path: text} of every UI workflow and its API copy (converted as tools/export_api_workflows.py does)."""
    from comfyui_facelab.workflow_check import errors, ui_to_api

    files = {}
    for name, build in BUILDERS.items():
        workflow = build(schemas)
        prompt, issues = ui_to_api(workflow, schemas)
        if errors(issues):
            raise SystemExit(f"{name}: " + "; ".join(map(str, errors(issues))))
        files[WORKFLOWS / f"{name}.json"] = ui_text(workflow)
        files[WORKFLOWS / "api" / f"{name}.json"] = api_text(prompt)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is missing or stale")
    parser.add_argument("names", nargs="*", help=f"only these workflows (default: all of {list(BUILDERS)})")
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(BUILDERS)
    if unknown:
        parser.error(f"unknown workflow(s) {sorted(unknown)}; known: {list(BUILDERS)}")
    files = build_all(load_schemas())
    if args.names:
        files = {p: t for p, t in files.items() if p.stem in args.names}
    stale = []
    for path, text in files.items():
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    for path in stale:
        print(f"{path.relative_to(ROOT)}: missing or out of date; run tools/build_workflows.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
