"""Time and memory of an API workflow in a real ComfyUI with the random SDXL-inpaint checkpoint (CPU).

    COMFYUI_DIR=../comfyui .venv/bin/python bench/bench_comfyui_workflow.py [--workflow PATH] [--size 256x296]
        [--steps 1] [--runs 2]

Prints the server start-up time, then per run the wall time from queueing to the history entry, ComfyUI's own
"Prompt executed in" figure and the server's peak resident memory (VmHWM). Run 1 includes loading the checkpoint;
later runs change the seed so that the sampler runs again with the model already in memory.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from comfyui_server import for_quick_run, png_bytes, start_comfyui  # noqa: E402
from conftest import MODELS_DIR, load_photo  # noqa: E402

DEFAULT_WORKFLOW = ROOT / "tests" / "data" / "workflows" / "api" / "core_inpaint_smoke.json"


def peak_rss_gb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1e6
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflow", type=Path, default=DEFAULT_WORKFLOW)
    parser.add_argument("--size", default="256x296", help="input WIDTHxHEIGHT")
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    comfy_dir = os.environ.get("COMFYUI_DIR")
    if not comfy_dir:
        print("set COMFYUI_DIR to a ComfyUI folder (see docs/testing.md)", file=sys.stderr)
        return 2
    import numpy as np
    from PIL import Image

    w, h = (int(v) for v in args.size.lower().split("x"))
    portrait = np.asarray(Image.fromarray(load_photo("grace_hopper.jpg")).resize((w, h), Image.LANCZOS))
    mask = np.zeros((h, w), np.uint8)
    mask[h // 6 : h // 3, w // 4 : 3 * w // 4] = 255
    prompt = for_quick_run(json.loads(args.workflow.read_text()), steps=args.steps)

    t0 = time.perf_counter()
    with start_comfyui(
        comfy_dir, tempfile.mkdtemp(prefix="facelab-bench-"), mediapipe_dir=MODELS_DIR / "mediapipe"
    ) as server:
        print(f"workflow {args.workflow.name}, input {w}x{h}, {args.steps} step(s)")
        print(f"server start-up: {time.perf_counter() - t0:.1f} s, peak RSS {peak_rss_gb(server.proc.pid):.2f} GB")
        for node in prompt.values():
            if node["class_type"] == "LoadImage":
                server.upload_image(png_bytes(portrait), node["inputs"]["image"])
            elif node["class_type"] == "LoadImageMask":
                server.upload_image(png_bytes(np.dstack([mask] * 3)), node["inputs"]["image"])
        for run in range(1, args.runs + 1):
            for node in prompt.values():
                if "seed" in node["inputs"] and not isinstance(node["inputs"]["seed"], list):
                    node["inputs"]["seed"] = run
            t = time.perf_counter()
            server.run(prompt, timeout=3600)
            wall = time.perf_counter() - t
            executed = re.findall(r"Prompt executed in ([\d.:]+)", server.log_text())
            print(
                f"run {run}: wall {wall:.1f} s, ComfyUI 'Prompt executed in' {executed[-1] if executed else '?'}, "
                f"server peak RSS {peak_rss_gb(server.proc.pid):.2f} GB"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
