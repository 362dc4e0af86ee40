"""Prompt presets for expression fixes and anonymisation (SDXL inpainting of face crops).

One KSampler samples every crop of a run with one prompt, so the preset names what any face of the run
needs: eyes, smile, or both. Presets describe the wanted result in plain photographic terms and keep
identity words out (an expression fix must not change who the person is).
"""

from __future__ import annotations

EYES_POSITIVE = (
    "open eyes, natural relaxed gaze, detailed iris, natural eyelids and eyelashes, sharp focus, photorealistic"
)
EYES_NEGATIVE = (
    "closed eyes, blinking, half-closed eyes, squinting, droopy eyelids, cross-eyed, mismatched eyes, blurry, painting"
)
SMILE_POSITIVE = "natural gentle smile, relaxed lips, slightly raised mouth corners, photorealistic"
SMILE_NEGATIVE = "frown, sad expression, exaggerated grin, distorted lips, deformed teeth, open mouth, blurry, painting"

ANON_POSITIVE = (
    "photo of a different person, natural realistic face, natural skin texture, same lighting and head pose, "
    "sharp focus, photorealistic"
)
ANON_NEGATIVE = (
    "deformed face, distorted features, asymmetric eyes, extra eyes, bad teeth, blurry, cartoon, painting, "
    "plastic skin, mask"
)


def expression_prompts(eyes: bool, smile: bool) -> tuple[str, str]:
    """(positive, negative) for fixing eyes, a smile, or both (neither: the eyes preset, a harmless default)."""
    parts = [(EYES_POSITIVE, EYES_NEGATIVE)] if eyes or not smile else []
    if smile:
        parts.append((SMILE_POSITIVE, SMILE_NEGATIVE))
    return ", ".join(p for p, _ in parts), ", ".join(n for _, n in parts)


def anonymise_prompts(attributes: str = "") -> tuple[str, str]:
    """(positive, negative) for repainting a face as a new person; `attributes` (e.g. "an older man") lead."""
    attributes = (attributes or "").strip().strip(",")
    positive = f"{attributes}, {ANON_POSITIVE}" if attributes else ANON_POSITIVE
    return positive, ANON_NEGATIVE
