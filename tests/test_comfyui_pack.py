"""The pack inside a real ComfyUI (needs COMFYUI_DIR): it imports without errors and every FaceLab node is listed in
/object_info with the inputs and outputs its class declares."""

from __future__ import annotations

import json

import pytest
from comfyui_server import comfyui  # noqa: F401  (session fixture)

pytestmark = pytest.mark.comfyui


def _jsonable(value):
    """What ComfyUI's JSON encoding makes of a value (tuples become lists, ...)."""
    return json.loads(json.dumps(value))


def _input_kind(spec: list) -> str:
    """Type of an INPUT_TYPES entry, combos collapsed to COMBO (their lists depend on the installed models)."""
    kind = spec[0]
    return "COMBO" if isinstance(kind, list) or kind == "COMBO" else kind


def test_pack_imports_without_errors(comfyui):
    log = comfyui.log_text()
    assert "Import times for custom nodes" in log, comfyui.log_tail()
    timing_lines = [line for line in log.splitlines() if comfyui.pack_folder in line and "seconds" in line]
    assert timing_lines, f"FaceLab missing from the custom node import report:\n{comfyui.log_tail()}"
    assert not any("IMPORT FAILED" in line for line in timing_lines), timing_lines
    assert comfyui.import_failures() == []
    assert "FaceLab: could not load" not in log  # a capability module failed (nodes/__init__.py logs this)


def test_every_node_is_listed_with_its_declared_interface(comfyui, pack):
    info = comfyui.object_info()
    ours = pack.NODE_CLASS_MAPPINGS
    assert ours, "the pack registers no nodes"
    missing = sorted(set(ours) - set(info))
    assert not missing, f"FaceLab nodes missing from /object_info: {missing}"
    listed = sorted(name for name in info if name.startswith("FaceLab"))
    assert listed == sorted(ours), "ComfyUI lists FaceLab nodes that the pack does not register (stale copy?)"

    for node_id, cls in sorted(ours.items()):
        entry = info[node_id]
        assert entry["display_name"] == pack.NODE_DISPLAY_NAME_MAPPINGS[node_id], node_id
        assert entry["category"] == cls.CATEGORY, node_id
        assert entry["output"] == list(cls.RETURN_TYPES), node_id
        assert entry["output_name"] == list(getattr(cls, "RETURN_NAMES", cls.RETURN_TYPES)), node_id
        assert entry["output_node"] == bool(getattr(cls, "OUTPUT_NODE", False)), node_id
        declared = cls.INPUT_TYPES()
        for section in ("required", "optional"):
            ours_section = declared.get(section, {})
            theirs = entry["input"].get(section, {})
            assert list(theirs) == list(ours_section), f"{node_id} {section} inputs differ"
            assert entry["input_order"].get(section, []) == list(ours_section), node_id
            for name, spec in ours_section.items():
                assert _input_kind(theirs[name]) == _input_kind(spec), f"{node_id}.{name}"
                if _input_kind(spec) != "COMBO":  # option dicts (ranges, defaults, tooltips) survive as declared
                    assert theirs[name][1:] == _jsonable(list(spec[1:])), f"{node_id}.{name}"
