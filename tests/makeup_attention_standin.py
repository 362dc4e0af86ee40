"""A tiny torch stand-in for an SDXL MODEL with ComfyUI's attention-hook interface (for CI without ComfyUI).

What it reproduces of ComfyUI 0.33 (read from comfy/ldm/modules/attention.py, openaimodel.py, samplers.py,
model_patcher.py; written here from that description, no code copied):
- the UNet sets transformer_options["block"] = ("input" | "middle" | "output", number) before each block group and
  each spatial transformer sets "activations_shape" and "block_index";
- a transformer block looks up patches_replace["attn1"][(name, number, index)] (then (name, number)); a replace
  patch gets the projected q, k, v and extra_options (every transformer_options key but the patches, plus n_heads,
  dim_head, attn_precision) and its output goes through to_out;
- the model patcher: clone() (shared weights, copied options), model_options["model_function_wrapper"],
  get_model_object("model_sampling") with percent_to_sigma and noise_scaling (EPS: latent + sigma * noise);
- the sampler batches cond and uncond into one call with transformer_options["cond_or_uncond"] and calls the
  wrapper as wrapper(apply_model, {"input", "timestep", "c", "cond_or_uncond"}).
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

HEADS, DIM_HEAD, CONTEXT = 2, 8, 16


def attention(q, k, v, heads, attn_precision=None, **_):
    b, _, inner = q.shape
    q, k, v = (t.reshape(b, -1, heads, inner // heads).transpose(1, 2) for t in (q, k, v))
    return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, -1, inner)


class Attention(nn.Module):
    def __init__(self, dim, context_dim=None):
        super().__init__()
        inner = HEADS * DIM_HEAD
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_k = nn.Linear(context_dim or dim, inner, bias=False)
        self.to_v = nn.Linear(context_dim or dim, inner, bias=False)
        self.to_out = nn.Linear(inner, dim)

    def forward(self, x, context=None):
        context = x if context is None else context
        return self.to_out(attention(self.to_q(x), self.to_k(context), self.to_v(context), HEADS))


class TransformerBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn1 = Attention(dim)
        self.attn2 = Attention(dim, CONTEXT)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x, context, transformer_options):
        extra = {k: v for k, v in transformer_options.items() if k not in ("patches", "patches_replace")}
        extra.update(n_heads=HEADS, dim_head=DIM_HEAD, attn_precision=None)
        block = transformer_options.get("block")
        replace = transformer_options.get("patches_replace", {}).get("attn1", {})
        key = None
        if block is not None:
            key = (block[0], block[1], transformer_options.get("block_index", 0))
            key = key if key in replace else (block if block in replace else None)
        n = self.norm1(x)
        if key is not None:
            a = self.attn1
            n = a.to_out(replace[key](a.to_q(n), a.to_k(n), a.to_v(n), extra))
        else:
            n = self.attn1(n)
        x = x + n
        x = x + self.attn2(self.norm2(x), context)
        return x + self.ff(self.norm3(x))


class SpatialTransformer(nn.Module):
    def __init__(self, ch, depth):
        super().__init__()
        self.proj_in, self.proj_out = nn.Linear(ch, ch), nn.Linear(ch, ch)
        self.transformer_blocks = nn.ModuleList(TransformerBlock(ch) for _ in range(depth))

    def forward(self, x, context, transformer_options):
        b, c, h, w = x.shape
        transformer_options["activations_shape"] = [b, c, h, w]
        t = self.proj_in(x.movedim(1, 3).reshape(b, h * w, c))
        for i, blk in enumerate(self.transformer_blocks):
            transformer_options["block_index"] = i
            t = blk(t, context, transformer_options)
        return x + self.proj_out(t).reshape(b, h, w, c).movedim(3, 1)


class Step(nn.Module):
    """One UNet block group: a conv (optionally strided / upsampling) then an optional spatial transformer."""

    def __init__(self, cin, cout, depth=0, down=False):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=2 if down else 1, padding=1)
        self.attn = SpatialTransformer(cout, depth) if depth else None

    def forward(self, x, context, transformer_options):
        x = F.silu(self.conv(x))
        return self.attn(x, context, transformer_options) if self.attn is not None else x


class TinyUNet(nn.Module):
    """SDXL's block naming on a 2-level toy: transformers in input 1, 2, middle, output 0, 1."""

    def __init__(self, ch=16):
        super().__init__()
        self.input_blocks = nn.ModuleList([Step(4, ch), Step(ch, ch, depth=2), Step(ch, 2 * ch, depth=1, down=True)])
        self.middle_block = Step(2 * ch, 2 * ch, depth=1)
        self.output_blocks = nn.ModuleList([Step(4 * ch, ch, depth=1), Step(2 * ch, ch, depth=2), Step(2 * ch, ch)])
        self.out = nn.Conv2d(ch, 4, 3, padding=1)
        self.t_emb = nn.Linear(1, ch)

    def forward(self, x, sigma, context, transformer_options):
        to = dict(transformer_options)
        h, skips = x, []
        for i, blk in enumerate(self.input_blocks):
            to["block"] = ("input", i)
            h = blk(h, context, to)
            if i == 0:
                h = h + self.t_emb(sigma.log()[:, None]).view(-1, h.shape[1], 1, 1)
            skips.append(h)
        to["block"] = ("middle", 0)
        h = self.middle_block(h, context, to)
        for i, blk in enumerate(self.output_blocks):
            to["block"] = ("output", i)
            skip = skips.pop()
            if h.shape[-2:] != skip.shape[-2:]:  # upsample to the skip's size (odd sizes round up on the way down)
                h = F.interpolate(h, size=skip.shape[-2:], mode="nearest")
            h = blk(torch.cat([h, skip], 1), context, to)
        return self.out(h)


class ModelSampling:
    sigma_max, sigma_min = 14.6, 0.03

    def percent_to_sigma(self, p):  # log-linear in p, 1.0 -> 0 as ComfyUI does
        if p >= 1.0:
            return 0.0
        return math.exp(math.log(self.sigma_max) + p * (math.log(self.sigma_min) - math.log(self.sigma_max)))

    def noise_scaling(self, sigma, noise, latent):
        return latent + noise * sigma.view(-1, *([1] * (noise.ndim - 1)))


class BaseModel(nn.Module):
    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.diffusion_model = TinyUNet()

    def process_latent_in(self, latent):
        return latent * 0.5

    def apply_model(self, x, t, c_crossattn=None, transformer_options=None, **_):
        """EPS model: x / sqrt(sigma^2 + 1) in, noise prediction out, then denoised = x - sigma * eps."""
        xin = x / (t.view(-1, 1, 1, 1) ** 2 + 1).sqrt()
        eps = self.diffusion_model(xin, t, c_crossattn, transformer_options or {})
        return x - t.view(-1, 1, 1, 1) * eps


class ModelPatcher:
    def __init__(self, model):
        self.model = model
        self.model_options = {"transformer_options": {}}
        self.sampling = ModelSampling()

    def clone(self):
        m = ModelPatcher(self.model)
        m.model_options = copy.copy(self.model_options)
        m.model_options["transformer_options"] = copy.copy(self.model_options["transformer_options"])
        return m

    def get_model_object(self, name):
        if name == "model_sampling":
            return self.sampling
        raise AttributeError(name)


class NotAUNet(nn.Module):
    """A DiT-like model (no input/middle/output blocks)."""

    def __init__(self):
        super().__init__()
        self.diffusion_model = nn.Linear(4, 4)


class FakeVae:
    """IMAGE [B, H, W, 3] -> latent [B, 4, H/8, W/8]: 8x8 box mean and a fixed 3 -> 4 channel mix."""

    def encode(self, pixels):
        x = F.avg_pool2d(pixels.movedim(3, 1).float(), 8)
        mix = torch.tensor([[1.0, 0.0, 0.0, 0.5], [0.0, 1.0, 0.0, -0.5], [0.0, 0.0, 1.0, 0.25]])
        return torch.einsum("bchw,cd->bdhw", x, mix) * 2 - 1


def model_call(patcher, x, sigma, cond, uncond):
    """One denoiser evaluation as ComfyUI's calc_cond_batch makes it: cond and uncond batched in one call."""
    n = x.shape[0]
    to = dict(patcher.model_options.get("transformer_options", {}))
    to["cond_or_uncond"] = [0, 1]
    c = {"c_crossattn": torch.cat([cond.expand(n, -1, -1), uncond.expand(n, -1, -1)]), "transformer_options": to}
    xin = torch.cat([x, x])
    t = sigma.expand(2 * n).clone()
    wrapper = patcher.model_options.get("model_function_wrapper")
    if wrapper is not None:
        out = wrapper(patcher.model.apply_model, {"input": xin, "timestep": t, "c": c, "cond_or_uncond": [0, 1]})
    else:
        out = patcher.model.apply_model(xin, t, **c)
    return out[:n], out[n:]


def sample(patcher, latent, noise, sigmas, cond, uncond, cfg=5.0):
    """Euler sampling from latent + sigmas[0] * noise (latent in model space), CFG, as a KSampler at denoise < 1."""
    x = latent + noise * sigmas[0]
    for s, s_next in zip(sigmas[:-1], sigmas[1:]):
        dc, du = model_call(patcher, x, s.view(1), cond, uncond)
        denoised = du + cfg * (dc - du)
        x = x + (s_next - s) * (x - denoised) / s
    return x


# --- inside ComfyUI's interpreter only ---------------------------------------------------------------------------

TINY_SDXL_UNET = {  # SDXL's layout and conditioning (block names, adm 2816), 64 channels, depth-1 transformers
    "model_channels": 64, "use_linear_in_transformer": True, "transformer_depth": [0, 0, 1, 1, 1, 1],
    "context_dim": 64, "adm_in_channels": 2816, "use_temporal_attention": False, "num_res_blocks": [2, 2, 2],
    "channel_mult": [1, 2, 4], "transformer_depth_middle": 1, "transformer_depth_output": [0, 0, 0, 1, 1, 1, 1, 1, 1],
    "in_channels": 4, "out_channels": 4, "use_spatial_transformer": True, "legacy": False,
    "num_classes": "sequential", "image_size": 32, "use_checkpoint": False,
}  # fmt: skip


def comfy_tiny_sdxl(seed: int = 0):
    """A ComfyUI ModelPatcher over model_base.SDXL (EPS) with TINY_SDXL_UNET and random weights (needs comfy)."""
    import comfy.model_base
    import comfy.model_patcher
    import comfy.supported_models

    torch.manual_seed(seed)
    base = comfy.model_base.SDXL(comfy.supported_models.SDXL(TINY_SDXL_UNET), device=torch.device("cpu"))
    with torch.no_grad():
        for p in base.parameters():  # ComfyUI's ops leave weights uninitialised
            p.normal_(0.0, 0.05)
    cpu = torch.device("cpu")
    return comfy.model_patcher.ModelPatcher(base, load_device=cpu, offload_device=cpu)


def comfy_conds(generator):
    """SDXL-shaped positive / negative conditioning for the tiny model (context 64, pooled 1280)."""
    cond = [[torch.randn(1, 8, 64, generator=generator), {"pooled_output": torch.randn(1, 1280, generator=generator)}]]
    uncond = [[torch.zeros(1, 8, 64), {"pooled_output": torch.zeros(1, 1280)}]]
    return cond, uncond
