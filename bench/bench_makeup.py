"""Makeup prior speed on CPU: a 1024x1024 source, landmarks given (and end to end), before/after in one run.

Run from the pack folder: `python bench/bench_makeup.py [--repeat N] [--threads 1,2] [--baseline REF|none]`.
Uses the test assets (tests/provision_assets.py). Source: obama.jpg scaled to cover 1024x1024 and
centre-cropped (face about 40% of the width); reference: grace_hopper.jpg (512x600). The first call (model
loading, caches) is excluded. Each figure is a JSON line (bench_common.report), for the pack at --baseline
(default: the commit before the issue-16 work) and for this checkout, call by call in turn (the same load for
both). Target (issue 16): <= 100 ms with landmarks given.
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common as bc  # noqa: E402  (paths, offline test assets, JSON lines)

BEFORE = "f19a324"  # the last commit before the issue-16 speed work
STRENGTH_SETS = {
    "defaults (lips, eyes, blush, brows)": None,
    "all five regions (foundation 0.5)": {"foundation": 0.5},
    "lips only": {"eyes": 0.0, "blush": 0.0, "brows": 0.0},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--threads", default="1,2", help="torch thread counts, e.g. 1,2")
    ap.add_argument("--baseline", default=BEFORE, help="git ref to compare with in the same run, or 'none'")
    ap.add_argument("--end-to-end", action="store_true", help="also time detection of both images")
    args = ap.parse_args()

    import facelab

    packs = [("this checkout", facelab.load_pack())]
    if args.baseline.lower() != "none":
        packs.insert(0, (f"before ({args.baseline})", bc.load_pack_at(args.baseline)))
    detection = import_module(packs[-1][1].__name__ + ".nodes.face.detection")
    source, reference = bc.square("obama.jpg", 1024), bc.photo("grace_hopper.jpg")
    src_lm, ref_lm = detection.detect(source), detection.detect(reference)
    applies = {label: import_module(pack.__name__ + ".nodes.makeup.apply") for label, pack in packs}
    for threads in bc.thread_counts(args.threads):
        torch.set_num_threads(threads)
        for name, strengths in STRENGTH_SETS.items():
            fns = {label: lambda a=apply, s=strengths: a.transfer_batch(source, reference, src_lm, ref_lm, strengths=s)
                   for label, apply in applies.items()}  # fmt: skip
            target = "<= 100 ms" if strengths is None else None
            results = {label: fn() for label, fn in fns.items()}
            first = next(iter(results.values()))
            diffs = {  # each variant's prior and mask against the first variant's: same output?
                label: {"max_abs_diff_vs_before": max(float((first.image - r.image).abs().max()),
                                                      float((first.mask - r.mask).abs().max()))}
                for label, r in list(results.items())[1:]
            }  # fmt: skip
            for label, (w, c) in bc.measure_interleaved(fns, args.repeat).items():  # variants in turn, same load
                bc.report(f"makeup prior, landmarks given, {name}", 1024, w, c, variant=label, target=target,
                          **diffs.get(label, {}))  # fmt: skip
        for label, apply in applies.items():
            if args.end_to_end:
                w, c = bc.measure(lambda a=apply: a.transfer_batch(source, reference), max(2, args.repeat // 3))
                bc.report("makeup prior, end to end incl. detection of both", 1024, w, c, variant=label)


if __name__ == "__main__":
    main()
