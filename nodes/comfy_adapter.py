"""The single place where FaceLab touches ComfyUI internals.

Everything ComfyUI provides (model folders, progress bars, interrupts, devices) is
reached through these functions. Outside ComfyUI (tests, the standalone CLI) each one
falls back to a plain implementation, so every node runs without a ComfyUI install.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger("FaceLab")

# Model folders FaceLab uses, shared with the ecosystem: models/mediapipe (face landmarker),
# models/insightface (ArcFace packs, as IPAdapter, InstantID, PuLID and ReActor use it).
MODEL_FOLDERS = {
    "mediapipe": {".task"},
    "insightface": {".onnx", ".zip"},
    "facelab": {".dat", ".onnx", ".task"},
}

ENV_MODELS_DIR = "FACELAB_MODELS_DIR"


def _folder_paths():
    """ComfyUI's folder_paths module, or None outside ComfyUI."""
    try:
        import folder_paths  # type: ignore[import-not-found]
    except ImportError:
        return None
    if not hasattr(folder_paths, "models_dir"):
        return None
    return folder_paths


def in_comfyui() -> bool:
    return _folder_paths() is not None


def standalone_models_dir() -> Path:
    """Models root outside ComfyUI: $FACELAB_MODELS_DIR, else ~/.cache/comfyui-facelab/models."""
    env = os.environ.get(ENV_MODELS_DIR)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "comfyui-facelab" / "models"


_registered = False


def register_model_folders() -> None:
    """Declare FaceLab's model folders to ComfyUI (idempotent; a no-op outside ComfyUI).

    Only touches folder_paths' in-memory tables: no file I/O, safe at import time.
    """
    global _registered
    fp = _folder_paths()
    if fp is None or _registered:
        return
    for name, exts in MODEL_FOLDERS.items():
        default = os.path.join(fp.models_dir, name)
        if name in fp.folder_names_and_paths:
            paths, known = fp.folder_names_and_paths[name]
            if default not in paths:
                paths.append(default)
            fp.folder_names_and_paths[name] = (paths, set(known) | exts)
        else:
            fp.folder_names_and_paths[name] = ([default], set(exts))
    _registered = True


def model_dirs(folder: str) -> list[Path]:
    """Every directory where models of `folder` (e.g. "mediapipe") are looked up, in priority order.

    Inside ComfyUI: the folder_paths entries (including extra_model_paths.yaml). Outside:
    $FACELAB_MODELS_DIR/<folder> or the default cache dir.
    """
    fp = _folder_paths()
    if fp is not None:
        register_model_folders()
        try:
            return [Path(p) for p in fp.get_folder_paths(folder)]
        except Exception:  # pragma: no cover - unknown folder in an odd ComfyUI build
            return [Path(fp.models_dir) / folder]
    return [standalone_models_dir() / folder]


def get_torch_device():
    """The device ComfyUI computes on, or CUDA/MPS/CPU outside ComfyUI."""
    try:
        import comfy.model_management as mm  # type: ignore[import-not-found]

        return mm.get_torch_device()
    except Exception:
        import torch

        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("cpu")


def intermediate_device():
    """Where node outputs (IMAGE/MASK) live between nodes: ComfyUI's choice, else CPU."""
    try:
        import comfy.model_management as mm  # type: ignore[import-not-found]

        return mm.intermediate_device()
    except Exception:
        import torch

        return torch.device("cpu")


def to_intermediate(tensor):
    """A node output (IMAGE/MASK tensor) moved to where ComfyUI keeps outputs between nodes."""
    return tensor.to(intermediate_device())


class ProcessingInterrupted(Exception):
    """Raised by check_interrupt outside ComfyUI when interrupt() was requested."""


_standalone_interrupt = False


def request_interrupt(value: bool = True) -> None:
    """Standalone equivalent of ComfyUI's interrupt button (used by tests and the CLI)."""
    global _standalone_interrupt
    _standalone_interrupt = value


def check_interrupt() -> None:
    """Raise if the user pressed Cancel in ComfyUI (or request_interrupt() was called)."""
    global _standalone_interrupt
    try:
        import comfy.model_management as mm  # type: ignore[import-not-found]

        mm.throw_exception_if_processing_interrupted()
        return
    except ImportError:
        pass
    if _standalone_interrupt:
        _standalone_interrupt = False
        raise ProcessingInterrupted("FaceLab: processing interrupted")


class _LogProgress:
    def __init__(self, total: int):
        self.total = max(int(total), 1)
        self.current = 0

    def update_absolute(self, value: int, total: int | None = None, preview=None) -> None:
        if total is not None:
            self.total = max(int(total), 1)
        self.current = int(value)
        log.debug("progress %d/%d", self.current, self.total)

    def update(self, value: int) -> None:
        self.update_absolute(self.current + int(value))


def progress_bar(total: int):
    """comfy.utils.ProgressBar(total) inside ComfyUI, a logging stand-in outside."""
    try:
        import comfy.utils  # type: ignore[import-not-found]

        return comfy.utils.ProgressBar(total)
    except Exception:
        return _LogProgress(total)


def iterate_with_progress(items, total: int | None = None):
    """Yield items, checking for interrupts before each and advancing a progress bar after."""
    items = list(items) if total is None else items
    total = len(items) if total is None else total
    bar = progress_bar(total)
    for i, item in enumerate(items):
        check_interrupt()
        yield item
        bar.update_absolute(i + 1)


# --- MODEL patches (ComfyUI's ModelPatcher API; plain model_options dicts standalone) -------------------------------


def clone_model(model):
    """A patchable copy of a MODEL that shares its weights (ModelPatcher.clone)."""
    return model.clone()


def _transformer_options(model) -> dict:
    return model.model_options.setdefault("transformer_options", {})


def set_attn1_replace(model, patch, block_name: str, number: int, transformer_index: int | None = None) -> None:
    """Replace the self-attention of one transformer block: patch(q, k, v, extra_options) -> out."""
    if hasattr(model, "set_model_attn1_replace"):
        model.set_model_attn1_replace(patch, block_name, number, transformer_index)
        return
    to = _transformer_options(model)
    replace = {k: dict(v) for k, v in to.get("patches_replace", {}).items()}
    key = (block_name, number) if transformer_index is None else (block_name, number, transformer_index)
    replace.setdefault("attn1", {})[key] = patch
    to["patches_replace"] = replace


def unet_wrapper_of(model):
    """The model_function_wrapper already set on a MODEL (another node's), or None."""
    return model.model_options.get("model_function_wrapper")


def set_unet_wrapper(model, wrapper) -> None:
    """wrapper(apply_model, {"input", "timestep", "c", "cond_or_uncond"}) replaces the UNet call of each step."""
    if hasattr(model, "set_model_unet_function_wrapper"):
        model.set_model_unet_function_wrapper(wrapper)
    else:
        model.model_options["model_function_wrapper"] = wrapper


def model_sampling(model):
    """The MODEL's sampling object (sigma <-> percent, noise scaling)."""
    return model.get_model_object("model_sampling")


def model_type_name(model) -> str:
    """A readable name of a MODEL's architecture, e.g. 'SDXL (UNetModel)' or 'Flux (Flux)'."""
    inner = getattr(model, "model", None)
    net = getattr(inner, "diffusion_model", None)
    return f"{type(inner).__name__} ({type(net).__name__})"


def unet_self_attention_blocks(model) -> list[tuple[str, int, int]]:
    """(block_name, number, transformer_index) of every self-attention block of a UNet MODEL (SD/SDXL layout).

    The names are those ComfyUI's transformer_options["block"] uses. [] when the model is no such UNet.
    """
    net = getattr(getattr(model, "model", None), "diffusion_model", None)
    if net is None or not all(hasattr(net, a) for a in ("input_blocks", "middle_block", "output_blocks")):
        return []
    groups = [("input", i, blk) for i, blk in enumerate(net.input_blocks)]
    groups += [("middle", 0, net.middle_block)] + [("output", i, blk) for i, blk in enumerate(net.output_blocks)]
    found = []
    for name, number, blk in groups:
        for layer in blk.modules():
            for t, tb in enumerate(getattr(layer, "transformer_blocks", None) or []):
                if hasattr(tb, "attn1") and not getattr(tb, "disable_self_attn", False):
                    found.append((name, number, t))
    return found


def process_latent_in(model, latent):
    """A VAE latent in the MODEL's own latent space (SDXL: x 0.13025), as the sampler scales its input."""
    fn = getattr(getattr(model, "model", None), "process_latent_in", None)
    return latent if fn is None else fn(latent)


def vae_encode(vae, pixels):
    """IMAGE [B, H, W, 3] -> VAE latent [B, C, H/8, W/8] (ComfyUI's VAE.encode, unscaled)."""
    return vae.encode(pixels[..., :3])


def attention_function():
    """ComfyUI's attention kernel optimized_attention(q, k, v, heads, ...) ([B, T, H*D] layout), else torch SDPA."""
    try:
        from comfy.ldm.modules import attention  # type: ignore[import-not-found]

        return attention.optimized_attention
    except Exception:
        from .makeup.reference_attention import sdpa_attention

        return sdpa_attention
