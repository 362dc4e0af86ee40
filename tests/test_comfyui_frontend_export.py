"""The checker's UI -> API conversion equals the real frontend's (needs COMFYUI_DIR, Debian `chromium` and the
`playwright` Python package; no model is run). Each UI workflow is loaded into ComfyUI's page in headless Chromium
with app.loadGraphData; app.graphToPrompt() then gives the prompt the Run button would queue and the workflow the
frontend would save. Both must match what workflow_check computes, so the generated API copies in
workflows/api/ are exactly what users queue."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from comfyui_server import comfyui  # noqa: F401  (session fixture)
from workflow_schemas import wc  # noqa: F401  (fixture)

pytestmark = pytest.mark.comfyui

ROOT = Path(__file__).resolve().parent.parent
UI_WORKFLOWS = sorted((ROOT / "workflows").glob("*.json")) + sorted(
    (ROOT / "tests" / "data" / "workflows").glob("*.json")
)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EXPORT_JS = """async (wf) => {
    await window.app.loadGraphData(wf);
    const { workflow, output } = await window.app.graphToPrompt();
    return { workflow, output };
}"""


@pytest.fixture(scope="module")
def page(comfyui):
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (uses the system chromium)")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    # A fresh user folder shows a tutorial dialog over the canvas unless this setting is set first.
    status, _ = comfyui.request("/settings/Comfy.TutorialCompleted", True)
    assert status == 200
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="facelab-chromium-"), headless=True, executable_path=CHROMIUM, args=BROWSER_ARGS
        )
        # Nothing but the local ComfyUI may be reached.
        context.route(
            "**/*", lambda route: route.continue_() if route.request.url.startswith(comfyui.url) else route.abort()
        )
        tab = context.new_page()
        tab.goto(comfyui.url)
        tab.wait_for_function("window.app && window.app.graph", timeout=120_000)
        yield tab
        context.close()


@pytest.fixture(scope="module")
def schemas(wc, pack, comfyui):
    # The live server's schemas: exactly what the page's frontend builds its widgets from.
    from comfyui_facelab.workflow_check.schema import schema_from_object_info

    info = comfyui.object_info()
    return {name: schema_from_object_info(name, entry) for name, entry in info.items()}


def _differences(wc, ours: dict, theirs: dict) -> list[str]:
    diffs = [f"node {k}: only in {'ours' if k in ours else 'frontend'}" for k in sorted(set(ours) ^ set(theirs))]
    for node_id in sorted(set(ours) & set(theirs)):
        a, b = ours[node_id], theirs[node_id]
        if a["class_type"] != b["class_type"] or a["_meta"] != b["_meta"]:
            diffs.append(f"node {node_id}: {a['class_type']} {a['_meta']} vs {b['class_type']} {b['_meta']}")
        for name in sorted(set(a["inputs"]) | set(b["inputs"])):
            if (
                name not in a["inputs"]
                or name not in b["inputs"]
                or not wc.same_value(a["inputs"][name], b["inputs"][name])
            ):
                diffs.append(
                    f"node {node_id} input {name}: ours {a['inputs'].get(name)!r}, frontend {b['inputs'].get(name)!r}"
                )
    return diffs


@pytest.mark.parametrize("path", UI_WORKFLOWS, ids=[p.relative_to(ROOT).as_posix() for p in UI_WORKFLOWS])
def test_conversion_matches_the_frontend(page, wc, schemas, path):
    workflow = json.loads(path.read_text())
    missing = sorted({n["type"] for n in workflow["nodes"] if n["type"] not in ("MarkdownNote", "Note")} - set(schemas))
    if missing:  # e.g. facelab_anonymise_faceid needs ComfyUI_IPAdapter_plus (validated against its recorded schema)
        pytest.skip(f"{path.name} needs nodes of another pack this ComfyUI does not have: {missing}")
    exported = page.evaluate(EXPORT_JS, workflow)
    ours, issues = wc.ui_to_api(workflow, schemas)
    assert wc.errors(issues) == []
    assert _differences(wc, ours, exported["output"]) == []
    # What the frontend saves back (its own serialisation) is understood too, and queues the same graph.
    resaved = exported["workflow"]
    assert [str(i) for i in wc.errors(wc.validate_ui(resaved, schemas))] == []
    assert _differences(wc, wc.ui_to_api(resaved, schemas)[0], exported["output"]) == []
