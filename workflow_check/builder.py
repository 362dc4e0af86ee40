"""Build UI (LiteGraph) workflows in code, with sockets, links and `widgets_values` laid out from the node schemas
exactly as the frontend saves them, so generated workflows load in ComfyUI and pass the checker.

    wf = UiWorkflowBuilder(schemas)
    ckpt = wf.add("CheckpointLoaderSimple", ckpt_name="sdxl_inpaint.safetensors")
    pos = wf.add("CLIPTextEncode", clip=ckpt["CLIP"], text="smooth skin")
    ks = wf.add("KSampler", model=ckpt["MODEL"], positive=pos[0], seed=42, control_after_generate="fixed", ...)
    wf.note("## How to use\\n...")
    json.dumps(wf.workflow())

Unset widgets take the schema default; link inputs take `node[output name or index]`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .schema import InputSpec, NodeSchema

NODE_WIDTH = 320
ROW_HEIGHT = 26


@dataclass(frozen=True)
class Output:
    node_id: int
    slot: int
    type: str


class NodeRef:
    def __init__(self, node_id: int, schema: NodeSchema):
        self.id, self.schema = node_id, schema

    def __getitem__(self, key) -> Output:
        slot = key if isinstance(key, int) else self.schema.output_names.index(key)
        return Output(self.id, slot, self.schema.outputs[slot])


def default_value(spec: InputSpec):
    """The value the frontend gives a new widget: the declared default, else the first choice / zero / empty."""
    if "default" in spec.options:
        return spec.options["default"]
    if spec.type == "COMBO":
        return spec.choices[0] if spec.choices else ""
    return {"INT": 0, "FLOAT": 0.0, "BOOLEAN": False}.get(spec.widget_type, "")


class UiWorkflowBuilder:
    def __init__(self, schemas: dict[str, NodeSchema], column_gap: int = 60):
        self.schemas = schemas
        self.nodes: list[dict] = []
        self.links: list[list] = []
        self.groups: list[dict] = []
        self._x = 0
        self._gap = column_gap

    def _place(self, pos) -> list[float]:
        if pos is not None:
            return [float(pos[0]), float(pos[1])]
        x = self._x
        self._x += NODE_WIDTH + self._gap
        return [float(x), 0.0]

    def add(
        self, node_type: str, *, title: str | None = None, pos=None, control_after_generate: str = "fixed", **values
    ) -> NodeRef:
        """Add a node; keyword arguments are input values (widgets) or Outputs (links)."""
        schema = self.schemas[node_type]
        unknown = set(values) - set(schema.inputs)
        if unknown:
            raise ValueError(f"{node_type} has no input(s) {sorted(unknown)}; inputs: {list(schema.inputs)}")
        node_id = len(self.nodes) + 1
        sockets, widgets_values = [], []
        linked = {name: v for name, v in values.items() if isinstance(v, Output)}
        for spec in schema.inputs.values():  # the frontend lists socket-only inputs first, then widget sockets
            if not spec.is_widget and spec.name in linked:
                sockets.append({"name": spec.name, "type": spec.type, "link": None})
        for spec in schema.inputs.values():
            if spec.is_widget and spec.name in linked:
                sockets.append({"name": spec.name, "type": spec.type, "widget": {"name": spec.name}, "link": None})
        for role, name in schema.widget_slots():
            spec = schema.inputs[name]
            if role == "value":
                value = values.get(name)
                widgets_values.append(default_value(spec) if value is None or isinstance(value, Output) else value)
            else:
                widgets_values.append({"control": control_after_generate, "filter": "", "upload": "image"}[role])
        for spec in schema.inputs.values():
            if spec.section == "required" and not spec.is_widget and spec.name not in linked:
                raise ValueError(f"{node_type}: required input '{spec.name}' ({spec.type}) needs a link")
        for target_slot, socket in enumerate(sockets):
            out = linked[socket["widget"]["name"] if "widget" in socket else socket["name"]]
            link_id = len(self.links) + 1
            self.links.append([link_id, out.node_id, out.slot, node_id, target_slot, out.type])
            socket["link"] = link_id
            self.nodes[out.node_id - 1]["outputs"][out.slot]["links"].append(link_id)
        height = 60 + ROW_HEIGHT * (len(sockets) + max(len(schema.outputs), 1) + len(widgets_values))
        node = {
            "id": node_id,
            "type": node_type,
            "pos": self._place(pos),
            "size": [NODE_WIDTH, height],
            "flags": {},
            "order": node_id - 1,
            "mode": 0,
            "inputs": sockets,
            "outputs": [
                {"name": n, "type": t, "links": [], "slot_index": i}
                for i, (n, t) in enumerate(zip(schema.output_names, schema.outputs))
            ],
            "properties": {"Node name for S&R": node_type},
            "widgets_values": widgets_values,
        }
        if title:
            node["title"] = title
        self.nodes.append(node)
        return NodeRef(node_id, schema)

    def note(self, markdown: str, *, pos=None, size=(420, 300), title: str = "Read me") -> int:
        """A MarkdownNote (frontend-only; never sent to the server)."""
        node_id = len(self.nodes) + 1
        self.nodes.append(
            {
                "id": node_id,
                "type": "MarkdownNote",
                "pos": self._place(pos),
                "size": list(size),
                "flags": {},
                "order": node_id - 1,
                "mode": 0,
                "inputs": [],
                "outputs": [],
                "properties": {},
                "widgets_values": [markdown],
                "title": title,
                "color": "#432",
                "bgcolor": "#653",
            }
        )
        return node_id

    def group(self, title: str, bounding: tuple[float, float, float, float]) -> None:
        self.groups.append(
            {
                "id": len(self.groups) + 1,
                "title": title,
                "bounding": list(bounding),
                "color": "#3f789e",
                "font_size": 24,
                "flags": {},
            }
        )

    def workflow(self) -> dict:
        return {
            "last_node_id": len(self.nodes),
            "last_link_id": len(self.links),
            "nodes": self.nodes,
            "links": self.links,
            "groups": self.groups,
            "config": {},
            "extra": {"ds": {"scale": 0.8, "offset": [40, 40]}},
            "version": 0.4,
        }
