"""Per-zone aging in one sampling pass: regional CONDITIONING entries + a per-pixel denoise mask.

The conditioning is built exactly as core nodes build it, so every core sampler/inpaint node accepts it:
  CLIPTextEncode        tokens = clip.tokenize(text); cond = clip.encode_from_tokens_scheduled(tokens)
                        -> [[cond [1, 77k, 2048], {"pooled_output": ..., ...}], ...]
  ConditioningSetMask   each entry's dict copied, + {"mask": [B,H,W] float, "set_area_to_bounds": bool,
                        "mask_strength": float}
  ConditioningCombine   list concatenation
  ConditioningSetTimestepRange  + {"start_percent", "end_percent"} on a regional entry whose zones are released later
The sampler averages overlapping entries weighted by their masks, so inside a zone the prediction blends the base
prompt with that zone's prompt, and outside all zones only the base prompt acts.

Cost: ComfyUI evaluates every entry active at a step as one more UNet batch row, so the zones are grouped into at
most one "older" and one "younger" entry (union mask, phrases merged) whatever their number; the per-zone strength
lives in the denoise mask alone. The run is truncated to the steps where some pixel is released
(denoise_mask.sampling_plan), with the mask rescaled so each pixel still starts at the same step and sigma.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from .. import comfy_adapter
from ..face import face_landmarks as fl
from ..face import zone_masks
from . import prompts, zone_scores
from .denoise_mask import (
    SamplingPlan,
    check_max_denoise,
    denoise_mask,
    rescale_mask,
    sampling_plan,
    zone_denoise_strength,
)

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
    steps: int = 24,
    scheduler: str = "karras",
    image: torch.Tensor | None = None,
) -> tuple[list, list, torch.Tensor, torch.Tensor, dict]:
    """-> (positive CONDITIONING, negative CONDITIONING, denoise MASK [B,H,W], noise MASK [B,H,W], report dict).

    image_shape = (B, H, W). Zones whose score is 0, and zones that cover no pixel (no face), add nothing.
    At most two regional entries per side, whatever the number of zones: one "older" (all zones scored > 0: union
    of their masks, their phrases merged) and one "younger". The denoise mask keeps each zone's own strength; the
    noise mask is the same mask rescaled for a truncated run (report["sampling"]: steps and denoise for KSampler).
    image: IMAGE [B,H,W,3] limits the skin zones to each face's visible skin (hair, brows, background left out; see
    face/visible_skin.py); None = the zones' geometry only.
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
    if int(steps) < 1:
        raise ValueError(f"FaceLab: steps must be at least 1, got {steps}")
    step_timesteps, end_timestep = comfy_adapter.sdxl_schedule_timesteps(scheduler, int(steps))

    encoded: dict[str, list] = {}

    def encode(text: str) -> list:
        if text not in encoded:
            encoded[text] = encode_text(clip, text)
        return encoded[text]

    base_pos, base_neg = encode(positive), encode(negative)
    n_faces = selected_face_count(face_landmarks, batch, face_index)
    report: dict = {"faces": n_faces, "face_index": face_index, "image_size": [h, w], "entries": [], "skipped": []}
    empty = torch.zeros((batch, h, w), dtype=torch.float32)
    if n_faces == 0:
        report["note"] = "no face found: base prompts only, denoise mask is empty (the image is left unchanged)"
        report["sampling"] = _sampling_report(sampling_plan(0.0, step_timesteps, end_timestep))
        log.warning("FaceLab Aging Zone Conditioning: no face in the landmarks; passing the base prompts through")
        return base_pos, base_neg, empty, empty.clone(), report

    entries = plan_entries(zone_score)
    used: list[ZoneEntry] = []
    for entry in comfy_adapter.iterate_with_progress(entries):
        mask = zone_masks.zones_mask(
            face_landmarks, batch, list(entry.zones), face_index=face_index, feather=feather, image=image
        )
        area_px = int(torch.count_nonzero(mask))  # masks are >= 0
        if area_px == 0:
            report["skipped"].append(
                {
                    "zones": list(entry.zones),
                    "score": entry.score,
                    "why": "zone hidden or outside the image: it covers no pixel",
                }
            )
            continue
        area, feature = prompts.zone_phrase(entry.zones, phrase_table)
        entry.mask = mask
        # the first zone of each direction carries the base prompts; the others add their phrases only
        first = not any((e.score > 0) == (entry.score > 0) for e in used)
        entry.positive, entry.negative = prompts.zone_prompts(
            entry.score,
            area,
            feature,
            positive if first else "",
            negative if first else "",
            older_template,
            younger_template,
            older_negative_template,
            younger_negative_template,
        )
        used.append(entry)
        report["entries"].append(
            {
                "group": entry.group,
                "zones": list(entry.zones),
                "score": entry.score,
                "denoise": round(zone_denoise_strength(entry.score, max_denoise), 4),
                "mask_area_px": area_px,
            }
        )

    dmask = denoise_mask(((e.mask, e.score) for e in used), (batch, h, w), max_denoise)
    top = max((zone_denoise_strength(e.score, max_denoise) for e in used), default=0.0)
    plan = sampling_plan(top, step_timesteps, end_timestep)
    pos_parts, neg_parts = [base_pos], [base_neg]
    report["regional"] = []
    for direction, members in (
        ("older", [e for e in used if e.score > 0]),
        ("younger", [e for e in used if e.score < 0]),
    ):
        if not members:
            continue
        pos_text, neg_text = prompts.merge_prompts([(e.positive, e.negative) for e in members])
        mask = members[0].mask if len(members) == 1 else torch.stack([e.mask for e in members]).amax(0)
        strength = max(zone_denoise_strength(e.score, max_denoise) for e in members)
        # an entry whose pixels are all released later than the run starts is only evaluated from then on
        timing = {} if strength >= top else {"start_percent": plan.start_percent(strength), "end_percent": 1.0}
        pos_parts.append(set_timing(set_mask(encode(pos_text), mask, regional_strength), timing))
        if neg_text:
            neg_parts.append(set_timing(set_mask(encode(neg_text), mask, regional_strength), timing))
        report["regional"].append(
            {
                "direction": direction,
                "zones": [z for e in members for z in e.zones],
                "denoise": round(strength, 4),
                "positive": pos_text,
                "negative": neg_text,
                **{k: round(v, 4) for k, v in timing.items()},
            }
        )
    report["sampling"] = _sampling_report(plan)
    if not used:
        why = "every zone score is 0" if not entries else "no scored zone covers a pixel of the image"
        report["note"] = f"{why}: base prompts only, denoise mask is empty, no sampling needed"
    elif plan.steps == 0:
        report["note"] = (
            "the strongest zone is too weak to be released by any step of this schedule: no sampling needed"
        )
    return combine(*pos_parts), combine(*neg_parts), dmask, rescale_mask(dmask, plan), report


def set_timing(conditioning: list, timing: dict) -> list:
    """What core ConditioningSetTimestepRange does (start_percent / end_percent keys); {} leaves the entries as is."""
    return [[cond, {**opts, **timing}] for cond, opts in conditioning] if timing else conditioning


def _sampling_report(plan: SamplingPlan) -> dict:
    return {
        "steps": plan.steps,
        "denoise": round(plan.denoise, 6),
        "full_steps": plan.full_steps,
        "mask_scale": round(plan.mask_scale, 4),
        "needs_sampling": plan.steps > 0,
    }
