"""The inversion's defining property with the SDXL inpaint checkpoint in a real ComfyUI (COMFYUI_DIR and the test
checkpoint, see docs/testing.md): invert -> regenerate through core's SamplerCustomAdvanced, with the same MODEL and
conditioning, gives back the input latent, for several skips; outside the inpaint noise mask it is kept exactly.

The graph is what a user wires: Load Checkpoint -> CLIP Text Encode -> InpaintModelConditioning (noise mask on) ->
BasicScheduler -> DDPM Invert -> DDPM Inversion Sampler + CFGGuider + DisableNoise -> SamplerCustomAdvanced; both
latents are written with core's SaveLatent and compared here. Random weights: nothing about faces is judged, only
the exactness, which does not depend on the weights. A 128 px crop keeps each SDXL call to seconds on a CPU.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from comfyui_server import (
    TEST_CHECKPOINT,
    comfyui,  # noqa: F401  (session fixture)
    png_bytes,
)
from conftest import load_photo
from PIL import Image
from test_comfyui_workflows import test_checkpoint  # noqa: F401  (fixture: skips without the checkpoint)

pytestmark = pytest.mark.comfyui

SKIPS = (0.0, 0.5)
STEPS = 3


def _photo_with_mask() -> bytes:
    """grace_hopper's face at 128 px as RGBA: LoadImage's MASK is 1 - alpha, so the transparent middle is edited."""
    rgb = np.asarray(Image.fromarray(load_photo("grace_hopper.jpg")).crop((120, 100, 420, 400)).resize((128, 128)))
    alpha = np.full((128, 128), 255, np.uint8)
    alpha[32:96, 40:88] = 0
    return png_bytes(np.dstack([rgb, alpha]))


def _graph(cfg: float) -> dict:
    g = {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": TEST_CHECKPOINT}},
        "pos": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["ckpt", 1], "text": "a photo of a face"}},
        "neg": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["ckpt", 1], "text": "blurry"}},
        "img": {"class_type": "LoadImage", "inputs": {"image": "inversion_face.png"}},
        "cond": {
            "class_type": "InpaintModelConditioning",
            "inputs": {
                "positive": ["pos", 0],
                "negative": ["neg", 0],
                "vae": ["ckpt", 2],
                "pixels": ["img", 0],
                "mask": ["img", 1],
                "noise_mask": True,
            },
        },
        "sigmas": {
            "class_type": "BasicScheduler",
            "inputs": {"model": ["ckpt", 0], "scheduler": "normal", "steps": STEPS, "denoise": 1.0},
        },
        "guider": {
            "class_type": "CFGGuider",
            "inputs": {"model": ["ckpt", 0], "positive": ["cond", 0], "negative": ["cond", 1], "cfg": cfg},
        },
        "nonoise": {"class_type": "DisableNoise", "inputs": {}},
        "save_in": {
            "class_type": "SaveLatent",
            "inputs": {"samples": ["cond", 2], "filename_prefix": f"inv_in_{cfg:g}"},
        },
    }
    for k, skip in enumerate(SKIPS):
        g[f"inv{k}"] = {
            "class_type": "FaceLabDDPMInvert",
            "inputs": {
                "model": ["ckpt", 0],
                "positive": ["cond", 0],
                "negative": ["cond", 1],
                "cfg": cfg,
                "latent": ["cond", 2],
                "sigmas": ["sigmas", 0],
                "skip": skip,
                "seed": 7,
            },
        }
        g[f"sampler{k}"] = {"class_type": "FaceLabDDPMInversionSampler", "inputs": {"inversion": [f"inv{k}", 0]}}
        g[f"regen{k}"] = {
            "class_type": "SamplerCustomAdvanced",
            "inputs": {
                "noise": ["nonoise", 0],
                "guider": ["guider", 0],
                "sampler": [f"sampler{k}", 0],
                "sigmas": ["sigmas", 0],
                "latent_image": ["cond", 2],
            },
        }
        g[f"save{k}"] = {
            "class_type": "SaveLatent",
            "inputs": {"samples": [f"regen{k}", 0], "filename_prefix": f"inv_out_{cfg:g}_{k}"},
        }
    return g


def _latent(server, prefix: str) -> torch.Tensor:
    """The tensor of a SaveLatent file (safetensors layout: u64 header size, JSON header, raw data), read without
    the safetensors package, which the pack's environment does not need."""
    (path,) = sorted(server.output_dir.rglob(f"{prefix}_*.latent"))[-1:]
    raw = path.read_bytes()
    size = int.from_bytes(raw[:8], "little")
    meta = json.loads(raw[8 : 8 + size])["latent_tensor"]
    dtype = {"F32": np.float32, "F16": np.float16, "BF16": None}[meta["dtype"]]
    start, end = meta["data_offsets"]
    data = raw[8 + size + start : 8 + size + end]
    if dtype is None:  # bfloat16: the high half of a float32
        values = (np.frombuffer(data, np.uint16).astype(np.uint32) << 16).view(np.float32)
    else:
        values = np.frombuffer(data, dtype).astype(np.float32)
    return torch.from_numpy(values.reshape(meta["shape"]).copy())


@pytest.mark.parametrize("cfg", (1.0, 3.0))
def test_sdxl_inversion_reconstructs_its_input(comfyui, test_checkpoint, cfg):  # noqa: F811
    comfyui.upload_image(_photo_with_mask(), "inversion_face.png")
    # file prefixes carry cfg: ComfyUI caches unchanged nodes between prompts, so each run saves under new names
    comfyui.run(_graph(cfg), timeout=1800)
    source = _latent(comfyui, f"inv_in_{cfg:g}")
    scale = float(source.max() - source.min())
    assert source.shape[-2:] == (16, 16) and scale > 0
    for k, skip in enumerate(SKIPS):
        out = _latent(comfyui, f"inv_out_{cfg:g}_{k}")
        assert out.shape == source.shape
        error = float((out - source).abs().max()) / scale
        # the bound: max |delta| <= 1e-3 of the latent's range (float32 UNet, float64 noise maps)
        assert error <= 1e-3, (cfg, skip, error)
