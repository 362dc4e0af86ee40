"""web/zone_diagram.json (the zone picker's face diagram and name rules) is in sync with the Python atlas and draws
a plausible face: regenerated from the real model on the real portrait it matches the committed file, and its
geometry has the anatomy the picker promises (subject's left on the image's right, forehead above eyes above mouth,
both sides mirror images)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import landmarks_for

ROOT = Path(__file__).resolve().parent.parent
DIAGRAM = ROOT / "web" / "zone_diagram.json"


@pytest.fixture(scope="module")
def exporter(pack):
    spec = importlib.util.spec_from_file_location("export_zone_diagram", ROOT / "tools" / "export_zone_diagram.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def diagram() -> dict:
    return json.loads(DIAGRAM.read_text())


def _centroid(zone: dict) -> np.ndarray:
    return np.concatenate([np.asarray(r) for r in zone["rings"]]).mean(axis=0)


def test_names_groups_aliases_and_examples_match_the_python_atlas(exporter, diagram):
    from comfyui_facelab.nodes.aging import zone_scores
    from comfyui_facelab.nodes.face import zone_atlas

    assert diagram["zone_names"] == list(zone_atlas.ZONE_NAMES)
    assert diagram["extra_zone_names"] == list(zone_atlas.EXTRA_ZONE_NAMES)
    assert diagram["groups"] == {k: list(v) for k, v in zone_atlas.ZONE_GROUPS.items()}
    assert diagram["aging_groups"] == list(zone_scores.AGING_GROUPS)
    assert set(diagram["zones"]) == set(zone_atlas.ZONE_NAMES) | set(zone_atlas.EXTRA_ZONE_NAMES)
    fresh = exporter.atlas_data()
    assert {k: diagram[k] for k in fresh} == fresh, "run: python tools/export_zone_diagram.py"


def test_resolution_examples_are_what_resolve_zones_answers(diagram):
    from comfyui_facelab.nodes.face.zone_atlas import resolve_zones

    examples = diagram["resolution_examples"]
    assert any(e.get("error") for e in examples) and any(len(e.get("zones", [])) > 2 for e in examples)
    for ex in examples:
        if ex.get("error"):
            with pytest.raises(ValueError):
                resolve_zones(ex["selection"])
        else:
            assert resolve_zones(ex["selection"]) == ex["zones"], ex["selection"]


def test_geometry_regenerated_from_the_real_portrait_matches_the_file(exporter, diagram):
    faces = landmarks_for("obama.jpg")["frames"][0]
    assert len(faces) == 1
    fresh = exporter.diagram_geometry(faces[0]["landmarks_xy"])
    current = {"zones": diagram["zones"], "size": diagram["size"]}
    assert exporter.differences(current, fresh) == [], "run: python tools/export_zone_diagram.py"


def test_diagram_has_the_anatomy_the_picker_shows(diagram):
    zones = diagram["zones"]
    width, height = diagram["size"]
    assert max(width, height) == 1.0 and 0.5 < width / height < 0.9  # a face is taller than wide
    for base in ("crows_feet", "under_eye", "nasolabial", "marionette", "cheek", "eye", "eyebrow", "nostril"):
        left, right = _centroid(zones[f"{base}_left"]), _centroid(zones[f"{base}_right"])
        assert left[0] > width / 2 > right[0], f"{base}: the subject's left must be on the image's right"
        # The drawing is exactly symmetric: each left outline is the mirror image of the right one.
        mirrored = [
            np.column_stack([width - np.asarray(r)[:, 0], np.asarray(r)[:, 1]]) for r in zones[f"{base}_right"]["rings"]
        ]
        assert np.allclose(np.concatenate(mirrored).mean(axis=0), left, atol=0.003), base
    y = {
        name: _centroid(zones[name])[1]
        for name in ("hairline", "forehead", "glabella", "eye_left", "nose", "upper_lip", "lips", "chin")
    }
    order = sorted(y, key=y.get)
    assert order == ["hairline", "forehead", "glabella", "eye_left", "nose", "upper_lip", "lips", "chin"], y
    for name in ("glabella", "inter_ocular", "nose", "upper_lip", "lips", "chin", "forehead"):
        assert abs(_centroid(zones[name])[0] - width / 2) < 0.01, f"{name} is on the midline"
    assert zones["lips"]["holes"] and not zones["mouth"]["holes"]  # lips leave the mouth opening out
