"""Shared set-up for the bench scripts: import paths and the offline test assets (real models and photos).

Importing it puts the pack folder and tests/ on sys.path and points FACELAB_MODELS_DIR at the test assets
provisioned by tests/provision_assets.py (unless already set), with downloads off.
"""

from __future__ import annotations

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
