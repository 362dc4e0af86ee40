"""Prelude of the scripts that tests and benches run in ComfyUI's own interpreter (COMFYUI_DIR's venv): ComfyUI on
the CPU, imported in-process (no server), and `load(name, path)` to import a pack module that has no relative
imports (comfy_adapter, aging/denoise_mask) by its file path. argv: comfy_dir, pack root, then the script's own."""

PRELUDE = r"""
import importlib.util, sys
comfy_dir, root = sys.argv[1], sys.argv[2]
script_args = sys.argv[3:]
sys.argv = [sys.argv[0], "--cpu"]
sys.path.insert(0, comfy_dir)
import comfy.options
comfy.options.enable_args_parsing()

def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod

adapter = load("fl_adapter", root + "/nodes/comfy_adapter.py")
plan_mod = load("fl_denoise_mask", root + "/nodes/aging/denoise_mask.py")
"""
