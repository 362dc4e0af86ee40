"""Shape checks and conversions for ComfyUI IMAGE / MASK tensors (and numpy frames), used by every capability."""

from __future__ import annotations

import numpy as np
import torch


def as_rgb(image: torch.Tensor, what: str = "image") -> torch.Tensor:
    """IMAGE [B,H,W,C] (C = 1, 3 or 4) -> float32 [B,H,W,3]: gray is repeated, alpha dropped."""
    if not isinstance(image, torch.Tensor):
        raise ValueError(f"FaceLab: {what} must be an IMAGE tensor, got {type(image).__name__}")
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4 or image.shape[-1] not in (1, 3, 4):
        raise ValueError(f"FaceLab: {what} must be an IMAGE [batch, height, width, 1/3/4 channels], got shape {tuple(image.shape)}")
    if image.shape[0] == 0 or image.shape[1] == 0 or image.shape[2] == 0:
        raise ValueError(f"FaceLab: {what} is empty (shape {tuple(image.shape)})")
    image = image.to(torch.float32)
    if image.shape[-1] == 1:
        return image.expand(-1, -1, -1, 3)
    return image[..., :3]


def as_mask(mask: torch.Tensor | None, batch: int, height: int, width: int) -> torch.Tensor | None:
    """MASK [B,H,W] or [H,W] -> float32 [batch,H,W] clamped to 0..1; a single mask is used for every image."""
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor):
        raise ValueError(f"FaceLab: mask must be a MASK tensor, got {type(mask).__name__}")
    if mask.ndim == 4 and mask.shape[-1] == 1:  # an IMAGE-shaped single-channel mask
        mask = mask[..., 0]
    if mask.ndim == 2:
        mask = mask[None]
    if mask.ndim != 3:
        raise ValueError(f"FaceLab: mask must be a MASK [batch, height, width], got shape {tuple(mask.shape)}")
    if tuple(mask.shape[1:]) != (height, width):
        raise ValueError(
            f"FaceLab: the mask is {mask.shape[2]}x{mask.shape[1]} but the image is {width}x{height}; "
            "make the mask from this image (or resize it to the image size)"
        )
    if mask.shape[0] == 1 and batch > 1:
        mask = mask.expand(batch, -1, -1)
    elif mask.shape[0] != batch:
        raise ValueError(f"FaceLab: {mask.shape[0]} masks for {batch} images; give one mask, or one per image")
    return torch.nan_to_num(mask.to(torch.float32), nan=0.0).clamp(0.0, 1.0)


def nan_free(t: torch.Tensor) -> torch.Tensor:
    """Replace NaN/Inf that an upstream node may have produced (NaN would spread through every blend)."""
    if torch.isfinite(t).all():
        return t
    return torch.nan_to_num(t, nan=0.0, posinf=1.0, neginf=0.0)


def to_rgb_uint8(image) -> np.ndarray:
    """[H,W,C] float 0..1 (torch or numpy) or uint8 -> contiguous RGB uint8. Gray is repeated, alpha dropped."""
    arr = image.detach().cpu().numpy() if hasattr(image, "detach") else np.asarray(image)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.dtype != np.uint8:
        arr = np.clip(arr.astype(np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    elif arr.shape[-1] == 4:
        arr = arr[..., :3]
    elif arr.shape[-1] != 3:
        raise ValueError(f"FaceLab: expected an image with 1, 3 or 4 channels, got shape {arr.shape}")
    return np.ascontiguousarray(arr)
