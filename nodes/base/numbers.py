"""Numeric widget values checked once: ComfyUI's min/max check lets NaN through (every comparison with NaN is
false), and a NaN would otherwise clamp to a bound, invert a decision or crash deep inside (int(nan))."""

from __future__ import annotations

import math


def finite(value, name: str) -> float:
    """value as a float, or a clear `FaceLab:` error naming the input when it is not a finite number."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"FaceLab: {name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"FaceLab: {name} is {v}; give a number")
    return v
