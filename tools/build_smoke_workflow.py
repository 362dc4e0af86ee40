"""Write tests/data/workflows/core_inpaint_smoke.json: a minimal wrinkle-reduction inpaint with core nodes only
(LoadImage + LoadImageMask -> InpaintModelConditioning -> DifferentialDiffusion -> KSampler -> VAEDecode ->
ImageCompositeMasked -> SaveImage). The real-ComfyUI tests run it to prove the harness end to end.

    python tools/build_smoke_workflow.py && python tools/export_api_workflows.py tests/data/workflows
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from export_api_workflows import load_schemas  # noqa: E402

NOTE = """## Minimal wrinkle reduction (core nodes only)

**Model:** an SDXL *inpainting* checkpoint in `models/checkpoints/` (e.g. `sd_xl_inpainting_0.1.safetensors`,
9 input channels). A regular SDXL checkpoint also loads but blends less cleanly.

1. **Input Image**: the portrait. **Edit Mask**: a black/white image of the same size, white where wrinkles
   should be softened (forehead, under-eyes, smile lines). Soft edges give smoother transitions.
2. Knobs that matter: **denoise** on the sampler (0.25-0.45 keeps identity; higher invents skin),
   **steps** (20-30), **cfg** (4-6).
3. The last step pastes the result back through the mask, so every pixel outside it is the original.
"""


def build(schemas) -> dict:
    from comfyui_facelab.workflow_check.builder import UiWorkflowBuilder

    wf = UiWorkflowBuilder(schemas)
    ckpt = wf.add(
        "CheckpointLoaderSimple",
        title="SDXL Inpaint Checkpoint",
        pos=(0, 0),
        ckpt_name="sd_xl_inpainting_0.1.safetensors",
    )
    image = wf.add("LoadImage", title="Input Image", pos=(0, 200), image="portrait.png")
    mask = wf.add("LoadImageMask", title="Edit Mask", pos=(0, 620), image="portrait_mask.png", channel="red")
    text = dict(width=1024, height=1024, crop_w=0, crop_h=0, target_width=1024, target_height=1024)
    positive = wf.add(
        "CLIPTextEncodeSDXL",
        title="Positive Prompt",
        pos=(380, 0),
        clip=ckpt["CLIP"],
        **text,
        text_g="smooth skin, softened wrinkles, natural skin texture, same person",
        text_l="smooth skin, natural skin texture",
    )
    negative = wf.add(
        "CLIPTextEncodeSDXL",
        title="Negative Prompt",
        pos=(380, 420),
        clip=ckpt["CLIP"],
        **text,
        text_g="plastic skin, blur, artifacts, different person",
        text_l="plastic skin, blur",
    )
    cond = wf.add(
        "InpaintModelConditioning",
        pos=(760, 0),
        positive=positive[0],
        negative=negative[0],
        vae=ckpt["VAE"],
        pixels=image["IMAGE"],
        mask=mask["MASK"],
        noise_mask=True,
    )
    diff = wf.add("DifferentialDiffusion", pos=(760, 260), model=ckpt["MODEL"], strength=1.0)
    sampler = wf.add(
        "KSampler",
        title="Sampler",
        pos=(1140, 0),
        model=diff[0],
        positive=cond["positive"],
        negative=cond["negative"],
        latent_image=cond["latent"],
        seed=42,
        steps=24,
        cfg=5.0,
        sampler_name="dpmpp_2m",
        scheduler="karras",
        denoise=0.35,
    )
    decoded = wf.add("VAEDecode", pos=(1520, 0), samples=sampler[0], vae=ckpt["VAE"])
    pasted = wf.add(
        "ImageCompositeMasked",
        title="Paste Back Through Mask",
        pos=(1520, 160),
        destination=image["IMAGE"],
        source=decoded[0],
        x=0,
        y=0,
        resize_source=False,
        mask=mask["MASK"],
    )
    wf.add("SaveImage", title="Save Result", pos=(1900, 0), images=pasted[0], filename_prefix="FaceLab/smoke")
    wf.note(NOTE, pos=(380, 840), size=(560, 320), title="Read me: model and knobs")
    return wf.workflow()


def main() -> int:
    out = ROOT / "tests" / "data" / "workflows" / "core_inpaint_smoke.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(build(load_schemas()), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
