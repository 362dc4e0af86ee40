"""Which denoise strengths give different results in ComfyUI's samplers.

What ComfyUI does (comfy/samplers.py KSampler.set_steps, and BasicScheduler in
comfy_extras/nodes_custom_sampler.py, ComfyUI 0.33): with denoise d < 1 it builds the scheduler's sigmas
for int(steps / d) steps and keeps the last steps + 1 of them, so the sampler always runs `steps` steps,
starting at a noise level set by the schedule length int(steps / d). d > 0.9999 (KSampler) or d >= 1
(BasicScheduler) is the plain schedule of `steps` steps; d <= 0 samples nothing (the input comes back).
Two strengths with the same schedule length give identical sigmas, hence identical outputs for the same
seed. The often-quoted int(steps * d) is how A1111-style img2img counts steps, not ComfyUI.
"""

from __future__ import annotations

import re


def schedule_length(steps: int, denoise: float) -> int:
    """Length of the sigma schedule ComfyUI's KSampler cuts its `steps` steps from (0: nothing is sampled)."""
    if steps < 1:
        raise ValueError(f"FaceLab: steps must be at least 1, got {steps}")
    if denoise <= 0.0:
        return 0
    if denoise > 0.9999:
        return int(steps)
    return int(steps / denoise)


def parse_strengths(text: str) -> list[float]:
    """'0.3, 0.35 0.4' (commas, spaces or new lines) -> [0.3, 0.35, 0.4]."""
    items = [t for t in re.split(r"[,;\s]+", text.strip()) if t]
    values = []
    for t in items:
        try:
            values.append(float(t))
        except ValueError:
            raise ValueError(
                f"FaceLab Effective Strengths: {t!r} is not a number; write strengths like 0.3, 0.45, 0.6"
            ) from None
    return values


def check_strengths(text: str) -> list[float]:
    """The strengths text as the node will use it: numbers within 0..1 (empty = use minimum/maximum/count)."""
    values = parse_strengths(text)
    for d in values:
        if not 0.0 <= d <= 1.0:  # also refuses NaN
            raise ValueError(f"FaceLab Effective Strengths: strength {d} is outside 0..1 (the KSampler denoise range)")
    return values


def strength_range(low: float, high: float, count: int) -> list[float]:
    """count strengths evenly from low to high, rounded to 4 decimals."""
    if count < 1:
        raise ValueError(f"FaceLab Effective Strengths: count must be at least 1, got {count}")
    if count == 1:
        return [round(low, 4)]
    return [round(low + (high - low) * i / (count - 1), 4) for i in range(count)]


def effective_strengths(steps: int, strengths: list[float]) -> tuple[list[float], list[str]]:
    """Keep the first strength of each schedule length (in the given order); say what was dropped and why."""
    kept, seen, notes = [], {}, []
    for d in strengths:
        if not 0.0 <= d <= 1.0:
            raise ValueError(f"FaceLab Effective Strengths: strength {d} is outside 0..1 (the KSampler denoise range)")
        n = schedule_length(steps, d)
        if n in seen:
            notes.append(f"{format_strength(d)} dropped: same schedule as {format_strength(seen[n])} ({n} steps long)")
            continue
        seen[n] = d
        kept.append(d)
        if n == 0:
            notes.append(f"{format_strength(d)}: denoise 0 samples nothing, the input comes back unchanged")
        else:
            notes.append(
                f"{format_strength(d)}: runs {steps} steps of a {n}-step schedule (starts at step {n - steps} of {n})"
            )
    return kept, notes


def format_strength(d: float) -> str:
    return f"{d:.4f}".rstrip("0").rstrip(".") if d != int(d) else f"{d:.1f}"
