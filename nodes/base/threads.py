"""torch's intra-op thread count limited for one block of work, then restored: a local setting, never left changed.

Why: on a machine whose cores are shared (a 2-core box running other work, or ComfyUI's own threads), torch's
threads spin waiting for each other. Measured on the 2-core development machine at load average ~4-6
(bench/bench_anonymise.py): Pick Most Anonymous Candidate 117 ms per face with 1 thread, 960 ms with 2 (process
CPU 101 vs 402 ms per face); the dlib descriptor network 9 ms per chip with 1 thread, 75-190 ms with 2. Idle,
2 threads save ~40 % on the network. Stages on small tensors (face crops, 150 px chips) use at_most(1).
"""

from __future__ import annotations

import contextlib

import torch


@contextlib.contextmanager
def at_most(n: int):
    """torch.get_num_threads() is at most n inside the block and what it was after it (also on error)."""
    before = torch.get_num_threads()
    if before <= n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
