"""Photos per minute of `queue` over 1, 2 and 3 fake ComfyUI servers (tests/fake_comfyui.py, each running one
prompt at a time like ComfyUI) with a fixed simulated sampling time, and the dispatcher's own overhead per photo.

    .venv/bin/python bench/bench_dispatch.py [--photos 12] [--sample 0.5] [--repeat 3]

One JSON line per server count: photos/minute (median of --repeat runs), the ideal rate (servers * 60 / sample),
the scaling against one server, and the overhead per photo: (wall time - the time the servers spent sampling,
ceil(photos / servers) * sample) / photos per server, in ms: uploads, queueing, event handling, downloads, hashing
and manifest writes that did not overlap with sampling. Stdlib + the fake server (Pillow) only; no ComfyUI.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fake_comfyui import FakeComfyUI, contract  # noqa: E402

import facelab  # noqa: E402


def one_run(n_servers: int, photos: int, sample: float) -> float:
    """Wall seconds of one dispatch of `photos` photos over `n_servers` fresh fake servers."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        for i in range(photos):
            Image.new("RGB", (64, 64), (i * 7 % 256, 90, 160)).save(folder / f"p{i:03d}.png")
        workflow = Path(tmp) / "workflow_api.json"
        workflow.write_text(json.dumps(contract("run_success")["request"]["prompt"]))
        fakes = [stack.enter_context(FakeComfyUI(sample_time=sample)) for _ in range(n_servers)]
        servers = [a for f in fakes for a in ("--server", f.url)]
        if n_servers == 1:
            servers += ["--servers-file", os.devnull]  # one server, but through the dispatcher
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            rc = facelab.main(["queue", str(workflow), "--image", str(folder), *servers])
        wall = time.perf_counter() - start
        if rc != 0:
            raise SystemExit(f"dispatch over {n_servers} server(s) failed with exit code {rc}")
        return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=12)
    parser.add_argument("--sample", type=float, default=0.5, help="simulated sampling seconds per prompt")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    facelab.load_pack()
    base = None
    for n in (1, 2, 3):
        walls = [one_run(n, args.photos, args.sample) for _ in range(args.repeat)]
        wall = statistics.median(walls)
        rate = args.photos * 60 / wall
        base = base or rate
        sampling = math.ceil(args.photos / n) * args.sample
        print(
            json.dumps(
                {
                    "stage": "dispatch",
                    "servers": n,
                    "photos": args.photos,
                    "sample_s": args.sample,
                    "photos_per_min": round(rate, 1),
                    "ideal_per_min": round(n * 60 / args.sample, 1),
                    "scaling_vs_1": round(rate / base, 2),
                    "wall_s_median": round(wall, 3),
                    "wall_s_min_max": [round(min(walls), 3), round(max(walls), 3)],
                    "overhead_ms_per_photo": round((wall - sampling) * 1000 / math.ceil(args.photos / n), 1),
                    "threads": n * 2,
                    "loadavg": os.getloadavg()[0],
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
