"""Pure modules (no ComfyUI imports)."""
