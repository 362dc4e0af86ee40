"""Base layer shared by every capability: IMAGE/MASK tensor helpers, colour spaces, mesh index constants, finite
widget numbers.

Pure modules (no ComfyUI imports); they import nothing else from the pack, so any capability may use them.
"""
