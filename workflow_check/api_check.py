"""Validation of API-format workflows ({node_id: {"class_type", "inputs"}}) against node schemas, following the
checks ComfyUI's POST /prompt makes (execution.py validate_inputs), so errors show up in CI instead of at queue time.
"""

from __future__ import annotations

from dataclasses import dataclass

from .schema import NodeSchema, check_value, types_match


@dataclass(frozen=True)
class Issue:
    """One finding. severity: "error" (the workflow would fail or is inconsistent) or "note" (fine here, but
    depends on the environment, e.g. a model file that must be installed)."""

    severity: str
    where: str  # "node 3 (KSampler) input 'seed'" or a file-level location
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.where}: {self.message}"


# What a record of an unanticipated shape raises in the checks; reported as an issue, never raised.
MALFORMED = (KeyError, IndexError, TypeError, ValueError, AttributeError, RecursionError)


def malformed_issue(exc: BaseException) -> Issue:
    return Issue(
        "error", "workflow", f"malformed workflow the checker cannot read ({type(exc).__name__}: {str(exc)[:120]})"
    )


def node_label(node_id, class_type: str, input_name: str | None = None) -> str:
    label = f"node {node_id} ({class_type})"
    return f"{label} input '{input_name}'" if input_name else label


def errors(issues: list[Issue]) -> list[Issue]:
    return [i for i in issues if i.severity == "error"]


def is_link(value) -> bool:
    """API links are [source node id (str), output index (int)]."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], (str, int))
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
    )


def validate_api(prompt: dict, schemas: dict[str, NodeSchema]) -> list[Issue]:
    """Checks of an API prompt; a record of an unanticipated shape is reported, never raised."""
    try:
        return _validate_api(prompt, schemas)
    except MALFORMED as exc:
        return [malformed_issue(exc)]


def _validate_api(prompt: dict, schemas: dict[str, NodeSchema]) -> list[Issue]:
    """Every node type exists, every input is known, links connect existing outputs of a matching type, widget
    values are valid, required inputs are given, and at least one output node exists."""
    issues: list[Issue] = []
    if not isinstance(prompt, dict) or not prompt:
        return [Issue("error", "workflow", "an API workflow is a non-empty object {node id: {class_type, inputs}}")]
    has_output = False
    for node_id, node in prompt.items():
        if not isinstance(node, dict) or "class_type" not in node or not isinstance(node.get("inputs", {}), dict):
            issues.append(Issue("error", f"node {node_id}", "needs 'class_type' and an 'inputs' object"))
            continue
        class_type = node["class_type"]
        if not isinstance(class_type, str):
            issues.append(Issue("error", f"node {node_id}", f"class_type {class_type!r} is not a node type name"))
            continue
        schema = schemas.get(class_type)
        if schema is None:
            issues.append(
                Issue(
                    "error",
                    node_label(node_id, class_type),
                    "unknown node type (neither a core ComfyUI node nor a FaceLab node)",
                )
            )
            continue
        has_output |= schema.output_node
        inputs = node.get("inputs", {})
        for name, value in inputs.items():
            where = node_label(node_id, class_type, name)
            spec = schema.inputs.get(name)
            parent = schema.inputs.get(name.split(".")[0])
            if spec is None and parent is not None and parent.is_dynamic:
                issues.append(Issue("note", where, f"sub-input of the run-time input '{parent.name}' is not checked"))
                continue
            if spec is None:
                issues.append(Issue("error", where, f"{class_type} has no such input (inputs: {list(schema.inputs)})"))
                continue
            if is_link(value):
                issues.extend(_check_link(prompt, schemas, where, spec.type, value))
            elif not spec.is_widget:
                issues.append(Issue("error", where, f"a {spec.type} input must be linked to another node's output"))
            else:
                bad, notes = check_value(spec, value)
                issues += [Issue("error", where, m) for m in bad] + [Issue("note", where, m) for m in notes]
        for name, spec in schema.inputs.items():
            if spec.section == "required" and name not in inputs and not spec.is_dynamic:
                issues.append(Issue("error", node_label(node_id, class_type, name), "required input is missing"))
    if not has_output:
        issues.append(Issue("error", "workflow", "no output node (e.g. SaveImage): ComfyUI refuses such a prompt"))
    return issues + api_cycles(prompt)


def _check_link(prompt: dict, schemas: dict, where: str, input_type: str, link: list) -> list[Issue]:
    source_id, slot = str(link[0]), link[1]
    source = prompt.get(source_id)
    if source is None:
        return [Issue("error", where, f"linked to node {source_id}, which is not in the workflow")]
    class_type = source.get("class_type") if isinstance(source, dict) else None
    source_schema = schemas.get(class_type) if isinstance(class_type, str) else None
    if source_schema is None:
        return []  # reported on the source node itself
    if not 0 <= slot < len(source_schema.outputs):
        return [
            Issue(
                "error",
                where,
                f"linked to output {slot} of node {source_id} ({source_schema.name}), "
                f"which has {len(source_schema.outputs)} output(s)",
            )
        ]
    received = source_schema.outputs[slot]
    if not types_match(received, input_type):
        return [
            Issue(
                "error",
                where,
                f"expects {input_type} but is linked to {received} "
                f"(output {slot} '{source_schema.output_names[slot]}' of node {source_id})",
            )
        ]
    return []


def api_cycles(prompt: dict) -> list[Issue]:
    """Dependency cycles through links of an API prompt (ComfyUI refuses them: "Dependency cycle detected"),
    each reported once as its node path. Iterative, so a very long chain cannot overflow the stack."""
    edges = {
        str(nid): sorted({str(v[0]) for v in (node.get("inputs") or {}).values() if is_link(v) and str(v[0]) in prompt})
        for nid, node in prompt.items()
        if isinstance(node, dict) and isinstance(node.get("inputs"), dict)
    }
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    issues = []
    for start in sorted(edges):
        if state.get(start):
            continue
        path, stack = [start], [iter(edges[start])]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                loop = path[path.index(nxt) :] + [nxt]
                issues.append(
                    Issue(
                        "error",
                        "workflow",
                        "dependency cycle: node "
                        + " <- ".join(loop)
                        + " (each takes an input from the next); ComfyUI refuses such a prompt",
                    )
                )
            elif not state.get(nxt) and nxt in edges:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(edges[nxt]))
    return issues
