"""Start a real ComfyUI for tests and talk to it over HTTP (stdlib only).

`start_comfyui(comfy_dir, work_dir)` is a context manager that runs
`main.py --cpu --listen 127.0.0.1 --port <free> --database-url sqlite:///:memory:` from `comfy_dir` with throwaway
user/input/output/temp folders under `work_dir`, loads FaceLab as the only custom node pack, waits until
/object_info answers and stops the server (whole process group) on exit. The user's ComfyUI is not modified:

- if an entry of `<comfy_dir>/custom_nodes` already points at this checkout, that entry is whitelisted;
- otherwise a symlink `work_dir/custom_nodes/ComfyUI-FaceLab` is added through a temporary
  `--extra-model-paths-config` file (which also adds the test assets' `models/mediapipe` folder), so nothing is
  written into the ComfyUI folder. When the ComfyUI already has a `custom_nodes/ComfyUI-FaceLab` that is another
  checkout (tools/setup_comfyui.sh linked a different clone, or `.ci/run`'s fresh clone runs next to the developer's),
  the link gets a name of its own (`ComfyUI-FaceLab-<hash of this checkout's path>`) and only that name is
  whitelisted, so the other copy is not loaded.

The `comfyui` fixture (session-scoped) wraps it for pytest tests marked `@pytest.mark.comfyui`; it reads
$COMFYUI_DIR and, optionally, $COMFYUI_PYTHON (default `$COMFYUI_DIR/venv/bin/python`, else this interpreter).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACK_LINK_NAME = "ComfyUI-FaceLab"
# Lines in ComfyUI's log that mean a custom node pack failed to import.
IMPORT_FAILURE_MARKERS = ("IMPORT FAILED", "Cannot import", "Traceback (most recent call last)")


class ComfyUIError(RuntimeError):
    """ComfyUI did not start, rejected a prompt, or a prompt failed; the message carries the details."""


class PromptRejected(ComfyUIError):
    """POST /prompt answered an error (HTTP 400): `body` holds ComfyUI's `error` and `node_errors`."""

    def __init__(self, status: int, body: object):
        self.status, self.body = status, body
        super().__init__(f"ComfyUI rejected the prompt (HTTP {status}): {json.dumps(body, indent=1)[:4000]}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def comfyui_python(comfy_dir: Path) -> str:
    """$COMFYUI_PYTHON, else ComfyUI's own venv, else the interpreter running the tests."""
    env = os.environ.get("COMFYUI_PYTHON")
    if env:
        return env
    venv_python = Path(comfy_dir) / "venv" / "bin" / "python"
    return str(venv_python) if venv_python.exists() else sys.executable


def temporary_link_name(comfy_dir: Path) -> str:
    """PACK_LINK_NAME, or a name of this checkout's own when the ComfyUI has another entry of that name."""
    if not os.path.lexists(Path(comfy_dir) / "custom_nodes" / PACK_LINK_NAME):
        return PACK_LINK_NAME
    return f"{PACK_LINK_NAME}-{hashlib.sha1(str(ROOT).encode()).hexdigest()[:8]}"


def existing_pack_link(comfy_dir: Path) -> str | None:
    """Name of the entry in `<comfy_dir>/custom_nodes` that resolves to this checkout, if any."""
    custom_nodes = Path(comfy_dir) / "custom_nodes"
    if not custom_nodes.is_dir():
        return None
    for entry in sorted(custom_nodes.iterdir()):
        with contextlib.suppress(OSError):
            if entry.resolve() == ROOT:
                return entry.name
    return None


def _multipart(fields: dict[str, str], file_field: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    out.write(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{filename}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode()
    )
    out.write(data + f"\r\n--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


@dataclass
class ComfyUIServer:
    """A running ComfyUI: its URL, folders and log, plus the HTTP calls tests need."""

    url: str
    comfy_dir: Path
    work_dir: Path
    log_path: Path
    proc: subprocess.Popen
    input_dir: Path
    output_dir: Path
    pack_folder: str  # the pack's folder name in custom_nodes (what ComfyUI's import report shows)
    client_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    # --- plumbing ---------------------------------------------------------------------------------------
    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_text()[-chars:]

    def request(
        self,
        path: str,
        payload: object = None,
        *,
        data: bytes | None = None,
        content_type: str | None = None,
        timeout: float = 60,
    ) -> tuple[int, bytes]:
        """(HTTP status, body) of a GET (no payload/data) or POST; HTTP errors are returned, not raised."""
        if payload is not None:
            data, content_type = json.dumps(payload).encode(), "application/json"
        headers = {"Content-Type": content_type} if content_type else {}
        req = urllib.request.Request(self.url + path, data=data, headers=headers, method="POST" if data else "GET")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def get_json(self, path: str, timeout: float = 60):
        status, body = self.request(path, timeout=timeout)
        if status != 200:
            raise ComfyUIError(f"GET {path} answered HTTP {status}: {body[:500]!r}")
        return json.loads(body)

    # --- API ---------------------------------------------------------------------------------------------
    def object_info(self) -> dict:
        return self.get_json("/object_info")

    def upload_image(self, data: bytes, filename: str, subfolder: str = "", overwrite: bool = True) -> str:
        """Upload bytes to ComfyUI's input folder; returns the name to put in LoadImage's `image` input."""
        fields = {"type": "input", "overwrite": "true" if overwrite else "false"}
        if subfolder:
            fields["subfolder"] = subfolder
        body, ctype = _multipart(fields, "image", filename, data)
        status, resp = self.request("/upload/image", data=body, content_type=ctype)
        if status != 200:
            raise ComfyUIError(f"upload of {filename} answered HTTP {status}: {resp[:500]!r}")
        info = json.loads(resp)
        return f"{info['subfolder']}/{info['name']}" if info.get("subfolder") else info["name"]

    def queue_prompt(self, prompt: dict) -> str:
        """POST an API-format graph; returns its prompt_id or raises PromptRejected with ComfyUI's node_errors."""
        status, body = self.request("/prompt", {"prompt": prompt, "client_id": self.client_id})
        parsed = json.loads(body) if body[:1] in (b"{", b"[") else body.decode(errors="replace")
        if status != 200 or not isinstance(parsed, dict) or parsed.get("node_errors"):
            raise PromptRejected(status, parsed)
        return parsed["prompt_id"]

    def wait_for(self, prompt_id: str, timeout: float = 900, poll: float = 1.0) -> dict:
        """The /history entry of a finished prompt; raises with ComfyUI's error messages if it failed."""
        deadline = time.monotonic() + timeout
        while True:
            entry = self.get_json(f"/history/{prompt_id}").get(prompt_id)
            if entry:  # ComfyUI writes the history entry once the prompt has finished, whatever the outcome
                break
            if self.proc.poll() is not None:
                raise ComfyUIError(
                    f"ComfyUI exited ({self.proc.returncode}) while running {prompt_id}:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise ComfyUIError(f"prompt {prompt_id} did not finish in {timeout:.0f}s:\n{self.log_tail()}")
            time.sleep(poll)
        status = entry["status"]
        if status.get("status_str") != "success":
            errors = [
                m for m in status.get("messages", []) if m and m[0] in ("execution_error", "execution_interrupted")
            ]
            raise ComfyUIError(
                f"prompt {prompt_id} ended with {status.get('status_str')}: "
                f"{json.dumps(errors, indent=1)[:4000]}\n--- log tail ---\n{self.log_tail(2000)}"
            )
        return entry

    def run(self, prompt: dict, timeout: float = 900) -> dict:
        """Queue a prompt and wait for it; returns its /history entry."""
        return self.wait_for(self.queue_prompt(prompt), timeout=timeout)

    def view(self, ref: dict) -> bytes:
        """Bytes of one output file, `ref` being an entry of a history output's `images` list."""
        query = urllib.parse.urlencode({k: ref.get(k, "") for k in ("filename", "subfolder", "type")})
        status, body = self.request(f"/view?{query}")
        if status != 200:
            raise ComfyUIError(f"/view?{query} answered HTTP {status}")
        return body

    def output_images(self, entry: dict, node_id: str) -> list[bytes]:
        """The files a node (SaveImage/PreviewImage) produced in a finished prompt, in order."""
        refs = entry.get("outputs", {}).get(str(node_id), {}).get("images", [])
        return [self.view(ref) for ref in refs]

    def import_failures(self) -> list[str]:
        """Log blocks reporting an import failure or a traceback that involve this pack."""
        needles = ("facelab", self.pack_folder.lower(), str(ROOT).lower())
        hits = []
        for block in self.log_text().split("\n\n"):
            if any(marker in block for marker in IMPORT_FAILURE_MARKERS) and any(n in block.lower() for n in needles):
                hits.append(block.strip()[-2000:])
        return hits


# --- preparing shipped workflows for a test run ------------------------------------------------------------
# Conventions the shipped workflows follow so that a test can check them (see docs/testing.md):
RESULT_TITLE = "Save Result"  # SaveImage nodes whose output must match the input outside the edit mask
EDIT_MASK_TITLE = "Edit Mask"  # LoadImageMask, or PreviewImage/SaveImage of the mask, giving the edit region
TEST_CHECKPOINT = os.environ.get("FACELAB_TEST_CHECKPOINT", "random_sdxl_inpaint.safetensors")
SAMPLER_TYPES = ("KSampler", "KSamplerAdvanced")


def titled(prompt: dict, prefix: str, class_types: tuple = ()) -> list[str]:
    """Ids of nodes whose _meta title starts with `prefix` (optionally of the given class types)."""
    return [
        nid
        for nid, node in prompt.items()
        if node.get("_meta", {}).get("title", "").startswith(prefix)
        and (not class_types or node["class_type"] in class_types)
    ]


# Widget values that keep a CPU run of a shipped workflow short (SDXL at its smallest crop, small tiles so that a
# small photo still splits into several, two variants where a workflow samples a batch) and make sure the edit path
# runs on the test portrait. Linked inputs are left alone.
QUICK_RUN_INPUTS = {
    ("FaceLabCrop", "target_size"): 256,
    ("FaceLabCrop", "min_context"): 128,
    ("FaceLabTileSplit", "tile_size"): 128,
    ("FaceLabTileSplit", "overlap"): 32,
    ("FaceLabSweepStrengths", "strengths"): "0.3, 0.5",
    ("RepeatImageBatch", "amount"): 1,
    # The test portrait smiles a little: ask for a broad smile so that the expression fix really edits it.
    ("FaceLabExpressionAnalysis", "fix"): "smile",
    ("FaceLabExpressionAnalysis", "smile_threshold"): 1.0,
}


def for_quick_run(prompt: dict, checkpoint: str = TEST_CHECKPOINT, steps: int = 1) -> dict:
    """A copy of an API workflow set up for a CPU test: the test checkpoint, `steps` sampling steps, small sizes."""
    out = json.loads(json.dumps(prompt))
    for node in out.values():
        inputs, kind = node["inputs"], node["class_type"]
        if kind == "CheckpointLoaderSimple":
            inputs["ckpt_name"] = checkpoint
        quick_steps = kind in SAMPLER_TYPES or kind in ("FaceLabSweepStrengths", "BasicScheduler")
        if quick_steps and not isinstance(inputs.get("steps"), list):
            inputs["steps"] = steps
        for (cls, name), value in QUICK_RUN_INPUTS.items():
            if kind == cls and name in inputs and not isinstance(inputs[name], list):
                inputs[name] = value
    return out


def png_bytes(array) -> bytes:
    """PNG of a uint8 array (H,W) or (H,W,3)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def read_png(data: bytes):
    """uint8 RGB array of a PNG/JPEG returned by /view."""
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB")).copy()


def _write_extra_paths(work_dir: Path, link_name: str | None, mediapipe_dir: Path | None) -> Path | None:
    entries = {}
    if link_name:
        (work_dir / "custom_nodes").mkdir(parents=True, exist_ok=True)
        link = work_dir / "custom_nodes" / link_name
        if not link.exists():
            link.symlink_to(ROOT, target_is_directory=True)
        entries["custom_nodes"] = str(work_dir / "custom_nodes")
    if mediapipe_dir is not None and mediapipe_dir.is_dir():
        entries["mediapipe"] = str(mediapipe_dir)
    if not entries:
        return None
    # extra_model_paths.yaml format: one named section, absolute paths (no base_path needed).
    path = work_dir / "extra_model_paths.yaml"
    path.write_text("facelab_tests:\n" + "".join(f"  {k}: {json.dumps(v)}\n" for k, v in entries.items()))
    return path


@contextlib.contextmanager
def start_comfyui(
    comfy_dir: Path | str,
    work_dir: Path | str,
    *,
    python: str | None = None,
    mediapipe_dir: Path | None = None,
    startup_timeout: float = 240,
    extra_args: tuple = (),
):
    """Run ComfyUI with FaceLab as its only custom node pack; yields a ComfyUIServer, stops it on exit."""
    comfy_dir, work_dir = Path(comfy_dir).resolve(), Path(work_dir).resolve()
    if not (comfy_dir / "main.py").is_file():
        raise ComfyUIError(
            f"{comfy_dir} is not a ComfyUI folder (no main.py); set COMFYUI_DIR to your ComfyUI checkout"
        )
    work_dir.mkdir(parents=True, exist_ok=True)
    dirs = {name: work_dir / name for name in ("user", "input", "output", "temp")}
    for d in dirs.values():
        d.mkdir(exist_ok=True)

    linked_as = existing_pack_link(comfy_dir)
    # Another FaceLab copy under the same folder name would be whitelisted too and shadow this checkout: the
    # temporary link then takes a name of its own (temporary_link_name).
    folder = linked_as or temporary_link_name(comfy_dir)
    extra_paths = _write_extra_paths(work_dir, None if linked_as else folder, mediapipe_dir)

    port = free_port()
    cmd = [
        python or comfyui_python(comfy_dir),
        "main.py",
        "--cpu",
        "--listen",
        "127.0.0.1",
        "--port",
        str(port),
        "--disable-auto-launch",
        "--database-url",
        "sqlite:///:memory:",
        "--user-directory",
        str(dirs["user"]),
        "--input-directory",
        str(dirs["input"]),
        "--output-directory",
        str(dirs["output"]),
        "--temp-directory",
        str(dirs["temp"]),
        "--disable-all-custom-nodes",
        "--whitelist-custom-nodes",
        folder,
        *extra_args,
    ]
    if extra_paths:
        cmd += ["--extra-model-paths-config", str(extra_paths)]
    env = dict(os.environ, FACELAB_OFFLINE="1", PYTHONUNBUFFERED="1", NO_ALBUMENTATIONS_UPDATE="1")
    env.pop("FACELAB_MODELS_DIR", None)  # inside ComfyUI models resolve through folder_paths only

    log_path = work_dir / "comfyui.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=comfy_dir, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    server = ComfyUIServer(
        f"http://127.0.0.1:{port}", comfy_dir, work_dir, log_path, proc, dirs["input"], dirs["output"], folder
    )
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                raise ComfyUIError(
                    f"ComfyUI exited with code {proc.returncode} during start-up "
                    f"(command: {' '.join(cmd)}):\n{server.log_tail()}"
                )
            with contextlib.suppress(OSError, ValueError):
                status, _ = server.request("/object_info", timeout=30)
                if status == 200:
                    break
            if time.monotonic() > deadline:
                raise ComfyUIError(
                    f"ComfyUI did not answer /object_info within {startup_timeout:.0f}s:\n{server.log_tail()}"
                )
            time.sleep(1.0)
        yield server
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group, then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


_SESSION: dict = {}


@pytest.fixture(scope="session")
def comfyui(tmp_path_factory, request):
    """A ComfyUI started from $COMFYUI_DIR, shared by the whole session (tests using it must be marked `comfyui`).

    Test modules import this fixture; the server is cached here so that importing it into several modules
    still starts a single ComfyUI, stopped when pytest exits.
    """
    comfy_dir = os.environ.get("COMFYUI_DIR")
    if not comfy_dir:
        pytest.skip("COMFYUI_DIR is not set")
    if "server" not in _SESSION:
        from conftest import MODELS_DIR

        stack = contextlib.ExitStack()
        _SESSION["server"] = stack.enter_context(
            start_comfyui(comfy_dir, tmp_path_factory.mktemp("comfyui"), mediapipe_dir=MODELS_DIR / "mediapipe")
        )
        request.config.add_cleanup(stack.close)
    return _SESSION["server"]
