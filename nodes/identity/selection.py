"""Identity-guarded choice among edited variants of one original photo.

- retouch: the strongest edit whose identity similarity to the original stays at or above the threshold
  (strength = the given per-variant strength, else the mean absolute pixel change from the original).
- anonymise: the variant least similar to the original among those where the face is still detected
  (a variant that lost the face is a broken render, not an anonymisation); it passes when its similarity
  is below the threshold.
Scores are on the similarity scale (higher = more alike; see similarity.py for dlib's 1 - distance).
`select_variant` is pure so other capabilities (anonymisation) reuse it with their own scores.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch

from ..base.tensors import as_rgb
from ..face.face_landmarks import select_indexed
from .similarity import compare_faces, match_faces, metric, resolve_threshold, similarity_threshold

MODES = ("retouch", "anonymise")


@dataclass(frozen=True)
class Selection:
    index: int | None  # chosen variant; None = none qualifies (callers pass the original through)
    passed: bool  # retouch: the choice keeps the identity; anonymise: the choice is not recognised any more
    reason: str


def select_variant(scores, strengths, mode: str, threshold: float, has_face: bool = True) -> Selection:
    """Pick a variant. scores[i]: similarity to the original, None when variant i has no (matching) face;
    strengths[i]: how strong edit i is (None = all equal); threshold: minimum similarity of the same person."""
    if mode not in MODES:
        raise ValueError(f"FaceLab: unknown selection mode {mode!r}; choose one of {MODES}")
    n = len(scores)
    strengths = [0.0] * n if strengths is None else [float(s) for s in strengths]
    if len(strengths) != n:
        raise ValueError(f"FaceLab: {len(strengths)} strengths given for {n} variants; give one strength per variant")
    if not has_face:
        return Selection(
            None,
            False,
            "no face to guard in the original (none found, or face_index is beyond the faces found): there is no "
            "identity to measure; the original is passed through",
        )
    with_face = [i for i, s in enumerate(scores) if s is not None]
    if mode == "retouch":
        keep = [i for i in with_face if scores[i] >= threshold]
        if not keep:
            return Selection(
                None,
                False,
                f"no variant keeps the identity (similarity >= {threshold:.3f}); the original is passed through",
            )
        best = max(keep, key=lambda i: (strengths[i], scores[i], -i))
        return Selection(
            best,
            True,
            f"variant {best}: the strongest edit (strength {strengths[best]:.4g}) whose similarity {scores[best]:.3f} "
            f"stays >= {threshold:.3f}",
        )
    if not with_face:
        return Selection(
            None, False, "no variant still contains a detectable face; the original is passed through (NOT anonymised)"
        )
    best = min(with_face, key=lambda i: (scores[i], -strengths[i], i))
    passed = scores[best] < threshold
    verdict = "below" if passed else "NOT below: the person may still be recognised"
    return Selection(
        best,
        passed,
        f"variant {best}: the lowest similarity {scores[best]:.3f}, {verdict} the threshold {threshold:.3f}",
    )


def parse_strengths(text: str, count: int | None) -> list[float] | None:
    """'0.2, 0.4 0.6' -> [0.2, 0.4, 0.6]; empty -> None. The count must match the variants (None: not known yet)."""
    items = [t for t in re.split(r"[,;\s]+", text or "") if t]
    if not items:
        return None
    try:
        values = [float(t) for t in items]
    except ValueError:
        raise ValueError(
            f"FaceLab: strengths must be numbers separated by commas, e.g. '0.2, 0.4, 0.6'; got {text!r}"
        ) from None
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"FaceLab: strengths must be finite numbers, got {text!r}")
    if count is not None and len(values) != count:
        raise ValueError(f"FaceLab: {len(values)} strengths given for {count} variants; give one strength per variant")
    return values


def pixel_change(original: torch.Tensor, variants: torch.Tensor) -> list[float]:
    """Mean absolute difference (0..1) of each variant from the original (resized to the variants' size if needed)."""
    orig = as_rgb(original[:1], "original")
    var = as_rgb(variants, "variants").to(orig.device)
    if orig.shape[1:3] != var.shape[1:3]:
        nchw = torch.nn.functional.interpolate(
            orig.permute(0, 3, 1, 2), size=var.shape[1:3], mode="bilinear", align_corners=False
        )
        orig = nchw.permute(0, 2, 3, 1)
    return [float(v) for v in (var - orig).abs().mean(dim=(1, 2, 3))]


def variant_scores(original: dict, variants: dict, face_index: int, mode: str) -> list[dict]:
    """Per variant: the guarded faces' similarity/distance to the original and the aggregate score.

    Guarded faces: every face of the original (face_index -1) or the one at face_index. The aggregate is the
    worst case for the goal: the minimum similarity in retouch mode, the maximum in anonymise mode; None when a
    guarded face has no counterpart in the variant.
    """
    backend = original["backend"]
    orig_faces = original["frames"][0] if original["frames"] else []
    guarded = [k for k, _ in select_indexed(orig_faces, face_index)]
    out = []
    orig_boxes = [f["box"] for f in orig_faces]
    for v, faces in enumerate(variants["frames"]):
        pairs = match_faces(orig_boxes, original["image_size"], [f["box"] for f in faces], variants["image_size"])
        partner = {i: (j, how) for i, j, how in pairs}
        per_face = []
        for g in guarded:
            entry = {"face": g, "similarity": None, "distance": None, "matched_by": None}
            if g in partner:
                j, how = partner[g]
                sim, dist = compare_faces(orig_faces[g], faces[j], backend)
                entry.update(similarity=round(sim, 4), distance=round(dist, 4), matched_by=how)
            per_face.append(entry)
        sims = [f["similarity"] for f in per_face]
        score = None if not sims or None in sims else (min(sims) if mode == "retouch" else max(sims))
        out.append({"index": v, "faces_found": len(faces), "faces": per_face, "similarity": score})
    return out


def choose(original: dict, variants: dict, strengths: list[float], mode: str, threshold: float, face_index: int = -1):
    """Score every variant (FACELAB_IDENTITY of the batch) against the original's identity and choose one.

    threshold is in the backend's own terms (-1 = its default). Returns (Selection, JSON-ready report).
    """
    backend = original["backend"]
    scores = variant_scores(original, variants, face_index, mode)
    sim_t = similarity_threshold(backend, threshold)
    orig_faces = original["frames"][0] if original["frames"] else []
    has_face = bool(orig_faces) and face_index < len(orig_faces)
    choice = select_variant([s["similarity"] for s in scores], strengths, mode, sim_t, has_face)
    for s, strength in zip(scores, strengths):
        s["strength"] = round(float(strength), 4)
        s["eligible"] = s["similarity"] is not None and (mode == "anonymise" or s["similarity"] >= sim_t)
    report = {
        "mode": mode,
        "backend": backend,
        "model": original["model"],
        "threshold": resolve_threshold(backend, threshold),
        "threshold_on": metric(backend).threshold_on,
        "similarity_threshold": round(sim_t, 4),
        "original_faces": len(orig_faces),
        "face_index": int(face_index),
        "variants": scores,
        "chosen_index": -1 if choice.index is None else choice.index,
        "passed": choice.passed,
        "reason": choice.reason,
    }
    return choice, report
