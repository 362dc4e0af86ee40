"""Overlapping tiles for images too large to sample in one pass, and their seamless merge.

Tiles of one size are spread evenly over each axis with at least the requested overlap. Each tile gets a
separable weight that ramps with a raised cosine across the middle of every overlap it shares (width =
the requested overlap, or the whole overlap when smaller) and is 1 elsewhere, so the weights of all grid
tiles sum to 1 at every pixel. The merge adds each tile's change, tile - original, weighted by
w / (sum of all grid tiles' w): tiles that were skipped (not touching the mask) count as unchanged, so
edits fade out towards them instead of ending in a hard edge, and unmodified tiles change nothing, bit for
bit.
"""

from __future__ import annotations

import logging
import math

import torch

from .. import comfy_adapter
from ..base.tensors import all_finite, output_copy
from .plan import TilePlan, check_original, check_source, fit_batch, source_probes

log = logging.getLogger("FaceLab")

NODE_MERGE = "Merge Tiles"


def grid_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size `tile` covering [0, length) with at least `overlap` px shared."""
    if length <= tile:
        return [0]
    n = math.ceil((length - overlap) / (tile - overlap))
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def axis_weights(starts: list[int], tile: int, ramp: int) -> torch.Tensor:
    """[n, tile] weight of each tile along one axis (raised-cosine ramps in the overlaps, 1 elsewhere)."""
    n = len(starts)
    w = torch.ones((n, tile), dtype=torch.float64)
    pos = torch.arange(tile, dtype=torch.float64)
    for i in range(n - 1):
        a, b = starts[i + 1], starts[i] + tile  # the overlap of tiles i and i+1 is [a, b)
        width = max(min(b - a, ramp), 1)
        r0 = (a + b) / 2.0 - width / 2.0
        up_next = 0.5 - 0.5 * torch.cos(math.pi * ((starts[i + 1] + pos + 0.5 - r0) / width).clamp(0.0, 1.0))
        up_here = 0.5 - 0.5 * torch.cos(math.pi * ((starts[i] + pos + 0.5 - r0) / width).clamp(0.0, 1.0))
        w[i + 1] *= up_next
        w[i] *= 1.0 - up_here
    return w


def _axis_sum(starts: list[int], weights: torch.Tensor, length: int) -> torch.Tensor:
    total = torch.zeros(length, dtype=torch.float64)
    tile = weights.shape[1]
    for s, wt in zip(starts, weights):
        total[s : s + tile] += wt[: length - s]
    return total


def split(
    image: torch.Tensor, tile_size: int, overlap: int, mask: torch.Tensor | None = None, only_masked: bool = False
) -> tuple[torch.Tensor, torch.Tensor, TilePlan]:
    """image [B,H,W,3] -> (tiles [N,th,tw,3], tile masks [N,th,tw], plan). Tiles run image by image, row by row."""
    bsz, h, w, _ = image.shape
    if tile_size < 16:
        raise ValueError(f"FaceLab Split Into Tiles: tile size must be at least 16 px, got {tile_size}")
    if not 0 <= overlap < tile_size // 2:
        raise ValueError(
            f"FaceLab Split Into Tiles: overlap must be between 0 and half the tile size ({tile_size // 2 - 1}), got {overlap}"
        )
    th, tw = min(tile_size, h), min(tile_size, w)
    ys, xs = grid_starts(h, th, overlap), grid_starts(w, tw, overlap)
    plan = TilePlan((h, w), bsz, (th, tw), ys, xs, overlap, probes=source_probes(image))
    tiles, masks = [], []
    for b in range(bsz):
        for i, y in enumerate(ys):
            for j, x in enumerate(xs):
                tile_mask = mask[b, y : y + th, x : x + tw] if mask is not None else None
                if only_masked and tile_mask is not None and not bool((tile_mask > 0).any()):
                    continue
                plan.tiles.append((b, i, j))
                tiles.append(image[b, y : y + th, x : x + tw])
                masks.append(tile_mask if tile_mask is not None else torch.ones((th, tw), device=image.device))
    if not tiles:  # nothing masked anywhere: one tile keeps the graph running, the merge changes nothing
        plan.tiles.append((0, 0, 0))
        tiles.append(image[0, :th, :tw])
        masks.append(torch.zeros((th, tw), device=image.device))
        plan.placeholder = True
    return torch.stack(tiles).clone(), torch.stack(masks).clone(), plan


def merge(original: torch.Tensor, tiles: torch.Tensor, plan: TilePlan) -> torch.Tensor:
    """original [B,H,W,3], tiles [N,th,tw,3] -> merged [B,H,W,3] (bit-identical where no tile changed)."""
    check_original(original, plan.batch_size, plan.source_hw, NODE_MERGE)
    check_source(original, plan.probes, NODE_MERGE)
    tiles = fit_batch(tiles, len(plan.tiles), plan.tile_hw, NODE_MERGE, "tiles").to(original.device)
    out = output_copy(original)
    if plan.placeholder:
        return out
    (h, w), (th, tw) = plan.source_hw, plan.tile_hw
    wy, wx = axis_weights(plan.ys, th, plan.ramp), axis_weights(plan.xs, tw, plan.ramp)
    sy, sx = _axis_sum(plan.ys, wy, h), _axis_sum(plan.xs, wx, w)
    # Normalised weights per grid row / column (a tile's share of the sum over every grid tile, emitted or not),
    # computed once and not per tile.
    dev = original.device
    ny = [(wy[i] / sy[y : y + th]).to(dev, torch.float32) for i, y in enumerate(plan.ys)]
    nx = [(wx[j] / sx[x : x + tw]).to(dev, torch.float32) for j, x in enumerate(plan.xs)]
    for k, (b, i, j) in comfy_adapter.iterate_with_progress(list(enumerate(plan.tiles))):
        y, x = plan.ys[i], plan.xs[j]
        wt = (ny[i][:, None] * nx[j][None, :])[..., None]
        region = out[b, y : y + th, x : x + tw]
        tile, before = tiles[k], original[b, y : y + th, x : x + tw]
        if not all_finite(tile):  # e.g. an fp16 VAE overflow: never blend NaN in (it would read as black)
            finite = torch.isfinite(tile).all(-1, keepdim=True)
            bad = int((~finite).sum())
            if bad == finite.numel():
                log.warning("FaceLab %s: tile %d (image %d, row %d, column %d) is entirely NaN/Inf (e.g. an fp16 VAE "
                            "overflow): kept the original there", NODE_MERGE, k, b, i, j)  # fmt: skip
                continue
            log.warning("FaceLab %s: tile %d (image %d, row %d, column %d) has %d NaN/Inf pixels: kept the original "
                        "at those pixels", NODE_MERGE, k, b, i, j, bad)  # fmt: skip
            tile = torch.where(finite, tile, before)
        change = tile - before
        out[b, y : y + th, x : x + tw] = torch.where(wt > 0, region + wt * change, region)
    return out
