"""Set inputs of an API-format ComfyUI workflow by node title (pure dict logic, no I/O).

API format ("Export (API)" in ComfyUI) maps node id -> {"class_type", "inputs", "_meta": {"title"}}; an input's
value is a widget value or a link `[source_node_id, output_index]`. Titles are what the user sees on the canvas,
so they are the stable handles shipped workflows promise (docs/client.md, "Title conventions").
"""

from __future__ import annotations

import json
import re

# Conventional titles (docs/client.md). Per option, in order: (title, groups of input names). The first title present
# in the workflow is used, and on that node the first group with an input present is set (every input of the group
# that the node has: CLIPTextEncodeSDXL takes both text_g and text_l). "Face Edit" is the FaceLab node that holds an
# edit's prompts and strength together (e.g. Aging Zone Conditioning: positive, negative, max_denoise).
IMAGE_TITLE = "Input Image"
EDIT_TITLE = "Face Edit"
CONVENTIONS: dict[str, tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]] = {
    # The inversion workflows' randomness is the DDPM Invert seed (their Sampler has no seed: DisableNoise)
    "seed": (
        ("Seed", (("seed",), ("noise_seed",), ("value",))),
        ("DDPM Invert", (("seed",),)),
        ("Sampler", (("seed",), ("noise_seed",))),
    ),
    "strength": (
        ("Strength", (("strength",), ("denoise",), ("max_denoise",), ("value",))),
        (EDIT_TITLE, (("strength",), ("max_denoise",), ("denoise",))),
        ("Sampler", (("denoise",),)),
    ),
    "prompt": (("Positive Prompt", (("text",), ("text_g", "text_l"), ("value",))), (EDIT_TITLE, (("positive",),))),
    "negative": (("Negative Prompt", (("text",), ("text_g", "text_l"), ("value",))), (EDIT_TITLE, (("negative",),))),
}
# Options that find their nodes by TYPE (every node of these class types that has the input), for settings that
# every SDXL workflow has whatever its titles: option -> (class types, input).
TYPE_OPTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "checkpoint": (
        ("CheckpointLoaderSimple", "CheckpointLoader", "ImageOnlyCheckpointLoader", "unCLIPCheckpointLoader"),
        "ckpt_name",
    ),
    # Aging Zone Conditioning plans the short run from the full schedule's steps and feeds KSampler's steps by a
    # link; BasicScheduler makes the schedule of the SamplerCustomAdvanced (inversion) workflows.
    "steps": (("KSampler", "KSamplerAdvanced", "SamplerCustom", "BasicScheduler", "FaceLabAgingConditioning"), "steps"),
    "denoise": (("KSampler",), "denoise"),
}
ZONE_SCORES_TITLE = "Zone Scores"
ZONE_TEXT_INPUTS = ("zone_scores", "scores", "scores_json", "text", "value")  # a node taking the scores as JSON text
SIDE_OVERRIDES = "side_overrides"  # FaceLab Zone Scores: "zone=value, ..." for single-side zones


def check_api_workflow(obj: object) -> dict:
    """The workflow if it is API format; else ValueError saying how to get one."""
    if isinstance(obj, dict) and "nodes" in obj and "links" in obj:
        raise ValueError(
            "this is a UI-format workflow (the kind ComfyUI's canvas saves); the client needs the API "
            "format: use the file of the same name in workflows/api/, or in ComfyUI use "
            "Workflow > Export (API)"
        )
    if not isinstance(obj, dict) or not obj:
        raise ValueError("the workflow must be a JSON object mapping node ids to nodes (ComfyUI's API format)")
    for node_id, node in obj.items():
        if (
            not isinstance(node, dict)
            or not isinstance(node.get("class_type"), str)
            or not isinstance(node.get("inputs"), dict)
        ):
            raise ValueError(
                f'node {node_id!r} is not an API-format node (needs "class_type" and "inputs"); '
                "export the workflow with Workflow > Export (API)"
            )
    return obj


def title_of(graph: dict, node_id: str) -> str:
    """The node's title on the canvas (`_meta.title`), or its class_type when the export has none."""
    node = graph[node_id]
    return (node.get("_meta") or {}).get("title") or node["class_type"]


def describe(graph: dict, node_id: str) -> str:
    title, cls = title_of(graph, node_id), graph[node_id]["class_type"]
    return f"#{node_id} {title!r}" + ("" if title == cls else f" ({cls})")


def titles_listing(graph: dict) -> str:
    return ", ".join(describe(graph, nid) for nid in sorted(graph, key=node_order))


def find_nodes(graph: dict, title: str, allow_id: bool = True) -> list[str]:
    """Ids of the nodes with this exact title (several nodes may share one: each is set); with `allow_id`, a node
    id ("12" or "#12") works when no title matches."""
    found = [nid for nid in graph if title_of(graph, nid) == title]
    if not found and allow_id and title.lstrip("#") in graph:
        found = [title.lstrip("#")]
    return sorted(found, key=node_order)


def parse_assignment(text: str) -> tuple[str, str, str]:
    """'Title.input=value' -> (title, input, raw value). The title may contain dots (split at the last one)."""
    target, sep, raw = text.partition("=")
    title, dot, name = target.rpartition(".")
    if not sep or not dot or not title or not name:
        raise ValueError(f'--set {text!r}: expected "Node Title.input=value", e.g. --set "Sampler.steps=30"')
    return title.strip(), name.strip(), raw


def coerce(value: object, current: object, where: str) -> object:
    """Convert a command-line value to the type of the workflow's current value (so "7" stays a string in a
    text widget but becomes 7 in an INT widget). Unknown current type: JSON if it parses, else the string."""
    if isinstance(current, list):
        raise ValueError(f"{where} is connected to node {current[0]!r}, not a widget: set that node instead")
    if not isinstance(value, str):  # typed options (--seed 5) follow the same rules as their text
        value = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    try:
        if isinstance(current, bool):
            lowered = value.strip().lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return lowered in ("true", "1", "yes")
        if isinstance(current, int):
            number = float(value)
            if not number.is_integer():
                raise ValueError
            return int(number)
        if isinstance(current, float):
            return float(value)
    except ValueError:
        kind = (
            "true or false" if isinstance(current, bool) else "an integer" if isinstance(current, int) else "a number"
        )
        raise ValueError(f"{where} expects {kind} (like {current!r}), got {value!r}") from None
    if isinstance(current, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def set_input(graph: dict, title: str, name: str, value: object) -> list[str]:
    """Set input `name` on every node titled `title` (--set); return the node ids. Errors list what exists."""
    node_ids = find_nodes(graph, title)
    if not node_ids:
        raise ValueError(f"--set: no node titled {title!r} in the workflow; its nodes are: {titles_listing(graph)}")
    for nid in node_ids:
        _set(graph, nid, name, value, "--set")
    return node_ids


def _set(graph: dict, nid: str, name: str, value: object, option: str) -> None:
    inputs = graph[nid]["inputs"]
    if name not in inputs:
        raise ValueError(
            f"{option}: node {describe(graph, nid)} has no input {name!r}; its inputs are: " + ", ".join(sorted(inputs))
        )
    inputs[name] = coerce(value, inputs[name], f"{option}: input {name!r} of node {describe(graph, nid)}")


def apply_convention(graph: dict, option: str, value: object) -> list[tuple[str, str]]:
    """Set a conventional option (seed, strength, prompt, negative: CONVENTIONS); return (node id, input) pairs.
    (--zone-scores has its own rules: apply_zone_scores.)"""
    flag = f"--{option.replace('_', '-')}"
    for title, groups in CONVENTIONS[option]:
        node_ids = find_nodes(graph, title, allow_id=False)
        if not node_ids:
            continue
        done = []
        for nid in node_ids:
            inputs = graph[nid]["inputs"]
            group = next((g for g in groups if any(n in inputs for n in g)), None)
            if group is None:
                wanted = " or ".join("/".join(g) for g in groups)
                raise ValueError(
                    f"{flag}: node {describe(graph, nid)} has none of the inputs "
                    f"{wanted}; its inputs are: {', '.join(sorted(inputs))}"
                )
            for name in (n for n in group if n in inputs):
                _set(graph, nid, name, value, flag)
                done.append((nid, name))
        return done
    wanted = " or ".join(repr(t) for t, _ in CONVENTIONS[option])
    raise ValueError(
        f"{flag}: the workflow has no node titled {wanted} (see docs/client.md, "
        f'title conventions); its nodes are: {titles_listing(graph)}. Use --set "Title.input=value".'
    )


def apply_by_type(graph: dict, option: str, value: object) -> list[tuple[str, str]]:
    """Set a TYPE_OPTIONS option on every node of its class types whose input is a widget (not a link)."""
    flag = f"--{option}"
    types, name = TYPE_OPTIONS[option]
    nodes = sorted(
        (nid for nid, n in graph.items() if n["class_type"] in types and name in n["inputs"]), key=node_order
    )
    widgets = [nid for nid in nodes if not isinstance(graph[nid]["inputs"][name], list)]
    if not widgets:
        why = (
            f"its {name!r} is connected to another node"
            if nodes
            else f"the workflow has no {' / '.join(types)} node with an input {name!r}"
        )
        raise ValueError(f'{flag}: {why}; its nodes are: {titles_listing(graph)}. Use --set "Title.input=value".')
    for nid in widgets:
        _set(graph, nid, name, value, flag)
    return [(nid, name) for nid in widgets]


def image_inputs(graph: dict) -> list[str]:
    """Ids of the nodes that take an uploaded image (LoadImage-like: a widget input named "image")."""
    return sorted(
        (
            nid
            for nid, n in graph.items()
            if n["class_type"].startswith("LoadImage") and isinstance(n["inputs"].get("image"), str)
        ),
        key=node_order,
    )


def parse_image_input(graph: dict, text: str) -> tuple[str, str]:
    """--input "TITLE=path": (loader node id, path). The title must name exactly one image loader."""
    title, sep, path = text.partition("=")
    title = title.strip()
    loaders = image_inputs(graph)
    if not sep or not title or not path:
        raise ValueError(f'--input {text!r}: expected "Node Title=path", e.g. --input "Makeup Reference=ref.jpg"')
    found = [nid for nid in find_nodes(graph, title) if nid in loaders]
    if len(found) != 1:
        listing = ", ".join(describe(graph, nid) for nid in loaders) or "none"
        what = "no image loader" if not found else f"{len(found)} image loaders"
        raise ValueError(f"--input: {what} titled {title!r}; the workflow's image inputs are: {listing}")
    return found[0], path


def settable_inputs(graph: dict) -> list[str]:
    """--list-inputs: one line per node with its widget values (what --set can change) and the options that map
    to it, so a user can see what a workflow exposes without opening ComfyUI."""
    option_of: dict[tuple[str, str], list[str]] = {}
    for option, rules in CONVENTIONS.items():
        for title, groups in rules:
            found = find_nodes(graph, title, allow_id=False)
            for nid in found:
                inputs = graph[nid]["inputs"]
                group = next((g for g in groups if any(n in inputs for n in g)), ())
                for name in (n for n in group if n in inputs):
                    option_of.setdefault((nid, name), []).append(f"--{option}")
            if found:
                break
    for option, (types, name) in TYPE_OPTIONS.items():
        for nid, node in graph.items():
            if node["class_type"] in types and not isinstance(node["inputs"].get(name, []), list):
                option_of.setdefault((nid, name), []).append(f"--{option}")
    try:
        main_loader = image_loader(graph)
    except ValueError:
        main_loader = None
    for nid in image_inputs(graph):
        flag = "--image" if nid == main_loader else f'--input "{title_of(graph, nid)}=PATH"'
        option_of.setdefault((nid, "image"), []).append(flag)
    lines = []
    for nid in sorted(graph, key=node_order):
        widgets = {k: v for k, v in graph[nid]["inputs"].items() if not isinstance(v, list)}
        if not widgets:
            continue
        lines.append(f"{describe(graph, nid)}")
        for name, value in widgets.items():
            shown = json.dumps(value)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            options = option_of.get((nid, name))
            lines.append(
                f"    {title_of(graph, nid)}.{name} = {shown}" + (f"   ({', '.join(options)})" if options else "")
            )
    return lines


def image_loader(graph: dict) -> str:
    """The node that receives --image: the one titled "Input Image", else the only LoadImage node."""
    titled = find_nodes(graph, IMAGE_TITLE, allow_id=False)
    if len(titled) == 1:
        if "image" not in graph[titled[0]]["inputs"]:
            raise ValueError(f"node {describe(graph, titled[0])} has no 'image' input to receive --image")
        return titled[0]
    if len(titled) > 1:
        raise ValueError(f"several nodes are titled {IMAGE_TITLE!r} ({', '.join(titled)}); --image needs exactly one")
    loaders = sorted((nid for nid, n in graph.items() if n["class_type"] == "LoadImage"), key=node_order)
    if len(loaders) == 1:
        return loaders[0]
    if not loaders:
        raise ValueError(
            f"the workflow has no LoadImage node to receive --image; its nodes are: {titles_listing(graph)}"
        )
    raise ValueError(
        f"the workflow has {len(loaders)} LoadImage nodes ("
        + ", ".join(describe(graph, n) for n in loaders)
        + f"); title the one that takes --image {IMAGE_TITLE!r}"
    )


def parse_zone_scores(text: str) -> dict[str, float]:
    """--zone-scores: a JSON object of zone or zone group -> number."""
    try:
        scores = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--zone-scores is not valid JSON ({exc.msg}); example: '{{\"forehead\": 0.6}}'") from None
    bad = not isinstance(scores, dict) or any(
        not isinstance(v, (int, float)) or isinstance(v, bool) for v in scores.values()
    )
    if bad:
        raise ValueError("--zone-scores must be a JSON object of zone name -> number, e.g. '{\"forehead\": 0.6}'")
    return scores


def apply_zone_scores(graph: dict, scores: dict[str, float]) -> list[tuple[str, str]]:
    """Set --zone-scores on the node(s) titled "Zone Scores": a node with a text input (ZONE_TEXT_INPUTS) gets the
    JSON; FaceLab's Zone Scores node gets one slider per zone group ("forehead") and the single-side zones
    ("crows_feet_left") as its side_overrides text. Returns (node id, input) pairs."""
    node_ids = find_nodes(graph, ZONE_SCORES_TITLE, allow_id=False)
    if not node_ids:
        raise ValueError(
            f"--zone-scores: the workflow has no node titled {ZONE_SCORES_TITLE!r} (see docs/client.md, "
            f"title conventions); its nodes are: {titles_listing(graph)}"
        )
    done = []
    for nid in node_ids:
        inputs = graph[nid]["inputs"]
        text_input = next((name for name in ZONE_TEXT_INPUTS if name in inputs), None)
        if text_input is not None:
            _set(graph, nid, text_input, json.dumps(scores), "--zone-scores")
            done.append((nid, text_input))
            continue
        sliders = [
            name for name, value in inputs.items() if isinstance(value, (int, float)) and not isinstance(value, bool)
        ]
        sides = {zone: v for zone, v in scores.items() if zone not in inputs}
        wrong = [zone for zone in scores if zone in inputs and zone not in sliders]
        if wrong or sides and SIDE_OVERRIDES not in inputs:
            raise ValueError(
                f"--zone-scores: node {describe(graph, nid)} has no score input "
                f"{', '.join(map(repr, wrong or sides))}; its number inputs are: {', '.join(sorted(sliders))}"
            )
        for zone, value in scores.items():
            if zone in sliders:
                _set(graph, nid, zone, value, "--zone-scores")
                done.append((nid, zone))
        if sides:
            _set(graph, nid, SIDE_OVERRIDES, ", ".join(f"{z}={v:g}" for z, v in sides.items()), "--zone-scores")
            done.append((nid, SIDE_OVERRIDES))
    return done


def file_label(graph: dict, node_id: str) -> str:
    """A node's title made safe for a file name ("Save Image" -> "Save-Image"); its id if nothing is left."""
    label = re.sub(r"[^A-Za-z0-9_.-]+", "-", title_of(graph, node_id) if node_id in graph else "").strip("-.")
    return label or re.sub(r"[^A-Za-z0-9_-]+", "-", str(node_id)).strip("-") or "output"


def node_order(node_id: str) -> tuple:
    # "10" after "9"; subgraph ids like "12:3" sort by their parts.
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in str(node_id).split(":"))
