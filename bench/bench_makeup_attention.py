"""Cost of Makeup Reference Attention on CPU: UNet rows per call, wall time per step, peak memory, resolution scaling.

Run with ComfyUI's interpreter so the real sampler and UNet code run (a tiny random-weight UNet with SDXL's layout,
tests/makeup_attention_standin.py: 64 channels, depth-1 transformers where SDXL has 2 / 10 -- never the checkpoint):

    COMFYUI_DIR=/path/to/ComfyUI /path/to/ComfyUI/venv/bin/python bench/bench_makeup_attention.py [--sizes 512,1024]

Each configuration (size x unpatched / patched) runs in its own forked process, so its peak RSS is its own:
one warm-up step, then `--steps` Euler steps of comfy.sample.sample with CFG (cond + uncond in one UNet call); the
median is of the UNet evaluations (one per step, reference rows included), the sample time includes ComfyUI's set-up.
The makeup region is a 30 % x 45 % box of the crop (a face crop's lips + eyes + cheeks cover about that).
Prints JSON lines: stage, size, median UNet ms per step, min-max, whole sample ms, rows per UNet call, peak RSS MB,
threads, load average. The extra UNet work is structural (the batch doubles: every layer runs on 2x rows; the patched attention
adds one pass over [k; k_ref] for target rows with makeup tokens) and carries over to the real SDXL; the absolute
times here are of the tiny model, whose attention share is far smaller than SDXL's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup_comfy():
    comfy_dir = os.environ.get("COMFYUI_DIR")
    if not comfy_dir:
        sys.exit("set COMFYUI_DIR to a ComfyUI folder and run with its interpreter (see the docstring)")
    sys.argv = [sys.argv[0], "--cpu"]
    for p in (comfy_dir, str(ROOT), str(ROOT / "tests")):
        sys.path.insert(0, p)
    import comfy.options

    comfy.options.enable_args_parsing()


def _run(size: int, patched: bool, steps: int, out) -> None:
    import comfy.sample
    import makeup_attention_standin as st
    import torch

    import facelab

    facelab.load_light()
    from comfyui_facelab.nodes import comfy_adapter as ca
    from comfyui_facelab.nodes.makeup import reference_attention as ra

    model = st.comfy_tiny_sdxl()
    g = torch.Generator().manual_seed(1)
    cond, uncond = st.comfy_conds(g)
    h = w = size // 8
    latent = torch.randn(1, 4, h, w, generator=g)
    noise = torch.randn(1, 4, h, w, generator=g)
    rows, unet_ms = [], []
    m = ca.clone_model(model)
    call = None  # the plain UNet call
    if patched:
        weights = torch.zeros(1, h, w)
        weights[:, int(h * 0.35) : int(h * 0.65), int(w * 0.275) : int(w * 0.725)] = 0.8
        sampling = ca.model_sampling(model)
        branch = ra.ReferenceBranch(ca.process_latent_in(model, latent.flip(-1)), noise, weights,
                                    noise_scaling=sampling.noise_scaling, attention=ca.attention_function())  # fmt: skip
        for b in ca.unet_self_attention_blocks(model):
            ca.set_attn1_replace(m, ra.attn1_replace(branch.attention), *b)

        def spy(apply_model, args):
            rows.append(args["input"].shape[0])
            return apply_model(args["input"], args["timestep"], **args["c"])

        call = ra.unet_wrapper(branch, previous=spy)

    def timed(apply_model, args):  # the whole UNet evaluation of one step, reference rows included
        t = time.perf_counter()
        if call is not None:
            out = call(apply_model, args)
        else:
            rows.append(args["input"].shape[0])
            out = apply_model(args["input"], args["timestep"], **args["c"])
        unet_ms.append((time.perf_counter() - t) * 1000)
        return out

    ca.set_unet_wrapper(m, timed)

    def sample(n):
        return comfy.sample.sample(m, noise, n, 5.0, "euler", "normal", cond, uncond, latent, denoise=1.0,
                                   disable_pbar=True, seed=0)  # fmt: skip

    sample(1)  # warm-up
    unet_ms.clear()
    t = time.perf_counter()
    sample(steps)
    total = (time.perf_counter() - t) * 1000
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.write(json.dumps({"median": statistics.median(unet_ms), "min": min(unet_ms), "max": max(unet_ms),
                          "total": total, "rows": max(rows), "peak_mb": peak_mb,
                          "threads": torch.get_num_threads()}))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="512,768,1024", help="crop sizes in pixels (latent = size / 8)")
    ap.add_argument("--steps", type=int, default=3, help="Euler steps of the timed sample (after a 1-step warm-up)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = ap.parse_args()
    _setup_comfy()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    for size in (int(s) for s in args.sizes.split(",")):
        results = {}
        for patched in (False, True):
            r, wfd = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                with os.fdopen(wfd, "w") as out:
                    _run(size, patched, args.steps, out)
                os._exit(0)
            os.close(wfd)
            with os.fdopen(r) as inp:
                data = inp.read()
            os.waitpid(pid, 0)
            res = json.loads(data)
            results[patched] = res
            stage = "reference attention (active every step)" if patched else "unpatched"
            print(json.dumps({"stage": stage, "size": f"{size}x{size}", "median_ms": round(res["median"], 1),
                              "min_max_ms": [round(res["min"], 1), round(res["max"], 1)],
                              f"sample_{args.steps}_steps_ms": round(res["total"]), "unet_rows": res["rows"],
                              "peak_rss_mb": round(res["peak_mb"]), "threads": res["threads"],
                              "loadavg": os.getloadavg()[0]}))  # fmt: skip
        print(json.dumps({"stage": "ratio patched / unpatched", "size": f"{size}x{size}",
                          "unet_time": round(results[True]["median"] / results[False]["median"], 2),
                          "unet_rows": results[True]["rows"] / results[False]["rows"],
                          "peak_rss_extra_mb": round(results[True]["peak_mb"] - results[False]["peak_mb"])}))  # fmt: skip


if __name__ == "__main__":
    main()
