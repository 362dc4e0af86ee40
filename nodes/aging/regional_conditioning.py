"""Per-zone aging in one sampling pass: regional CONDITIONING entries + a per-pixel denoise mask.

The conditioning is built exactly as core nodes build it, so every core sampler/inpaint node accepts it:
  CLIPTextEncode        tokens = clip.tokenize(text); cond = clip.encode_from_tokens_scheduled(tokens)
                        -> [[cond [1, 77k, 2048], {"pooled_output": ..., ...}], ...]
  ConditioningSetMask   each entry's dict copied, + {"mask": [B,H,W] float, "set_area_to_bounds": bool,
                        "mask_strength": float}
  ConditioningCombine   list concatenation
The sampler averages overlapping entries weighted by their masks, so inside a zone the prediction blends the base
prompt with that zone's prompt, and outside all zones only the base prompt acts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from .. import comfy_adapter
from ..face import face_landmarks as fl
from ..face import zone_masks
from . import prompts, zone_scores
from .denoise_mask import check_max_denoise, denoise_mask, zone_denoise_strength

log = logging.getLogger("FaceLab")


def encode_text(clip, text: str) -> list:
    """What core CLIPTextEncode does (ComfyUI 0.33): tokenize, then the hook-aware scheduled encode."""
    if clip is None:
        raise ValueError("FaceLab: the clip input is empty; connect the CLIP output of your checkpoint loader")
    return clip.encode_from_tokens_scheduled(clip.tokenize(text))


def set_mask(conditioning: list, mask: torch.Tensor, strength: float = 1.0, set_area_to_bounds: bool = False) -> list:
    """What core ConditioningSetMask does: the same entries, each dict copied with mask keys added."""
    if mask.ndim < 3:
        mask = mask.unsqueeze(0)
    values = {"mask": mask, "set_area_to_bounds": bool(set_area_to_bounds), "mask_strength": float(strength)}
    return [[cond, {**opts, **values}] for cond, opts in conditioning]


def combine(*conditionings: list) -> list:
    """What core ConditioningCombine does: concatenate the entry lists."""
    return [entry for c in conditionings for entry in c]


@dataclass
class ZoneEntry:
    group: str
    zones: tuple[str, ...]
    score: float
    mask: torch.Tensor | None = None  # [B,H,W]
    positive: str = ""
    negative: str = ""


def plan_entries(scores: dict[str, float]) -> list[ZoneEntry]:
    """One entry per aging group and distinct non-zero score (both sides of a group share one entry when equal)."""
    entries = []
    for group in zone_scores.AGING_GROUPS:
        by_score: dict[float, list[str]] = {}
        for zone in zone_scores.group_zones(group):
            s = scores.get(zone, 0.0)
            if s != 0.0:
                by_score.setdefault(s, []).append(zone)
        entries.extend(ZoneEntry(group, tuple(z), s) for s, z in by_score.items())
    return entries


def selected_face_count(face_landmarks: dict, batch_size: int, face_index: int) -> int:
    return sum(len(fl.chosen_faces(face_landmarks, b, face_index)) for b in range(batch_size))


def build_aging_conditioning(
    clip,
    image_shape: tuple[int, int, int],
    face_landmarks: dict,
    scores,
    positive: str,
    negative: str,
    face_index: int = 0,
    feather: float = 10.0,
    max_denoise: float = 0.32,
    regional_strength: float = 1.0,
    older_template: str = prompts.OLDER_TEMPLATE,
    younger_template: str = prompts.YOUNGER_TEMPLATE,
    zone_phrases: str = prompts.DEFAULT_ZONE_PHRASES,
    older_negative_template: str = prompts.OLDER_NEGATIVE_TEMPLATE,
    younger_negative_template: str = prompts.YOUNGER_NEGATIVE_TEMPLATE,
) -> tuple[list, list, torch.Tensor, dict]:
    """-> (positive CONDITIONING, negative CONDITIONING, denoise MASK [B,H,W], report dict).

    image_shape = (B, H, W). Zones whose score is 0, and zones that cover no pixel (no face), add nothing.
    """
    batch, h, w = (int(v) for v in image_shape)
    face_landmarks = fl.fit_landmarks_to_image(face_landmarks, (h, w), batch, "Aging Zone Conditioning")
    zone_score = zone_scores.normalize_scores(scores)
    for t, allowed, what in (
        (older_template, prompts.PLACEHOLDERS_POSITIVE, "older"),
        (younger_template, prompts.PLACEHOLDERS_POSITIVE, "younger"),
        (older_negative_template, prompts.PLACEHOLDERS_NEGATIVE, "older negative"),
        (younger_negative_template, prompts.PLACEHOLDERS_NEGATIVE, "younger negative"),
    ):
        prompts.check_template(t, allowed, what)
    phrase_table = prompts.parse_zone_phrases(zone_phrases)
    if regional_strength < 0:
        raise ValueError(f"FaceLab: regional_strength must be >= 0, got {regional_strength}")
    check_max_denoise(max_denoise)  # up front: the no-face path below returns before denoise_mask() runs

    encoded: dict[str, list] = {}

    def encode(text: str) -> list:
        if text not in encoded:
            encoded[text] = encode_text(clip, text)
        return encoded[text]

    base_pos, base_neg = encode(positive), encode(negative)
    n_faces = selected_face_count(face_landmarks, batch, face_index)
    report: dict = {"faces": n_faces, "face_index": face_index, "image_size": [h, w], "entries": [], "skipped": []}
    if n_faces == 0:
        report["note"] = "no face found: base prompts only, denoise mask is empty (the image is left unchanged)"
        log.warning("FaceLab Aging Zone Conditioning: no face in the landmarks; passing the base prompts through")
        return base_pos, base_neg, torch.zeros((batch, h, w), dtype=torch.float32), report

    entries = plan_entries(zone_score)
    pos_parts, neg_parts, used = [base_pos], [base_neg], []
    for entry in comfy_adapter.iterate_with_progress(entries):
        mask = zone_masks.zones_mask(face_landmarks, batch, list(entry.zones), face_index=face_index, feather=feather)
        area_px = int(torch.count_nonzero(mask))  # masks are >= 0
        if area_px == 0:
            report["skipped"].append({"zones": list(entry.zones), "score": entry.score, "why": "zone covers no pixel"})
            continue
        area, feature = prompts.zone_phrase(entry.zones, phrase_table)
        entry.mask = mask
        entry.positive, entry.negative = prompts.zone_prompts(
            entry.score, area, feature, positive, negative,
            older_template, younger_template, older_negative_template, younger_negative_template,
        )
        pos_parts.append(set_mask(encode(entry.positive), mask, regional_strength))
        if entry.negative:
            neg_parts.append(set_mask(encode(entry.negative), mask, regional_strength))
        used.append(entry)
        report["entries"].append({
            "group": entry.group,
            "zones": list(entry.zones),
            "score": entry.score,
            "denoise": round(zone_denoise_strength(entry.score, max_denoise), 4),
            "positive": entry.positive,
            "negative": entry.negative,
            "mask_area_px": area_px,
        })

    dmask = denoise_mask(((e.mask, e.score) for e in used), (batch, h, w), max_denoise)
    if not used:
        why = "every zone score is 0" if not entries else "no scored zone covers a pixel of the image"
        report["note"] = f"{why}: base prompts only, denoise mask is empty"
    return combine(*pos_parts), combine(*neg_parts), dmask, report
