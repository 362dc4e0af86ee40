"""Crop + stitch speed and peak memory on CPU, through the nodes, before/after in one run (issue 16 targets).

Scenes: a 4096x4096 and a 1024x1024 portrait (obama.jpg scaled to cover the square, centre-cropped), one face,
its face oval as the mask (landmarks found on a 1024 copy). Crop Face Region and Stitch Face Region run with
their defaults (SDXL area 1024^2 crop, context 1.5, feather 0.1, colour match on, "add") on a colour-drifted
"inpaint" (gain + offset on every crop pixel). Stages, each as a JSON line (see bench_common.report):

- crop, stitch, crop + stitch (the sum per run) at both sizes; stitch with colour match off;
- colour match of a whole 1024^2 crop (ring statistics + mapping), the function alone;
- peak memory above the inputs during crop + stitch at 4096^2 (a fresh process per variant, VmHWM).

Every stage runs for the pack at `--baseline` (default: the commit before the issue-16 work; `none` to skip)
and for this checkout, in the same process, in turns (one run of each variant, then the next round), so that
both see the same load, for each torch thread count in `--threads`.

    .venv/bin/python bench/bench_compose.py [--repeat 5] [--threads 1,2] [--baseline REF|none] [--sizes 4096,1024]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common as bc  # noqa: E402  (paths, offline test assets, JSON lines)

BEFORE = "f19a324"  # the last commit before the issue-16 speed work
TARGETS = {  # issue 16, this machine
    ("crop + stitch", 4096): "<= 150 ms",
    ("crop + stitch", 1024): "<= 60 ms",
    ("colour match, whole crop", 1024): "<= 20 ms",
    ("peak memory, crop + stitch", 4096): "<= 1.2x the image",
}


def face_scene(size: int):
    """(image [1,S,S,3], face-oval mask [1,S,S]) of obama.jpg at size x size."""
    import facelab

    facelab.load_pack()
    from comfyui_facelab.nodes.face import detection
    from comfyui_facelab.nodes.face import face_landmarks as fl

    image = bc.square("obama.jpg", size)
    small = image if size == 1024 else bc.square("obama.jpg", 1024)
    face = fl.frame_faces(detection.detect(small), 0)[0]
    x0, y0, x1, y1 = (float(v) * size / 1024 for v in face["bbox_xyxy"])
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    mask = (((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0).astype(np.float32)
    return image, torch.from_numpy(mask)[None]


class Variant:
    """Crop + stitch through the nodes of one pack (this checkout or another commit)."""

    def __init__(self, label: str, pack):
        from importlib import import_module

        self.label = label
        compose = import_module(pack.__name__ + ".nodes.node_compose")
        self.crop_node, self.stitch_node = compose.FaceLabCrop(), compose.FaceLabStitch()
        self.crop_args, self.stitch_args = (
            bc.node_defaults(compose.FaceLabCrop),
            bc.node_defaults(compose.FaceLabStitch),
        )
        self.color_match = import_module(pack.__name__ + ".nodes.compose.color_match")
        self.stitch_args.pop("original", None)

    def crop(self, image, mask):
        return self.crop_node.crop(image, **self.crop_args, mask=mask)

    def stitch(self, image, crops, plan, **kw):
        return self.stitch_node.stitch(image, crops, plan, **{**self.stitch_args, **kw})


def drifted(crops: torch.Tensor, in_place: bool = False) -> torch.Tensor:
    """A colour-drifted "inpaint" of the crops (gain and offset per channel); in place for the memory figure."""
    out = crops if in_place else crops.clone()
    return out.mul_(torch.tensor([1.04, 0.97, 1.0])).add_(torch.tensor([0.05, -0.02, 0.04])).clamp_(0, 1)


def interleaved(stages: dict, repeat: int) -> dict:
    """bc.measure of every callable in stages, run in turns (a, b, c, a, b, c, ...): on a shared machine whose
    load changes from second to second, variants measured side by side see the same load."""
    for fn in stages.values():  # warm-up
        fn()
    times = {name: ([], []) for name in stages}
    for _ in range(repeat):
        for name, fn in stages.items():
            wall, cpu = bc.measure(fn, 1, warmup=0)
            times[name][0].extend(wall)
            times[name][1].extend(cpu)
    return times


def time_size(variants, size: int, repeat: int) -> None:
    image, mask = face_scene(size)
    stages, extras = {}, {}
    for v in variants:
        crops, _, plan, _ = v.crop(image, mask)
        edit = drifted(crops)
        extras[v.label] = {"variant": v.label, "crop": f"{crops.shape[2]}x{crops.shape[1]}", "faces": 1}
        stages[v.label, "crop"] = lambda v=v: v.crop(image, mask)
        stages[v.label, "stitch"] = lambda v=v, e=edit, p=plan: v.stitch(image, e, p)
        stages[v.label, "off"] = lambda v=v, e=edit, p=plan: v.stitch(image, e, p, color_match="off")
    times = interleaved(stages, repeat)
    for v in variants:
        extra = extras[v.label]
        (crop_w, crop_c), (st_w, st_c) = times[v.label, "crop"], times[v.label, "stitch"]
        off_w, off_c = times[v.label, "off"]
        bc.report("crop", size, crop_w, crop_c, **extra)
        bc.report("stitch", size, st_w, st_c, **extra)
        bc.report("stitch, colour match off", size, off_w, off_c, **extra)
        bc.report("crop + stitch", size, [a + b for a, b in zip(crop_w, st_w)], [a + b for a, b in zip(crop_c, st_c)],
                  target=TARGETS.get(("crop + stitch", size)), **extra)  # fmt: skip


def time_colour_match(variants, repeat: int) -> None:
    """The colour match of a whole 1024^2 crop: ring statistics and the mapping applied to every pixel."""
    ref = bc.square("obama.jpg", 1024)[0]
    crop = drifted(ref)
    yy, xx = torch.meshgrid(torch.arange(1024.0), torch.arange(1024.0), indexing="ij")
    r = ((xx - 512) ** 2 + (yy - 480) ** 2).sqrt()
    ring = (r > 300) & (r <= 340)  # a 40-px ring around a 600-px face
    times = interleaved(
        {v.label: lambda v=v: v.color_match.match_to_reference(crop, ref, ring) for v in variants}, repeat
    )
    for v in variants:
        w, c = times[v.label]
        bc.report(
            "colour match, whole crop", 1024, w, c, variant=v.label, target=TARGETS[("colour match, whole crop", 1024)]
        )


def peak_memory(ref: str | None, size: int) -> None:
    """In this (fresh) process: peak memory of one crop + stitch at size^2 through the nodes of `ref` or this checkout."""
    torch.set_num_threads(1)
    pack = bc.load_pack_at(ref) if ref else __import__("facelab").load_pack()
    v = Variant(ref or "this checkout", pack)
    image, mask = face_scene(size)
    crops, _, plan, _ = v.crop(image, mask)  # warm-up (allocator, caches), then measured from scratch
    v.stitch(image, drifted(crops), plan)
    del crops, plan

    def both():
        crops, _, plan, _ = v.crop(image, mask)
        return v.stitch(image, drifted(crops, in_place=True), plan)

    mb = bc.peak_extra_mb(both)
    image_mb = image.numel() * 4 / 2**20
    print(json.dumps({"stage": "peak memory, crop + stitch", "size": size, "variant": v.label, "peak_extra_mb": mb and round(mb, 1),
                      "x_image": mb and round(mb / image_mb, 2), "image_mb": round(image_mb, 1), "threads": 1,
                      "loadavg": bc.load_average(), "target": TARGETS[("peak memory, crop + stitch", 4096)]}))  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", default="1,2", help="torch thread counts to run each stage with, e.g. 1,2")
    ap.add_argument("--baseline", default=BEFORE, help="git ref to compare with in the same run, or 'none'")
    ap.add_argument("--sizes", default="4096,1024")
    ap.add_argument("--peak-only", default=None, help=argparse.SUPPRESS)  # internal: 'this' or a ref
    args = ap.parse_args()
    if args.peak_only is not None:
        peak_memory(None if args.peak_only == "this" else args.peak_only, 4096)
        return 0

    import facelab

    baseline = None if args.baseline.lower() == "none" else args.baseline
    variants = ([Variant(f"before ({baseline})", bc.load_pack_at(baseline))] if baseline else []) + [
        Variant("this checkout", facelab.load_pack())
    ]
    for threads in bc.thread_counts(args.threads):
        torch.set_num_threads(threads)
        for size in (int(s) for s in args.sizes.split(",")):
            time_size(variants, size, args.repeat)
        time_colour_match(variants, args.repeat)
    for ref in ([baseline] if baseline else []) + ["this"]:  # a fresh process each: peaks do not mix
        subprocess.run([sys.executable, __file__, "--peak-only", ref], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
