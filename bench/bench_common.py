"""Shared set-up for the bench scripts: import paths and the offline test assets (real models and photos).

Importing it puts the pack folder and tests/ on sys.path and points FACELAB_MODELS_DIR at the test assets
provisioned by tests/provision_assets.py (unless already set), with downloads off. `report` prints the
figures as JSON lines (stage, size, median/min/max ms, CPU ms, torch threads, load average); `load_pack_at`
loads the pack of another commit beside this one, for before/after figures from the same run, and
`measure_interleaved` times such variants call by call in turn, so they see the same load.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
for _p in (ROOT, ROOT / "tests"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import provision_assets  # noqa: E402

ASSETS = provision_assets.default_dest()
os.environ.setdefault("FACELAB_MODELS_DIR", str(ASSETS / "models"))
os.environ.setdefault("FACELAB_OFFLINE", "1")


def square(name: str, size: int) -> torch.Tensor:
    """A test photo scaled to cover size x size and centre-cropped, as an IMAGE tensor."""
    with Image.open(ASSETS / "photos" / name) as im:
        im = im.convert("RGB")
        k = size / min(im.size)
        im = im.resize((round(im.width * k), round(im.height * k)), Image.BICUBIC)
        x0, y0 = (im.width - size) // 2, (im.height - size) // 2
        arr = np.asarray(im.crop((x0, y0, x0 + size, y0 + size)))
    return torch.from_numpy(arr.astype(np.float32) / 255.0)[None]


def photo(name: str) -> torch.Tensor:
    """A test photo as an IMAGE tensor [1,H,W,3]."""
    with Image.open(ASSETS / "photos" / name) as im:
        return torch.from_numpy(np.asarray(im.convert("RGB")).astype(np.float32) / 255.0)[None]


def timed(fn, repeat: int) -> tuple[float, float]:
    """Median and minimum milliseconds of `repeat` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), min(times)


# --- JSON-line figures (one object per line: compare them across commits with jq or a spreadsheet) ------------


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (the machine is shared: a figure means little without them)."""
    try:
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return [float(v) for v in os.getloadavg()]


def measure(fn, repeat: int, warmup: int = 1) -> tuple[list[float], list[float]]:
    """Wall and CPU (this process) milliseconds of `repeat` calls, after `warmup` calls."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return wall, cpu


def measure_interleaved(fns: dict, repeat: int, warmup: int = 1) -> dict:
    """measure() for several variants of one stage, call by call in turn (a, b, a, b, ...): on a shared machine
    whose load drifts, each variant then sees the same load. {name: (wall ms list, CPU ms list)}."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    out = {name: ([], []) for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t, c = time.perf_counter(), time.process_time()
            fn()
            out[name][0].append((time.perf_counter() - t) * 1000)
            out[name][1].append((time.process_time() - c) * 1000)
    return out


def timed_stage(stage: str, size, fn, repeat: int = 5, warmup: int = 1, **extra) -> dict:
    """measure() then report(): one JSON line for `repeat` calls of fn after `warmup` calls."""
    wall, cpu = measure(fn, repeat, warmup)
    return report(stage, size, wall, cpu, **extra)


def report(stage: str, size, wall_ms: list[float], cpu_ms: list[float] | None = None, **extra) -> dict:
    """Print one JSON line: stage, size, median/min/max ms, CPU median ms, torch threads, load average, extras.

    CPU time is this process's (all its threads): on a busy shared machine it is the steadier figure, while
    wall time includes waiting for a core.
    """
    line = {
        "stage": stage,
        "size": size,
        "median_ms": round(statistics.median(wall_ms), 2),
        "min_ms": round(min(wall_ms), 2),
        "max_ms": round(max(wall_ms), 2),
        "cpu_median_ms": None if cpu_ms is None else round(statistics.median(cpu_ms), 2),
        "runs": len(wall_ms),
        "threads": torch.get_num_threads(),
        "loadavg": load_average(),
        **extra,
    }
    print(json.dumps(line), flush=True)
    return line


def thread_counts(arg: str) -> list[int]:
    """'1,2' -> [1, 2]; '0' -> torch's default."""
    return [int(v) if int(v) > 0 else torch.get_num_threads() for v in arg.split(",")]


def node_defaults(node_cls) -> dict:
    """A ComfyUI node's widget defaults by input name (a combo: its default, else its first choice)."""
    out = {}
    for section in ("required", "optional"):
        for name, spec in node_cls.INPUT_TYPES().get(section, {}).items():
            kind, opts = spec[0], spec[1] if len(spec) > 1 else {}
            if isinstance(kind, list):
                out[name] = opts.get("default", kind[0])
            elif "default" in opts:
                out[name] = opts["default"]
    return out


# --- peak memory ----------------------------------------------------------------------------------------------


def rss_kb(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def peak_extra_mb(fn) -> float | None:
    """Peak resident memory above the current level while fn() runs (VmHWM after a reset), MiB; None if unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    except OSError:
        return None
    base = rss_kb()
    result = fn()
    peak = (rss_kb("VmHWM") - base) / 1024
    del result
    return peak


# --- the same stages at another commit, in the same process --------------------------------------------------


def load_pack_at(ref: str):
    """The pack as it was at git ref `ref` (e.g. a commit before an optimisation), as package facelab_at_<ref>.

    Extracted with `git archive` into a temporary folder and imported under its own name, so the old and the
    new code run side by side in one process, on the same inputs, under the same load.
    """
    import importlib.util
    import re
    import subprocess
    import tarfile
    import tempfile

    name = "facelab_at_" + re.sub(r"\W", "_", ref)
    if name in sys.modules:
        return sys.modules[name]
    dest = Path(tempfile.mkdtemp(prefix=name))
    data = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    spec = importlib.util.spec_from_file_location(name, dest / "__init__.py", submodule_search_locations=[str(dest)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
