"""UI (LiteGraph) workflows: parse nodes and links, map `widgets_values` to input names, convert to API format
the way the frontend's graphToPrompt does, and check the UI-only structure (link records, socket types).

Handled: links as arrays (schema 0.4) or objects (schema 1), widget inputs converted to sockets, seed/combo
control widgets, the upload button, frontend-only nodes (Note, MarkdownNote, Reroute, PrimitiveNode), muted
(mode 2) and bypassed (mode 4) nodes. Subgraphs are reported as unsupported.
"""

from __future__ import annotations

from dataclasses import dataclass

from .api_check import MALFORMED, Issue, malformed_issue, node_label
from .records import clean_ui
from .schema import CONTROL_VALUES, MATCH_TYPE, NodeSchema, types_match

NOTE_NODES = frozenset({"Note", "MarkdownNote"})
VIRTUAL_NODES = NOTE_NODES | {"Reroute", "PrimitiveNode"}
MODE_MUTED, MODE_BYPASS = 2, 4


@dataclass(frozen=True)
class Link:
    id: int
    origin_id: str
    origin_slot: int
    target_id: str
    target_slot: int
    type: str


def parse_links(workflow: dict) -> dict[int, Link]:
    links = {}
    for raw in workflow.get("links") or []:
        if isinstance(raw, dict):
            link = Link(
                raw["id"],
                str(raw["origin_id"]),
                raw["origin_slot"],
                str(raw["target_id"]),
                raw["target_slot"],
                raw.get("type", "*"),
            )
        else:
            link = Link(raw[0], str(raw[1]), raw[2], str(raw[3]), raw[4], raw[5] if len(raw) > 5 else "*")
        links[link.id] = link
    return links


def is_ui_workflow(data) -> bool:
    return isinstance(data, dict) and isinstance(data.get("nodes"), list) and "links" in data


def input_name(socket: dict) -> str:
    """A socket's input name; a widget converted to a socket carries the widget's name."""
    widget = socket.get("widget")
    return widget["name"] if isinstance(widget, dict) and widget.get("name") else socket.get("name", "")


def widget_values(node: dict, schema: NodeSchema) -> tuple[dict, list[Issue]]:
    """{input name: value} of a UI node's widgets, plus problems with the saved values."""
    where = node_label(node.get("id"), schema.name)
    dynamic = [spec.name for spec in schema.inputs.values() if spec.is_dynamic]
    if dynamic:  # their widgets depend on the selected option: the frontend's layout cannot be derived here
        return {}, [
            Issue(
                "error",
                where,
                f"inputs {dynamic} are built at run time; the checker cannot map this "
                "node's widget values (avoid such nodes in shipped workflows)",
            )
        ]
    raw = node.get("widgets_values")
    if raw is None:
        raw = []
    slots = schema.widget_slots()
    names = [name for role, name in slots if role == "value"]
    if isinstance(raw, dict):  # some frontends/extensions save widgets by name
        unknown = sorted(set(raw) - set(names))
        issues = [Issue("error", where, f"widget values for unknown inputs {unknown}")] if unknown else []
        return {k: raw[k] for k in names if k in raw}, issues
    if len(raw) == len(slots) - 1 and slots and slots[-1][0] == "upload":
        slots = slots[:-1]  # the upload button's value is optional (older frontends left it out)
    if len(raw) != len(slots):
        named = node.get("widgets_values_named")
        if isinstance(named, dict) and set(names) <= set(named):
            return {k: named[k] for k in names}, []
        return {}, [
            Issue(
                "error",
                where,
                f"has {len(raw)} widget values but {schema.name} has {len(slots)} widgets "
                f"({', '.join(f'{n} ({r})' if r != 'value' else n for r, n in slots)})",
            )
        ]
    values, issues = {}, []
    for (role, name), value in zip(slots, raw):
        if role == "value":
            values[name] = value
        elif role == "control" and value not in CONTROL_VALUES:
            issues.append(
                Issue(
                    "error",
                    node_label(node.get("id"), schema.name, name),
                    f"control_after_generate value {value!r} is not one of {list(CONTROL_VALUES)}",
                )
            )
    return values, issues


class UiGraph:
    def __init__(self, workflow: dict):
        self.workflow, self.record_issues = clean_ui(workflow)  # malformed records dropped and reported
        self.nodes = {str(n["id"]): n for n in self.workflow["nodes"]}
        self.links = parse_links(self.workflow)

    def resolve(self, link_id):
        """Where a link's data comes from: ("link", node id, slot), ("value", v) for a PrimitiveNode, or None when
        the source is muted, missing or an unconnected reroute. Follows reroutes and bypassed nodes iteratively
        (a chain of any length, and a loop of them, ends)."""
        seen = set()
        while True:
            link = self.links.get(link_id)
            if link is None or link_id in seen:
                return None
            seen.add(link_id)
            origin = self.nodes.get(link.origin_id)
            if origin is None:
                return None
            sockets = origin.get("inputs") or []
            if origin.get("type") == "Reroute":
                if not sockets:
                    return None
                link_id = sockets[0].get("link")
                continue
            if origin.get("type") == "PrimitiveNode":
                values = origin.get("widgets_values")
                return ("value", values[0]) if isinstance(values, list) and values else None
            mode = origin.get("mode", 0)
            if mode == MODE_MUTED:
                return None
            if mode != MODE_BYPASS:
                return ("link", link.origin_id, link.origin_slot)
            # bypassed: data passes through from the first input of the same type (same index first)
            order = sorted(range(len(sockets)), key=lambda i: i != link.origin_slot)
            link_id = next(
                (
                    sockets[i]["link"]
                    for i in order
                    if sockets[i].get("link") is not None and types_match(sockets[i].get("type", "*"), link.type)
                ),
                None,
            )

    def structure_issues(self, schemas: dict[str, NodeSchema]) -> list[Issue]:
        """Link records that disagree with the nodes, sockets that do not exist or have a stale type, subgraphs."""
        issues: list[Issue] = list(self.record_issues)
        if (self.workflow.get("definitions") or {}).get("subgraphs"):
            issues.append(Issue("error", "workflow", "subgraphs are not supported by the workflow checker"))
        for link in self.links.values():
            where = f"link {link.id} ({link.origin_id}:{link.origin_slot} -> {link.target_id}:{link.target_slot})"
            origin, target = self.nodes.get(link.origin_id), self.nodes.get(link.target_id)
            if origin is None or target is None:
                issues.append(Issue("error", where, "connects a node that is not in the workflow"))
                continue
            outs, ins = origin.get("outputs") or [], target.get("inputs") or []
            if not 0 <= link.origin_slot < len(outs) or link.id not in (outs[link.origin_slot].get("links") or []):
                issues.append(Issue("error", where, "the origin node's output does not list this link"))
            if not 0 <= link.target_slot < len(ins) or ins[link.target_slot].get("link") != link.id:
                issues.append(Issue("error", where, "the target node's input does not point back at this link"))
                continue
            if origin.get("type") in VIRTUAL_NODES or target.get("type") in VIRTUAL_NODES:
                continue
            out_schema, in_schema = schemas.get(origin.get("type")), schemas.get(target.get("type"))
            name = input_name(ins[link.target_slot])
            if out_schema and in_schema and name in in_schema.inputs and link.origin_slot < len(out_schema.outputs):
                got, want = out_schema.outputs[link.origin_slot], in_schema.inputs[name].type
                if not types_match(got, want):
                    issues.append(
                        Issue(
                            "error",
                            node_label(link.target_id, target["type"], name),
                            f"expects {want} but link {link.id} brings {got} from node {link.origin_id}",
                        )
                    )
        for node_id, node in self.nodes.items():
            schema = schemas.get(node.get("type"))
            if node.get("type") in NOTE_NODES and any(s.get("link") is not None for s in node.get("inputs") or []):
                issues.append(Issue("error", node_label(node_id, node["type"]), "a note cannot be connected"))
            if schema is None:
                continue
            for socket in node.get("inputs") or []:
                name = input_name(socket)
                parent = schema.inputs.get(name.split(".")[0])
                if name not in schema.inputs and not (parent and parent.is_dynamic):
                    issues.append(Issue("error", node_label(node_id, schema.name, name), "no such input"))
            for slot, socket in enumerate(node.get("outputs") or []):
                if slot >= len(schema.outputs):
                    issues.append(
                        Issue(
                            "error",
                            node_label(node_id, schema.name),
                            f"has output {slot} but {schema.name} has {len(schema.outputs)} output(s)",
                        )
                    )
                elif socket.get("type") != "*" and schema.outputs[slot] not in (socket.get("type"), MATCH_TYPE):
                    issues.append(
                        Issue(
                            "error",
                            node_label(node_id, schema.name),
                            f"output {slot} is saved as {socket.get('type')} but is {schema.outputs[slot]}",
                        )
                    )
        return issues


def _sort_key(node_id: str):
    return (0, int(node_id), "") if node_id.lstrip("-").isdigit() else (1, 0, node_id)


def ui_to_api(workflow: dict, schemas: dict[str, NodeSchema]) -> tuple[dict, list[Issue]]:
    """The API prompt the frontend would queue for a UI workflow, plus problems found while converting."""
    try:
        prompt, issues, _ = convert(workflow, schemas)
    except MALFORMED as exc:
        return {}, [malformed_issue(exc)]
    return prompt, issues


def convert(workflow: dict, schemas: dict[str, NodeSchema]) -> tuple[dict, list[Issue], set[str]]:
    """ui_to_api, plus the ids of nodes whose widget values could not be mapped (their API inputs lack them)."""
    graph = UiGraph(workflow)
    prompt: dict = {}
    issues: list[Issue] = list(graph.record_issues)
    unmapped: set[str] = set()
    for node_id in sorted(graph.nodes, key=_sort_key):
        node = graph.nodes[node_id]
        class_type = node.get("type")
        if class_type in VIRTUAL_NODES or node.get("mode", 0) in (MODE_MUTED, MODE_BYPASS):
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
        values, problems = widget_values(node, schema)
        issues += problems
        if any(p.severity == "error" and p.where == node_label(node_id, class_type) for p in problems):
            unmapped.add(node_id)
        inputs = {name: ({"__value__": v} if isinstance(v, list) else v) for name, v in values.items()}
        for socket in node.get("inputs") or []:
            if socket.get("link") is None:
                continue
            source = graph.resolve(socket["link"])
            name = input_name(socket)
            if source is None:  # muted or dangling source: the widget value (if any) stays, as in the frontend
                continue
            if source[0] == "value":
                inputs[name] = {"__value__": source[1]} if isinstance(source[1], list) else source[1]
            else:
                inputs[name] = [source[1], source[2]]
        title = node.get("title") or schema.display_name
        prompt[node_id] = {"inputs": inputs, "class_type": class_type, "_meta": {"title": title}}
    for node in prompt.values():  # as the frontend does: drop links to nodes that were left out
        for name, value in list(node["inputs"].items()):
            if isinstance(value, list) and len(value) == 2 and value[0] not in prompt:
                del node["inputs"][name]
    return prompt, issues, unmapped
