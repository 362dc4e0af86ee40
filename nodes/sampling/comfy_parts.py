"""FaceLab sampling parts as ComfyUI values: SAMPLERs for DDPM inversion / regeneration and the identity GUIDER.

They follow core's Sampler.sample / CFGGuider.predict_noise conventions, so core's SamplerCustomAdvanced runs them;
ComfyUI pieces (base classes, the inpaint model wrapper, cond batching) come from comfy_adapter, which has
standalone stand-ins, so these classes also run (and are tested) without ComfyUI.
"""

from __future__ import annotations

import logging

import torch

from .. import comfy_adapter
from . import ddpm_inversion, identity_guidance
from .ddpm_inversion import Inversion

log = logging.getLogger("FaceLab")


def _denoiser(model_wrap, sigmas, latent_image, noise, extra_args):
    """denoise(x, sigma) through ComfyUI's inpaint wrapper: outside the noise mask the kept latent, exactly."""
    wrapped = comfy_adapter.inpaint_denoiser(model_wrap, sigmas, latent_image, noise)

    def denoise(x, sigma):
        s = torch.full((x.shape[0],), float(sigma), device=x.device, dtype=x.dtype)
        return wrapped(x, s, **extra_args)

    return denoise


def _add_noise(model_wrap):
    ms = comfy_adapter.model_sampling(model_wrap)
    if ms is None or not hasattr(ms, "noise_scaling"):
        return ddpm_inversion.plain_add_noise
    return lambda x0, eps, sigma: ms.noise_scaling(torch.tensor(sigma, device=x0.device, dtype=x0.dtype), eps, x0)


def _finish(model_wrap, sigma, x):
    ms = comfy_adapter.model_sampling(model_wrap)
    if ms is None or not hasattr(ms, "inverse_noise_scaling"):
        return x
    return ms.inverse_noise_scaling(torch.tensor(sigma, device=x.device, dtype=x.dtype), x)


def _store(t: torch.Tensor) -> torch.Tensor:
    return comfy_adapter.to_intermediate(t.detach())


class InversionRecorder(comfy_adapter.sampler_base_class()):
    """A SAMPLER that inverts instead of sampling: run by a guider on the latent to invert; afterwards
    `.inversion` holds the result. The NOISE it is given is the start step's noise."""

    def __init__(self, start: int, seed: int):
        self.start, self.seed = int(start), int(seed)
        self.inversion: Inversion | None = None

    def sample(
        self, model_wrap, sigmas, extra_args, callback, noise, latent_image=None, denoise_mask=None, disable_pbar=False
    ):
        extra_args["denoise_mask"] = denoise_mask
        x0 = latent_image if latent_image is not None else torch.zeros_like(noise)
        denoise = _denoiser(model_wrap, sigmas, x0, noise, extra_args)
        draw = ddpm_inversion.seeded_noise(self.seed + 1, x0.shape)
        bar = comfy_adapter.progress_bar(len(sigmas) - 1 - self.start)

        def on_step(k, _total):
            comfy_adapter.check_interrupt()
            bar.update_absolute(k)

        inv = ddpm_inversion.invert(
            denoise, x0, sigmas, self.start, draw, add_noise=_add_noise(model_wrap), noise_start=noise, on_step=on_step
        )
        bar.update_absolute(inv.steps())
        key, name = comfy_adapter.model_identity(getattr(model_wrap, "model_patcher", model_wrap))
        self.inversion = Inversion(
            x_start=_store(inv.x_start),
            noise_start=_store(inv.noise_start),
            zs=[_store(z) for z in inv.zs],
            sigmas=inv.sigmas,
            start=inv.start,
            model_key=key,
            model_name=name,
        )
        return x0


class InversionSampler(comfy_adapter.sampler_base_class()):
    """A SAMPLER that regenerates from a FaceLab inversion: starts at its stored noisy latent and adds its stored
    noise maps at every DDPM step; the NOISE given to SamplerCustomAdvanced is not used (connect DisableNoise)."""

    def __init__(self, inversion: Inversion):
        self.inversion = inversion

    def sample(
        self, model_wrap, sigmas, extra_args, callback, noise, latent_image=None, denoise_mask=None, disable_pbar=False
    ):
        inv = self.inversion
        ref = latent_image if latent_image is not None else noise
        key, name = comfy_adapter.model_identity(getattr(model_wrap, "model_patcher", model_wrap))
        inv.check_fits(ref.shape, key, name)
        full = inv.schedule_for(sigmas).to(device=ref.device, dtype=torch.float32)
        extra_args["denoise_mask"] = denoise_mask
        noise_start = inv.noise_start.to(ref)
        kept = latent_image if latent_image is not None else torch.zeros_like(ref)
        denoise = _denoiser(model_wrap, full, kept, noise_start, extra_args)
        moved = Inversion(
            x_start=inv.x_start.to(ref), noise_start=noise_start, zs=inv.zs, sigmas=inv.sigmas, start=inv.start
        )

        def on_step(k, total, x, den):
            comfy_adapter.check_interrupt()
            if callback is not None:
                callback(k, den, x, total)

        x = ddpm_inversion.regenerate(denoise, moved, on_step=on_step)
        return _finish(model_wrap, float(inv.sigmas[-1]), x)


class IdentityGuider(comfy_adapter.cfg_guider_class()):
    """CFG plus scale * (identity model's positive prediction - base model's positive prediction) inside
    [start_percent, end_percent] of the schedule (nodes/sampling/identity_guidance.py)."""

    def __init__(
        self,
        model_patcher,
        identity_model=None,
        scale: float = 0.0,
        start_percent: float = 0.0,
        end_percent: float = 1.0,
    ):
        super().__init__(model_patcher)
        self.identity_model = identity_model
        self.scale = float(scale)
        self.start_percent, self.end_percent = float(start_percent), float(end_percent)
        identity_guidance.window_sigmas(lambda p: p, self.start_percent, self.end_percent)  # validates the range

    def uses_identity(self) -> bool:
        return self.identity_model is not None and self.scale != 0.0

    def sample(self, *args, **kwargs):
        if self.uses_identity() and not comfy_adapter.same_weights(self.model_patcher, self.identity_model):
            base, ident = (comfy_adapter.model_identity(m)[1] for m in (self.model_patcher, self.identity_model))
            raise ValueError(
                f"FaceLab: the identity model ({ident}) does not run the same weights as the base model ({base}): "
                "connect the same MODEL chain to both (apply a FaceID LoRA before the split, the identity adapter "
                "only on the identity branch)"
            )
        return super().sample(*args, **kwargs)

    def _window(self):
        ms = comfy_adapter.model_sampling(self)
        to_sigma = ms.percent_to_sigma if ms is not None and hasattr(ms, "percent_to_sigma") else None
        if to_sigma is None:  # a model without a percent -> sigma mapping: the whole schedule
            return (float("inf"), 0.0)
        return identity_guidance.window_sigmas(to_sigma, self.start_percent, self.end_percent)

    def predict_noise(self, x, timestep, model_options={}, seed=None):  # noqa: B006 - ComfyUI's signature
        sigma = float(timestep.flatten()[0]) if torch.is_tensor(timestep) else float(timestep)
        if not self.uses_identity() or not identity_guidance.active(sigma, self._window()):
            return super().predict_noise(x, timestep, model_options, seed)
        captured = {}

        def capture(args):
            captured["cond"] = args["cond_denoised"]
            return args["denoised"]

        options = comfy_adapter.clone_model_options(model_options)
        options["sampler_post_cfg_function"] = list(options.get("sampler_post_cfg_function", [])) + [capture]
        base = super().predict_noise(x, timestep, options, seed)
        identity = comfy_adapter.positive_prediction(self, self.identity_model, x, timestep, model_options)
        return identity_guidance.combine(base, captured["cond"], identity, self.scale)
