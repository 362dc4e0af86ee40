"""Seed lists for sweeps: a real list of seeds (one KSampler run each), crossed with a list of strengths."""

from __future__ import annotations

import re

MAX_SEED = 0xFFFFFFFFFFFFFFFF  # KSampler's seed range


def parse_seeds(text: str) -> list[int]:
    """'42, 7 1234' (commas, spaces or new lines) -> [42, 7, 1234]; duplicates dropped, order kept."""
    seeds: list[int] = []
    for item in re.split(r"[,;\s]+", (text or "").strip()):
        if not item:
            continue
        try:
            value = int(item)
        except ValueError:
            raise ValueError(f"FaceLab: seed {item!r} is not a whole number; write seeds like '42, 7, 1234'") from None
        if not 0 <= value <= MAX_SEED:
            raise ValueError(f"FaceLab: seed {value} is outside KSampler's range 0..{MAX_SEED}")
        if value not in seeds:
            seeds.append(value)
    if not seeds:
        raise ValueError("FaceLab: give at least one seed, e.g. '42, 7, 1234'")
    return seeds


def cross(strengths: list[float], seeds: list[int]) -> tuple[list[float], list[int]]:
    """Every (strength, seed) pair, strength-major: ComfyUI runs a node once per item of equal-length lists, so
    these two lists make one KSampler run per grid cell, rows = strengths, columns = seeds."""
    return [s for s in strengths for _ in seeds], [seed for _ in strengths for seed in seeds]
