"""Static checks of ComfyUI workflows (UI/LiteGraph and API format) against node schemas, and UI -> API conversion.

Pure Python (json only): usable in CI without ComfyUI, by the headless client, and by tools/. Core node schemas
come from an /object_info JSON (tests/data/core_object_info.json is ComfyUI 0.33's, compacted); FaceLab's from
its NODE_CLASS_MAPPINGS.

    schemas = build_schemas("tests/data/core_object_info.json", NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS)
    issues = validate_file("workflows/wrinkles.json", schemas)       # [Issue(severity, where, message), ...]
    prompt, issues = ui_to_api(ui_workflow, schemas)
"""

from .api_check import Issue, errors, validate_api
from .schema import NodeSchema, build_schemas, compact_object_info, load_object_info, types_match
from .ui_graph import is_ui_workflow, ui_to_api, widget_values
from .validate import api_copy_path, compare_ui_api, same_value, validate_file, validate_folder, validate_ui

__all__ = [
    "Issue",
    "NodeSchema",
    "api_copy_path",
    "build_schemas",
    "compact_object_info",
    "compare_ui_api",
    "errors",
    "is_ui_workflow",
    "load_object_info",
    "same_value",
    "types_match",
    "ui_to_api",
    "validate_api",
    "validate_file",
    "validate_folder",
    "validate_ui",
    "widget_values",
]
