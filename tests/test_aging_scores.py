"""Aging zone scores: presets, widgets + offsets, side overrides, normalisation, and the Zone Scores node."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def zs(pack):
    from comfyui_facelab.nodes.aging import zone_scores

    return zone_scores


def test_aging_groups_resolve_to_atlas_zones(zs, pack):
    from comfyui_facelab.nodes.face import zone_atlas

    for group in zs.AGING_GROUPS:
        zones = zs.group_zones(group)
        assert zones and set(zones) <= set(zone_atlas.ZONE_NAMES), group
    # paired zones are addressed per side, with the subject's own left/right names
    assert zs.group_zones("crows_feet") == ("crows_feet_left", "crows_feet_right")
    assert zs.zone_group("nasolabial_right") == "nasolabial"


def test_presets_are_valid(zs):
    assert zs.CUSTOM in zs.PRESETS
    for name in ("soften wrinkles", "age +10y", "rejuvenate", "forehead only", "smile lines only", "eye area refresh"):
        assert name in zs.PRESETS
    for name, values in zs.PRESETS.items():
        assert set(values) <= set(zs.AGING_GROUPS), name
        assert all(-1.0 <= v <= 1.0 for v in values.values()), name
        if name != zs.CUSTOM:
            assert any(v != 0 for v in values.values()), name
    # direction of the named presets
    assert all(v < 0 for v in zs.PRESETS["soften wrinkles"].values())
    assert all(v < 0 for v in zs.PRESETS["rejuvenate"].values())
    assert all(v > 0 for v in zs.PRESETS["age +10y"].values())
    assert set(zs.PRESETS["forehead only"]) == {"forehead"}


def test_custom_uses_widgets_and_preset_adds_offsets(zs):
    custom = zs.build_scores("custom", {"forehead": -0.5, "crows_feet": 0.25})
    s = custom["scores"]
    assert s["forehead"] == -0.5 and s["crows_feet_left"] == s["crows_feet_right"] == 0.25
    assert s["chin"] == 0.0 and set(s) == set(zs.aging_zones())

    soft = zs.build_scores("soften wrinkles", {"forehead": 0.2})["scores"]
    assert soft["forehead"] == pytest.approx(zs.PRESETS["soften wrinkles"]["forehead"] + 0.2)
    assert soft["under_eye_left"] == zs.PRESETS["soften wrinkles"]["under_eye"]
    half = zs.build_scores("age +10y", {}, preset_strength=0.5)["scores"]
    assert half["nasolabial_left"] == pytest.approx(zs.PRESETS["age +10y"]["nasolabial"] / 2)
    # clamped to [-1, 1]
    assert zs.build_scores("rejuvenate", {"forehead": -1.0})["scores"]["forehead"] == -1.0


def test_side_overrides(zs):
    s = zs.build_scores("custom", {"crows_feet": 0.2}, overrides="crows_feet_left=0.4; nasolabial=-0.3")["scores"]
    assert s["crows_feet_left"] == 0.4 and s["crows_feet_right"] == 0.2
    assert s["nasolabial_left"] == s["nasolabial_right"] == -0.3
    with pytest.raises(ValueError, match="unknown aging zone"):
        zs.parse_overrides("crowsfeet_left=0.4")
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        zs.parse_overrides("chin=1.5")
    with pytest.raises(ValueError, match="crows_feet_left=0.4"):
        zs.parse_overrides("chin 0.5")


def test_normalize_accepts_groups_json_and_rejects_bad_input(zs):
    full = zs.build_scores("eye area refresh")
    assert zs.normalize_scores(full) == full["scores"]
    assert zs.normalize_scores(json.dumps(full)) == full["scores"]
    # a canonical zone wins over its group whatever the key order
    assert zs.normalize_scores({"under_eye_left": 0.1, "under_eye": -0.5}) == {
        "under_eye_left": 0.1,
        "under_eye_right": -0.5,
    }
    with pytest.raises(ValueError, match="unknown aging zone"):
        zs.normalize_scores({"nose_tip": 0.3})
    with pytest.raises(ValueError, match="number"):
        zs.normalize_scores({"chin": "a lot"})
    with pytest.raises(ValueError, match="version"):
        zs.normalize_scores({"version": 7, "scores": {}})
    with pytest.raises(ValueError, match="expected zone scores"):
        zs.normalize_scores([0.1, 0.2])


def test_zone_scores_node(pack):
    cls = pack.NODE_CLASS_MAPPINGS["FaceLabZoneScores"]
    spec = cls.INPUT_TYPES()
    from comfyui_facelab.nodes.aging import zone_scores

    # widget names are the zone group names (the web extension groups sliders by them)
    for group in zone_scores.AGING_GROUPS:
        kind, opts = spec["required"][group]
        assert kind == "FLOAT" and (opts["min"], opts["max"], opts["step"]) == (-1.0, 1.0, 0.05)
    widgets = {g: 0.0 for g in zone_scores.AGING_GROUPS}
    widgets["chin"] = 0.3
    value, text = cls().build("smile lines only", 1.0, "marionette_right=0.5", **widgets)
    assert json.loads(text) == value  # JSON-serialisable, same content
    assert value["version"] == 1 and value["preset"] == "smile lines only"
    s = value["scores"]
    assert (
        s["nasolabial_left"] == -0.7
        and s["chin"] == 0.3
        and s["marionette_right"] == 0.5
        and s["marionette_left"] == 0.0
    )
