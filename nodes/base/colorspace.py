"""sRGB <-> CIELAB (D65, 2 deg observer) in torch, float32, on [..., 3] tensors.

Same formulas as skimage.color.rgb2lab / lab2rgb (tests compare them), several times faster on
CPU and usable on any torch device. Lab is the space makeup colours are moved in: L* carries
lightness (texture, lighting), a*/b* the colour.
"""

from __future__ import annotations

import torch

_RGB_TO_XYZ = torch.tensor(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]],
    dtype=torch.float64,
)
_XYZ_TO_RGB = torch.linalg.inv(_RGB_TO_XYZ)
_WHITE_D65 = torch.tensor([0.95047, 1.0, 1.08883], dtype=torch.float64)
_EPS = (6.0 / 29.0) ** 3
_KAPPA = (29.0 / 6.0) ** 2 / 3.0  # slope of the linear segment of f(t)


def _mat(m: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return m.to(dtype=like.dtype, device=like.device)


def srgb_to_linear(rgb: torch.Tensor) -> torch.Tensor:
    rgb = rgb.clamp(0.0, 1.0)
    return torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)


def linear_to_srgb(lin: torch.Tensor) -> torch.Tensor:
    lin = lin.clamp(min=0.0)
    return torch.where(lin > 0.0031308, 1.055 * lin.clamp(min=0.0031308) ** (1 / 2.4) - 0.055, lin * 12.92)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in 0..1 [..., 3] -> Lab [..., 3] (L 0..100)."""
    rgb = rgb.to(torch.float32)
    xyz = srgb_to_linear(rgb) @ _mat(_RGB_TO_XYZ, rgb).T / _mat(_WHITE_D65, rgb)
    f = torch.where(xyz > _EPS, xyz.clamp(min=_EPS) ** (1 / 3), _KAPPA * xyz + 4.0 / 29.0)
    fx, fy, fz = f.unbind(-1)
    return torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=-1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Lab [..., 3] -> sRGB [..., 3] clipped to 0..1."""
    lab = lab.to(torch.float32)
    L, a, b = lab.unbind(-1)
    fy = (L + 16.0) / 116.0
    f = torch.stack([fy + a / 500.0, fy, fy - b / 200.0], dim=-1)
    xyz = torch.where(f > 6.0 / 29.0, f**3, (f - 4.0 / 29.0) / _KAPPA) * _mat(_WHITE_D65, lab)
    return linear_to_srgb(xyz @ _mat(_XYZ_TO_RGB, lab).T).clamp(0.0, 1.0)
