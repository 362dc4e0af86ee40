"""Record ComfyUI's real HTTP/websocket contract into tests/data/comfyui_http_contract/ (the fixtures that
tests/fake_comfyui.py replays in CI). Run by hand against a ComfyUI checkout; no sampling, only cheap core nodes:

    .venv/bin/python tests/record_comfyui_contract.py --comfyui-dir /work/comfyui

It starts ComfyUI with tests/comfyui_server.py (--cpu, a free port on 127.0.0.1, throwaway folders), records
every exchange the headless client relies on, and stops the server. Re-run it to follow a new ComfyUI.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_DIR = ROOT / "tests" / "data" / "comfyui_http_contract"


def _http(
    url: str, method: str = "GET", payload: object = None, body: bytes | None = None, content_type: str | None = None
) -> tuple[int, dict, bytes]:
    if payload is not None:
        body, content_type = json.dumps(payload).encode(), "application/json"
    req = urllib.request.Request(
        url, data=body, method=method, headers={"Content-Type": content_type} if content_type else {}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def _json_or_text(data: bytes) -> object:
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")


def _png(width: int, height: int, seed: int) -> bytes:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _upload(url: str, name: str, data: bytes, overwrite: str) -> dict:
    boundary = uuid.uuid4().hex
    parts = [
        (f'name="image"; filename="{name}"', "image/png", data),
        ('name="type"', None, b"input"),
        ('name="overwrite"', None, overwrite.encode()),
    ]
    body = (
        b"".join(
            f"--{boundary}\r\nContent-Disposition: form-data; {d}\r\n".encode()
            + (f"Content-Type: {ct}\r\n".encode() if ct else b"")
            + b"\r\n"
            + v
            + b"\r\n"
            for d, ct, v in parts
        )
        + f"--{boundary}--\r\n".encode()
    )
    status, _, resp = _http(
        url + "/upload/image", "POST", body=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    return {
        "request": {"filename": name, "type": "input", "overwrite": overwrite},
        "status": status,
        "body": _json_or_text(resp),
    }


def _graph(image: str, *middle: tuple[str, dict], prefix: str = "facelab_contract") -> dict:
    """LoadImage ("Input Image") -> middle nodes in a chain -> SaveImage ("Save Result")."""
    graph = {"1": {"class_type": "LoadImage", "inputs": {"image": image}, "_meta": {"title": "Input Image"}}}
    last = "1"
    for i, (cls, inputs) in enumerate(middle, start=2):
        key = "image_target" if cls == "ColorTransfer" else "image"
        graph[str(i)] = {"class_type": cls, "inputs": {key: [last, 0], **inputs}, "_meta": {"title": cls}}
        last = str(i)
    graph["9"] = {
        "class_type": "SaveImage",
        "inputs": {"images": [last, 0], "filename_prefix": prefix},
        "_meta": {"title": "Save Result"},
    }
    return graph


def _websocket_module():
    """The client's websocket module, loaded by path: the recorder needs none of the pack's nodes."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("facelab_client_websocket", ROOT / "client" / "websocket.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(url: str, graph: dict, interrupt_at: str | None = None) -> dict:
    """Queue `graph` with a websocket listening; record the events, the history entry and the outputs."""
    WebSocket = _websocket_module().WebSocket

    client_id = uuid.uuid4().hex
    ws = WebSocket.connect(url.replace("http://", "ws://") + f"/ws?clientId={client_id}", timeout=10)
    events = []
    status, _, resp = _http(url + "/prompt", "POST", payload={"prompt": graph, "client_id": client_id})
    queued = _json_or_text(resp)
    prompt_id = queued["prompt_id"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        msg = ws.recv(timeout=5)
        if msg is None:
            continue
        if isinstance(msg, bytes):
            events.append({"binary_frame_bytes": len(msg)})
            continue
        event = json.loads(msg)
        events.append(event)
        data = event.get("data") or {}
        if interrupt_at and event["type"] == "executing" and data.get("node") == interrupt_at:
            _http(url + "/interrupt", "POST", payload={"prompt_id": prompt_id})
        if event["type"] == "executing" and data.get("node") is None and data.get("prompt_id") == prompt_id:
            break
    ws.close()
    for _ in range(50):
        _, _, hist = _http(url + f"/history/{prompt_id}")
        history = json.loads(hist)
        if history:
            break
        time.sleep(0.1)
    views = []
    for node_out in history[prompt_id].get("outputs", {}).values():
        for ref in node_out.get("images", []):
            q = urllib.parse.urlencode(
                {"filename": ref["filename"], "subfolder": ref["subfolder"], "type": ref["type"]}
            )
            vstatus, vheaders, vbody = _http(url + f"/view?{q}")
            keep = {
                k: v
                for k, v in vheaders.items()
                if k.lower() in ("content-type", "content-length", "content-disposition")
            }
            views.append(
                {
                    "request": f"/view?{q}",
                    "status": vstatus,
                    "headers": keep,
                    "sha256": hashlib.sha256(vbody).hexdigest(),
                    "size": len(vbody),
                }
            )
    return {
        "client_id": client_id,
        "prompt_id": prompt_id,
        "request": {"prompt": graph, "client_id": client_id},
        "prompt_response": {"status": status, "body": queued},
        "ws_events": events,
        "history": history,
        "view": views,
    }


def record(url: str, comfy_dir: Path) -> dict[str, object]:
    version = "unknown"
    vfile = Path(comfy_dir) / "comfyui_version.py"
    if vfile.exists():
        version = vfile.read_text().split("=")[-1].strip().strip("\"'")
    files: dict[str, object] = {}
    status, _, body = _http(url + "/prompt")
    files["queue_info"] = {"request": "GET /prompt", "status": status, "body": _json_or_text(body)}

    small = _png(16, 12, seed=1)
    files["upload_image"] = _upload(url, "contract_input.png", small, "false")
    files["upload_identical_again"] = _upload(url, "contract_input.png", small, "false")
    files["upload_renamed"] = _upload(url, "contract_input.png", _png(16, 12, seed=2), "false")
    _upload(url, "contract_corrupt.png", b"this is not an image", "false")

    files["run_success"] = _run(url, _graph("contract_input.png", ("ImageInvert", {})))
    # ColorTransfer reports per-image progress through comfy.utils.ProgressBar, like KSampler reports its steps.
    files["run_progress"] = _run(
        url,
        _graph(
            "contract_input.png",
            (
                "ColorTransfer",
                {"image_ref": ["1", 0], "method": "reinhard_lab", "source_stats": "per_frame", "strength": 1.0},
            ),
        ),
    )
    files["run_execution_error"] = _run(url, _graph("contract_corrupt.png", ("ImageInvert", {})))
    # A blur slow enough to interrupt between nodes (ComfyUI checks the interrupt flag before each node).
    _upload(url, "contract_large.png", _png(1024, 1024, seed=3), "false")
    files["run_interrupted"] = _run(
        url,
        _graph("contract_large.png", ("ImageBlur", {"blur_radius": 31, "sigma": 10.0}), ("ImageInvert", {})),
        interrupt_at="2",
    )

    bad = _graph(
        "missing_photo.png",
        ("ImageScale", {"upscale_method": "bilinear", "width": 99999, "height": 64, "crop": "disabled"}),
    )
    status, _, body = _http(url + "/prompt", "POST", payload={"prompt": bad, "client_id": "recorder"})
    files["prompt_node_errors"] = {"request": {"prompt": bad}, "status": status, "body": _json_or_text(body)}
    no_out = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "contract_input.png"}, "_meta": {"title": "Input Image"}}
    }
    status, _, body = _http(url + "/prompt", "POST", payload={"prompt": no_out, "client_id": "recorder"})
    files["prompt_no_outputs"] = {"request": {"prompt": no_out}, "status": status, "body": _json_or_text(body)}

    status, _, body = _http(url + f"/history/{uuid.uuid4()}")
    files["history_pending"] = {
        "request": "GET /history/<unknown or unfinished id>",
        "status": status,
        "body": _json_or_text(body),
    }
    status, _, body = _http(url + "/view?filename=no_such_file.png&subfolder=&type=output")
    files["view_missing"] = {
        "request": "GET /view?filename=no_such_file.png",
        "status": status,
        "body": _json_or_text(body),
    }
    stamp = {
        "comfyui_version": version,
        "recorded": time.strftime("%Y-%m-%d"),
        "recorder": "tests/record_comfyui_contract.py",
    }
    return {name: {"_recorded": stamp, **content} for name, content in files.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--comfyui-dir", type=Path, default=os.environ.get("COMFYUI_DIR"), required=not os.environ.get("COMFYUI_DIR")
    )
    parser.add_argument("--out", type=Path, default=CONTRACT_DIR)
    args = parser.parse_args()
    from comfyui_server import start_comfyui

    with tempfile.TemporaryDirectory(prefix="facelab-contract-") as tmp, start_comfyui(args.comfyui_dir, tmp) as server:
        print(f"recording against {server.url}")
        files = record(server.url, args.comfyui_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (args.out / f"{name}.json").write_text(json.dumps(content, indent=1) + "\n")
        print(f"wrote {args.out / name}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
