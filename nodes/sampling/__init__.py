"""Sampling parts: edit-friendly DDPM inversion and identity guidance (pure torch), and their ComfyUI SAMPLER /
GUIDER values (comfy_parts.py, through comfy_adapter)."""
