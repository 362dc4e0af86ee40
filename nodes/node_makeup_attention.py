"""Makeup Reference Attention: a MODEL patch that lets SDXL look at the reference's makeup while it samples."""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from . import comfy_adapter, types
from .compose.recrop import crop_like
from .makeup import reference_attention as ra
from .makeup.encoding import image_references
from .makeup.reference_image import DEFAULT_REGION_STRENGTHS, reference_image

log = logging.getLogger("FaceLab")

NOISE_SEED = 0  # the reference branch's fixed noise: the same look for the same inputs


def _region(name: str, what: str) -> tuple:
    return ("FLOAT", {"default": DEFAULT_REGION_STRENGTHS[name], "min": 0.0, "max": 1.0, "step": 0.05,
                      "tooltip": f"How strongly the {what} look at the reference's: 0 leaves them to the prompt and the prior, 1 is full reference attention."})  # fmt: skip


class FaceLabMakeupReferenceAttention:
    DESCRIPTION = (
        "Lets SDXL look at the makeup reference while it samples, without extra model weights ('reference-only' "
        "attention, restricted to the makeup regions): the reference face, warped onto the source face by Makeup "
        "Transfer, is noised like the image at every step and run through the model alongside it; inside the lips, "
        "eyes, blush, brows (and optionally skin) regions the image's self-attention also reads the reference's. This "
        "carries what colour transfer cannot: liner shape and wing, lash density, shimmer, blush gradients. Outside "
        "the regions the model is untouched; strength 0 returns the model unchanged. Costs about one extra image "
        "per step (the batch doubles) while active. Connect Crop Face Region's stitch when the sampler works on crops."
    )
    CATEGORY = types.category("Makeup")
    FUNCTION = "patch"
    RETURN_TYPES = ("MODEL", "STRING")
    RETURN_NAMES = ("model", "report")
    OUTPUT_TOOLTIPS = (
        "The model with reference attention in its self-attention blocks: connect it to the sampler.",
        "What the patch does per image: regions, warnings (small reference, no face), or why it is off.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        # fmt: off
        return {
            "required": {
                "model": ("MODEL", {"tooltip": "An SDXL (or SD 1.x) UNet model, e.g. from Load Checkpoint. Other architectures are refused."}),
                "vae": ("VAE", {"tooltip": "The VAE of that model: encodes the warped reference like the sampler's image."}),
                "makeup": (types.MAKEUP, {"tooltip": "The makeup output of Makeup Transfer: carries the reference and where each face's makeup goes."}),
                "strength": ("FLOAT", {"default": 0.8, "min": 0.0, "max": 1.0, "step": 0.05, "tooltip": "Overall weight of the reference inside the makeup regions (multiplies the region strengths). 0 = off, model unchanged."}),
                "lips": _region("lips", "lips"),
                "eyes": _region("eyes", "lids, liner and lashes"),
                "blush": _region("blush", "cheeks"),
                "brows": _region("brows", "brows"),
                "skin": _region("skin", "skin (foundation, texture)"),
                "start_percent": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 1.0, "step": 0.01, "tooltip": "Where along the noise range the reference starts to count (0 = from the first step)."}),
                "end_percent": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01, "tooltip": "Where it stops (1 = until the last step). Percent of the model's noise range, as ComfyUI's other patches count it: a low-denoise sampler only covers its last part (denoise 0.25: about 0.75-1)."}),
            },
            "optional": {
                "stitch": (types.STITCH, {"tooltip": "Crop Face Region's stitch output when the sampler works on its crops: the reference and regions are cut the same way. Leave empty when the sampler sees the whole image."}),
            },
        }
        # fmt: on

    def patch(
        self, model, vae, makeup, strength, lips, eyes, blush, brows, skin, start_percent, end_percent, stitch=None
    ):
        blocks = comfy_adapter.unet_self_attention_blocks(model)
        if not blocks:
            raise ValueError(
                f"FaceLab: Makeup Reference Attention needs a UNet with SDXL's self-attention blocks "
                f"(SDXL, SD 1.x/2.x); this model is {comfy_adapter.model_type_name(model)}"
            )
        if end_percent <= start_percent:
            raise ValueError(f"FaceLab: end_percent ({end_percent}) must be above start_percent ({start_percent})")
        regions = {"lips": lips, "eyes": eyes, "blush": blush, "brows": brows, "skin": skin}
        entries = image_references(makeup)
        if strength <= 0 or not any(v > 0 for v in regions.values()):
            return (model, "strength 0: model unchanged")
        if not entries:
            return (
                model,
                "the makeup input carries no reference (not from Makeup Transfer, or loaded from a file): model unchanged",
            )
        refs = [reference_image(e, regions, float(makeup.get("feather", 8.0))) for e in entries]
        lines = [f"image {i + 1}: {n}" for i, r in enumerate(refs) for n in r.notes]
        for line in lines:
            log.warning("FaceLab makeup attention: %s", line)
        images = torch.stack([r.image for r in refs])
        weights = torch.stack([r.weight for r in refs])[..., None]
        if stitch is not None:
            images, weights = crop_like(stitch, images), crop_like(stitch, weights)
        if not bool((weights > 0).any()):
            return (model, "\n".join(lines + ["no makeup region to attend to: model unchanged"]))

        latent = comfy_adapter.process_latent_in(model, comfy_adapter.vae_encode(vae, images))
        lat_hw = tuple(latent.shape[-2:])
        w = F.interpolate(weights.permute(0, 3, 1, 2).float(), size=lat_hw, mode="area")[:, 0] * float(strength)
        gen = torch.Generator().manual_seed(NOISE_SEED)
        noise = torch.randn(latent.shape, generator=gen, dtype=torch.float32).to(latent.device, latent.dtype)
        sampling = comfy_adapter.patcher_model_sampling(model)
        branch = ra.ReferenceBranch(
            latent,
            noise,
            w.to(latent.device),
            sigma_start=float(sampling.percent_to_sigma(float(start_percent))),
            sigma_end=float(sampling.percent_to_sigma(float(end_percent))),
            noise_scaling=lambda sigma, n, lat: sampling.noise_scaling(sigma, n, lat),
            attention=comfy_adapter.attention_function(),
        )
        patched = comfy_adapter.clone_model(model)
        replace = ra.attn1_replace(branch.attention)
        for name, number, index in blocks:
            comfy_adapter.set_attn1_replace(patched, replace, name, number, index)
        comfy_adapter.set_unet_wrapper(patched, ra.unet_wrapper(branch, comfy_adapter.unet_wrapper_of(model)))
        share = [f"{float((r > 0).float().mean()):.1%}" for r in w]
        lines.append(
            f"reference attention in {len(blocks)} self-attention blocks, {latent.shape[0]} reference(s), "
            f"makeup regions cover {', '.join(share)} of the latent; active from {start_percent:.2f} to {end_percent:.2f} of the noise range"
        )
        return (patched, "\n".join(lines))


NODE_CLASS_MAPPINGS = {"FaceLabMakeupReferenceAttention": FaceLabMakeupReferenceAttention}
NODE_DISPLAY_NAME_MAPPINGS = {"FaceLabMakeupReferenceAttention": "Makeup Reference Attention"}
