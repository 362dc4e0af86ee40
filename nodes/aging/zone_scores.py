"""Per-zone aging scores (the FACELAB_ZONE_SCORES value) and their presets.

A score per aging zone in [-1, 1]: negative = smoother / younger, 0 = untouched, positive = more lines / older.
The value travelling between nodes is JSON-serialisable:

    {"version": 1, "preset": "<name>", "scores": {canonical_zone: float}}

keyed by the canonical zone names of face.zone_atlas (one entry per side for paired zones), so that a
per-side override is just a different value. Users and other nodes may also pass group names
("crows_feet": 0.3); normalize_scores() expands them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from ..base.numbers import finite
from ..face import zone_atlas

VERSION = 1

# Widget / group names of the Zone Scores node, in slider order (zone_atlas group or zone names).
AGING_GROUPS: tuple[str, ...] = (
    "forehead",
    "glabella",
    "crows_feet",
    "under_eye",
    "inter_ocular",
    "nasolabial",
    "marionette",
    "upper_lip",
    "chin",
    "cheeks",
    "jawline",
)

CUSTOM = "custom"

# Preset values per group. Smoothing presets stay within -0.8..-0.4: with the default max denoise of 0.32 that is a
# per-pixel denoise of ~0.13-0.26, near the 0.18-0.32 that worked best for wrinkle reduction with SDXL inpainting in
# the source system (not measured here).
PRESETS: dict[str, dict[str, float]] = {
    CUSTOM: {},
    "soften wrinkles": {
        "forehead": -0.7,
        "glabella": -0.6,
        "crows_feet": -0.6,
        "under_eye": -0.7,
        "inter_ocular": -0.4,
        "nasolabial": -0.6,
        "marionette": -0.5,
        "upper_lip": -0.5,
        "chin": -0.5,
    },
    "rejuvenate": {
        "forehead": -0.8,
        "glabella": -0.8,
        "crows_feet": -0.8,
        "under_eye": -0.8,
        "inter_ocular": -0.6,
        "nasolabial": -0.8,
        "marionette": -0.7,
        "upper_lip": -0.7,
        "chin": -0.6,
        "cheeks": -0.5,
        "jawline": -0.5,
    },
    "age +10y": {
        "forehead": 0.5,
        "glabella": 0.4,
        "crows_feet": 0.5,
        "under_eye": 0.5,
        "inter_ocular": 0.3,
        "nasolabial": 0.6,
        "marionette": 0.5,
        "upper_lip": 0.4,
        "chin": 0.3,
        "cheeks": 0.3,
        "jawline": 0.4,
    },
    "age +20y": {
        "forehead": 0.8,
        "glabella": 0.7,
        "crows_feet": 0.8,
        "under_eye": 0.8,
        "inter_ocular": 0.5,
        "nasolabial": 0.9,
        "marionette": 0.8,
        "upper_lip": 0.7,
        "chin": 0.5,
        "cheeks": 0.6,
        "jawline": 0.7,
    },
    "forehead only": {"forehead": -0.7},
    "smile lines only": {"nasolabial": -0.7},
    "eye area refresh": {"crows_feet": -0.6, "under_eye": -0.7, "inter_ocular": -0.3, "glabella": -0.3},
    "relax expression lines": {"forehead": -0.6, "glabella": -0.7, "crows_feet": -0.6},
}


def group_zones(group: str) -> tuple[str, ...]:
    """Canonical zones of one aging group ("crows_feet" -> left and right)."""
    return tuple(zone_atlas.resolve_zones(group))


def aging_zones() -> tuple[str, ...]:
    """All canonical zones an aging score can address, in slider order."""
    out: list[str] = []
    for group in AGING_GROUPS:
        out.extend(z for z in group_zones(group) if z not in out)
    return tuple(out)


def zone_group(zone: str) -> str:
    """The aging group a canonical zone belongs to ("crows_feet_left" -> "crows_feet")."""
    for group in AGING_GROUPS:
        if zone in group_zones(group):
            return group
    raise ValueError(f"FaceLab: {zone!r} is not an aging zone; valid ones: {', '.join(aging_zones())}")


def _score(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"FaceLab: the score of {name!r} must be a number in [-1, 1], got {value!r}") from None
    if not -1.0 <= v <= 1.0:  # also refuses NaN
        raise ValueError(f"FaceLab: the score of {name!r} is {v}; scores must lie in [-1, 1] (negative = younger)")
    return round(v, 4)  # keeps equal sides equal after arithmetic, so they share one regional prompt


def _expand(name: str) -> tuple[str, ...]:
    name = name.strip()
    if name in AGING_GROUPS:
        return group_zones(name)
    if name in aging_zones():
        return (name,)
    raise ValueError(
        f"FaceLab: unknown aging zone {name!r}. Use a group ({', '.join(AGING_GROUPS)}) "
        f"or a zone ({', '.join(aging_zones())})"
    )


def parse_overrides(text: str) -> dict[str, float]:
    """'crows_feet_left=0.4, nasolabial_right=-0.2' (commas, semicolons or new lines) -> {zone: score}.

    A group name sets both sides. Later entries win.
    """
    out: dict[str, float] = {}
    for item in re.split(r"[,;\n]+", text or ""):
        item = item.strip()
        if not item or item.startswith("#"):
            continue
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"FaceLab: side override {item!r} must look like 'crows_feet_left=0.4'")
        for zone in _expand(name):
            out[zone] = _score(value, name.strip())
    return out


def build_scores(
    preset: str = CUSTOM,
    offsets: Mapping[str, float] | None = None,
    preset_strength: float = 1.0,
    overrides: str = "",
) -> dict:
    """The Zone Scores node's logic: preset * strength + per-group offsets (clamped to [-1, 1]), then side overrides.

    With preset "custom" the offsets are the scores. Overrides are absolute values for the zones they name.
    """
    if preset not in PRESETS:
        raise ValueError(f"FaceLab: unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    offsets = dict(offsets or {})
    unknown = sorted(set(offsets) - set(AGING_GROUPS))
    if unknown:
        raise ValueError(f"FaceLab: unknown zone groups {unknown}; valid ones: {', '.join(AGING_GROUPS)}")
    base = PRESETS[preset]
    strength = finite(preset_strength, "preset_strength")  # NaN would clamp to -1
    scores: dict[str, float] = {}
    for group in AGING_GROUPS:
        value = base.get(group, 0.0) * strength + finite(offsets.get(group, 0.0), group)
        value = round(min(1.0, max(-1.0, value)), 4)
        for zone in group_zones(group):
            scores[zone] = value
    scores.update(parse_overrides(overrides))
    return {"version": VERSION, "preset": preset, "scores": scores}


def normalize_scores(value) -> dict[str, float]:
    """A FACELAB_ZONE_SCORES value, a plain {zone_or_group: score} mapping or its JSON text -> {canonical zone: score}.

    Group names expand to their zones; a canonical zone named explicitly wins over its group whatever the order.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"FaceLab: zone scores text is not valid JSON ({exc})") from None
    if not isinstance(value, Mapping):
        raise ValueError(
            'FaceLab: expected zone scores (from the Aging Zone Scores node, or a dict like {"forehead": -0.5}), '
            f"got {type(value).__name__}"
        )
    if "scores" in value:
        if value.get("version", VERSION) != VERSION:
            raise ValueError(
                f"FaceLab: zone scores version {value.get('version')!r} is not supported (expected {VERSION})"
            )
        value = value["scores"]
        if not isinstance(value, Mapping):
            raise ValueError("FaceLab: zone scores 'scores' must be a dict {zone: score}")
    groups = {k: v for k, v in value.items() if str(k).strip() in AGING_GROUPS}
    zones = {k: v for k, v in value.items() if k not in groups}
    out: dict[str, float] = {}
    for name, score in list(groups.items()) + list(zones.items()):
        for zone in _expand(str(name)):
            out[zone] = _score(score, str(name))
    return out


def to_json(scores: dict) -> str:
    return json.dumps(scores, indent=2)
