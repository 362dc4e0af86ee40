"""Makeup Reference Attention inside real ComfyUI (COMFYUI_DIR): a tiny random-weight UNet with SDXL's layout and
conditioning (model_base.SDXL, EPS, 64 channels x [1, 2, 4], depth-1 transformers where SDXL has 2 / 10, adm 2816), patched
through the adapter and sampled by ComfyUI's own KSampler (comfy.sample.sample). Never the 6.9 GB checkpoint.

Checked in ComfyUI's interpreter (no server): the self-attention block names the adapter finds are the ones
ComfyUI's transformer blocks look up (every patch is called); zero weights -> bit-identical KSampler output; a
reference equal to the target (same latent, same noise) -> one Euler step (its output is the denoised estimate)
unchanged within float tolerance, a different reference changes it; a real BasicTransformerBlock with the patch
is bit-identical per token outside the region.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import sys
comfy_dir, root = sys.argv[1], sys.argv[2]
sys.argv = [sys.argv[0], "--cpu"]
sys.path.insert(0, comfy_dir)
sys.path.insert(0, root)
import comfy.options
comfy.options.enable_args_parsing()
import torch
import comfy.sample
import facelab
facelab.load_light()
sys.path.insert(0, root + "/tests")
import makeup_attention_standin as st
from comfyui_facelab.nodes import comfy_adapter as ca
from comfyui_facelab.nodes.makeup import reference_attention as ra

model = st.comfy_tiny_sdxl()
base = model.model
blocks = ca.unet_self_attention_blocks(model)
print("blocks", blocks, ca.model_type_name(model))
assert ca.model_type_name(model) == "SDXL (UNetModel)", ca.model_type_name(model)
# SDXL's block names (input 4, 5, 7, 8; middle; output 0-5), one transformer each instead of 2 / 10
expected = [("input", i, 0) for i in (4, 5, 7, 8)] + [("middle", 0, 0)] + [("output", i, 0) for i in range(6)]
assert blocks == expected, blocks

g = torch.Generator().manual_seed(1)
cond, uncond = st.comfy_conds(g)
latent = torch.randn(1, 4, 16, 16, generator=g)  # raw VAE latent: the sampler applies process_in itself
noise = torch.randn(1, 4, 16, 16, generator=g)
sampling = ca.model_sampling(model)
calls = {}

def counted(block):
    inner = ra.attn1_replace(ca.attention_function())
    def patch(q, k, v, extra):
        calls[block] = calls.get(block, 0) + 1
        return inner(q, k, v, extra)
    return patch

def patched(ref_latent, ref_noise, weights):
    branch = ra.ReferenceBranch(ref_latent, ref_noise, weights, noise_scaling=sampling.noise_scaling,
                                attention=ca.attention_function())
    m = ca.clone_model(model)
    for b in blocks:
        ca.set_attn1_replace(m, counted(b), *b)
    ca.set_unet_wrapper(m, ra.unet_wrapper(branch, ca.unet_wrapper_of(model)))
    return m

def run(m, steps, denoise):
    return comfy.sample.sample(m, noise, steps, 5.0, "euler", "normal", cond, uncond, latent, denoise=denoise,
                               disable_pbar=True, seed=0)

region = torch.zeros(1, 16, 16)
region[:, 4:10, 3:12] = 1.0
ref_in = ca.process_latent_in(model, latent)
plain = run(model, 3, 0.6)
zero = run(patched(ref_in, noise, torch.zeros(1, 16, 16)), 3, 0.6)
assert torch.equal(zero, plain), "zero weights must give the unpatched KSampler output bit for bit"
calls.clear()
moved = run(patched(ref_in.flip(-1), noise, region), 3, 0.6)
assert set(calls) == set(blocks), ("every self-attention block goes through the patch", set(blocks) - set(calls))
assert (moved - plain).abs().max() > 1e-3, float((moved - plain).abs().max())

# One Euler step from sigma s (denoise < 1: x = latent + s * noise): its output is the denoised estimate.
one = run(model, 1, 0.5)
same = run(patched(ref_in, noise, region), 1, 0.5)
err = float((same - one).abs().max())
print("identical reference max diff", err, "scale", float(one.abs().max()))
assert err < 1e-4 * max(1.0, float(one.abs().max())), err
other = run(patched(ref_in.flip(-1), noise, region), 1, 0.5)
print("different reference max diff", float((other - one).abs().max()))
assert float((other - one).abs().max()) > 10 * max(err, 1e-6)  # the same wiring does move with another reference

# A real BasicTransformerBlock, patched vs unpatched on the same 2N rows: per-token outside the region
block = base.diffusion_model.input_blocks[4][1].transformer_blocks[0]
n, h, w = 2, 8, 8
dim = block.norm1.normalized_shape[0]
x = torch.randn(2 * n, h * w, dim, generator=g)
ctx = torch.randn(2 * n, 8, 64, generator=g)
weights = torch.zeros(n, h, w)
weights[:, 2:5, 1:7] = 0.7
opts = {"block": ("input", 4), "block_index": 0, "activations_shape": [2 * n, dim, h, w]}
with torch.no_grad():
    ref_out = block(x, context=ctx, transformer_options=dict(opts))
    popts = dict(opts, patches_replace={"attn1": {("input", 4, 0): ra.attn1_replace(ca.attention_function())}})
    popts[ra.OPTIONS_KEY] = ra.CallInfo(n, torch.tensor([[2], [3]]), weights)
    out = block(x, context=ctx, transformer_options=popts)
inside = (weights.flatten(1) > 0)[..., None].expand(-1, -1, dim)
assert torch.equal(out[:n][~inside], ref_out[:n][~inside])
assert (out[:n][inside] - ref_out[:n][inside]).abs().max() > 1e-4
assert torch.equal(out[n:], ref_out[n:])
print("COMFY MAKEUP ATTENTION OK")
"""


@pytest.mark.comfyui
def test_reference_attention_in_real_comfyui_with_a_tiny_sdxl_unet(tmp_path):
    comfy_dir = Path(os.environ["COMFYUI_DIR"])
    python = next((p for p in (comfy_dir / "venv" / "bin" / "python", comfy_dir / ".venv" / "bin" / "python") if p.is_file()),
                  Path(sys.executable))  # fmt: skip
    script = tmp_path / "makeup_attention_comfy.py"
    script.write_text(SCRIPT)
    res = subprocess.run([str(python), str(script), str(comfy_dir), str(ROOT)], cwd=comfy_dir, capture_output=True,
                         text=True, timeout=900)  # fmt: skip
    assert res.returncode == 0 and "COMFY MAKEUP ATTENTION OK" in res.stdout, res.stdout[-3000:] + res.stderr[-4000:]
