"""Shape checks that run before any graph logic: malformed UI records (a node without an id, a link that is not a
5/6-element array, inputs that are not objects, ...) and dependency cycles become reported issues instead of
KeyError/IndexError/TypeError/RecursionError in the checker. Malformed records are dropped from the copy the rest of
the checker sees, so the other findings are still reported."""

from __future__ import annotations

import functools

from .api_check import MALFORMED, Issue, malformed_issue


def reported(check):
    """Last line of defence for a check returning a list of issues: a record shape nobody anticipated becomes an
    issue naming the exception, never a crash of the checker."""

    @functools.wraps(check)
    def wrapper(*args, **kwargs):
        try:
            return check(*args, **kwargs)
        except MALFORMED as exc:
            return [malformed_issue(exc)]

    return wrapper


def _is_id(value) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def clean_ui(workflow: dict) -> tuple[dict, list[Issue]]:
    """A copy of a UI workflow holding only well-formed node and link records, and an issue per dropped or
    repaired record."""
    issues: list[Issue] = []
    nodes, seen = [], set()
    raw_nodes = workflow.get("nodes")
    for i, node in enumerate(raw_nodes if isinstance(raw_nodes, list) else []):
        where = f"nodes[{i}]"
        if not isinstance(node, dict) or not _is_id(node.get("id")) or not isinstance(node.get("type"), str):
            issues.append(Issue("error", where, "not a node record (needs an 'id' and a 'type' string); skipped"))
            continue
        where = f"node {node['id']} ({node['type']})"
        if str(node["id"]) in seen:
            issues.append(Issue("error", where, "duplicate node id; the later record is skipped"))
            continue
        seen.add(str(node["id"]))
        node = dict(node)
        for key, check in (("inputs", _clean_input), ("outputs", _clean_output)):
            records = node.get(key)
            if records is not None and not isinstance(records, list):
                issues.append(Issue("error", where, f"'{key}' is not a list; ignored"))
                records = []
            kept = []
            for slot, record in enumerate(records or []):
                fixed = check(record)
                if fixed is None:
                    issues.append(Issue("error", where, f"{key}[{slot}] is malformed: {str(record)[:80]}"))
                    fixed = {"name": "", "type": "*", "link": None} if key == "inputs" else {"type": "*", "links": []}
                kept.append(fixed)  # keep the slot, so link slot numbers still line up
            node[key] = kept
        if not isinstance(node.get("widgets_values"), (list, dict, type(None))):
            issues.append(Issue("error", where, "'widgets_values' is neither a list nor an object; ignored"))
            node["widgets_values"] = None
        if not _is_int(node.get("mode", 0)):
            issues.append(Issue("error", where, f"'mode' {node.get('mode')!r} is not an integer; taken as 0"))
            node["mode"] = 0
        if not isinstance(node.get("title"), (str, type(None))):
            issues.append(Issue("error", where, "'title' is not text; ignored"))
            node["title"] = None
        nodes.append(node)
    if not isinstance(raw_nodes, list):
        issues.append(Issue("error", "workflow", "'nodes' is not a list"))
    links = []
    raw_links = workflow.get("links")
    for i, link in enumerate(raw_links if isinstance(raw_links, list) else []):
        if _link_ok(link):
            links.append(link)
        else:
            issues.append(
                Issue(
                    "error",
                    f"links[{i}]",
                    "not a link record ([id, origin id, origin slot, target id, "
                    f"target slot, type] or an object of those); skipped: {str(link)[:80]}",
                )
            )
    if raw_links is not None and not isinstance(raw_links, list):
        issues.append(Issue("error", "workflow", "'links' is not a list"))
    definitions = workflow.get("definitions")
    clean = {**workflow, "nodes": nodes, "links": links}
    if definitions is not None and not isinstance(definitions, dict):
        issues.append(Issue("error", "workflow", "'definitions' is not an object; ignored"))
        clean["definitions"] = {}
    return clean, issues


def _clean_input(record) -> dict | None:
    if not isinstance(record, dict) or not (record.get("link") is None or _is_int(record.get("link"))):
        return None
    if not isinstance(record.get("name", ""), str) or not isinstance(record.get("type", "*"), str):
        return None
    if not isinstance(record.get("widget"), (dict, type(None))):
        return {**record, "widget": None}
    return record


def _clean_output(record) -> dict | None:
    if not isinstance(record, dict) or not isinstance(record.get("type", "*"), str):
        return None
    links = record.get("links")
    if links is not None and not (isinstance(links, list) and all(_is_int(x) for x in links)):
        return None
    return record


def _link_ok(link) -> bool:
    if isinstance(link, dict):
        fields = [link.get(k) for k in ("id", "origin_id", "origin_slot", "target_id", "target_slot")]
        kind = link.get("type", "*")
    elif isinstance(link, list) and len(link) >= 5:
        fields, kind = link[:5], link[5] if len(link) > 5 else "*"
    else:
        return False
    return (
        _is_int(fields[0])
        and _is_id(fields[1])
        and _is_int(fields[2])
        and _is_id(fields[3])
        and _is_int(fields[4])
        and isinstance(kind, str)
    )
