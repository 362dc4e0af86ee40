"""Makeup prior speed on CPU: ms for a 1024x1024 source, landmarks given and end to end (with detection).

Run from the pack folder: `python bench/bench_makeup.py [--repeat N] [--threads T]`. Uses the test assets
(tests/provision_assets.py). Source: obama.jpg scaled to cover 1024x1024 and centre-cropped (face about
40% of the width); reference: grace_hopper.jpg (512x600). The first call (model loading, caches) is
excluded; the median and minimum of N calls are printed. Target: under 300 ms with landmarks given.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import provision_assets  # noqa: E402

ASSETS = provision_assets.default_dest()
os.environ.setdefault("FACELAB_MODELS_DIR", str(ASSETS / "models"))
os.environ.setdefault("FACELAB_OFFLINE", "1")

STRENGTH_SETS = {
    "defaults (lips, eyes, blush, brows)": None,
    "all five regions (foundation 0.5)": {"foundation": 0.5},
    "lips only": {"eyes": 0.0, "blush": 0.0, "brows": 0.0},
}


def square(name: str, size: int) -> torch.Tensor:
    with Image.open(ASSETS / "photos" / name) as im:
        im = im.convert("RGB")
        k = size / min(im.size)
        im = im.resize((round(im.width * k), round(im.height * k)), Image.BICUBIC)
        x0, y0 = (im.width - size) // 2, (im.height - size) // 2
        arr = np.asarray(im.crop((x0, y0, x0 + size, y0 + size)))
    return torch.from_numpy(arr.astype(np.float32) / 255.0)[None]


def photo(name: str) -> torch.Tensor:
    with Image.open(ASSETS / "photos" / name) as im:
        return torch.from_numpy(np.asarray(im.convert("RGB")).astype(np.float32) / 255.0)[None]


def timed(fn, repeat: int) -> tuple[float, float]:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), min(times)


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
