"""Makeup Reference Attention: weight-free "reference-only" self-attention, restricted to the makeup regions.

Mechanism (pure torch; ComfyUI is reached only through the callables handed in by the node):
- Each UNet call of the sampler (one batch of N target rows: cond and uncond chunks of B latents each) gets K
  reference rows per chunk appended (`unet_wrapper`): the reference latent noised to the row's sigma
  (`noise_scaling`, the sampler's own x = latent + sigma * noise), with the conditioning of its target row.
- In every patched self-attention block (`attn1_replace`), target row i's queries attend to its own keys/values
  and to those of its reference row(s):  out = a + s * (m - a),  a = attn(q, k, v),  m = attn(q, [k; k_ref],
  [v; v_ref]),  s = the per-token strength (region map x region strength x strength, area-averaged onto the
  block's token grid). Tokens with s = 0 (outside the makeup regions) keep `a` exactly (torch.where, not
  arithmetic), and the reference rows run plain self-attention, as the unpatched model.
- Outside [sigma_end, sigma_start] the call is passed through untouched (no reference rows at all).

Duplicated keys/values leave softmax attention unchanged (each key's weight e^x appears twice, so every weight
is halved and renormalised to the same value): with the reference equal to the target (same latent, same noise)
m == a and the output is unchanged up to float rounding. This is what the tests check.

Pairing of target batch b with reference latents (R of them): R == B one each; R == 1 the same for all; B == 1
and R > 1 the target attends to all R references at once (several looks mixed); otherwise b % R (warned).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

log = logging.getLogger("FaceLab")

OPTIONS_KEY = "facelab_makeup_reference"  # transformer_options entry of one patched UNet call


def sdpa_attention(q, k, v, heads, attn_precision=None, **_):
    """Stand-in for ComfyUI's optimized_attention: q [B, T, H*D], k/v [B, S, H*D] -> [B, T, H*D]."""
    b, _, inner = q.shape
    d = inner // heads
    q, k, v = (t.reshape(b, -1, heads, d).transpose(1, 2) for t in (q, k, v))
    out = F.scaled_dot_product_attention(q, k, v)
    return out.transpose(1, 2).reshape(b, -1, inner)


def pairing(batch: int, refs: int) -> list[list[int]]:
    """Reference latent indices each target batch element attends to (see the module docstring)."""
    if refs == batch:
        return [[b] for b in range(batch)]
    if refs == 1:
        return [[0] for _ in range(batch)]
    if batch == 1:
        return [list(range(refs))]
    log.warning(
        "FaceLab makeup attention: %d references for a batch of %d latents: paired as b %% %d", refs, batch, refs
    )
    return [[b % refs] for b in range(batch)]


@dataclass
class ReferenceBranch:
    """What the patch carries: reference latents in the model's latent space, fixed noise, per-pixel strength."""

    latents: torch.Tensor  # [R, C, h, w] (model space: process_in applied)
    noise: torch.Tensor  # [R, C, h, w]
    weights: torch.Tensor  # [R, h, w] per-latent-pixel strength 0..1 (overall strength already applied)
    sigma_start: float = math.inf  # active while sigma_end <= sigma <= sigma_start
    sigma_end: float = 0.0
    noise_scaling: Callable = lambda sigma, noise, latent: latent + noise * sigma.view(-1, 1, 1, 1)
    attention: Callable = sdpa_attention
    _cache: dict = field(default_factory=dict, repr=False)

    def active(self, sigma: torch.Tensor) -> bool:
        s = float(sigma.max())
        return self.sigma_end <= s <= self.sigma_start and bool((self.weights > 0).any())

    def _fitted(self, hw, device, dtype):
        """Latents, noise and weights resized to the sampled latent's size, on its device (cached)."""
        key = (tuple(hw), str(device), dtype)
        if key not in self._cache:
            lat, noise, w = self.latents, self.noise, self.weights[:, None]
            if tuple(lat.shape[-2:]) != tuple(hw):
                log.info(
                    "FaceLab makeup attention: reference latent %s resized to the sampled %s",
                    tuple(lat.shape[-2:]),
                    tuple(hw),
                )
                lat = F.interpolate(lat.float(), size=hw, mode="bilinear", align_corners=False)
                noise = F.interpolate(noise.float(), size=hw, mode="nearest")
                w = F.interpolate(w.float(), size=hw, mode="area")
            self._cache[key] = (lat.to(device, dtype), noise.to(device, dtype), w[:, 0].to(device, torch.float32))
        return self._cache[key]


@dataclass
class CallInfo:
    """One patched UNet call: rows [0, n_target) are targets, ref_rows[i] the reference rows of target i."""

    n_target: int
    ref_rows: torch.Tensor  # [n_target, L] long
    weights: torch.Tensor  # [n_target, h, w] strength of each target row on the latent grid
    _grids: dict = field(default_factory=dict)

    def token_weights(self, tokens: int, extra_options: dict) -> torch.Tensor | None:
        """[n_target, tokens] strength on this block's token grid (area average), or None when it cannot be placed."""
        if tokens not in self._grids:
            self._grids[tokens] = self._grid_weights(tokens, extra_options)
        return self._grids[tokens]

    def _grid_weights(self, tokens: int, extra_options: dict):
        h, w = self.weights.shape[-2:]
        shape = extra_options.get("activations_shape")
        if shape is not None and len(shape) == 4 and shape[2] * shape[3] == tokens:
            gh, gw = int(shape[2]), int(shape[3])
        else:  # the UNet halves the grid per level, rounding up
            sizes = [(-(-h // f), -(-w // f)) for f in (1, 2, 4, 8, 16, 32, 64)]
            found = [s for s in sizes if s[0] * s[1] == tokens]
            if not found:
                return None
            gh, gw = found[0]
        return F.adaptive_avg_pool2d(self.weights[:, None], (gh, gw)).flatten(1)


def extend_rows(value, index: torch.Tensor, n: int):
    """value with rows `index` appended to every tensor whose first dim is n (dicts and lists walked)."""
    if torch.is_tensor(value):
        return torch.cat([value, value[index.to(value.device)]]) if value.ndim and value.shape[0] == n else value
    if isinstance(value, dict):
        return {k: extend_rows(v, index, n) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(extend_rows(v, index, n) for v in value)
    return value


def unet_wrapper(branch: ReferenceBranch, previous: Callable | None = None) -> Callable:
    """A model_function_wrapper: appends the reference rows while active, returns the target rows' output."""

    def call(apply_model, args):
        x, t, c = args["input"], args["timestep"], args["c"]
        cond_or_uncond = list(args.get("cond_or_uncond") or [0])
        if not branch.active(t):
            return previous(apply_model, args) if previous is not None else apply_model(x, t, **c)
        n = x.shape[0]
        chunks = len(cond_or_uncond) if n % len(cond_or_uncond) == 0 else 1
        batch = n // chunks
        latents, noise, weights = branch._fitted(x.shape[-2:], x.device, x.dtype)
        groups = pairing(batch, latents.shape[0])
        lat_idx, src_rows, ref_rows = [], [], []
        for ch in range(chunks):
            for b, refs in enumerate(groups):
                rows = []
                for r in refs:
                    rows.append(n + len(lat_idx))
                    lat_idx.append(r)
                    src_rows.append(ch * batch + b)
                ref_rows.append(rows)
        lat_idx_t = torch.tensor(lat_idx, device=x.device)
        src = torch.tensor(src_rows, device=x.device)
        x_ref = branch.noise_scaling(t[src], noise[lat_idx_t], latents[lat_idx_t])
        target_w = torch.stack([weights[refs].amax(0) for refs in groups] * chunks)
        c2 = {k: (v if k == "transformer_options" else extend_rows(v, src, n)) for k, v in c.items()}
        opts = dict(c.get("transformer_options", {}))
        doubled = cond_or_uncond
        if len(lat_idx) // chunks == batch:  # chunks stay equal-sized: other patches may keep splitting by them
            doubled = cond_or_uncond + cond_or_uncond
            opts["cond_or_uncond"] = doubled
            if "uuids" in opts:
                opts["uuids"] = list(opts["uuids"]) * 2
        opts[OPTIONS_KEY] = CallInfo(n, torch.tensor(ref_rows, device=x.device), target_w)
        c2["transformer_options"] = opts
        args2 = {**args, "input": torch.cat([x, x_ref.to(x.dtype)]), "timestep": torch.cat([t, t[src]]), "c": c2,
                 "cond_or_uncond": doubled}  # fmt: skip
        out = (
            previous(apply_model, args2)
            if previous is not None
            else apply_model(args2["input"], args2["timestep"], **c2)
        )
        return out[:n]

    return call


def mixed_attention(
    q, k, v, heads: int, info: CallInfo, token_w: torch.Tensor, attention=sdpa_attention, attn_precision=None
) -> torch.Tensor:
    """Self-attention of all rows; target tokens with strength s > 0 blended towards attention over [k; k_ref]."""
    base = attention(q, k, v, heads, attn_precision=attn_precision)
    live = (token_w > 0).any(1)
    if not bool(live.any()):
        return base
    rows = torch.nonzero(live).flatten()
    refs = info.ref_rows[rows]  # [r, L]
    k_ref = k[refs.flatten()].reshape(len(rows), -1, k.shape[-1])
    v_ref = v[refs.flatten()].reshape(len(rows), -1, v.shape[-1])
    mixed = attention(
        q[rows], torch.cat([k[rows], k_ref], 1), torch.cat([v[rows], v_ref], 1), heads, attn_precision=attn_precision
    )
    a = base[rows]
    s = token_w[rows].to(a.dtype)[..., None]
    blended = torch.where(s > 0, a + s * (mixed - a), a)
    out = base.clone()
    out[rows] = blended
    return out


def attn1_replace(attention=sdpa_attention) -> Callable:
    """An attn1 replace patch (q, k, v, extra_options) -> out, a no-op on calls without the reference rows."""

    def patch(q, k, v, extra_options):
        heads = extra_options["n_heads"]
        precision = extra_options.get("attn_precision")
        info = extra_options.get(OPTIONS_KEY)
        if info is None or q.shape[0] <= info.n_target:
            return attention(q, k, v, heads, attn_precision=precision)
        token_w = info.token_weights(q.shape[1], extra_options)
        if token_w is None:
            return attention(q, k, v, heads, attn_precision=precision)
        return mixed_attention(q, k, v, heads, info, token_w.to(q.device), attention, precision)

    return patch
