"""The single place where FaceLab touches ComfyUI internals.

Everything ComfyUI provides (model folders, progress bars, interrupts, devices) is
reached through these functions. Outside ComfyUI (tests, the standalone CLI) each one
falls back to a plain implementation, so every node runs without a ComfyUI install.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
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


_absent: set[str] = set()


def _comfy_module(name: str):
    """ComfyUI's module `name` (e.g. "comfy.model_management"), or None outside ComfyUI.

    A failed import is remembered: its search of sys.path cost ~0.4 ms per call outside ComfyUI, and the hot
    helpers below run several times per node (device, progress, interrupts). A module that appears in
    sys.modules later (ComfyUI imported after all, a test's stand-in) is still found.
    """
    mod = sys.modules.get(name)
    if mod is not None or name in _absent:
        return mod
    try:
        return importlib.import_module(name)
    except ImportError:
        _absent.add(name)
        return None


def get_torch_device():
    """The device ComfyUI computes on, or CUDA/MPS/CPU outside ComfyUI."""
    try:
        mm = _comfy_module("comfy.model_management")
        if mm is None:
            raise ImportError("comfy.model_management")
        return mm.get_torch_device()
    except Exception:
        import torch

        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("cpu")


def intermediate_device():
    """Where node outputs (IMAGE/MASK) live between nodes: ComfyUI's choice, else CPU."""
    try:
        mm = _comfy_module("comfy.model_management")
        if mm is None:
            raise ImportError("comfy.model_management")
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
    mm = _comfy_module("comfy.model_management")
    if mm is not None:
        mm.throw_exception_if_processing_interrupted()
        return
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
        utils = _comfy_module("comfy.utils")
        if utils is None:
            raise ImportError("comfy.utils")
        return utils.ProgressBar(total)
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


# --- sampling parts (nodes/sampling/comfy_parts.py) -----------------------------------------------------------------
# In ComfyUI these hand out core's sampler/guider classes and model wrappers; outside it, small stand-ins with the
# same calling conventions drive a plain callable model(x, sigma, cond) -> denoised (tests, benches).


def comfy_samplers():
    """comfy.samplers, or None outside ComfyUI."""
    try:
        import comfy.samplers  # type: ignore[import-not-found]
    except ImportError:
        return None
    return comfy.samplers


class StandaloneCFGGuider:
    """Outside ComfyUI: a GUIDER over a callable model(x, sigma, cond) -> denoised with ComfyUI's CFG rule and its
    sampler_post_cfg_function hook, and sample() calling the SAMPLER as core guiders do."""

    def __init__(self, model_patcher):
        self.model_patcher = model_patcher
        self.inner_model = model_patcher  # where model_sampling is looked up, as on core's guider
        self.model_options = dict(getattr(model_patcher, "model_options", {}))
        self.conds: dict = {}
        self.cfg = 1.0

    def set_conds(self, positive, negative):
        self.conds = {"positive": positive, "negative": negative}

    def set_cfg(self, cfg):
        self.cfg = float(cfg)

    def predict_noise(self, x, timestep, model_options={}, seed=None):  # noqa: B006 - ComfyUI's signature
        cond = self.model_patcher(x, timestep, self.conds.get("positive"))
        uncond = cond if self.cfg == 1.0 else self.model_patcher(x, timestep, self.conds.get("negative"))
        result = uncond + (cond - uncond) * self.cfg
        for fn in model_options.get("sampler_post_cfg_function", []):
            result = fn({"denoised": result, "cond_denoised": cond, "uncond_denoised": uncond, "sigma": timestep})
        return result

    def __call__(self, x, timestep, model_options={}, seed=None):  # noqa: B006
        return self.predict_noise(x, timestep, model_options, seed)

    def sample(
        self, noise, latent_image, sampler, sigmas, denoise_mask=None, callback=None, disable_pbar=False, seed=None
    ):
        extra_args = {"model_options": dict(self.model_options), "seed": seed}
        return sampler.sample(self, sigmas, extra_args, callback, noise, latent_image, denoise_mask, disable_pbar)


class StandaloneInpaintDenoiser:
    """Outside ComfyUI, what core's inpaint wrapper does for sampler functions: outside the denoise mask the model
    sees the kept latent noised with the run's noise, and its prediction there is replaced by the kept latent."""

    def __init__(self, model_wrap, latent_image, noise):
        self.model_wrap, self.latent_image, self.noise = model_wrap, latent_image, noise

    def __call__(self, x, sigma, denoise_mask=None, model_options={}, seed=None):  # noqa: B006
        if denoise_mask is None:
            return self.model_wrap(x, sigma, model_options=model_options, seed=seed)
        keep = 1.0 - denoise_mask
        s = sigma.reshape(-1, *([1] * (x.ndim - 1))) if hasattr(sigma, "reshape") else sigma
        x = x * denoise_mask + (self.latent_image + self.noise * s) * keep
        out = self.model_wrap(x, sigma, model_options=model_options, seed=seed)
        return out * denoise_mask + self.latent_image * keep


def sampler_base_class():
    """Core's SAMPLER base class (so FaceLab samplers are SAMPLER values), or object."""
    cs = comfy_samplers()
    return cs.Sampler if cs is not None else object


def cfg_guider_class():
    """Core's CFGGuider (so FaceLab guiders are GUIDER values), or the standalone stand-in."""
    cs = comfy_samplers()
    return cs.CFGGuider if cs is not None else StandaloneCFGGuider


def inpaint_denoiser(model_wrap, sigmas, latent_image, noise):
    """The denoiser core samplers get: ComfyUI's inpaint wrapper (noise mask, inpaint models) or the stand-in."""
    cs = comfy_samplers()
    if cs is not None and hasattr(cs, "KSamplerX0Inpaint") and hasattr(model_wrap, "inner_model"):
        wrapped = cs.KSamplerX0Inpaint(model_wrap, sigmas)
        wrapped.latent_image, wrapped.noise = latent_image, noise
        return wrapped
    return StandaloneInpaintDenoiser(model_wrap, latent_image, noise)


def model_sampling(model_wrap):
    """The model's model_sampling (noise_scaling, percent_to_sigma, ...) behind a guider, or None."""
    return getattr(getattr(model_wrap, "inner_model", None), "model_sampling", None)


def model_identity(model_patcher) -> tuple[str, str]:
    """(key, name): the key is equal for two MODELs with the same weights (clones; attention patches may differ)."""
    inner = getattr(model_patcher, "model", model_patcher)
    name = type(inner).__name__
    uuid_ = getattr(model_patcher, "patches_uuid", "")
    return f"{name}@{id(inner):x}/{uuid_}", name


def same_weights(a, b) -> bool:
    """Whether two MODELs run the same weights (a clone with only model_options patches, as identity adapters make)."""
    if a is b:
        return True
    if hasattr(a, "clone_has_same_weights"):
        try:
            return bool(a.clone_has_same_weights(b))
        except Exception:  # pragma: no cover - an odd patcher type
            return False
    return model_identity(a)[0] == model_identity(b)[0]


def clone_model_options(model_options: dict) -> dict:
    try:
        import comfy.model_patcher  # type: ignore[import-not-found]

        return comfy.model_patcher.create_model_options_clone(model_options)
    except ImportError:
        return {
            k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
            for k, v in model_options.items()
        }


def positive_prediction(guider, model_patcher, x, timestep, model_options: dict):
    """The denoised prediction of `model_patcher` (same weights as the guider's model) for the guider's positive
    conditioning, with that model's patches (e.g. an identity adapter's attention patches)."""
    cs = comfy_samplers()
    if cs is None or not hasattr(guider, "inner_model"):
        return model_patcher(x, timestep, guider.conds.get("positive"))
    options = clone_model_options(getattr(model_patcher, "model_options", {}))
    sample_sigmas = model_options.get("transformer_options", {}).get("sample_sigmas")
    options.setdefault("transformer_options", {})["sample_sigmas"] = sample_sigmas
    return cs.calc_cond_batch(guider.inner_model, [guider.conds.get("positive")], x, timestep, options)[0]


def fix_latent_channels(model_patcher, samples):
    """An empty latent given the model's channel count, as SamplerCustomAdvanced does (unchanged outside ComfyUI)."""
    try:
        import comfy.sample  # type: ignore[import-not-found]
    except ImportError:
        return samples
    return comfy.sample.fix_empty_latent_channels(model_patcher, samples)


# Schedulers KSampler offers (ComfyUI's own list inside ComfyUI; this copy of the names outside it).
_STANDALONE_SCHEDULERS = (
    "simple",
    "sgm_uniform",
    "karras",
    "exponential",
    "ddim_uniform",
    "beta",
    "normal",
    "linear_quadratic",
    "kl_optimal",
)


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


def patcher_model_sampling(model):
    """The MODEL's (ModelPatcher's) sampling object (sigma <-> percent, noise scaling)."""
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
