"""Shipped workflows, checked without ComfyUI: workflows/*.json (UI format, shown in ComfyUI's template browser)
and their generated API copies in workflows/api/ parse, use existing nodes, connect matching types, carry valid
widget values, describe the same graph, and come with a thumbnail and a note for the user."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from workflow_schemas import schemas, wc  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = [ROOT / "workflows", ROOT / "tests" / "data" / "workflows"]
SHIPPED = sorted((ROOT / "workflows").glob("*.json"))


@pytest.mark.parametrize("folder", FOLDERS, ids=[f.relative_to(ROOT).as_posix() for f in FOLDERS])
def test_workflows_and_api_copies_are_valid(wc, schemas, folder):
    report = wc.validate_folder(folder, schemas)
    problems = [
        f"{Path(path).relative_to(ROOT)}: {issue}" for path, issues in report.items() for issue in wc.errors(issues)
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("folder", FOLDERS, ids=[f.relative_to(ROOT).as_posix() for f in FOLDERS])
def test_api_copies_are_generated_from_the_ui_workflows(schemas, folder):
    sys.path.insert(0, str(ROOT / "tools"))
    import export_api_workflows

    problems = export_api_workflows.export_folder(folder, schemas, check=True)
    assert not problems, "\n".join(problems)


def test_core_schema_fixture_states_its_provenance():
    head = json.loads((ROOT / "tests" / "data" / "core_object_info.json").read_text())["_provenance"]
    assert head["comfyui_version"] == "0.33.0" and "object_info" in head["source"] and head["nodes"] > 500


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_workflow_has_thumbnail_and_notes(path):
    assert path.with_suffix(".jpg").is_file(), f"{path.name} needs a same-named .jpg thumbnail for the template browser"
    nodes = json.loads(path.read_text())["nodes"]
    notes = [n for n in nodes if n["type"] in ("Note", "MarkdownNote")]
    assert notes, f"{path.name} needs a Note telling the user which model to load and which knobs matter"
    if any(n["type"] == "CheckpointLoaderSimple" for n in nodes):
        assert any("checkpoint" in str(n.get("widgets_values")).lower() for n in notes), path.name


def test_facelab_inputs_of_frontend_widget_types_are_sockets(pack, wc):
    """The frontend draws BOUNDING_BOX, COLOR... inputs as editors unless forceInput is set: a FaceLab input of
    such a type that expects a link must say so, or saved workflows gain a widget value and lose the socket."""
    from comfyui_facelab.workflow_check.schema import schema_from_class

    primitives = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
    offenders = [
        f"{name}.{spec.name} ({spec.type})"
        for name, cls in pack.NODE_CLASS_MAPPINGS.items()
        for spec in schema_from_class(name, cls).inputs.values()
        if spec.is_widget and spec.widget_type not in primitives
    ]
    assert not offenders, f"add 'forceInput': True to {offenders}"


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_missing_models_and_packs_can_be_installed_from_the_workflow(path):
    """ComfyUI offers to download a checkpoint named in properties.models; ComfyUI-Manager installs a missing pack
    by the nodes' cnr_id."""
    project = (ROOT / "pyproject.toml").read_text()
    nodes = json.loads(path.read_text())["nodes"]
    for node in nodes:
        props = node["properties"]
        if node["type"] == "CheckpointLoaderSimple":
            (model,) = props["models"]
            assert model["name"] == node["widgets_values"][0] and model["directory"] == "checkpoints"
            assert model["url"].startswith("https://huggingface.co/") and model["url"].endswith("/" + model["name"])
        if node["type"].startswith("FaceLab"):
            assert props["cnr_id"] == "comfyui-facelab" and f'version = "{props["ver"]}"' in project, node["type"]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_saved_view_opens_on_the_read_me_and_the_photo(path):
    """screen = (pos + offset) * scale. On a 1280x720 canvas right of the 58 px tool bar and below the ~50 px top bar, at a zoom where the frontend
    still draws node text (it stops below ~0.5), the read-me's title bar and the Input Image node must be visible."""
    wf = json.loads(path.read_text())
    ds = wf["extra"]["ds"]
    scale, (ox, oy) = ds["scale"], ds["offset"]
    assert 0.6 <= scale <= 1.2

    def on_screen(node):
        x, y = node["pos"]
        left, top = (x + ox) * scale, (y - 30 + oy) * scale  # the title bar is 30 px above pos
        return left >= 60 and top >= 50 and left + 200 * scale <= 1280 and top + 60 * scale <= 720

    notes = [n for n in wf["nodes"] if n["type"] in ("Note", "MarkdownNote")]
    photo = [n for n in wf["nodes"] if n["type"] == "LoadImage"]
    assert notes and photo
    assert on_screen(notes[0]), (path.name, notes[0]["pos"], ds)
    assert on_screen(photo[0]), (path.name, photo[0]["pos"], ds)
