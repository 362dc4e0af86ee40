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


# Schedulers KSampler offers (ComfyUI's own list inside ComfyUI; this copy of the names outside it).
_STANDALONE_SCHEDULERS = ("simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta", "normal",
                          "linear_quadratic", "kl_optimal")


def scheduler_names() -> list[str]:
    """KSampler's scheduler choices (comfy.samplers.KSampler.SCHEDULERS), or the usual names outside ComfyUI."""
    try:
        import comfy.samplers  # type: ignore[import-not-found]

        return list(comfy.samplers.KSampler.SCHEDULERS)
    except Exception:
        return list(_STANDALONE_SCHEDULERS)


def sdxl_schedule_timesteps(scheduler: str, steps: int) -> tuple[list[float], float]:
    """(model timestep 0..999 at the start of each of the `steps` steps, timestep Differential Diffusion ends at)
    for SDXL's discrete EPS noise schedule, as KSampler(scheduler, steps, denoise 1.0) would run it.

    Inside ComfyUI: its own schedulers on a default ModelSamplingDiscrete (SD/SDXL betas). Outside: a schedule
    linear in timestep (what 'normal' and 'sgm_uniform' give), the only fallback that needs no sampler code.
    """
    steps = int(steps)
    try:
        import comfy.model_sampling as ms  # type: ignore[import-not-found]
        import comfy.samplers  # type: ignore[import-not-found]
        import torch

        class _Config:
            sampling_settings: dict = {}

        class _Sampling(ms.ModelSamplingDiscrete, ms.EPS):
            pass

        sampling = _Sampling(_Config())
        sigmas = comfy.samplers.calculate_sigmas(sampling, scheduler, steps)
        end = max(float(sampling.sigma_min), float(sigmas[-1]))  # as DifferentialDiffusion picks sigma_to
        starts = [float(sampling.timestep(s)) for s in sigmas[:-1]]
        return starts, float(sampling.timestep(torch.tensor(end)))
    except ImportError:
        return [999.0 * (1.0 - k / steps) for k in range(steps)], 0.0
