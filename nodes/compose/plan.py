"""The opaque plans passed from a split node to its merge node (FACELAB_STITCH, FACELAB_TILES).

A plan carries everything needed to put crops or tiles back, so the merge node only needs the
original image and the processed batch. `fit_batch` checks that the batch arriving at the merge node
is the one the plan was made for (count and size), and undoes a uniform upscale.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

log = logging.getLogger("FaceLab")

PROBE_GRID = 8  # pixels per side sampled from the source image to detect a wrongly wired "original"


@dataclass
class CropEntry:
    batch_index: int  # which image of the source batch this crop came from
    label: str  # e.g. "image 0 face 1" or "image 0 region 0", for reports
    crop_to_image: np.ndarray  # 3x3, crop pixel (u, v, 1) -> image pixel (x, y, 1)
    roi: tuple[int, int, int, int]  # (x0, y0, x1, y1) image pixels the crop covers, clipped to the image
    scale: float  # crop pixels per image pixel
    angle: float  # radians, rotation of the crop's x axis in the image
    mask: torch.Tensor  # [h, w] the region this crop edits, in crop space (CPU)
    keepout: torch.Tensor | None = None  # [h, w] masked pixels that belong to another crop (never blended here)
    empty: bool = False  # pass-through placeholder: stitching it changes nothing

    @property
    def image_to_crop(self) -> np.ndarray:
        return np.linalg.inv(self.crop_to_image)


@dataclass
class StitchPlan:
    """FACELAB_STITCH: how the crops of one Crop Face Region run map back onto their source images."""

    source_hw: tuple[int, int]
    batch_size: int
    crop_hw: tuple[int, int]
    entries: list[CropEntry]
    probes: torch.Tensor  # [B, PROBE_GRID, PROBE_GRID, 3] source pixels, see source_probes()
    report: str = ""

    def __repr__(self) -> str:  # shown in ComfyUI's previews and logs; keep tensors out
        return f"StitchPlan({len(self.entries)} crops of {self.crop_hw[1]}x{self.crop_hw[0]} from {self.batch_size} image(s) of {self.source_hw[1]}x{self.source_hw[0]})"


@dataclass
class TilePlan:
    """FACELAB_TILES: the tile grid of one Split Into Tiles run."""

    source_hw: tuple[int, int]
    batch_size: int
    tile_hw: tuple[int, int]
    ys: list[int]  # top rows of the tile grid (same for every image)
    xs: list[int]  # left columns
    ramp: int  # requested overlap (px): width of the blend ramps
    tiles: list[tuple[int, int, int]] = field(default_factory=list)  # (batch_index, row, column) of each emitted tile
    probes: torch.Tensor | None = None
    placeholder: bool = False  # nothing to tile (mask empty): merging returns the original

    def __repr__(self) -> str:
        return f"TilePlan({len(self.tiles)} tiles of {self.tile_hw[1]}x{self.tile_hw[0]} from {self.batch_size} image(s) of {self.source_hw[1]}x{self.source_hw[0]})"


def source_probes(image: torch.Tensor) -> torch.Tensor:
    """A fixed sparse grid of pixels of IMAGE [B,H,W,3] (CPU copy): a cheap fingerprint of the source."""
    _, h, w, _ = image.shape
    ys = torch.linspace(0, h - 1, PROBE_GRID).round().long().to(image.device)
    xs = torch.linspace(0, w - 1, PROBE_GRID).round().long().to(image.device)
    return image[:, ys][:, :, xs].detach().to("cpu", torch.float32)


def check_source(image: torch.Tensor, probes: torch.Tensor | None, node: str) -> None:
    """Warn when the image given to a merge node is not the one the plan was made from."""
    if probes is None:
        return
    diff = (source_probes(image) - probes).abs().max().item()
    if diff > 2.0 / 255.0:
        log.warning(
            "FaceLab %s: the original image differs from the one the plan was made from (max probe difference %.3f); "
            "connect the same image that went into the split/crop node",
            node,
            diff,
        )


def check_plan(plan, cls, node: str, split_node: str):
    if not isinstance(plan, cls):
        raise ValueError(f"FaceLab {node}: expected the plan output of '{split_node}', got {type(plan).__name__}")
    return plan


def check_original(image: torch.Tensor, batch_size: int, source_hw, node: str) -> None:
    h, w = image.shape[1:3]
    if (h, w) != tuple(source_hw) or image.shape[0] != batch_size:
        raise ValueError(
            f"FaceLab {node}: the original image is {image.shape[0]} x {w}x{h} but the plan was made from "
            f"{batch_size} x {source_hw[1]}x{source_hw[0]}; connect the same image that went into the split/crop node"
        )


def fit_batch(images: torch.Tensor, count: int, hw, node: str, what: str) -> torch.Tensor:
    """Check images [N,h,w,3] against the plan (count, size); resize back a uniformly rescaled batch (logged)."""
    if images.shape[0] != count:
        raise ValueError(
            f"FaceLab {node}: the plan expects {count} {what} but {images.shape[0]} arrived; connect the {what} "
            "made from this plan (same batch, same order, none added or removed)"
        )
    h, w = int(hw[0]), int(hw[1])
    ih, iw = images.shape[1:3]
    if (ih, iw) == (h, w):
        return images
    if abs(ih / h - iw / w) > 0.02 * max(ih / h, iw / w):
        raise ValueError(
            f"FaceLab {node}: the {what} are {iw}x{ih} but the plan made them {w}x{h} (a different aspect ratio); "
            "do not crop or pad them between the split and the merge"
        )
    log.info("FaceLab %s: %s are %dx%d, resizing back to the plan's %dx%d", node, what, iw, ih, w, h)
    x = images.permute(0, 3, 1, 2)
    x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=ih > h or iw > w)
    return x.permute(0, 2, 3, 1).clamp(0.0, 1.0)
