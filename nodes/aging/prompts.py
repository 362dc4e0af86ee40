"""Prompt templates for per-zone aging: which words go into each zone's regional prompt.

A zone's prompt is built from a template (one for older, one for younger; positive and negative) filled with:
  {prompt}    the base positive prompt (positive templates) / {negative} the base negative prompt
  {area}      where the zone is, in words ("outer corners of the eyes")
  {feature}   what ages there ("crow's feet wrinkles")
  {amount}    "slightly" / "noticeably" / "much", from |score|
  {weight}    an emphasis weight 1.02..1.30 growing with |score|, for ComfyUI's "(text:1.2)" syntax
The zone phrase table is editable text, one "zone: area | feature" per line.
"""

from __future__ import annotations

import functools
import re
import string

from . import zone_scores

OLDER_TEMPLATE = "{prompt}, ({amount} deeper {feature} on the {area}, older skin:{weight})"
YOUNGER_TEMPLATE = "{prompt}, ({amount} smoother, firmer, youthful skin on the {area}:{weight})"
OLDER_NEGATIVE_TEMPLATE = "{negative}, (smooth airbrushed skin on the {area}:{weight})"
YOUNGER_NEGATIVE_TEMPLATE = "{negative}, ({feature}:{weight})"

DEFAULT_ZONE_PHRASES = """\
forehead: forehead | horizontal forehead lines
glabella: area between the eyebrows | vertical frown lines
crows_feet: outer corners of the eyes | crow's feet wrinkles
under_eye: under-eye area | under-eye wrinkles and eye bags
inter_ocular: bridge of the nose between the eyes | bunny lines on the nose bridge
nasolabial: cheeks beside the nose and mouth | deep nasolabial folds
marionette: corners of the mouth | marionette lines
upper_lip: upper lip | vertical upper lip lines
chin: chin | chin creases and dimpled chin skin
cheeks: cheeks | sagging cheek skin and cheek wrinkles
jawline: jawline | sagging jowls
"""

PLACEHOLDERS_POSITIVE = ("prompt", "area", "feature", "amount", "weight")
PLACEHOLDERS_NEGATIVE = ("negative", "area", "feature", "amount", "weight")


def parse_zone_phrases(text: str) -> dict[str, tuple[str, str]]:
    """'zone: area | feature' lines -> {name: (area, feature)}. Names are aging groups or canonical zones.

    A line without '|' is the feature; its area is the zone's name in words. '#' starts a comment line.
    """
    table: dict[str, tuple[str, str]] = {}
    valid = set(zone_scores.AGING_GROUPS) | set(zone_scores.aging_zones())
    for lineno, line in enumerate((text or "").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, rest = line.partition(":")
        name = name.strip()
        if not sep or not rest.strip():
            raise ValueError(
                f"FaceLab: zone phrase line {lineno} {line!r} must look like 'forehead: forehead | forehead lines'"
            )
        if name not in valid:
            raise ValueError(
                f"FaceLab: zone phrase line {lineno} names unknown zone {name!r}; valid: {', '.join(sorted(valid))}"
            )
        area, bar, feature = rest.partition("|")
        if not bar:
            area, feature = name.replace("_", " "), area
        table[name] = (area.strip(), feature.strip())
    return table


@functools.cache
def _default_table() -> dict[str, tuple[str, str]]:
    return parse_zone_phrases(DEFAULT_ZONE_PHRASES)


def zone_phrase(zones: tuple[str, ...] | list[str], table: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """(area, feature) for a set of zones of one group: a canonical zone's own line, else its group's, else the default.

    Both sides of a paired zone share the group's line (one entry covers both); a single side uses its own line
    when the table has one.
    """
    group = zone_scores.zone_group(zones[0])
    if len(zones) == 1 and zones[0] in table:
        return table[zones[0]]
    if group in table:
        return table[group]
    return _default_table()[group]


def amount_word(score: float) -> str:
    a = abs(score)
    return "slightly" if a <= 1 / 3 else "noticeably" if a <= 2 / 3 else "much"


def emphasis_weight(score: float) -> str:
    """ComfyUI emphasis weight for |score|: 1.02 at 0.05 up to 1.30 at 1 (gentle: strong weights distort SDXL)."""
    return f"{1.0 + 0.3 * min(abs(score), 1.0):.2f}"


def check_template(template: str, allowed: tuple[str, ...], what: str) -> None:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ValueError(
            f"FaceLab: {what} template is malformed ({exc}); write literal braces as {{{{ and }}}}"
        ) from None
    unknown = [f for f in fields if f not in allowed]
    if unknown:
        raise ValueError(
            f"FaceLab: {what} template uses unknown placeholder(s) {unknown}; allowed: "
            + ", ".join("{" + a + "}" for a in allowed)
        )


def fill(template: str, **values: str) -> str:
    """Fill a checked template and tidy the result (collapsed spaces, no empty comma items)."""
    text = template.format(**values)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"(\s*,\s*)+", ", ", text)  # an empty {prompt} must not leave ", , ..."
    text = re.sub(r"\(\s*,\s*", "(", text)
    return text.strip().strip(",").strip()


def zone_prompts(
    score: float,
    area: str,
    feature: str,
    positive: str,
    negative: str,
    older_template: str = OLDER_TEMPLATE,
    younger_template: str = YOUNGER_TEMPLATE,
    older_negative_template: str = OLDER_NEGATIVE_TEMPLATE,
    younger_negative_template: str = YOUNGER_NEGATIVE_TEMPLATE,
) -> tuple[str, str]:
    """(positive, negative) prompt of one zone entry. An empty negative template gives "" (no regional negative)."""
    if score == 0:
        raise ValueError("FaceLab: a zone with score 0 gets no prompt")
    older = score > 0
    values = dict(area=area, feature=feature, amount=amount_word(score), weight=emphasis_weight(score))
    pos = fill(older_template if older else younger_template, prompt=positive, **values)
    neg_t = older_negative_template if older else younger_negative_template
    neg = fill(neg_t, negative=negative, **values) if neg_t.strip() else ""
    return pos, neg


def merge_prompts(parts: list[tuple[str, str]]) -> tuple[str, str]:
    """One (positive, negative) for several zones of one direction (older or younger).

    parts: each zone's (positive, negative) as zone_prompts() made them, the first with the base prompts filled in,
    the others with empty base prompts (so the base text appears once). One part gives that part unchanged.
    """

    def join(texts: list[str]) -> str:
        kept = [re.sub(r"^[\s,;:]+", "", t) for t in texts]
        return ", ".join(t for t in kept if t)

    return join([p for p, _ in parts]), join([n for _, n in parts])
