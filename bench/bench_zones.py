"""Zone mask and visible-skin cost: all 25 zone masks of one face at 1024^2 and 4096^2, and a 6-face photo.

Run from the pack folder:  .venv/bin/python bench/bench_zones.py [--repeat 5] [--baseline REF|none]
Needs the test assets (python tests/provision_assets.py). Prints one JSON line per stage (bench_common.py): the
geometry-only masks (visible_skin off, as before), the per-face skin model (face_skin: skin colour model + the
camera-facing mesh), and the masks limited to visible skin. Landmarks are detected once beforehand. torch uses
one thread (OMP_NUM_THREADS=1). --baseline REF (default: the commit before the issue-16 zone work) also times
the pack at REF in the same run, call by call in turn with this checkout (bench_common.measure_interleaved), and
gives the largest difference between the two packs' union masks (max_abs_diff_vs_before); each line's "variant"
says which pack it timed.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import import_module
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
from bench_common import (  # noqa: E402  (import paths + offline test-asset models)
    ASSETS,
    load_pack_at,
    measure_interleaved,
    report,
)
from PIL import Image  # noqa: E402

import facelab  # noqa: E402

PACK = facelab.load_pack()
import torch  # noqa: E402
from comfyui_facelab.nodes.face import detection  # noqa: E402

torch.set_num_threads(1)
BEFORE = "7f89b4b"  # the last commit before the issue-16 zone-mask speed work
SETTINGS = {"grow": 5.0, "feather": 10.0, "subtract": "eyes+brows+lips"}
TARGETS = {("zone_masks_25_union_full_mask", 4096): "<= 40 ms"}


def portrait(side: int) -> np.ndarray:
    with Image.open(ASSETS / "photos" / "grace_hopper.jpg") as im:
        im = im.convert("RGB")
        s = min(im.size)
        im = im.crop(((im.width - s) // 2, (im.height - s) // 2, (im.width + s) // 2, (im.height + s) // 2))
        return np.asarray(im.resize((side, side), Image.BICUBIC))


def modules(pack):
    """(zone_atlas, zone_masks, visible_skin) of a loaded pack (this checkout or load_pack_at)."""
    return tuple(import_module(f"{pack.__name__}.nodes.face.{m}") for m in ("zone_atlas", "zone_masks", "visible_skin"))


def stages(mods, lms, image, h: int, w: int) -> dict:
    """Stage name -> callable, for one pack's modules."""
    zone_atlas, zone_masks, visible_skin = mods
    names = list(zone_atlas.ZONE_NAMES)
    faces = lms["frames"][0]

    def each_zone(skins=None):
        return [
            zone_masks.face_zone_mask_roi(
                f["landmarks_xy"], [z], (h, w), **SETTINGS, skin=None if skins is None else skins[k]
            )
            for k, f in enumerate(faces)
            for z in names
        ]

    def skins():
        return [visible_skin.face_skin(image[0], f["landmarks_xy"], f.get("landmarks_3d")) for f in faces]

    ready = skins()
    return {
        "zone_masks_25_each_roi": each_zone,
        "zone_masks_25_union_full_mask": lambda: zone_masks.zones_mask(lms, 1, names, **SETTINGS),
        "visible_skin_model_per_image": skins,
        "zone_masks_25_each_roi_visible_skin_model_given": lambda: each_zone(ready),
        "zone_masks_25_union_full_mask_visible_skin": lambda: zone_masks.zones_mask(
            lms, 1, names, **SETTINGS, image=image
        ),
    }


def bench_image(label: str, rgb: np.ndarray, mode: str, repeat: int, variants: list) -> None:
    h, w = rgb.shape[:2]
    size = f"{label} {w}x{h}"
    lms = detection.detect(rgb, mode=mode)
    if not lms["frames"][0]:
        return
    image = torch.from_numpy(rgb.astype(np.float32) / 255.0)[None]
    per_variant = [(name, stages(mods, lms, image, h, w)) for name, mods in variants]
    extra = {"faces": len(lms["frames"][0]), "settings": SETTINGS}
    for stage in per_variant[0][1]:
        fns = {name: fns[stage] for name, fns in per_variant}
        more = {name: dict(extra) for name in fns}
        if "union" in stage:  # the masks themselves: each variant's against the first one's
            masks = {name: fn() for name, fn in fns.items()}
            first = next(iter(masks.values()))
            for name, mask in list(masks.items())[1:]:
                more[name]["max_abs_diff_vs_before"] = float((first - mask).abs().max())
        target = TARGETS.get((stage, max(h, w)))
        for name, (wall, cpu) in measure_interleaved(fns, repeat).items():
            report(stage, size, wall, cpu, variant=name, target=target, **more[name])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline", default=BEFORE, help="git ref to compare with in the same run, or 'none'")
    args = parser.parse_args()
    variants = [("this checkout", modules(PACK))]
    if args.baseline.lower() != "none":
        variants.insert(0, (f"before ({args.baseline})", modules(load_pack_at(args.baseline))))
    bench_image("grace_hopper upscaled", portrait(1024), "standard", args.repeat, variants)
    bench_image("grace_hopper upscaled", portrait(4096), "standard", args.repeat, variants)
    with Image.open(ASSETS / "photos" / "t1.jpg") as im:
        bench_image("t1.jpg 6 faces", np.asarray(im.convert("RGB")), "small_faces", args.repeat, variants)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
