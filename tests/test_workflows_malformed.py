"""The workflow checker on cycles and malformed records (issue 19.18): each becomes a reported issue, never a
KeyError/IndexError/TypeError/RecursionError, and the rest of the workflow is still checked."""

from __future__ import annotations

import copy
import json

import pytest
from test_workflows_validator import HAND_MADE_API, _hand_made_ui, _messages, _node
from workflow_schemas import schemas, wc  # noqa: F401  (fixtures)


def _errors(wc, issues) -> list[str]:
    return [str(i) for i in wc.errors(issues)]


def test_api_cycle_is_reported(wc, schemas):
    api = copy.deepcopy(HAND_MADE_API)
    api["2"]["inputs"]["clip"] = ["5", 0]  # VAEDecode -> CLIPTextEncode -> KSampler -> VAEDecode
    msgs = _messages(wc.validate_api(api, schemas))
    cycles = [m for m in msgs if "dependency cycle" in m]
    assert cycles == [
        "error: workflow: dependency cycle: node 2 <- 5 <- 4 <- 2 (each takes an input from the next); "
        "ComfyUI refuses such a prompt"
    ]
    assert not any("dependency cycle" in m for m in _messages(wc.validate_api(HAND_MADE_API, schemas)))


def test_ui_cycle_is_reported(wc, schemas):
    ui = _hand_made_ui()
    # VAEDecode's IMAGE into the bypassed ImageInvert is fine; make the sampler's latent come from itself.
    ui["links"].append([13, 4, 0, 4, 3, "LATENT"])
    sampler = next(n for n in ui["nodes"] if n["id"] == 4)
    sampler["inputs"][3]["link"] = 13
    sampler["outputs"][0]["links"].append(13)
    ui["links"] = [link for link in ui["links"] if link[0] != 6]
    next(n for n in ui["nodes"] if n["id"] == 3)["outputs"][0]["links"] = []
    assert any("dependency cycle: node 4 <- 4" in m for m in _messages(wc.validate_ui(ui, schemas)))


def _set(path):
    """A mutation putting `value` at `path` (keys/indices) of the hand-made UI workflow."""

    def apply(ui, value):
        target = ui
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return apply


# Records of the hand-made workflow that the checker reads, each replaced by values of the wrong shape.
PATHS = {  # each of these made the checker raise before (KeyError, IndexError, TypeError, AttributeError)
    "nodes": ("nodes",),
    "links": ("links",),
    "a node": ("nodes", 3),
    "node type": ("nodes", 3, "type"),
    "inputs": ("nodes", 3, "inputs"),
    "an input": ("nodes", 3, "inputs", 0),
    "input link": ("nodes", 3, "inputs", 0, "link"),
    "outputs": ("nodes", 0, "outputs"),
    "an output": ("nodes", 0, "outputs", 1),
    "output links": ("nodes", 0, "outputs", 1, "links"),
    "widgets_values": ("nodes", 3, "widgets_values"),
    "primitive values": ("nodes", 7, "widgets_values"),
    "reroute inputs": ("nodes", 8, "inputs"),
    "a link": ("links", 2),
    "link id": ("links", 2, 0),
    "link slot": ("links", 2, 2),
    "link target slot": ("links", 2, 4),
    "definitions": ("definitions",),
}
BAD_VALUES = [None, "x", 7, -1, 10**9, [], [None], {}, {"a": 1}, True, 1.5, [[["deep"]]]]


@pytest.mark.parametrize("field", list(PATHS))
def test_malformed_records_are_reported_not_raised(wc, schemas, field):
    """Before: KeyError (node without id), IndexError (short link), TypeError (inputs not a list, unhashable
    class_type), ... Now every variant returns issues, and a broken record is an error, not silently accepted."""
    for value in BAD_VALUES:
        ui = _hand_made_ui()
        _set(PATHS[field])(ui, copy.deepcopy(value))
        issues = wc.validate_ui(ui, schemas)  # must not raise
        prompt, conversion = wc.ui_to_api(ui, schemas)
        assert isinstance(prompt, dict) and isinstance(conversion, list)
        wc.compare_ui_api(ui, HAND_MADE_API, schemas)
        assert all(isinstance(i, wc.Issue) for i in issues)


def test_specific_malformed_records_are_named(wc, schemas):
    ui = _hand_made_ui()
    ui["nodes"].append({"type": "SaveImage"})  # no id
    ui["links"].append([99, 1, 0])  # too short
    ui["nodes"][3]["inputs"] = {"model": 2}  # not a list
    msgs = _errors(wc, wc.validate_ui(ui, schemas))
    assert "error: nodes[11]: not a node record (needs an 'id' and a 'type' string); skipped" in msgs
    assert any(m.startswith("error: links[12]: not a link record") for m in msgs)
    assert "error: node 4 (KSampler): 'inputs' is not a list; ignored" in msgs
    api = copy.deepcopy(HAND_MADE_API)
    api["3"]["class_type"] = ["EmptyLatentImage"]
    assert "error: node 3: class_type ['EmptyLatentImage'] is not a node type name" in _messages(
        wc.validate_api(api, schemas)
    )


def test_long_reroute_chain_and_deep_json(wc, schemas, tmp_path):
    """A 100 000-node Reroute chain (RecursionError before: resolve() recursed per reroute) and a 100 000-deep
    JSON file."""
    n = 100_000
    nodes = [_node(1, "EmptyImage", outputs=[{"name": "IMAGE", "type": "IMAGE", "links": [1]}], widgets=[64, 64, 1, 0])]
    links = []
    for i in range(n):
        nodes.append(
            _node(
                i + 2,
                "Reroute",
                inputs=[{"name": "", "type": "*", "link": i + 1}],
                outputs=[{"name": "", "type": "IMAGE", "links": [i + 2]}],
            )
        )
        links.append([i + 1, i + 1, 0, i + 2, 0, "IMAGE"])
    nodes.append(_node(n + 2, "SaveImage", inputs=[{"name": "images", "type": "IMAGE", "link": n + 1}], widgets=["x"]))
    links.append([n + 1, n + 1, 0, n + 2, 0, "IMAGE"])
    prompt, issues = wc.ui_to_api({"nodes": nodes, "links": links}, schemas)
    assert wc.errors(issues) == [] and prompt[str(n + 2)]["inputs"]["images"] == ["1", 0]
    deep = tmp_path / "deep.json"
    deep.write_text("[" * n + "]" * n)
    assert [i.message for i in wc.validate_file(deep, schemas)] == ["cannot be read as JSON: nested too deeply"]
    assert json.loads("[[]]")  # (the file itself is valid JSON, just too deep for the parser)
