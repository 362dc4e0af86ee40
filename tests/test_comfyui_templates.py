"""The workflow checker on workflows saved by the real ComfyUI frontend: the official templates that ship with the
ComfyUI in COMFYUI_DIR (package comfyui-workflow-templates) and use image nodes must map widget values to inputs
and convert to API format without a single error. Guards the checker's model of the frontend's saved format
(seed control values, upload buttons, converted widgets, Reroute/Primitive nodes)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from workflow_schemas import schemas, wc  # noqa: F401  (fixtures)

pytestmark = pytest.mark.comfyui

ROOT = Path(__file__).resolve().parent.parent
# Image templates built only from core nodes whose definitions have not changed since they were saved.
TEMPLATES = (
    "sdxl_simple_example",
    "sdxl_refiner_prompt_example",
    "sdxlturbo_example",
    "sdxl_revision_text_prompts",
    "basic_mask_operations_and_compositing",
    "flux_fill_outpaint_example",
    "flux_canny_model_example",
    "sd3.5_simple_example",
)


def _templates_dir() -> Path:
    comfy = Path(os.environ.get("COMFYUI_DIR", ""))
    found = sorted(comfy.glob("venv/lib/python3*/site-packages/comfyui_workflow_templates_json/templates"))
    if not found:
        pytest.skip(f"no comfyui_workflow_templates_json in {comfy}/venv (install ComfyUI's requirements)")
    return found[-1]


@pytest.mark.parametrize("name", TEMPLATES)
def test_official_template_validates_and_converts(wc, schemas, name):
    path = _templates_dir() / f"{name}.json"
    if not path.is_file():
        pytest.skip(f"{path.name} is not in this comfyui-workflow-templates version")
    workflow = json.loads(path.read_text())
    assert [str(i) for i in wc.errors(wc.validate_ui(workflow, schemas))] == []
    prompt, _ = wc.ui_to_api(workflow, schemas)
    real = {
        str(n["id"])
        for n in workflow["nodes"]
        if n["type"] not in ("Note", "MarkdownNote", "Reroute", "PrimitiveNode") and n.get("mode", 0) not in (2, 4)
    }
    assert set(prompt) == real
    sampler_seeds = [
        n["inputs"].get("seed", n["inputs"].get("noise_seed"))
        for n in prompt.values()
        if n["class_type"] in ("KSampler", "KSamplerAdvanced", "RandomNoise")
    ]
    # The seed is the number before its control value in widgets_values, never the control string itself.
    assert all(isinstance(s, int) or isinstance(s, list) for s in sampler_seeds), sampler_seeds
