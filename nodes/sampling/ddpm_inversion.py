"""Edit-friendly DDPM inversion (Huberman-Spiegelglas, Kulikov & Michaeli, CVPR 2024; the inversion LEDITS++ uses).

Written in ComfyUI's sigma space, where a noisy latent is x_t = x0 + sigma_t * eps (EPS / V-prediction models; for
other model types the caller passes the model's own noise_scaling as `add_noise`).

The sampling step is the DDPM posterior step, which in sigma space is the ancestral (eta = 1) step:

    x_next = mean + c * z,   mean = den + a * (x - den),   a = (s_next / s)^2,   c = s_next * sqrt(1 - a)

with `den` the model's denoised prediction at (x, s). The last step to sigma 0 has c = 0 in DDPM; here it keeps a
residual map with c = 1 so that reconstruction is exact there too (the paper does the same at t = 1).

Inversion: draw every x_t = x0 + sigma_t * eps_t with INDEPENDENT noise eps_t, run the model at each x_t, and solve
z_t = (x_{t+1} - mean_t) / c_t. Regenerating from x_start with the same z_t and the same model and conditioning then
lands on every x_t again and ends on x0; with another prompt the z_t carry the image's structure into the edit.

Pure torch: the denoiser is any callable denoise(x, sigma) -> denoised (a ComfyUI model wrapper or a test model).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

Denoise = Callable[[torch.Tensor, float], torch.Tensor]
AddNoise = Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]


class InversionError(ValueError):
    """A FaceLab inversion that does not fit the sampler it is used with (message names both sides)."""


def plain_add_noise(x0: torch.Tensor, eps: torch.Tensor, sigma: float) -> torch.Tensor:
    """x0 + sigma * eps: EPS and V-prediction noise scaling."""
    return x0 + eps * float(sigma)


def step_coefficients(sigma: float, sigma_next: float) -> tuple[float, float]:
    """(a, c) of the DDPM posterior step from sigma to sigma_next (see the module docstring)."""
    sigma, sigma_next = float(sigma), float(sigma_next)
    if not sigma > sigma_next >= 0.0:
        raise InversionError(f"FaceLab: sigmas must decrease to >= 0, got a step from {sigma:g} to {sigma_next:g}")
    a = (sigma_next / sigma) ** 2
    c = sigma_next * math.sqrt(max(1.0 - a, 0.0))
    return a, (c if c > 0.0 else 1.0)


def step(x: torch.Tensor, den: torch.Tensor, z: torch.Tensor, sigma: float, sigma_next: float) -> torch.Tensor:
    """One DDPM step, computed in float64 and returned in x's dtype (see _mean)."""
    a, c = step_coefficients(sigma, sigma_next)
    return (_mean(x, den, a) + c * z.to(device=x.device, dtype=torch.float64)).to(x.dtype)


def _mean(x: torch.Tensor, den: torch.Tensor, a: float) -> torch.Tensor:
    # float64 step arithmetic, float64 noise maps: mean + c * z then rounds back to exactly the float32 latent the
    # inversion drew, so regeneration feeds the model bit-identical inputs and the model's own sensitivity to
    # rounding (which a sharp network amplifies step after step) never comes into play.
    den = den.to(torch.float64)
    return den + a * (x.to(torch.float64) - den)


def start_index(sigmas, skip: float) -> int:
    """The step regeneration starts at: skip 0 = the first sigma (full regeneration), skip 0.7 = 70 % of the steps
    kept from the image (only the last 30 % are regenerated). Always leaves at least one step."""
    if not 0.0 <= float(skip) <= 1.0:
        raise InversionError(f"FaceLab: skip must be between 0 and 1, got {skip}")
    steps = len(sigmas) - 1
    if steps < 1:
        raise InversionError("FaceLab: the sigma schedule needs at least 2 values (1 step)")
    return min(int(round(float(skip) * steps)), steps - 1)


@dataclass
class Inversion:
    """What regeneration needs: the start latent and the per-step noise maps, in the sampler's latent space."""

    x_start: torch.Tensor  # noisy latent at sigmas[start]
    noise_start: torch.Tensor  # its eps (ComfyUI also uses it for the model input outside an inpaint mask)
    zs: list[torch.Tensor]  # one noise map per step from start to the end (float64, see _mean)
    sigmas: torch.Tensor  # the full schedule (float64 on CPU)
    start: int
    model_key: str = ""  # which model (weights) made it
    model_name: str = ""  # for messages
    info: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple:
        return tuple(self.x_start.shape)

    def describe(self) -> str:
        return f"model {self.model_name or '?'}, latent {list(self.shape)}"

    def steps(self) -> int:
        return len(self.zs)

    def check_fits(self, shape, model_key: str, model_name: str) -> None:
        """Raise a clear error when used with another latent size or another model (both named)."""
        if tuple(shape) != self.shape:
            raise InversionError(
                f"FaceLab: this inversion was made for latent {list(self.shape)} but the sampler got latent "
                f"{list(shape)}: invert the same image (same crop size and batch) you regenerate"
            )
        if self.model_key and model_key and model_key != self.model_key:
            raise InversionError(
                f"FaceLab: this inversion was made with model {self.model_name} [{self.model_key}] but the sampler "
                f"runs model {model_name} [{model_key}]: invert and regenerate with the same MODEL (same weights "
                "and LoRAs; attention patches such as IP-Adapter may differ)"
            )

    def schedule_for(self, sigmas) -> torch.Tensor:
        """The sigmas the sampler was given must be the inverted schedule, whole or from the start step on."""
        given = torch.as_tensor(sigmas, dtype=torch.float64).flatten().cpu()
        tail = self.sigmas[self.start :]
        for candidate in (self.sigmas, tail):
            if given.shape == candidate.shape and torch.allclose(given, candidate, rtol=1e-5, atol=1e-6):
                return self.sigmas
        raise InversionError(
            f"FaceLab: the sampler's SIGMAS ({len(given) - 1} steps, {float(given[0]):.4g} -> {float(given[-1]):.4g}) "
            f"are not the schedule this inversion was made with ({len(self.sigmas) - 1} steps, "
            f"{float(self.sigmas[0]):.4g} -> {float(self.sigmas[-1]):.4g}, start step {self.start}): connect the same "
            "SIGMAS to both"
        )


def invert(
    denoise: Denoise,
    x0: torch.Tensor,
    sigmas,
    start: int,
    draw_noise: Callable[[int], torch.Tensor],
    *,
    add_noise: AddNoise = plain_add_noise,
    noise_start: torch.Tensor | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> Inversion:
    """Invert x0 over sigmas[start:]. draw_noise(i) returns independent standard noise for step i (x0's shape);
    noise_start, when given, is the start step's noise (ComfyUI's NOISE for the inpaint outside-mask input)."""
    sig = torch.as_tensor(sigmas, dtype=torch.float64).flatten().cpu()
    n = len(sig) - 1
    if not 0 <= start < n:
        raise InversionError(f"FaceLab: start step {start} is outside the schedule's {n} steps")
    eps0 = (draw_noise(start) if noise_start is None else noise_start).to(x0)
    x = add_noise(x0, eps0, float(sig[start]))
    inv = Inversion(x_start=x, noise_start=eps0, zs=[], sigmas=sig, start=start)
    for i in range(start, n):
        if on_step is not None:
            on_step(i - start, n - start)
        den = denoise(x, float(sig[i]))
        x_next = add_noise(x0, draw_noise(i + 1).to(x0), float(sig[i + 1])) if sig[i + 1] > 0 else x0
        a, c = step_coefficients(sig[i], sig[i + 1])
        inv.zs.append((x_next.to(torch.float64) - _mean(x, den, a)) / c)
        x = x_next
    return inv


def regenerate(
    denoise: Denoise, inv: Inversion, *, on_step: Callable[[int, int, torch.Tensor, torch.Tensor], None] | None = None
) -> torch.Tensor:
    """Sample from inv.x_start with inv.zs; on_step(k, total, x, den) after every step."""
    sig = inv.sigmas
    x = inv.x_start
    total = len(inv.zs)
    for k, z in enumerate(inv.zs):
        i = inv.start + k
        den = denoise(x, float(sig[i]))
        x = step(x, den, z, sig[i], sig[i + 1])
        if on_step is not None:
            on_step(k, total, x, den)
    return x


def seeded_noise(seed: int, shape, dtype=torch.float32) -> Callable[[int], torch.Tensor]:
    """Independent standard noise per step, reproducible from the seed (drawn on the CPU as ComfyUI does)."""
    gen = torch.Generator(device="cpu").manual_seed(int(seed) & 0xFFFFFFFFFFFFFFFF)
    return lambda _i: torch.randn(tuple(shape), generator=gen, dtype=torch.float32).to(dtype)


def reconstruction_error(x: torch.Tensor, x0: torch.Tensor) -> float:
    """max |x - x0| relative to x0's value range (the acceptance measure of the inversion)."""
    span = float(x0.max() - x0.min()) or 1.0
    return float((x - x0).abs().max()) / span
