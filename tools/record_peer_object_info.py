"""Record the real /object_info of another node pack's nodes that a shipped workflow uses (schemas only, no code).

    python tools/record_peer_object_info.py COMFYUI_DIR PACK_DIR NODE [NODE ...] --out tests/data/peer_object_info/X.json

Starts ComfyUI (CPU, no models needed) with only PACK_DIR as a custom node pack, reads /object_info, keeps the named
nodes compacted as tests/data/core_object_info.json is (workflow_check.schema.compact_object_info), and writes them
with their provenance. The workflow checker merges these files into the core schemas (tools/export_api_workflows.py),
so a workflow wiring the pack's nodes is validated against what that pack really declares.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch_object_info(comfy_dir: Path, pack_dir: Path, timeout: float = 600) -> dict:
    python = comfy_dir / "venv" / "bin" / "python"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for sub in ("custom_nodes", "user", "temp", "output"):
            (work / sub).mkdir()
        (work / "custom_nodes" / pack_dir.name).symlink_to(pack_dir.resolve(), target_is_directory=True)
        extra = work / "extra_model_paths.yaml"
        extra.write_text(f"peer:\n  custom_nodes: {json.dumps(str(work / 'custom_nodes'))}\n")
        port = _free_port()
        cmd = [
            str(python if python.exists() else sys.executable),
            "main.py",
            "--cpu",
            "--listen",
            "127.0.0.1",
            "--port",
            str(port),
            "--disable-auto-launch",
            "--database-url",
            "sqlite:///:memory:",
            "--disable-all-custom-nodes",
            "--whitelist-custom-nodes",
            pack_dir.name,
            "--extra-model-paths-config",
            str(extra),
            "--temp-directory",
            str(work / "temp"),
            "--user-directory",
            str(work / "user"),
            "--output-directory",
            str(work / "output"),
        ]
        log = open(work / "comfyui.log", "wb")
        proc = subprocess.Popen(
            cmd,
            cwd=comfy_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"ComfyUI exited: {(work / 'comfyui.log').read_text()[-3000:]}")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/object_info", timeout=60) as resp:
                        return json.loads(resp.read())
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit("ComfyUI did not answer /object_info in time") from None
                    time.sleep(2.0)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("comfy_dir", type=Path)
    parser.add_argument("pack_dir", type=Path)
    parser.add_argument("nodes", nargs="+")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--source", default="", help="where the pack came from (recorded as provenance)")
    args = parser.parse_args(argv)
    from workflow_check.schema import compact_object_info

    full = fetch_object_info(args.comfy_dir, args.pack_dir)
    missing = [n for n in args.nodes if n not in full]
    if missing:
        raise SystemExit(f"not in /object_info (did the pack load?): {missing}")
    compact = compact_object_info({n: full[n] for n in args.nodes})
    head = {
        "_provenance": {
            "source": f"/object_info of ComfyUI ({args.comfy_dir.name}) with only the custom node "
            f"pack {args.pack_dir.name} loaded",
            "pack": args.source or args.pack_dir.name,
            "python_module": sorted({full[n].get("python_module", "") for n in args.nodes}),
            "nodes": len(compact),
        }
    }
    lines = [f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in {**head, **compact}.items()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    print(f"wrote {args.out} ({len(compact)} nodes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
