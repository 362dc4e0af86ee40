"""Makeup prior speed on CPU: ms for a 1024x1024 source, landmarks given and end to end (with detection).

Run from the pack folder: `python bench/bench_makeup.py [--repeat N] [--threads T]`. Uses the test assets
(tests/provision_assets.py). Source: obama.jpg scaled to cover 1024x1024 and centre-cropped (face about
40% of the width); reference: grace_hopper.jpg (512x600). The first call (model loading, caches) is
excluded; the median and minimum of N calls are printed. Target: under 300 ms with landmarks given.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import photo, square, timed  # noqa: E402  (paths, offline test assets, helpers)

STRENGTH_SETS = {
    "defaults (lips, eyes, blush, brows)": None,
    "all five regions (foundation 0.5)": {"foundation": 0.5},
    "lips only": {"eyes": 0.0, "blush": 0.0, "brows": 0.0},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    import facelab

    facelab.load_pack()
    from comfyui_facelab.nodes.face import detection
    from comfyui_facelab.nodes.makeup import apply

    source, reference = square("obama.jpg", 1024), photo("grace_hopper.jpg")
    src_lm, ref_lm = detection.detect(source), detection.detect(reference)
    print(f"source {tuple(source.shape[1:3])}, reference {tuple(reference.shape[1:3])}, torch threads {torch.get_num_threads()}, "
          f"{os.cpu_count()} CPUs, {args.repeat} runs")  # fmt: skip
    for label, strengths in STRENGTH_SETS.items():
        med, best = timed(lambda: apply.transfer_batch(source, reference, src_lm, ref_lm, strengths=strengths), args.repeat)
        print(f"landmarks given, {label:38s} {med:8.1f} ms  (min {best:.1f})")
    med, best = timed(lambda: apply.transfer_batch(source, reference), args.repeat)
    print(f"end to end incl. detection of both, {'defaults':23s} {med:8.1f} ms  (min {best:.1f})")


if __name__ == "__main__":
    main()
