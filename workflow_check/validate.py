"""Whole-workflow checks: UI workflows, API workflows, and whether a UI workflow and its API copy describe the
same graph; plus the folder convention workflows/<name>.json (UI) <-> workflows/api/<name>.json (API)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from .api_check import Issue, validate_api
from .records import reported
from .schema import NodeSchema
from .ui_graph import UiGraph, convert, is_ui_workflow, ui_to_api


@reported
def validate_ui(workflow: dict, schemas: dict[str, NodeSchema]) -> list[Issue]:
    """UI structure (links, sockets, widget values) plus every API-level check on the graph it queues."""
    if not is_ui_workflow(workflow):
        return [Issue("error", "workflow", "not a UI (LiteGraph) workflow: expected 'nodes' and 'links'")]
    graph = UiGraph(workflow)
    issues = graph.structure_issues(schemas)
    prompt, problems, unmapped = convert(workflow, schemas)
    known = {nid for nid, n in graph.nodes.items() if n["type"] in schemas}
    api_issues = [
        i
        for i in validate_api(prompt, schemas)
        # unknown node types were reported by the conversion; unmapped widgets would all read as "missing"
        if i.where == "workflow" or (_node_of(i) in known and not (_node_of(i) in unmapped and "missing" in i.message))
    ]
    return _dedupe(issues + problems + api_issues)


def _node_of(issue: Issue) -> str:
    parts = issue.where.split()
    return parts[1] if len(parts) > 1 and parts[0] == "node" else ""


def _dedupe(issues: list[Issue]) -> list[Issue]:
    return list(dict.fromkeys(issues))


def _unwrap(value):
    return value["__value__"] if isinstance(value, dict) and set(value) == {"__value__"} else value


def same_value(a, b) -> bool:
    """Equality of API input values: links by (str id, slot), floats with a relative tolerance, bools strictly."""
    a, b = _unwrap(a), _unwrap(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        if len(a) == 2 and len(b) == 2 and isinstance(a[0], (str, int)) and isinstance(b[0], (str, int)):
            return str(a[0]) == str(b[0]) and same_value(a[1], b[1])
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return a == b


@reported
def compare_ui_api(workflow: dict, prompt: dict, schemas: dict[str, NodeSchema]) -> list[Issue]:
    """Differences between the graph a UI workflow queues and an API workflow (titles in _meta are ignored)."""
    expected, _ = ui_to_api(workflow, schemas)
    issues: list[Issue] = []
    for node_id in sorted(set(expected) - set(prompt)):
        issues.append(
            Issue(
                "error",
                f"node {node_id}",
                f"{expected[node_id]['class_type']} is in the UI workflow but not in the API workflow",
            )
        )
    for node_id in sorted(set(prompt) - set(expected)):
        issues.append(
            Issue(
                "error",
                f"node {node_id}",
                f"{prompt[node_id].get('class_type')} is in the API workflow but not in the UI workflow",
            )
        )
    for node_id in sorted(set(expected) & set(prompt)):
        ui_node, api_node = expected[node_id], prompt[node_id]
        where = f"node {node_id} ({ui_node['class_type']})"
        if ui_node["class_type"] != api_node.get("class_type"):
            issues.append(Issue("error", where, f"is {api_node.get('class_type')} in the API workflow"))
            continue
        ui_inputs, api_inputs = ui_node["inputs"], api_node.get("inputs") or {}
        for name in sorted(set(ui_inputs) | set(api_inputs)):
            if name not in api_inputs:
                issues.append(Issue("error", f"{where} input '{name}'", f"UI has {ui_inputs[name]!r}, API has nothing"))
            elif name not in ui_inputs:
                issues.append(
                    Issue("error", f"{where} input '{name}'", f"API has {api_inputs[name]!r}, UI has nothing")
                )
            elif not same_value(ui_inputs[name], api_inputs[name]):
                issues.append(
                    Issue(
                        "error", f"{where} input '{name}'", f"UI has {ui_inputs[name]!r}, API has {api_inputs[name]!r}"
                    )
                )
    return issues


def load_json(path: Path) -> tuple[object, list[Issue]]:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8")), []
    except (OSError, ValueError) as exc:
        return None, [Issue("error", str(path), f"cannot be read as JSON: {exc}")]
    except RecursionError:
        return None, [Issue("error", str(path), "cannot be read as JSON: nested too deeply")]


def validate_file(path: Path | str, schemas: dict[str, NodeSchema]) -> list[Issue]:
    """Checks of one workflow file, UI or API format (detected from its content)."""
    data, issues = load_json(Path(path))
    if issues:
        return issues
    return validate_ui(data, schemas) if is_ui_workflow(data) else validate_api(data, schemas)


def api_copy_path(ui_path: Path) -> Path:
    """workflows/<name>.json -> workflows/api/<name>.json"""
    return ui_path.parent / "api" / ui_path.name


def validate_folder(folder: Path | str, schemas: dict[str, NodeSchema]) -> dict[str, list[Issue]]:
    """Issues per file for a workflows folder: each UI workflow, its API copy, and that both match."""
    folder = Path(folder)
    report: dict[str, list[Issue]] = {}
    for ui_path in sorted(folder.glob("*.json")):
        issues = validate_file(ui_path, schemas)
        api_path = api_copy_path(ui_path)
        if not api_path.is_file():
            issues.append(Issue("error", str(api_path), "missing API copy (run tools/export_api_workflows.py)"))
        else:
            ui_data, _ = load_json(ui_path)
            api_data, read_issues = load_json(api_path)
            report[str(api_path)] = read_issues or validate_api(api_data, schemas)
            if not read_issues and is_ui_workflow(ui_data):
                issues += compare_ui_api(ui_data, api_data, schemas)
        report[str(ui_path)] = issues
    for api_path in sorted((folder / "api").glob("*.json")):
        if not (folder / api_path.name).is_file():
            report[str(api_path)] = [Issue("error", str(api_path), "API workflow without a UI workflow of that name")]
    return report
