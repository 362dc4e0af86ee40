"""Sweep Seeds: a real seed axis for strength sweeps (one KSampler run per strength and seed)."""

from __future__ import annotations

from . import types
from .compose import seed_list


class FaceLabSweepSeeds:
    DESCRIPTION = (
        "Crosses a list of strengths (from Effective Strengths) with a list of seeds, so the KSampler runs once per "
        "strength AND seed, each with its own seed (not several images drawn in one batch from one seed). Feed "
        "strengths to KSampler's denoise, seeds to its seed, and columns / column_labels to the Sweep Comparison Grid."
    )
    CATEGORY = types.category("Compose")
    FUNCTION = "cross"
    INPUT_IS_LIST = True
    RETURN_TYPES = ("FLOAT", "INT", "INT", "STRING")
    RETURN_NAMES = ("strengths", "seeds", "columns", "column_labels")
    OUTPUT_IS_LIST = (True, True, False, False)
    OUTPUT_TOOLTIPS = (
        "Each strength repeated once per seed (strength-major), as a list: one KSampler run per item.",
        "The seeds, repeated once per strength, as a list aligned with the strengths.",
        "How many seeds: the grid's images per row.",
        "'seed 42, seed 7, ...': the grid's column labels.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "strengths": (
                    "FLOAT",
                    {
                        "default": 0.25,
                        "min": 0.0,
                        "max": 1.0,
                        "step": 0.01,
                        "forceInput": True,
                        "tooltip": "The strengths to try (a list, e.g. Effective Strengths' output).",
                    },
                ),
                "seeds": (
                    "STRING",
                    {
                        "default": "42, 1234",
                        "tooltip": ("Seeds to try, separated by commas or spaces; each one is a column of the grid."),
                    },
                ),
            }
        }

    @classmethod
    def VALIDATE_INPUTS(cls, seeds=None):
        if isinstance(seeds, list) and seeds:  # INPUT_IS_LIST: ComfyUI passes the widget value in a list
            seeds = seeds[0]
        if isinstance(seeds, str):
            try:
                seed_list.parse_seeds(seeds)
            except ValueError as exc:
                return str(exc)
        return True

    def cross(self, strengths, seeds):
        values = seed_list.parse_seeds(seeds[0] if isinstance(seeds, list) else seeds)
        rows, cols = seed_list.cross([float(s) for s in strengths], values)
        return (rows, cols, len(values), ", ".join(f"seed {s}" for s in values))


NODE_CLASS_MAPPINGS = {"FaceLabSweepSeeds": FaceLabSweepSeeds}
NODE_DISPLAY_NAME_MAPPINGS = {"FaceLabSweepSeeds": "Sweep Seeds"}
