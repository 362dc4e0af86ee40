"""Sampling cost: real UNet evaluations in ComfyUI's own KSampler for the same face and the same step schedule.

    COMFYUI_DIR=/path/to/ComfyUI .venv/bin/python bench/bench_sampling_cost.py

Stage 1 (this interpreter, the pack): the conditioning and masks each graph hands its KSampler, built by the pack's
nodes on grace_hopper.jpg with its real landmarks, and an SDXL-shaped stand-in CLIP (the count does not depend on
what the prompts say). Stage 2 (ComfyUI's interpreter, COMFYUI_DIR's venv, in-process, --cpu): an SDXL BaseModel
whose UNet is a tiny stand-in (no weights; the count does not depend on them), wrapped with
set_model_unet_function_wrapper to count batch rows x calls, patched with core DifferentialDiffusion, sampled
with nodes.common_ksampler exactly as the workflows' KSampler does (cfg 5, dpmpp_2m / karras, 24 steps: the
shipped SAMPLER settings). Cases:
  plain          one plain inpaint: base prompts, KSampler denoise 1.0, 24 steps;
  aging7         facelab_local_aging: 7 zones scored (forehead +0.6, crow's feet +0.5, nasolabial +0.6,
                 under-eye -0.6), max_denoise 0.5, Aging Zone Conditioning's steps / denoise / noise mask;
  aging7_before  the same scores as the graph ran before issue 15: one masked entry per zone group, denoise 1.0;
  seed000_4pass  the seed's four sequential region passes at strengths 0.18, 0.23, 0.27, 0.32, each run as an
                 img2img pass of that strength on the same 24-step schedule (the tail of steps from that strength
                 on, as diffusers' strength does);
  wrinkle        facelab_wrinkle_reduction: 'soften wrinkles' preset scores, max_denoise 0.32, the node's plan.
Also a path check: aging7 sampled in full (denoise 1.0, 24 steps, unscaled mask) and short, with Euler and a
stand-in UNet whose eps depends on its input, same seed: how far the two results lie apart (latent units).
Prints a JSON line per case, then one line: unet_evals plain=N aging7=N seed000_4pass=N wrinkle=N
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common  # noqa: E402,F401  (import paths + offline test-asset models)
from comfy_side import PRELUDE  # noqa: E402

PHOTO = "grace_hopper.jpg"
SAMPLER = dict(cfg=5.0, sampler_name="dpmpp_2m", scheduler="karras", steps=24, seed=42)  # tools/workflow_canvas.py
AGING7 = {"forehead": 0.6, "crows_feet": 0.5, "nasolabial": 0.6, "under_eye": -0.6}  # build_workflows.local_aging
SEED_STRENGTHS = (0.18, 0.23, 0.27, 0.32)


class StandInClip:
    def tokenize(self, text):
        return {"g": [[(0, 1.0)] * 77], "l": [[(0, 1.0)] * 77]}

    def encode_from_tokens_scheduled(self, tokens):
        return [[torch.zeros(1, 77, 2048), {"pooled_output": torch.zeros(1, 1280)}]]


def build_cases() -> dict:
    from conftest import landmarks_for, photo_tensor

    import facelab

    pack = facelab.load_pack()
    from comfyui_facelab.nodes.aging import regional_conditioning as rc
    from comfyui_facelab.nodes.aging import zone_scores
    from comfyui_facelab.nodes.face import zone_masks

    node = pack.NODE_CLASS_MAPPINGS["FaceLabAgingConditioning"]()
    image, lm = photo_tensor(PHOTO), landmarks_for(PHOTO)
    clip = StandInClip()
    base_pos, base_neg = rc.encode_text(clip, "photo"), rc.encode_text(clip, "blurry")
    steps, scheduler = SAMPLER["steps"], SAMPLER["scheduler"]

    def aging(scores, max_denoise):
        pos, neg, dmask, _, noise_mask, n, denoise, needs = node.build(
            clip, image, lm, scores, "photo", "blurry", 0, 10.0, max_denoise, 1.0, steps=steps, scheduler=scheduler
        )
        # outside ComfyUI the node plans on a timestep-linear schedule (adapter fallback); stage 2 re-plans from the
        # denoise mask with ComfyUI's own scheduler, as the node does when it runs inside ComfyUI
        return {
            "runs": [dict(positive=pos, negative=neg, denoise_mask=dmask, steps=n, denoise=denoise)],
            "needs_sampling": needs,
        }

    zones = [z for z, s in zone_scores.normalize_scores(AGING7).items() if s]
    region = zone_masks.zones_mask(lm, 1, zones, face_index=0, feather=10.0)
    binary = (region > 0).float()
    cases = {
        "plain": {"runs": [dict(positive=base_pos, negative=base_neg, noise_mask=binary, steps=steps, denoise=1.0)]}
    }
    cases["aging7"] = aging(AGING7, 0.5)
    # before issue 15: one masked entry per zone group and score, sampled at denoise 1.0 with the per-pixel mask
    pos, neg = [base_pos], [base_neg]
    dmask = torch.zeros_like(region)
    for entry in rc.plan_entries(zone_scores.normalize_scores(AGING7)):
        m = zone_masks.zones_mask(lm, 1, list(entry.zones), face_index=0, feather=10.0)
        pos.append(rc.set_mask(base_pos, m))
        neg.append(rc.set_mask(base_neg, m))
        dmask = torch.maximum(dmask, m * abs(entry.score) * 0.5)
    cases["aging7_before"] = {
        "runs": [dict(positive=rc.combine(*pos), negative=rc.combine(*neg), noise_mask=dmask, steps=steps, denoise=1.0)]
    }
    # the seed's passes: each an img2img pass of its strength (plan of a mask at that strength: no rescale needed)
    cases["seed000_4pass"] = {
        "runs": [dict(positive=base_pos, negative=base_neg, noise_mask=binary, strength=s) for s in SEED_STRENGTHS]
    }
    cases["wrinkle"] = aging(zone_scores.build_scores("soften wrinkles"), 0.32)
    return cases


STAGE2 = (
    PRELUDE
    + r"""
import json
import logging
logging.disable(logging.WARNING)
import torch
import comfy.model_base, comfy.model_patcher, comfy.supported_models
import nodes
from comfy_extras.nodes_differential_diffusion import DifferentialDiffusion
data = script_args[0]

class TinyUNet(torch.nn.Module):  # stands in for SDXL's UNet: the sampler only needs an eps of the input's shape
    dtype = torch.float32

    def forward(self, x, timesteps=None, context=None, y=None, **kwargs):
        return torch.zeros_like(x[:, :4])

config = comfy.supported_models.SDXL({"disable_unet_model_creation": True, "in_channels": 4,
                                       "model_channels": 320, "adm_in_channels": 2816})
model = comfy.model_base.SDXL(config, device=torch.device("cpu"))
model.diffusion_model = TinyUNet()
patcher = comfy.model_patcher.ModelPatcher(model, load_device=torch.device("cpu"), offload_device=torch.device("cpu"))
patcher.set_model_denoise_mask_function(
    lambda *a, **k: DifferentialDiffusion.forward(*a, **k, strength=1.0))  # what core DifferentialDiffusion patches
count = {"rows": 0, "calls": 0}

def counter(apply_model, args):
    count["rows"] += int(args["input"].shape[0])
    count["calls"] += 1
    return apply_model(args["input"], args["timestep"], **args["c"])

patcher.set_model_unet_function_wrapper(counter)
cases = torch.load(data, weights_only=False)
s = cases.pop("_sampler")
ts, t_end = adapter.sdxl_schedule_timesteps(s["scheduler"], s["steps"])
out = {}
for name, case in cases.items():
    count.update(rows=0, calls=0)
    steps_run = 0
    for run in case["runs"]:
        if "strength" in run:  # an img2img pass of that strength on the same schedule
            plan = plan_mod.sampling_plan(run["strength"], ts, t_end)
            run = dict(run, steps=plan.steps, denoise=plan.denoise)
        if "denoise_mask" in run:  # Aging Zone Conditioning's plan, with this scheduler
            plan = plan_mod.sampling_plan(float(run["denoise_mask"].max()), ts, t_end)
            run = dict(run, steps=plan.steps, denoise=plan.denoise,
                       noise_mask=plan_mod.rescale_mask(run["denoise_mask"], plan))
        if run["steps"] == 0 or not case.get("needs_sampling", True):
            continue
        h, w = run["noise_mask"].shape[-2:]
        latent = {"samples": torch.zeros(1, 4, h // 8, w // 8), "noise_mask": run["noise_mask"]}
        nodes.common_ksampler(patcher, s["seed"], run["steps"], s["cfg"], s["sampler_name"], s["scheduler"],
                              run["positive"], run["negative"], latent, denoise=run["denoise"])
        steps_run += run["steps"]
    out[name] = {"unet_evals": count["rows"], "unet_calls": count["calls"], "steps_run": steps_run,
                 "entries": [len(r["positive"]) + len(r["negative"]) for r in case["runs"]]}
# Path check: the aging7 run in full (denoise 1.0, 24 steps, the unscaled mask) against the short run, with Euler
# and a stand-in UNet whose eps depends on its input (so released pixels really move), same seed.
class EpsUNet(TinyUNet):
    def forward(self, x, timesteps=None, context=None, y=None, **kwargs):
        return 0.5 * torch.tanh(x[:, :4])

model.diffusion_model = EpsUNet()
run = cases["aging7"]["runs"][0]
dmask = run["denoise_mask"]
plan = plan_mod.sampling_plan(float(dmask.max()), ts, t_end)
h, w = dmask.shape[-2:]
base = torch.randn(1, 4, h // 8, w // 8, generator=torch.Generator().manual_seed(0))
finals = []
for steps, denoise, mask in ((s["steps"], 1.0, dmask), (plan.steps, plan.denoise, plan_mod.rescale_mask(dmask, plan))):
    latent = {"samples": base.clone(), "noise_mask": mask}
    finals.append(nodes.common_ksampler(patcher, s["seed"], steps, s["cfg"], "euler", s["scheduler"],
                                        run["positive"], run["negative"], latent, denoise=denoise)[0]["samples"])
moved = (finals[0] - base).abs()
out["_path_check"] = {"sampler": "euler", "full_steps": s["steps"], "short_steps": plan.steps,
                      "max_change_full": round(float(moved.max()), 4),
                      "max_diff_full_vs_short": round(float((finals[0] - finals[1]).abs().max()), 4),
                      "mean_diff_full_vs_short": round(float((finals[0] - finals[1]).abs().mean()), 6),
                      "cells_differing_pct": round(100 * float(((finals[0] - finals[1]).abs().amax(1) > 0.05).float()
                                                               .mean()), 3)}
print("RESULT " + json.dumps(out))
"""
)


def main() -> None:
    comfy_dir = Path(os.environ.get("COMFYUI_DIR", ""))
    if not (comfy_dir / "comfy").is_dir():
        raise SystemExit("set COMFYUI_DIR to a ComfyUI checkout (with its venv) to count in ComfyUI's own sampler")
    python = next(
        (p for p in (comfy_dir / "venv" / "bin" / "python", comfy_dir / ".venv" / "bin" / "python") if p.is_file()),
        Path(sys.executable),
    )
    cases = build_cases()
    cases["_sampler"] = SAMPLER
    with tempfile.TemporaryDirectory() as tmp:
        data, script = Path(tmp) / "cases.pt", Path(tmp) / "stage2.py"
        torch.save(cases, data)
        script.write_text(STAGE2)
        res = subprocess.run(
            [str(python), str(script), str(comfy_dir), str(bench_common.ROOT), str(data)],
            cwd=comfy_dir,
            capture_output=True,
            text=True,
            timeout=1200,
        )
    line = next((x for x in res.stdout.splitlines() if x.startswith("RESULT ")), None)
    if res.returncode != 0 or line is None:
        raise SystemExit(f"ComfyUI stage failed:\n{res.stdout[-2000:]}\n{res.stderr[-4000:]}")
    result = json.loads(line[len("RESULT ") :])
    check = result.pop("_path_check")
    print(json.dumps({"stage": "sampling_path_check", **check}))
    for name, r in result.items():
        print(
            json.dumps(
                {
                    "stage": "sampling_cost",
                    "case": name,
                    **r,
                    "steps": SAMPLER["steps"],
                    "sampler": f"{SAMPLER['sampler_name']}/{SAMPLER['scheduler']}",
                    "cfg": SAMPLER["cfg"],
                    "threads": torch.get_num_threads(),
                    "loadavg": os.getloadavg()[0],
                }
            )
        )
    print(
        "unet_evals "
        + " ".join(f"{k}={result[k]['unet_evals']}" for k in ("plain", "aging7", "seed000_4pass", "wrinkle"))
    )


if __name__ == "__main__":
    main()
