"""ComfyUI-FaceLab: precise, identity-safe face editing with SDXL inpainting.

ComfyUI imports this folder as a custom node pack (V1 API). Importing it does no I/O beyond
reading the pack's own files: models load on first use.
"""

from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
from .nodes.comfy_adapter import register_model_folders

WEB_DIRECTORY = "./web"

register_model_folders()

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
