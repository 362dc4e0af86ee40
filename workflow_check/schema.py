"""Node schemas for workflow validation: what ComfyUI's /object_info says about each node, reduced to what a
validator needs (inputs with their types and limits, outputs, which inputs the frontend shows as widgets).

Schemas come from an /object_info JSON (a live server's, or the committed core fixture) or from V1 node classes
(FaceLab's NODE_CLASS_MAPPINGS). Pure Python: no ComfyUI, no torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

# Input types the frontend (comfyui-frontend-package 1.49, scripts/widgets.ts ComfyWidgets) draws as widgets:
# such inputs get a widget (and a widget value in saved workflows) unless declared with forceInput.
WIDGET_TYPES = frozenset(
    {
        "INT",
        "FLOAT",
        "BOOLEAN",
        "STRING",
        "COMBO",
        "MARKDOWN",
        "COLOR",
        "IMAGECOMPARE",
        "BOUNDING_BOX",
        "CHART",
        "GALLERIA",
        "PAINTER",
        "COMPOSITOR",
        "TEXTAREA",
        "CURVE",
        "RANGE",
        "VIDEO_EDIT",
        "BOUNDING_BOXES",
        "COLORS",
    }
)
# V3 inputs whose widgets and sub-inputs are built at run time: not modelled here.
DYNAMIC_TYPES = frozenset({"COMFY_DYNAMICCOMBO_V3", "COMFY_AUTOGROW_V3"})
# V3 "match type" sockets take whatever is connected; ComfyUI leaves checking them to the frontend.
MATCH_TYPE = "COMFY_MATCHTYPE_V3"
# Option flags that add the frontend's "upload" button widget after the node's other widgets.
MEDIA_UPLOAD_FLAGS = ("image_upload", "video_upload", "animated_image_upload")
UPLOAD_FLAGS = (*MEDIA_UPLOAD_FLAGS, "audio_upload", "file_upload")
# INT inputs with these names get a control_after_generate widget even without the option (frontend rule).
SEED_NAMES = ("seed", "noise_seed")
CONTROL_VALUES = ("fixed", "increment", "decrement", "randomize", "increment-wrap")
# Extensions of files whose names are environment-specific (models folders, the input folder).
MODEL_EXTENSIONS = (
    ".safetensors",
    ".sft",
    ".ckpt",
    ".pt",
    ".pt2",
    ".pth",
    ".bin",
    ".pkl",
    ".gguf",
    ".onnx",
    ".task",
    ".dat",
    ".zip",
    ".yaml",
    ".json",
)
MEDIA_EXTENSIONS = (
    ".png",
    ".jpg",
    ".jpeg",
    ".webp",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".mp4",
    ".webm",
    ".mov",
    ".wav",
    ".mp3",
    ".flac",
    ".ogg",
)
# Options kept in the compact fixture (everything else in /object_info is presentation).
KEPT_OPTIONS = (
    "default",
    "min",
    "max",
    "options",
    "multiselect",
    "control_after_generate",
    "forceInput",
    "socketless",
    "widgetType",
    "remote",
    *UPLOAD_FLAGS,
)
ANY = "*"


@dataclass(frozen=True)
class InputSpec:
    name: str
    type: str  # "COMBO" for choice lists; may be comma-separated ("FLOAT,INT")
    section: str  # "required" or "optional"
    options: dict = field(default_factory=dict, compare=False)
    choices: tuple | None = None  # combo values

    @property
    def widget_type(self) -> str:
        return self.options.get("widgetType") or self.type

    @property
    def is_widget(self) -> bool:
        """Whether the frontend gives this input a widget (so saved workflows carry a value for it)."""
        return self.widget_type in WIDGET_TYPES and not self.options.get("forceInput")

    @property
    def is_dynamic(self) -> bool:
        return self.type in DYNAMIC_TYPES

    @property
    def frontend_extras(self) -> int:
        """Frontend-only widgets drawn right after this one (seed control, combo control + filter)."""
        control = self.options.get("control_after_generate")
        if self.widget_type == "INT" and (control or (control is None and self.name in SEED_NAMES)):
            return 1
        if self.widget_type == "FLOAT" and control:
            return 1
        if self.widget_type == "COMBO" and control:
            return 2
        return 0

    @property
    def has_upload_button(self) -> bool:
        return (
            self.section == "required"
            and self.type == "COMBO"
            and any(self.options.get(f) is True for f in MEDIA_UPLOAD_FLAGS)
        )

    @property
    def file_kind(self) -> str | None:
        """'input file' / 'model file' for combos listing environment-specific files, else None.

        Model lists are recognised by their content (empty, or only model files: the schema fixture was taken
        from a ComfyUI without models) or by core's naming convention for loader inputs (ckpt_name, vae_name...),
        whose lists mix files with built-in entries such as 'pixel_space'.
        """
        if self.type != "COMBO":
            return None
        if any(self.options.get(f) for f in UPLOAD_FLAGS):
            return "input file"
        choices = self.choices or ()
        if (
            not choices
            or self.name.endswith("_name")
            or all(isinstance(c, str) and c.lower().endswith(MODEL_EXTENSIONS) for c in choices)
        ):
            return "model file"
        return None


@dataclass(frozen=True)
class NodeSchema:
    name: str
    inputs: dict  # name -> InputSpec, in the frontend's order (required then optional, each by input_order)
    outputs: tuple  # output types
    output_names: tuple
    output_node: bool = False
    display_name: str = ""
    source: str = "core"

    def widget_slots(self) -> list[tuple[str, str]]:
        """(role, input name) for each entry of a saved node's `widgets_values`, in order.

        role: "value" (the input's own widget), "control" (control_after_generate), "filter" (a combo control's
        filter list) or "upload" (the media upload button). Mirrors the frontend: widgets in input order, each
        followed by its control widgets, then the upload button, which the Comfy.UploadImage extension appends
        after all inputs. Only "value" entries reach the API prompt.
        """
        slots: list[tuple[str, str]] = []
        for spec in self.inputs.values():
            if spec.is_widget:
                slots.append(("value", spec.name))
                slots.extend([("control", spec.name), ("filter", spec.name)][: spec.frontend_extras])
        uploads = [spec.name for spec in self.inputs.values() if spec.has_upload_button]
        if uploads:
            slots.append(("upload", uploads[0]))
        return slots


def _split_spec(raw) -> tuple[str, dict, tuple | None]:
    kind = raw[0]
    opts = dict(raw[1]) if len(raw) > 1 and isinstance(raw[1], dict) else {}
    if isinstance(kind, (list, tuple)):
        return "COMBO", opts, tuple(kind)
    if kind == "COMBO":
        return "COMBO", opts, tuple(opts.get("options", ()))
    return str(kind), opts, None


def _ordered_inputs(input_block: dict, input_order: dict | None) -> dict:
    inputs: dict = {}
    for section in ("required", "optional"):
        block = input_block.get(section) or {}
        order = list((input_order or {}).get(section) or block)
        order += [n for n in block if n not in order]
        for name in order:
            if name in block:
                kind, opts, choices = _split_spec(block[name])
                inputs[name] = InputSpec(name, kind, section, opts, choices)
    return inputs


def schema_from_object_info(name: str, entry: dict, source: str = "core") -> NodeSchema:
    """A NodeSchema from one /object_info entry (full or compact)."""
    outputs = tuple(entry.get("output") or ())
    return NodeSchema(
        name=name,
        inputs=_ordered_inputs(entry.get("input") or {}, entry.get("input_order")),
        outputs=outputs,
        output_names=tuple(entry.get("output_name") or outputs),
        output_node=bool(entry.get("output_node")),
        display_name=entry.get("display_name") or name,
        source=source,
    )


def schema_from_class(name: str, cls, display_name: str = "", source: str = "FaceLab") -> NodeSchema:
    """A NodeSchema from a V1 node class (INPUT_TYPES, RETURN_TYPES, RETURN_NAMES, OUTPUT_NODE)."""
    declared = cls.INPUT_TYPES()
    outputs = tuple(cls.RETURN_TYPES)
    return NodeSchema(
        name=name,
        inputs=_ordered_inputs({k: declared.get(k) or {} for k in ("required", "optional")}, None),
        outputs=outputs,
        output_names=tuple(getattr(cls, "RETURN_NAMES", None) or outputs),
        output_node=bool(getattr(cls, "OUTPUT_NODE", False)),
        display_name=display_name or name,
        source=source,
    )


def object_info_schemas(data: dict, source: str = "core") -> dict[str, NodeSchema]:
    """Schemas of every node in an /object_info dict (keys starting with '_' are metadata)."""
    return {
        name: schema_from_object_info(name, entry, source) for name, entry in data.items() if not name.startswith("_")
    }


def load_object_info(path: Path | str, source: str = "core") -> dict[str, NodeSchema]:
    """Schemas of every node in an /object_info JSON file."""
    return object_info_schemas(json.loads(Path(path).read_text(encoding="utf-8")), source)


def build_schemas(
    core_object_info: Path | str | dict, node_class_mappings: dict | None = None, display_names: dict | None = None
) -> dict[str, NodeSchema]:
    """Core schemas (a path or an already loaded {name: NodeSchema}) plus the given V1 classes (which win)."""
    schemas = dict(core_object_info) if isinstance(core_object_info, dict) else load_object_info(core_object_info)
    for name, cls in (node_class_mappings or {}).items():
        schemas[name] = schema_from_class(name, cls, (display_names or {}).get(name, ""))
    return schemas


def compact_object_info(full: dict) -> dict:
    """The subset of an /object_info dict that validation needs (drops tooltips, descriptions, hidden inputs)."""
    out = {}
    for name, entry in sorted(full.items()):
        inputs = {}
        for section in ("required", "optional"):
            block = {}
            for inp, raw in (entry.get("input", {}).get(section) or {}).items():
                opts = raw[1] if len(raw) > 1 and isinstance(raw[1], dict) else {}
                kept = {k: opts[k] for k in KEPT_OPTIONS if k in opts}
                block[inp] = [raw[0], kept] if kept else [raw[0]]
            if block:
                inputs[section] = block
        compact = {
            "input": inputs,
            "input_order": {k: v for k, v in (entry.get("input_order") or {}).items() if k in inputs},
            "output": entry.get("output", []),
            "output_name": entry.get("output_name", []),
            "display_name": entry.get("display_name") or name,
        }
        if entry.get("output_node"):
            compact["output_node"] = True
        out[name] = compact
    return out


def types_match(received: str, expected: str) -> bool:
    """ComfyUI's link type rule (comfy_execution/validation.py, non-strict): equal, '*' on either side, or an
    overlap of comma-separated type lists."""
    if received == expected or ANY in (received, expected) or MATCH_TYPE in (received, expected):
        return True
    got = {t.strip() for t in str(received).split(",")}
    want = {t.strip() for t in str(expected).split(",")}
    return ANY in got or ANY in want or bool(got & want)


def check_value(spec: InputSpec, value) -> tuple[list[str], list[str]]:
    """(errors, notes) for a widget value given to `spec`, following ComfyUI's validate_inputs.

    Combo values for environment-specific files (models, uploads) are accepted when they look like a file of
    the right kind; they are listed as notes because they must exist where the workflow runs.
    """
    errors: list[str] = []
    notes: list[str] = []
    if isinstance(value, dict) and "__value__" in value:
        value = value["__value__"]
    kind = spec.widget_type
    if spec.is_dynamic:
        return [], [f"input type {spec.type} is built at run time; its value is not checked"]
    if kind == "COMBO":
        values = value if spec.options.get("multiselect") and isinstance(value, list) else [value]
        choices = spec.choices or ()
        for v in values:
            if v in choices:
                continue
            file_kind = spec.file_kind
            exts = MEDIA_EXTENSIONS if file_kind == "input file" else MODEL_EXTENSIONS
            if file_kind and isinstance(v, str) and v.lower().endswith(exts):
                notes.append(f"{file_kind} {v!r} must exist where the workflow runs")
            else:
                shown = list(choices) if len(choices) <= 12 else f"{len(choices)} choices"
                errors.append(f"{v!r} is not one of {shown}")
        return errors, notes
    if kind in ("INT", "FLOAT"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return [f"{value!r} is not a number ({kind})"], notes
        if kind == "INT" and isinstance(value, float) and not value.is_integer():
            errors.append(f"{value!r} is not an integer")
        lo, hi = spec.options.get("min"), spec.options.get("max")
        if lo is not None and value < lo:
            errors.append(f"{value!r} is below the minimum {lo}")
        if hi is not None and value > hi:
            errors.append(f"{value!r} is above the maximum {hi}")
        return errors, notes
    if kind == "BOOLEAN" and not isinstance(value, bool):
        errors.append(f"{value!r} is not a boolean")
    elif kind in ("STRING", "MARKDOWN", "TEXTAREA") and not isinstance(value, str):
        errors.append(f"{value!r} is not a string")
    return errors, notes
