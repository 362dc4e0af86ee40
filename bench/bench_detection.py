"""Face detection speed per photo and mode, and the cost of each meshing mode of full_range.

Run from the pack folder: `python bench/bench_detection.py [--repeat N] [--modes full_range,standard,...]`.
Uses the test assets (tests/provision_assets.py) for the models and photos. Prints JSON lines:
  {"stage": "detect", "mode", "photo", "size", "faces", "median_ms", "min_ms", "max_ms", "threads", "loadavg"}
  {"stage": "full_range_find", ..., "tiles", "passes"}  the detector pyramid + confirmation only (no meshing):
                                                 tiles of the pyramid and full-range detector passes in all
  {"stage": "mesh_per_face", "meshing", ...}     one face meshed on its crop, per meshing mode
With `--baseline REF` the same stages also run for the pack at git ref REF in the same process, interleaved
(field "code": "this" or REF). Every line has median/min/max wall ms, the median and minimum process CPU ms (the work,
whatever the load; all threads of the process), torch threads, CPU count and the load average.
Photos: t1.jpg (1280 x 886, six ~100 px faces) and t1 scaled to 1920 px wide; the synthetic 1920 x 1280 group
photo of tests/group_photo.py (eight faces of 32-200 px, rolled up to 40 degrees); grace_hopper.jpg (portrait)
and a 4096 x 4096 copy of it; the 1927 Solvay group photo (1280 x 926 grey, 29 faces of 35-50 px) when provisioned. Inputs are ComfyUI IMAGE tensors (float32 0..1). The first call of each
configuration (model loading) is excluded.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common  # noqa: E402  (sets up sys.path and the offline test assets)
from bench_common import photo, square  # noqa: E402

MODES = ("full_range", "standard", "small_faces", "auto")


def _env() -> dict:
    return {"threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "loadavg": os.getloadavg()[0]}


_cpu: list[float] = []  # process CPU ms of the last _times() calls: the work, whatever the machine's load


def _times(fn, repeat: int) -> list[float]:
    fn()  # warm-up: model loading
    out = []
    _cpu.clear()
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        out.append((time.perf_counter() - t) * 1000)
        _cpu.append((time.process_time() - c) * 1000)
    return out


def _line(stage: str, times: list[float], **fields) -> None:
    figures = {
        "median_ms": round(statistics.median(times), 1),
        "min_ms": round(min(times), 1),
        "max_ms": round(max(times), 1),
    }
    if _cpu:
        figures["cpu_median_ms"] = round(statistics.median(_cpu), 1)
        figures["cpu_min_ms"] = round(min(_cpu), 1)
    print(json.dumps({"stage": stage, **fields, **figures, **_env()}), flush=True)


@contextlib.contextmanager
def _counting(module, name: str):
    """Count the calls of module.<name> inside the block: yields a one-item list holding the count."""
    original, calls = getattr(module, name), [0]

    def counted(*args, **kwargs):
        calls[0] += 1
        return original(*args, **kwargs)

    setattr(module, name, counted)
    try:
        yield calls
    finally:
        setattr(module, name, original)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--photos", default="", help="comma-separated photo labels to keep (default: all)")
    ap.add_argument("--baseline", default="none", help="a git ref to time side by side with this code, or 'none'")
    args = ap.parse_args()

    import facelab

    facelab.load_pack()
    import group_photo

    t1 = photo("t1.jpg")
    t1_1920 = torch.nn.functional.interpolate(t1.permute(0, 3, 1, 2), size=(1329, 1920), mode="bicubic").clamp(0, 1)
    group = torch.from_numpy(group_photo.build()[0].astype(np.float32) / 255)[None]
    photos = {
        "t1.jpg": t1,
        "t1.jpg@1920": t1_1920.permute(0, 2, 3, 1).contiguous(),
        "group_photo 1920x1280": group,
        "grace_hopper.jpg": photo("grace_hopper.jpg"),
        "grace_hopper 4096^2": square("grace_hopper.jpg", 4096),
    }
    if (bench_common.ASSETS / "photos" / "solvay_1927.png").is_file():  # optional (Debian package, see provisioning)
        photos["solvay_1927.png"] = photo("solvay_1927.png")
    if args.photos:
        photos = {k: v for k, v in photos.items() if k in args.photos.split(",")}
    packs = [("this", "comfyui_facelab")]
    if args.baseline.lower() != "none":
        packs.append((args.baseline, bench_common.load_pack_at(args.baseline).__name__))
    for mode in args.modes.split(","):
        for name, img in photos.items():
            if mode == "small_faces" and "4096" in name:
                repeat = 1  # the tile search grows with the megapixels
            else:
                repeat = args.repeat
            for code, pkg in packs:  # side by side: the same input under the same load
                det = importlib.import_module(pkg + ".nodes.face.detection")
                faces = sum(len(f) for f in det.detect(img, max_faces=64, mode=mode)["frames"])
                times = _times(lambda img=img, mode=mode, det=det: det.detect(img, max_faces=64, mode=mode), repeat)
                _line("detect", times, mode=mode, photo=name, size=list(img.shape[1:3]), faces=faces, code=code)
    if "full_range" in args.modes:
        for name in [n for n in ("t1.jpg@1920", "group_photo 1920x1280", "solvay_1927.png") if n in photos]:
            for code, pkg in packs:
                _full_range_stages(importlib.import_module(pkg + ".nodes.face"), name, photos[name], args.repeat, code)


def _full_range_stages(face, name: str, img, repeat: int, code: str) -> None:
    """full_range_find and mesh_per_face lines for one photo, with the pack whose nodes.face package is `face`."""
    full_range = importlib.import_module(face.__name__ + ".full_range")
    frame = importlib.import_module(face.__name__ + ".detection")._Frame(img[0])
    with _counting(full_range.landmarker, "detect_full_range") as passes:
        found = full_range.find_faces(frame, 0.5)
    times = _times(lambda: full_range.find_faces(frame, 0.5), repeat)
    tiles = len(full_range.tile_pyramid(frame.W, frame.H))
    _line(
        "full_range_find", times, photo=name, size=[frame.H, frame.W], faces=len(found), tiles=tiles,
        passes=passes[0], code=code,
    )  # fmt: skip
    for meshing in full_range.MESHING_MODES:

        def mesh_all(meshing=meshing):
            for f in found:
                full_range.mesh_face(frame, f, meshing)

        per_face = [t / len(found) for t in _times(mesh_all, repeat)]
        _cpu[:] = [c / len(found) for c in _cpu]
        _line("mesh_per_face", per_face, meshing=meshing, photo=name, faces=len(found), code=code)


if __name__ == "__main__":
    main()
