"""Sampling nodes: edit-friendly DDPM inversion (invert, then regenerate through core's SamplerCustomAdvanced with the
DDPM Inversion Sampler) and the Identity Guider (a GUIDER for core's SamplerCustomAdvanced).

Thin V1 wrappers over sampling/*.py; docs/sampling.md has the formulas.
"""

from __future__ import annotations

import logging

from . import comfy_adapter, types
from .sampling import ddpm_inversion
from .sampling.comfy_parts import IdentityGuider, InversionRecorder, InversionSampler

log = logging.getLogger("FaceLab")


def _check_skip(skip) -> bool | str:
    try:
        value = float(skip)
    except (TypeError, ValueError):
        return f"FaceLab: skip must be a number between 0 and 1, got {skip!r}"
    return True if 0.0 <= value <= 1.0 else f"FaceLab: skip must be between 0 and 1, got {value}"


class FaceLabDDPMInvert:
    DESCRIPTION = (
        "Edit-friendly DDPM inversion (Huberman-Spiegelglas et al. 2024, as in LEDITS++): noises the latent with "
        "independent noise at every step, runs the model, and solves the noise maps that make DDPM sampling land "
        "exactly on the input. Regenerate with 'DDPM Inversion Sampler' in SamplerCustomAdvanced (noise: "
        "DisableNoise, same SIGMAS and latent): with the same prompt you get the input back; with another prompt "
        "(or the Identity Guider) an edit that keeps pose, expression and composition. Honours the latent's noise "
        "mask (inpaint): outside it the latent is kept exactly."
    )
    CATEGORY = types.category("Sampling")
    FUNCTION = "invert"
    RETURN_TYPES = (types.INVERSION,)
    RETURN_NAMES = ("inversion",)
    OUTPUT_TOOLTIPS = ("The start latent and per-step noise maps; connect it to 'DDPM Inversion Sampler'.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "model": ("MODEL", {"tooltip": "The model to invert with; regenerate with the same MODEL (weights)."}),
                "positive": (
                    "CONDITIONING",
                    {
                        "tooltip": "Conditioning describing the SOURCE image (the edit prompt goes to the regeneration's guider)."
                    },
                ),
                "negative": ("CONDITIONING", {"tooltip": "Negative conditioning for the inversion's CFG."}),
                "cfg": (
                    "FLOAT",
                    {
                        "default": 1.0,
                        "min": 0.0,
                        "max": 30.0,
                        "step": 0.1,
                        "tooltip": "CFG of the inversion's model calls (1 = positive only, one model call per step; LEDITS++ inverts with a low scale).",
                    },
                ),
                "latent": (
                    "LATENT",
                    {
                        "tooltip": "The latent to invert (VAE Encode / InpaintModelConditioning); its noise_mask is honoured."
                    },
                ),
                "sigmas": (
                    "SIGMAS",
                    {"tooltip": "The schedule (e.g. BasicScheduler); give the regeneration the same SIGMAS."},
                ),
                "skip": (
                    "FLOAT",
                    {
                        "default": 0.0,
                        "min": 0.0,
                        "max": 1.0,
                        "step": 0.01,
                        "tooltip": "Part of the steps kept from the image: 0 regenerates from the first sigma, 0.7 only the last 30 % (coarse structure kept exactly; fewer model calls).",
                    },
                ),
                "seed": (
                    "INT",
                    {
                        "default": 0,
                        "min": 0,
                        "max": 0xFFFFFFFFFFFFFFFF,
                        "control_after_generate": True,
                        "tooltip": "Seed of the independent per-step noise; other seeds give other edits of the same image.",
                    },
                ),
            }
        }

    @classmethod
    def VALIDATE_INPUTS(cls, skip=0.0):
        return _check_skip(skip)

    def invert(self, model, positive, negative, cfg, latent, sigmas, skip, seed):
        ok = _check_skip(skip)
        if ok is not True:
            raise ValueError(ok)
        start = ddpm_inversion.start_index(sigmas, skip)
        samples = comfy_adapter.fix_latent_channels(model, latent["samples"])
        guider = comfy_adapter.cfg_guider_class()(model)
        guider.set_conds(positive, negative)
        guider.set_cfg(cfg)
        noise = ddpm_inversion.seeded_noise(seed, samples.shape)(0)
        recorder = InversionRecorder(start, seed)
        guider.sample(
            noise,
            samples,
            recorder,
            sigmas,
            denoise_mask=latent.get("noise_mask"),
            callback=None,
            disable_pbar=True,
            seed=seed,
        )
        inv = recorder.inversion
        log.info("FaceLab: DDPM inversion of %s over %d of %d steps", inv.describe(), inv.steps(), len(sigmas) - 1)
        return (inv,)


class FaceLabDDPMInversionSampler:
    DESCRIPTION = (
        "A SAMPLER for core SamplerCustomAdvanced that regenerates from a 'DDPM Invert (FaceLab)' result: starts at "
        "its noisy latent (skip) and adds its noise maps at every DDPM step. Connect DisableNoise as noise (the "
        "inversion brings its own), the same SIGMAS and the same latent (with its noise mask) as the inversion. "
        "Errors clearly when the inversion was made for another latent size or model."
    )
    CATEGORY = types.category("Sampling")
    FUNCTION = "get_sampler"
    RETURN_TYPES = ("SAMPLER",)
    RETURN_NAMES = ("sampler",)
    OUTPUT_TOOLTIPS = ("Connect to SamplerCustomAdvanced's sampler input.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"inversion": (types.INVERSION, {"tooltip": "From 'DDPM Invert (FaceLab)'."})}}

    def get_sampler(self, inversion):
        return (InversionSampler(inversion),)


class FaceLabIdentityGuider:
    DESCRIPTION = (
        "A GUIDER for core SamplerCustomAdvanced: CFG from the base model plus scale x (identity model's prediction "
        "- base model's prediction) for the positive prompt, on the chosen part of the schedule. The identity model "
        "is the same MODEL with an identity adapter applied (IP-Adapter FaceID, InstantID, PuLID from their packs). "
        "Negative scale moves the face away from that person (anonymise), positive holds the person (retouch). "
        "Without an identity model (or scale 0) it is plain CFG."
    )
    CATEGORY = types.category("Sampling")
    FUNCTION = "get_guider"
    RETURN_TYPES = ("GUIDER", "STRING")
    RETURN_NAMES = ("guider", "note")
    OUTPUT_TOOLTIPS = (
        "Connect to SamplerCustomAdvanced's guider input.",
        "What the guider will do (plain CFG or identity guidance).",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "model": ("MODEL", {"tooltip": "The base model (without the identity adapter)."}),
                "positive": ("CONDITIONING", {"tooltip": "Positive conditioning (the edit prompt)."}),
                "negative": ("CONDITIONING", {"tooltip": "Negative conditioning."}),
                "cfg": (
                    "FLOAT",
                    {
                        "default": 6.0,
                        "min": 0.0,
                        "max": 30.0,
                        "step": 0.1,
                        "tooltip": "Classifier-free guidance scale of the base prediction.",
                    },
                ),
                "identity_scale": (
                    "FLOAT",
                    {
                        "default": -1.0,
                        "min": -30.0,
                        "max": 30.0,
                        "step": 0.1,
                        "tooltip": "Identity guidance scale: negative = away from the identity (anonymise), positive = keep it (retouch), 0 = off.",
                    },
                ),
                "start_percent": (
                    "FLOAT",
                    {
                        "default": 0.0,
                        "min": 0.0,
                        "max": 1.0,
                        "step": 0.01,
                        "tooltip": "Where in the schedule identity guidance starts (0 = first step).",
                    },
                ),
                "end_percent": (
                    "FLOAT",
                    {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01, "tooltip": "Where it ends (1 = last step)."},
                ),
            },
            "optional": {
                "identity_model": (
                    "MODEL",
                    {
                        "tooltip": "The same MODEL with an identity adapter applied (e.g. IPAdapterFaceID's output). Not connected: plain CFG."
                    },
                ),
            },
        }

    @classmethod
    def VALIDATE_INPUTS(cls, start_percent=0.0, end_percent=1.0):
        # Naming them here turns off ComfyUI's own min/max check for these two inputs: do it here.
        for name, value in (("start_percent", start_percent), ("end_percent", end_percent)):
            if not 0.0 <= float(value) <= 1.0:  # NaN fails too
                return f"FaceLab: {name} must be between 0 and 1, got {value}"
        if float(start_percent) > float(end_percent):
            return f"FaceLab: start_percent ({start_percent}) must not be after end_percent ({end_percent})"
        return True

    def get_guider(
        self, model, positive, negative, cfg, identity_scale, start_percent, end_percent, identity_model=None
    ):
        guider = IdentityGuider(model, identity_model, identity_scale, start_percent, end_percent)
        guider.set_conds(positive, negative)
        guider.set_cfg(cfg)
        if identity_model is None:
            note = "identity_model not connected: plain CFG (no identity guidance)"
            log.warning("FaceLab: Identity Guider: %s", note)
        elif identity_scale == 0:
            note = "identity_scale is 0: plain CFG"
        else:
            direction = "away from" if identity_scale < 0 else "towards"
            note = (
                f"identity guidance {identity_scale:+g} ({direction} the identity) from {start_percent:.0%} to "
                f"{end_percent:.0%} of the schedule, CFG {cfg:g}"
            )
        return (guider, note)


NODE_CLASS_MAPPINGS = {
    "FaceLabDDPMInvert": FaceLabDDPMInvert,
    "FaceLabDDPMInversionSampler": FaceLabDDPMInversionSampler,
    "FaceLabIdentityGuider": FaceLabIdentityGuider,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "FaceLabDDPMInvert": "DDPM Invert (FaceLab)",
    "FaceLabDDPMInversionSampler": "DDPM Inversion Sampler",
    "FaceLabIdentityGuider": "Identity Guider (FaceLab)",
}
