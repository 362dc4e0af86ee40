"""Aging Zone Conditioning equals what core ComfyUI nodes build, checked with ComfyUI's own code (COMFYUI_DIR).

Our conditioning (real landmarks, SDXL-shaped stand-in CLIP) is saved; in ComfyUI's interpreter, core
ConditioningSetMask + ConditioningCombine rebuild it from the same encodings and masks, entry for entry, and the
sampler's preprocessing (resolve_areas_and_cond_masks_multidim) consumes it. No server is started.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import landmarks_for, photo_tensor
from test_aging_conditioning import FakeClip

CORE_SCRIPT = r"""
import sys
comfy_dir, data = sys.argv[1], sys.argv[2]
sys.argv = [sys.argv[0], "--cpu"]
sys.path.insert(0, comfy_dir)
import comfy.options
comfy.options.enable_args_parsing()
import torch
import comfy.samplers
import nodes

d = torch.load(data, weights_only=False)
enc = lambda text: d["encoded"][d["texts"].index(text)]
for key, base, field in (("pos", d["positive"], "positive"), ("neg", d["negative"], "negative")):
    ours, core, k = d[key], enc(base), 1
    for e in d["regional"]:
        if e[field]:
            (masked,) = nodes.ConditioningSetMask().append(enc(e[field]), ours[k][1]["mask"], "default", d["strength"])
            assert ("start_percent" in e) == ("start_percent" in ours[k][1]), (key, e)
            if "start_percent" in e:
                (masked,) = nodes.ConditioningSetTimestepRange().set_range(masked, ours[k][1]["start_percent"], 1.0)
            (core,) = nodes.ConditioningCombine().combine(core, masked)
            k += 1
    assert len(core) == len(ours), (key, len(core), len(ours))
    for a, b in zip(core, ours):
        assert a[0] is b[0] and set(a[1]) == set(b[1]), (key, set(a[1]), set(b[1]))
        for name, va in a[1].items():
            vb = b[1][name]
            same = torch.equal(va, vb) if torch.is_tensor(va) else (va == vb and type(va) is type(vb))
            assert same, (key, name)
    conds = [dict(c[1], model_conds={}, cross_attn=c[0]) for c in ours]
    h, w = d["mask"].shape[1:]
    comfy.samplers.resolve_areas_and_cond_masks_multidim(conds, (h // 8, w // 8), torch.device("cpu"))
    assert all(tuple(c["mask"].shape) == (1, h // 8, w // 8) for c in conds if "mask" in c)
print("PARITY OK")
"""


@pytest.mark.comfyui
def test_conditioning_matches_core_set_mask_and_combine(pack, tmp_path):
    comfy_dir = Path(os.environ["COMFYUI_DIR"])
    python = next(
        (p for p in (comfy_dir / "venv" / "bin" / "python", comfy_dir / ".venv" / "bin" / "python") if p.is_file()),
        Path(sys.executable),
    )
    clip = FakeClip()
    node = pack.NODE_CLASS_MAPPINGS["FaceLabAgingConditioning"]()
    scores = {"forehead": -0.6, "crows_feet": 0.4, "nasolabial_left": 0.3}
    pos, neg, mask, report, *_ = node.build(
        clip,
        photo_tensor("grace_hopper.jpg"),
        landmarks_for("grace_hopper.jpg"),
        scores,
        "portrait photo",
        "blurry",
        0,
        10.0,
        0.32,
        0.8,
    )
    regional = json.loads(report)["regional"]
    assert len(regional) == 2 and sum("start_percent" in e for e in regional) == 1  # older 0.4 x 0.32 is weaker
    data = tmp_path / "cond.pt"
    torch.save(
        {
            "pos": pos,
            "neg": neg,
            "mask": mask,
            "texts": clip.texts,
            "encoded": clip.encoded,
            "regional": regional,
            "positive": "portrait photo",
            "negative": "blurry",
            "strength": 0.8,
        },
        data,
    )
    script = tmp_path / "core_parity.py"
    script.write_text(CORE_SCRIPT)
    res = subprocess.run(
        [str(python), str(script), str(comfy_dir), str(data)],
        cwd=comfy_dir,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0 and "PARITY OK" in res.stdout, res.stdout[-2000:] + res.stderr[-4000:]
