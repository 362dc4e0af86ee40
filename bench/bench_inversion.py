"""Cost per face of anonymisation by inversion + regeneration vs today's N-candidate path. Prints JSON lines:

    /work/main/.venv/bin/python bench/bench_inversion.py [--repeat 3] [--size 128] [--threads 0]

Model calls (model_calls: forward calls on the batch of candidates; unet_evaluations_per_face: times the
candidates, i.e. denoised predictions per latent, cond and uncond counted one each -- ComfyUI batches the two into
one forward of twice the batch) do not depend on the weights, so a tiny stand-in denoiser (tests/tiny_denoiser.py) gives
the real counts for SDXL. Wall time is the tiny model's plus FaceLab's own work (float64 DDPM step, noise draws, noise
map storage): the figure to compare is the overhead per step, since an SDXL UNet call on a GPU (~50-100 ms for a
1024 crop) dwarfs it. Memory: the bytes an inversion keeps (start latent, its noise, one float64 map per step).

Paths per face (the shipped workflows' settings):
- today: KSampler 30 steps, denoise 0.9, cfg 6, 4 candidates (the anonymise workflow before inversion);
- inversion: 50 steps, skip 0.4, inversion cfg 1, regeneration cfg 6, 2 candidates (facelab_anonymise);
- inversion + FaceID guidance: 50 steps, skip 0.7, identity guidance on every step (facelab_anonymise_faceid).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import bench_common  # noqa: F401  (paths)
import torch
from tiny_denoiser import TinyDenoiser, karras_sigmas


def load() -> float:
    return float(open("/proc/loadavg").read().split()[0])


def euler_ancestral_like(model, guider, x0, sigmas):
    """Today's KSampler stand-in: one guided prediction per step (what counts is the number of model calls)."""
    x = x0 + torch.randn_like(x0) * sigmas[0]
    for i in range(len(sigmas) - 1):
        den = guider.predict_noise(x, torch.full((x.shape[0],), float(sigmas[i])))
        x = den + (x - den) * float(sigmas[i + 1] / sigmas[i])
    return x


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--size", type=int, default=128, help="latent side (128 = SDXL's 1024 px crop)")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    import facelab

    facelab.load_pack()
    from comfyui_facelab.nodes import comfy_adapter, node_sampling

    pos, neg = torch.tensor([0.2, -0.1, 0.0, 0.3]), torch.zeros(4)
    model = TinyDenoiser()
    paths_model = [model]
    identity = TinyDenoiser(seed=1)
    comfy_adapter.same_weights = lambda a, b: True  # the bench's identity stand-in has other weights on purpose

    def latent(n):
        return {"samples": torch.randn(n, 4, args.size, args.size, generator=torch.Generator().manual_seed(0))}

    def today():
        g = comfy_adapter.StandaloneCFGGuider(model)
        g.set_conds(pos, neg)
        g.set_cfg(6.0)
        sig = karras_sigmas(round(30 / 0.9))[-31:]  # KSampler denoise 0.9: the last 30 of 33 steps
        euler_ancestral_like(model, g, latent(4)["samples"], sig)
        return {}

    def inversion(skip, candidates, identity_scale):
        lat = latent(candidates)
        sig = karras_sigmas(50)
        m = paths_model[0]
        (inv,) = node_sampling.FaceLabDDPMInvert().invert(m, pos, neg, 1.0, lat, sig, skip, 0)
        (sampler,) = node_sampling.FaceLabDDPMInversionSampler().get_sampler(inv)
        g, _ = node_sampling.FaceLabIdentityGuider().get_guider(
            m, pos, neg, 6.0, identity_scale, 0.0, 1.0, identity if identity_scale else None
        )
        g.sample(torch.zeros_like(lat["samples"]), lat["samples"], sampler, sig, seed=0)
        kept = [inv.x_start, inv.noise_start, *inv.zs]
        return {
            "inversion_mb_per_candidate": round(
                sum(t.nelement() * t.element_size() for t in kept) / candidates / 2**20, 2
            )
        }

    class Trivial(TinyDenoiser):
        """A model that costs nothing: what is left of the time is FaceLab's own work per step."""

        def forward(self, x, sigma, cond=None):
            self.calls += 1
            return x * 0.5

    free = Trivial()

    def overhead():
        paths_model[0] = free
        try:
            return inversion(0.4, 2, 0.0)
        finally:
            paths_model[0] = model

    paths = {
        "today: 4 candidates, 30 steps, cfg 6": (today, 4),
        "inversion: 2 candidates, 50 steps, skip 0.4": (lambda: inversion(0.4, 2, 0.0), 2),
        "inversion + FaceID guidance: 2 candidates, skip 0.7": (lambda: inversion(0.7, 2, -10.0), 2),
        "FaceLab overhead only (inversion path, model costs 0)": (overhead, 2),
    }
    per_call = []
    for _ in range(5):
        x = latent(1)["samples"]
        t = time.perf_counter()
        model(x, torch.tensor([1.0]), pos)
        per_call.append((time.perf_counter() - t) * 1000)
    for stage, (fn, candidates) in paths.items():
        times, calls, extra = [], 0, {}
        for _ in range(args.repeat):
            model.calls = identity.calls = free.calls = 0
            t = time.perf_counter()
            extra = fn()
            times.append((time.perf_counter() - t) * 1000)
            calls = model.calls + identity.calls + free.calls
        row = {
            "stage": stage,
            "size": f"latent {args.size}x{args.size} (x{candidates} candidates)",
            "model_calls": calls,
            "unet_evaluations_per_face": calls * candidates,
            "median_ms_per_face": round(statistics.median(times), 1),
            "min_max_ms": [round(min(times), 1), round(max(times), 1)],
            **extra,
            "tiny_model_ms_per_call_per_latent": round(statistics.median(per_call), 2),
            "threads": torch.get_num_threads(),
            "load_average": load(),
            "cpus": os.cpu_count(),
        }
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
