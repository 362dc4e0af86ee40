"""What the `queue` command tells the user on stderr: progress from ComfyUI's events, and its errors verbatim.

stdout carries only the paths of the written files (one per line), so scripts can consume them.
"""

from __future__ import annotations

import json
from typing import TextIO

from . import workflow_inputs as wi

TRACEBACK_TAIL = 8  # lines of a node's traceback worth showing; the full one is in ComfyUI's console
# Combo inputs that name a model file -> the folder under ComfyUI/models/ it is listed from (ComfyUI 0.33's
# folder_paths; the loaders' input names from /object_info). A "Value not in list" there is a missing model.
MODEL_FOLDERS = {
    "ckpt_name": "checkpoints",
    "vae_name": "vae",
    "lora_name": "loras",
    "control_net_name": "controlnet",
    "clip_name": "text_encoders",
    "clip_name1": "text_encoders",
    "clip_name2": "text_encoders",
    "unet_name": "diffusion_models",
    "model_name": "upscale_models",
    "clip_vision_name": "clip_vision",
    "style_model_name": "style_models",
    "gligen_name": "gligen",
    "ipadapter_file": "ipadapter",
}


class Console:
    def __init__(self, stream: TextIO, verbose: bool = False):
        self.stream, self.verbose = stream, verbose
        self.live = bool(getattr(stream, "isatty", lambda: False)())  # rewrite one progress line on a terminal
        self.graph: dict = {}
        self.prefix = ""
        self._line_open = False
        self._last_quarter: dict = {}

    def write(self, text: str) -> None:
        self._end_line()
        print(text, file=self.stream, flush=True)

    def error(self, text: str) -> None:
        self.write(f"error: {text}")

    def start_input(self, name: str, index: int, total: int, graph: dict) -> None:
        self.graph, self.prefix, self._last_quarter = (
            graph,
            f"[{name}]" if total == 1 else f"[{index}/{total} {name}]",
            {},
        )
        self.write(f"{self.prefix} uploading and queueing")

    # -- websocket events ------------------------------------------------------------------------------------
    def event(self, kind: str, data: dict) -> None:
        node = data.get("display_node") or data.get("node")
        if kind == "execution_start":
            self.write(f"{self.prefix} running")
        elif kind == "execution_cached" and data.get("nodes"):
            self.write(f"{self.prefix} {len(data['nodes'])} node(s) reused from ComfyUI's cache")
        elif kind == "executing" and node is not None:
            self.write(f"{self.prefix} {self._node(node)}")
        elif kind == "progress":
            try:
                value, maximum = int(float(data.get("value") or 0)), int(float(data.get("max") or 0))
            except (TypeError, ValueError, OverflowError):
                return  # a progress value that is not a number: nothing to show, the run goes on
            self._progress(node, value, maximum)
        elif kind == "executed":
            images = ((data.get("output") or {}).get("images")) or []
            if images:
                self.write(f"{self.prefix} {self._node(node)} produced {len(images)} image(s)")
        elif kind == "execution_success":
            self.write(f"{self.prefix} finished, downloading outputs")

    def status(self, text: str) -> None:
        """On a terminal: rewrite the current status line (the next write() ends it)."""
        print("\r\x1b[K" + text, end="", file=self.stream, flush=True)
        self._line_open = True

    def _progress(self, node: object, value: int, maximum: int) -> None:
        if maximum <= 0:
            return
        text = f"{self.prefix} {self._node(node)} {value}/{maximum}"
        if self.live:
            self.status(text)
            return
        quarter = value * 4 // maximum  # a log file gets at most 5 lines per node
        if self._last_quarter.get(node) != quarter:
            self._last_quarter[node] = quarter
            self.write(text)

    def _end_line(self) -> None:
        if self._line_open:
            print(file=self.stream)
            self._line_open = False

    def _node(self, node_id: object) -> str:
        node_id = str(node_id)
        return wi.describe(self.graph, node_id) if node_id in self.graph else f"#{node_id}"

    # -- errors ----------------------------------------------------------------------------------------------
    def prompt_rejected(self, error: dict, node_errors: dict, graph: dict, partial: bool = False) -> None:
        """ComfyUI's validation failure as it returned it: the top error, then every node's errors (normalised by
        api.normalise_node_errors), and where a missing model file belongs."""
        self.error(f"ComfyUI rejected the workflow: {error.get('message', '')}")
        if error.get("details"):
            self.write(f"  {error['details']}")
        for node_id in sorted(node_errors, key=wi.node_order):
            entry = node_errors[node_id]
            title = wi.title_of(graph, node_id) if node_id in graph else "?"
            self.write(f"  node #{node_id} {title!r} ({entry['class_type']}):")
            for err in entry["errors"]:
                line = f"    - {err.get('message', '')}"
                if err.get("details"):
                    line += f": {err['details']}"
                self.write(line)
                if (hint := missing_model_hint(err)) is not None:
                    self.write(f"      {hint}")
                if self.verbose and err.get("extra_info"):
                    self.write(f"      extra_info: {json.dumps(err['extra_info'], default=str)}")
        if partial:
            self.write(
                "  ComfyUI queued only the outputs that validated; that partial prompt was cancelled "
                "(--allow-partial runs it)"
            )

    def execution_error(self, data: dict, graph: dict) -> None:
        node_id = str(data.get("node_id", ""))
        where = wi.describe(graph, node_id) if node_id in graph else f"#{node_id} ({data.get('node_type', '?')})"
        self.error(
            f"node {where} raised {data.get('exception_type', 'an error')}: "
            f"{str(data.get('exception_message', '')).strip()}"
        )
        trace = data.get("traceback") or []
        lines = (trace if isinstance(trace, str) else "".join(map(str, trace))).rstrip().splitlines()
        if lines:
            shown = lines if self.verbose else lines[-TRACEBACK_TAIL:]
            self.write("  traceback" + ("" if len(shown) == len(lines) else f" (last {len(shown)} lines)") + ":")
            for line in shown:
                self.write(f"    {line}")


def missing_model_hint(err: dict) -> str | None:
    """'put NAME in models/FOLDER' for a "Value not in list" on a model-file input (MODEL_FOLDERS)."""
    extra = err.get("extra_info") if isinstance(err.get("extra_info"), dict) else {}
    folder = MODEL_FOLDERS.get(str(extra.get("input_name")))
    if err.get("type") != "value_not_in_list" or folder is None:
        return None
    name = extra.get("received_value")
    return (
        f"the model file is missing: put {name} in ComfyUI/models/{folder}/ (then restart ComfyUI or press 'r' "
        "in its canvas to refresh the lists)"
    )
