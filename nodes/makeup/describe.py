"""Makeup colours in words: CIELAB colour -> colour name -> prompt fragment for the text conditioning.

Names come from hue angle h = atan2(b*, a*), chroma C = hypot(a*, b*) and lightness L*, with bins
chosen for cosmetic colours (reds/pinks/corals/bronzes/browns dominate; blues and greens are rare).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..base.colorspace import lab_to_rgb

# region -> noun used in the prompt
REGION_NOUNS = {"lips": "lipstick", "eyes": "eyeshadow", "blush": "blush", "brows": "brows", "foundation": "foundation"}
PROMPT_ORDER = ("lips", "eyes", "blush", "brows", "foundation")


def lab_to_hex(lab) -> str:
    """'#rrggbb' of a Lab colour (clipped to the sRGB gamut)."""
    rgb = lab_to_rgb(torch.as_tensor(np.asarray(lab, dtype=np.float32))).numpy()
    r, g, b = (int(round(float(v) * 255)) for v in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def _neutral_name(L: float) -> str:
    if L < 25:
        return "black"
    if L < 45:
        return "charcoal"
    if L < 75:
        return "taupe"
    return "ivory"


def colour_name(lab) -> str:
    """A short cosmetic colour name ('deep red', 'soft pink', 'bronze', 'taupe'...) for a Lab colour."""
    L, a, b = (float(v) for v in lab)
    C = math.hypot(a, b)
    h = math.degrees(math.atan2(b, a)) % 360.0
    if C < 8:
        return _neutral_name(L)
    if h >= 350 or h < 20:  # blue-ish reds: pinks and berries
        if L < 40:
            return "berry"
        if L < 60:
            return "hot pink" if C >= 45 else "rose"
        return "pink" if C >= 30 else "soft pink"
    if h < 40:  # reds
        if C >= 40:
            return "deep red" if L < 42 else "red"
        if C >= 20:
            return "brick" if L < 45 else ("rosy nude" if L >= 55 else "rosewood")
        return "nude"
    if h < 55:  # corals and oranges
        if C >= 35:
            return "coral" if L >= 55 else "terracotta"
        return "peach" if L >= 60 else "nude"
    if h < 80:  # bronzes and browns
        if L < 35:
            return "dark brown"
        if C >= 25:
            return "bronze" if L < 60 else "golden beige"
        return "brown" if L < 55 else "beige"
    if h < 110:
        return "gold" if C >= 35 and L >= 60 else "olive"
    if h < 200:
        return "green"
    if h < 260:
        return "navy" if L < 35 else "blue"
    if h < 315:
        return "purple" if L < 50 else "lilac"
    return "plum" if L < 45 else "mauve"


def lip_finish(lightness: np.ndarray) -> str:
    """'glossy' when the lips show specular highlights (a bright tail far above the median), else 'matte'."""
    L = np.asarray(lightness, dtype=np.float32).ravel()
    if L.size < 20:
        return "matte"
    median = float(np.median(L))
    highlights = float(np.mean(L > median + 25.0))
    return "glossy" if highlights >= 0.02 else "matte"


def region_phrase(region: str, lab, finish: str | None = None) -> str:
    words = [colour_name(lab)]
    if finish:
        words.append(finish)
    words.append(REGION_NOUNS[region])
    return " ".join(words)


def prompt_fragment(regions: dict[str, dict]) -> str:
    """'deep red matte lipstick, bronze eyeshadow, soft pink blush' from a FACELAB_MAKEUP 'regions' dict.

    A region is named when it is applied (strength > 0) and `visible` in the reference (not bare skin).
    """
    parts = []
    for name in PROMPT_ORDER:
        info = regions.get(name)
        if not info or info.get("strength", 0) <= 0 or not info.get("visible", True):
            continue
        parts.append(region_phrase(name, info["lab"], info.get("finish")))
    return ", ".join(parts)
