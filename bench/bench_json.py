"""JSON-line figures for the bench scripts: one line per stage, comparable across commits.

    {"stage", "size", "median_ms", "min_ms", "max_ms", "cpu_median_ms", "repeat", "threads", "loadavg", ...extra}

Wall time under a busy machine (load average above the core count) overstates the cost; cpu_median_ms (process
CPU time) is the steadier figure then.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time


def loadavg() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # not on this platform
        return []


def timed_stage(stage: str, size: str, fn, repeat: int = 5, warmup: int = 1, **extra) -> dict:
    """Run fn warmup + repeat times, print and return the JSON line of the repeats."""
    import torch

    for _ in range(warmup):
        fn()
    walls, cpus = [], []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append((time.perf_counter() - w0) * 1000)
        cpus.append((time.process_time() - c0) * 1000)
    row = {"stage": stage, "size": size, "median_ms": round(statistics.median(walls), 2),
           "min_ms": round(min(walls), 2), "max_ms": round(max(walls), 2),
           "cpu_median_ms": round(statistics.median(cpus), 2), "repeat": repeat,
           "threads": torch.get_num_threads(), "loadavg": loadavg(), **extra}
    sys.stdout.write(json.dumps(row) + "\n")
    sys.stdout.flush()
    return row
