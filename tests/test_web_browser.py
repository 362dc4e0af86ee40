"""The web/ extension in a real ComfyUI page (needs COMFYUI_DIR, Debian `chromium` and `pip install playwright`;
no model runs). A shipped workflow is loaded from the template route; the zone picker and the score panel must
appear on its nodes, clicks must edit the real widgets, and nothing the extension adds may reach the prompt or the
saved workflow. A clean two-node graph is then screenshotted (set FACELAB_WRITE_DOCS_SCREENSHOT=1 to refresh
docs/web_picker.png)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from comfyui_server import comfyui  # noqa: F401  (session fixture)
from test_comfyui_frontend_export import page  # noqa: F401  (headless Chromium on the ComfyUI page)

pytestmark = pytest.mark.comfyui

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = "facelab_local_aging"  # shipped workflow with Face Zone Mask and Aging Zone Scores
DOCS_SCREENSHOT = ROOT / "docs" / "web_picker.png"

# Page-side helpers: find a node by class, read a widget, write it the way the text-edit prompt does.
JS_HELPERS = """
window.fl = {
  node: (cls) => window.app.rootGraph._nodes.find((n) => n.comfyClass === cls),
  widget: (cls, name) => window.fl.node(cls).widgets.find((w) => w.name === name),
  value: (cls, name) => window.fl.widget(cls, name).value,
  edit: (cls, name, value) => {
    const node = window.fl.node(cls);
    window.fl.widget(cls, name).setValue(value, { e: undefined, node, canvas: window.app.canvas });
  },
  onZones: (root) => [...root.querySelectorAll("path.fl-zone.fl-on")].map((p) => p.dataset.zone).sort(),
  // A screen point where this zone, not one drawn over it, gets the click (zones are not convex).
  clickPoint: (path) => {
    const r = path.getBoundingClientRect();
    const hits = [];
    for (let i = 1; i < 20; i++) for (let j = 1; j < 20; j++) {
      const x = r.left + (r.width * i) / 20, y = r.top + (r.height * j) / 20;
      if (document.elementFromPoint(x, y) === path) hits.push([x, y]);
    }
    const cx = r.left + r.width / 2, cy = r.top + r.height / 2;
    hits.sort((a, b) => Math.hypot(a[0] - cx, a[1] - cy) - Math.hypot(b[0] - cx, b[1] - cy));
    return hits[0] ?? null;
  },
};
"""


@pytest.fixture(scope="module")
def loaded(page, comfyui):  # noqa: F811
    page.evaluate(JS_HELPERS)
    workflow = page.evaluate(
        """async (url) => {
        const wf = await (await fetch(url)).json();
        await window.app.loadGraphData(wf);
        return wf;
    }""",
        f"/api/workflow_templates/{comfyui.pack_folder}/{WORKFLOW}.json",
    )
    page.wait_for_timeout(500)
    return workflow


def _click_zone(page, picker, zone: str, shift: bool = False) -> None:  # noqa: F811
    """A real mouse click inside the zone as drawn."""
    point = picker.locator(f'path[data-zone="{zone}"]').evaluate("fl.clickPoint")
    assert point, f"zone {zone} has no visible, clickable area in the picker"
    if shift:
        page.keyboard.down("Shift")
    page.mouse.click(*point)
    if shift:
        page.keyboard.up("Shift")


def _resolve(text: str) -> list[str]:
    from comfyui_facelab.nodes.face.zone_atlas import resolve_zones

    return sorted(resolve_zones(text))


def test_widgets_appear_on_the_nodes_that_take_zones_and_scores(page, loaded, pack):  # noqa: F811
    def takes_zones(node_type: str) -> bool:
        cls = pack.NODE_CLASS_MAPPINGS.get(node_type)
        spec = cls.INPUT_TYPES() if cls else {}
        return "zones" in {**spec.get("required", {}), **spec.get("optional", {})}

    types = [n["type"] for n in loaded["nodes"]]
    with_zones = [t for t in types if takes_zones(t)]
    assert with_zones, "the shipped workflow has no node with a zones input"
    assert page.locator(".facelab-zp").count() == len(with_zones)
    assert page.locator(".facelab-sp").count() == types.count("FaceLabZoneScores") == 1
    diagram = json.loads((ROOT / "web" / "zone_diagram.json").read_text())
    shown = set(
        page.locator(".facelab-zp").first.locator("path.fl-zone").evaluate_all("ps => ps.map(p => p.dataset.zone)")
    )
    assert shown == set(diagram["zones"]) - {"face_oval", "skin"}  # those two are chips


def test_picker_shows_the_text_and_clicks_edit_it(page, loaded):  # noqa: F811
    picker = page.locator(".facelab-zp").first
    text = page.evaluate("() => fl.value('FaceLabZoneMask', 'zones')")
    assert picker.evaluate("fl.onZones") == _resolve(text)  # the page reads the text as Python does

    target = "nose" if "nose" not in _resolve(text) else "chin"
    _click_zone(page, picker, target)
    after = page.evaluate("() => fl.value('FaceLabZoneMask', 'zones')")
    assert _resolve(after) == sorted(set(_resolve(text)) | {target})
    assert target in picker.evaluate("fl.onZones")

    # One side with Shift, both sides without.
    page.evaluate("() => fl.edit('FaceLabZoneMask', 'zones', 'forehead')")
    assert picker.evaluate("fl.onZones") == ["forehead"]  # typing updates the picker
    _click_zone(page, picker, "crows_feet_left", shift=True)
    assert page.evaluate("() => fl.value('FaceLabZoneMask', 'zones')") == "forehead, crows_feet_left"
    _click_zone(page, picker, "under_eye_right")
    assert page.evaluate("() => fl.value('FaceLabZoneMask', 'zones')") == "forehead, crows_feet_left, under_eye"
    picker.locator('[data-chip="clear"]').click()
    assert page.evaluate("() => fl.value('FaceLabZoneMask', 'zones')") == ""
    assert "No zone selected" in picker.locator(".fl-status").inner_text()


def test_score_panel_edits_the_real_widgets(page, loaded):  # noqa: F811
    from comfyui_facelab.nodes.aging.zone_scores import AGING_GROUPS

    panel = page.locator(".facelab-sp").first
    assert panel.locator("input[data-score]").count() == len(AGING_GROUPS)
    areas = panel.locator("[data-area]").evaluate_all("els => els.map(e => e.dataset.area)")
    assert areas == ["upper", "eyes", "mid", "lower"]
    hidden = page.evaluate("""() => fl.node('FaceLabZoneScores').widgets
        .filter(w => w.type === 'number' && w.options.min < 0).map(w => w.hidden === true)""")
    assert hidden == [True] * len(AGING_GROUPS)  # the panel replaces the plain sliders

    for name in AGING_GROUPS:  # the sliders start at the workflow's values
        widget_value = page.evaluate(f"() => fl.value('FaceLabZoneScores', '{name}')")
        assert float(panel.locator(f'input[data-score="{name}"]').input_value()) == pytest.approx(widget_value)
    panel.locator('input[data-score="forehead"]').fill("-0.4")
    assert page.evaluate("() => fl.value('FaceLabZoneScores', 'forehead')") == pytest.approx(-0.4)
    assert (
        panel.locator('input[data-score="forehead"]').locator("xpath=..").get_attribute("data-direction") == "younger"
    )
    panel.locator('[data-action="reset-all"]').click()
    values = page.evaluate(f"() => {json.dumps(list(AGING_GROUPS))}.map(n => fl.value('FaceLabZoneScores', n))")
    assert values == [0] * len(AGING_GROUPS)


def test_added_widgets_stay_out_of_prompt_and_saved_workflow(page, loaded):  # noqa: F811
    page.evaluate("() => fl.edit('FaceLabZoneMask', 'zones', 'crows_feet, lips')")
    exported = page.evaluate("""async () => {
        const { workflow, output } = await window.app.graphToPrompt();
        const ids = ['FaceLabZoneMask', 'FaceLabZoneScores'].map(c => String(fl.node(c).id));
        return ids.map(id => ({ inputs: output[id].inputs, saved: workflow.nodes.find(n => String(n.id) === id),
                                 widgets: fl.node(output[id].class_type).widgets.filter(w => w.serialize !== false).length }));
    }""")
    for node in exported:
        assert not {"zone_picker", "zone_score_panel"} & set(node["inputs"])
        assert len(node["saved"]["widgets_values"]) == node["widgets"]  # no extra or shifted saved values
        assert not {"zone_picker", "zone_score_panel"} & set(node["saved"].get("widgets_values_named") or {})
    assert exported[0]["inputs"]["zones"] == "crows_feet, lips"
    assert exported[0]["saved"]["widgets_values"][0] == "crows_feet, lips"


def test_screenshot_of_picker_and_sliders(page, loaded, tmp_path):  # noqa: F811
    from PIL import Image

    bounds = page.evaluate("""async () => {
        const graph = { last_node_id: 0, last_link_id: 0, nodes: [], links: [], groups: [], config: {}, extra: {}, version: 0.4 };
        await window.app.loadGraphData(graph);
        const mask = LiteGraph.createNode('FaceLabZoneMask');
        const scores = LiteGraph.createNode('FaceLabZoneScores');
        window.app.rootGraph.add(mask);
        window.app.rootGraph.add(scores);
        mask.pos = [0, 0]; mask.size = [330, mask.size[1]];
        scores.pos = [360, 0]; scores.size = [330, scores.size[1]];
        fl.edit('FaceLabZoneMask', 'zones', 'forehead, crows_feet, under_eye, nasolabial');
        for (const [k, v] of [['forehead', -0.6], ['crows_feet', -0.5], ['under_eye', -0.7], ['nasolabial', 0.4], ['jawline', 0.3]])
            fl.edit('FaceLabZoneScores', k, v);
        const ds = window.app.canvas.ds; ds.scale = 1; ds.offset = [150, 150];
        window.app.canvas.setDirty(true, true);
        // Both nodes, title bars included, in page pixels.
        const r = window.app.canvas.canvas.getBoundingClientRect();
        const t = LiteGraph.NODE_TITLE_HEIGHT;
        const boxes = [mask, scores].map(n => [n.pos[0], n.pos[1] - t, n.size[0], n.size[1] + t]);
        const x0 = Math.min(...boxes.map(b => b[0])), y0 = Math.min(...boxes.map(b => b[1]));
        const x1 = Math.max(...boxes.map(b => b[0] + b[2])), y1 = Math.max(...boxes.map(b => b[1] + b[3]));
        return { x: r.left + x0 + 150 - 12, y: r.top + y0 + 150 - 12, width: x1 - x0 + 24, height: y1 - y0 + 24 };
    }""")
    page.wait_for_timeout(800)
    for sel in (".facelab-zp", ".facelab-sp"):
        box = page.locator(sel).first.bounding_box()
        assert box and box["width"] > 150 and box["height"] > 150, (sel, box)
    png = page.screenshot(clip=bounds)
    (tmp_path / "web_picker.png").write_bytes(png)

    drawing = np.asarray(
        Image.open(io.BytesIO(page.locator(".facelab-zp svg").first.screenshot())).convert("RGB")
    ).astype(int)
    selected_blue = drawing[..., 2] - drawing[..., 0] > 100  # the selected zones' fill
    assert selected_blue.mean() > 0.02, "no selected zone is drawn in the picker"
    assert page.locator(".facelab-sp .fl-row[data-direction=younger]").count() == 3
    assert page.locator(".facelab-sp .fl-row[data-direction=older]").count() == 2
    if os.environ.get("FACELAB_WRITE_DOCS_SCREENSHOT") == "1":
        image = Image.open(io.BytesIO(png)).convert("RGB")
        image.quantize(colors=128).save(DOCS_SCREENSHOT, optimize=True)


def test_linked_inputs_are_shown_read_only(page, loaded):  # noqa: F811
    state = page.evaluate("""async () => {
        await window.app.loadGraphData({ last_node_id: 0, last_link_id: 0, nodes: [], links: [], groups: [], config: {}, extra: {}, version: 0.4 });
        const g = window.app.rootGraph;
        const mask = LiteGraph.createNode('FaceLabZoneMask'), scores = LiteGraph.createNode('FaceLabZoneScores');
        const text = LiteGraph.createNode('PrimitiveString'), number = LiteGraph.createNode('PrimitiveFloat');
        for (const n of [mask, scores, text, number]) g.add(n);
        const slot = (node, name) => node.inputs.findIndex(i => i.widget?.name === name);
        text.connect(0, mask, slot(mask, 'zones'));
        number.connect(0, scores, slot(scores, 'chin'));
        const chin = scores.widgets.find(w => w.name === 'chin');
        const picker = mask.widgets.find(w => w.name === 'zone_picker').element;
        const panel = scores.widgets.find(w => w.name === 'zone_score_panel').element;
        return {
            pickerDisabled: picker.classList.contains('fl-disabled'),
            status: picker.querySelector('.fl-status').textContent,
            chinRowLinked: panel.querySelector('input[data-score="chin"]').disabled,
            chinWidgetHidden: chin.hidden === true,
            foreheadDisabled: panel.querySelector('input[data-score="forehead"]').disabled,
        };
    }""")
    assert state == {
        "pickerDisabled": True,
        "status": "The zones come from a link: the picker only shows them.",
        "chinRowLinked": True,
        "chinWidgetHidden": False,
        "foreheadDisabled": False,
    }
