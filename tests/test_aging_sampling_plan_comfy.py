"""The shortened run of Aging Zone Conditioning releases every pixel at the same step and sigma as the full run,
checked with ComfyUI's own schedulers, KSampler step rules and DifferentialDiffusion (COMFYUI_DIR; no server, no
model weights: only the SDXL noise schedule is needed).

Full run: KSampler(steps=S, denoise=1) with the per-pixel mask m. Short run: KSampler(steps=n, denoise) with the
mask rescaled. For every scheduler, every step of the full run before the short one starts must release no pixel,
and every later step must release exactly the pixels the short run releases at the same sigma.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from comfy_side import PRELUDE

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = (
    PRELUDE
    + r"""
import torch
import comfy.samplers
from comfy_extras.nodes_differential_diffusion import DifferentialDiffusion

class Patcher:  # what KSampler asks of a model to build its sigmas
    def __init__(self, sampling):
        self.sampling = sampling
        self.model_options = {}
        self.load_device = torch.device("cpu")
    def get_model_object(self, name):
        return self.sampling

import comfy.model_sampling as ms
class Cfg:
    sampling_settings = {}
class Sampling(ms.ModelSamplingDiscrete, ms.EPS):
    pass
sampling = Sampling(Cfg())
inner = type("Inner", (), {"model_sampling": sampling})()
wrapper = type("Wrap", (), {"inner_model": inner})()

def released(sigmas, mask):
    out = []
    for s in sigmas[:-1]:
        b = DifferentialDiffusion.forward(s.reshape(1), mask, {"model": wrapper, "sigmas": sigmas}, strength=1.0)
        out.append(b)
    return out

S = 24
mask = torch.linspace(0.0, 0.5, 2001).reshape(1, 1, 1, 2001)
checked = 0
for scheduler in ("karras", "normal", "exponential", "simple", "sgm_uniform", "beta"):
    for top in (0.12, 0.18, 0.25, 0.32, 0.5):
        m = mask.clamp(max=top)
        ts, t_end = adapter.sdxl_schedule_timesteps(scheduler, S)
        plan = plan_mod.sampling_plan(top, ts, t_end)
        full = comfy.samplers.KSampler(Patcher(sampling), S, "cpu", "euler", scheduler, 1.0)
        short = comfy.samplers.KSampler(Patcher(sampling), plan.steps, "cpu", "euler", scheduler, plan.denoise)
        assert len(short.sigmas) == plan.steps + 1
        assert torch.equal(short.sigmas, full.sigmas[-(plan.steps + 1):]), (scheduler, top)
        a = released(full.sigmas, m)
        b = released(short.sigmas, plan_mod.rescale_mask(m, plan))
        skip = S - plan.steps
        assert all(float(x.max()) == 0.0 for x in a[:skip]), (scheduler, top, "a skipped step releases a pixel")
        assert float(a[skip].max()) == 1.0, (scheduler, top, "the first kept step releases nothing")
        for k in range(plan.steps):
            diff = int((a[skip + k] != b[k]).sum())
            assert diff <= 1, (scheduler, top, k, diff)  # at most a pixel exactly on a threshold (float rounding)
            checked += 1
print("PLAN OK", checked)
"""
)


@pytest.mark.comfyui
def test_short_run_releases_pixels_like_the_full_run(tmp_path):
    comfy_dir = Path(os.environ["COMFYUI_DIR"])
    python = next(
        (p for p in (comfy_dir / "venv" / "bin" / "python", comfy_dir / ".venv" / "bin" / "python") if p.is_file()),
        Path(sys.executable),
    )
    script = tmp_path / "plan_check.py"
    script.write_text(SCRIPT)
    res = subprocess.run(
        [str(python), str(script), str(comfy_dir), str(ROOT)],
        cwd=comfy_dir,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0 and "PLAN OK" in res.stdout, res.stdout[-2000:] + res.stderr[-4000:]
