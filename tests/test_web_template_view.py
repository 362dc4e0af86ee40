"""Shipped workflows open readable in a real ComfyUI page (needs COMFYUI_DIR, Debian `chromium`, `playwright`).

The frontend fits the whole graph when its template browser opens a workflow (`openSource: "template"`), which
for a wide FaceLab graph is a zoom where node text is not drawn; web/template_view.js restores the workflow's own
view. Each template is opened exactly as the template browser does, and the read-me note and the Input Image node
must be on screen, below the top bar, at the saved zoom. FACELAB_SCREENSHOT_DIR=<dir> keeps a screenshot of each.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from comfyui_server import comfyui  # noqa: F401  (session fixture)
from test_comfyui_frontend_export import page  # noqa: F401  (headless Chromium on the ComfyUI page)

pytestmark = pytest.mark.comfyui

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p.stem for p in (ROOT / "workflows").glob("*.json"))

# What the template browser runs (useTemplateWorkflows.loadWorkflowTemplate in the frontend), then where the note
# and the photo node are drawn (the frontend's tool bar covers the left 58 px): screen = (pos + offset) * scale, relative to the canvas element.
OPEN_AS_TEMPLATE = """async (url) => {
    const wf = await (await fetch(url)).json();
    await window.app.loadGraphData(wf, true, true, null, { openSource: "template" });
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const ds = window.app.canvas.ds;
    const rect = window.app.canvas.canvas.getBoundingClientRect();
    const place = (node) => ({ x: rect.left + (node.pos[0] + ds.offset[0]) * ds.scale,
                               y: rect.top + (node.pos[1] - 30 + ds.offset[1]) * ds.scale });
    const nodes = window.app.rootGraph._nodes;
    const note = nodes.find((n) => n.type === "MarkdownNote" || n.type === "Note");
    const photo = nodes.find((n) => n.type === "LoadImage");
    return { scale: ds.scale, note: place(note), photo: place(photo), width: rect.width, height: rect.height,
             top: rect.top };
}"""


@pytest.mark.parametrize("name", SHIPPED)
def test_template_opens_on_the_read_me_and_the_photo(page, comfyui, name):  # noqa: F811
    view = page.evaluate(OPEN_AS_TEMPLATE, f"/api/workflow_templates/{comfyui.pack_folder}/{name}.json")
    if os.environ.get("FACELAB_SCREENSHOT_DIR"):
        page.screenshot(path=str(Path(os.environ["FACELAB_SCREENSHOT_DIR"]) / f"{name}.png"))
    assert view["scale"] >= 0.6, f"{name} opened at {view['scale']:.2f}: node text is not drawn"
    for what in ("note", "photo"):
        x, y = view[what]["x"], view[what]["y"]
        assert 60 <= x <= view["width"] - 150 and view["top"] + 40 <= y <= view["height"] - 60, (name, what, view)
