"""FaceLab nodes. Each node_*.py module defines NODE_CLASS_MAPPINGS / NODE_DISPLAY_NAME_MAPPINGS for one capability;
this package merges them. Pure logic lives in the sub-packages (face, compose, aging, identity, makeup, expression, anonymise; base is
the shared layer)
and never imports ComfyUI; comfy_adapter.py is the only bridge to ComfyUI internals.
"""

from __future__ import annotations

import importlib
import logging

log = logging.getLogger("FaceLab")

NODE_MODULES = (
    "node_landmarks",
    "node_zones",
    "node_compose",
    "node_aging",
    "node_identity",
    "node_makeup",
    "node_makeup_attention",
    "node_expression",
    "node_anonymise",
    "node_sampling",
    "node_retouch",
    "node_sweep_seeds",
)

NODE_CLASS_MAPPINGS: dict = {}
NODE_DISPLAY_NAME_MAPPINGS: dict = {}
IMPORT_ERRORS: dict[str, str] = {}

for _name in NODE_MODULES:
    try:
        _mod = importlib.import_module(f".{_name}", __name__)
    except Exception as exc:  # one broken capability must not hide the others in ComfyUI
        IMPORT_ERRORS[_name] = f"{type(exc).__name__}: {exc}"
        log.exception("FaceLab: could not load %s; its nodes are unavailable", _name)
        continue
    NODE_CLASS_MAPPINGS.update(_mod.NODE_CLASS_MAPPINGS)
    NODE_DISPLAY_NAME_MAPPINGS.update(_mod.NODE_DISPLAY_NAME_MAPPINGS)
