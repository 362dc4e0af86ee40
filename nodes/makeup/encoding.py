"""FACELAB_MAKEUP: the makeup look as JSON-friendly data, plus what a sampling patch needs to re-warp the reference.

The dict part (regions, faces, prompt, ...) is what the Makeup Transfer node has always returned and stays
JSON-serialisable (`json.dumps(makeup)` sees only the keys). The `images` attribute rides along in memory, between
nodes of one ComfyUI run: per source image the makeup prior it was applied to, the reference image used for it and
the (source face, reference face) landmark pairs that were transferred. Makeup Reference Attention warps the
reference onto the source geometry from these at full resolution (the prior's own warp is at a small working size).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class ImageReference:
    prior: torch.Tensor  # [H, W, 3] the makeup prior of this source image (the source outside the makeup mask)
    reference: torch.Tensor  # [h, w, 3] the reference image used for it
    faces: list = field(default_factory=list)  # [(source face dict, reference face dict)] actually transferred


class MakeupEncoding(dict):
    """A FACELAB_MAKEUP dict carrying `images` (list of ImageReference, one per source image) as an attribute."""

    def __init__(self, data: dict, images: list[ImageReference] | None = None):
        super().__init__(data)
        self.images = list(images or [])


def image_references(makeup) -> list[ImageReference]:
    """The per-image references of a FACELAB_MAKEUP value; [] for a plain dict (e.g. one loaded from JSON)."""
    return list(getattr(makeup, "images", []) or [])
