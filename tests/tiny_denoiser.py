"""A tiny EPS-prediction denoiser with ComfyUI's model-sampling interface, standing in for a UNet in tests and
benches: model(x, sigma, cond) -> denoised = x - sigma * eps(x / sqrt(1 + sigma^2), sigma, cond), with fixed random
conv weights (non-linear, so inversion exactness is not an artefact of a linear model) and a call counter."""

from __future__ import annotations

import math

import torch


class TinyModelSampling:
    """EPS noise scaling and a log-linear percent -> sigma mapping (ComfyUI conventions: 0 -> huge, 1 -> 0)."""

    sigma_max, sigma_min = 14.6, 0.03

    def noise_scaling(self, sigma, noise, latent_image, max_denoise=False):
        return (
            latent_image + noise * sigma.reshape(-1, *([1] * (noise.ndim - 1)))
            if torch.is_tensor(sigma)
            else latent_image + noise * sigma
        )

    def inverse_noise_scaling(self, sigma, latent):
        return latent

    def percent_to_sigma(self, percent):
        if percent <= 0.0:
            return 999999999.9
        if percent >= 1.0:
            return 0.0
        return math.exp(math.log(self.sigma_max) * (1 - percent) + math.log(self.sigma_min) * percent)


class TinyDenoiser(torch.nn.Module):
    def __init__(self, channels: int = 4, seed: int = 0, width: int = 16):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.conv1 = torch.nn.Conv2d(channels + 1, width, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(width, channels, 3, padding=1)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
        self.model_sampling = TinyModelSampling()
        self.model_options: dict = {}
        self.calls = 0

    @torch.no_grad()
    def forward(self, x, sigma, cond=None):
        self.calls += 1
        s = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1, 1, 1, 1).expand(x.shape[0], 1, 1, 1)
        h = x / torch.sqrt(1 + s**2)
        inp = torch.cat([h, (torch.log(s.clamp_min(1e-4)) / 4).expand(-1, 1, *x.shape[2:])], dim=1)
        eps = self.conv2(torch.tanh(self.conv1(inp)))
        if cond is not None:
            eps = eps + torch.as_tensor(cond, dtype=x.dtype).reshape(1, -1, 1, 1)
        return x - s * eps


def karras_sigmas(steps: int, sigma_min: float = 0.03, sigma_max: float = 14.6, rho: float = 7.0) -> torch.Tensor:
    """Karras et al. 2022 schedule ending in 0 (what BasicScheduler 'karras' gives for SDXL's range)."""
    ramp = torch.linspace(0, 1, steps, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sig = (hi + ramp * (lo - hi)) ** rho
    return torch.cat([sig, torch.zeros(1, dtype=torch.float64)]).float()
