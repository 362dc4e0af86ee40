"""Zone mask and visible-skin cost: all 25 zone masks of one face at 1024^2 and 4096^2, and a 6-face photo.

Run from the pack folder:  .venv/bin/python bench/bench_zones.py [--repeat 5]
Needs the test assets (python tests/provision_assets.py). Prints one JSON line per stage (bench_common.py): the
geometry-only masks (visible_skin off, as before), the per-face skin model (face_skin: skin colour model + the
camera-facing mesh), and the masks limited to visible skin. Landmarks are detected once beforehand. torch uses
one thread (OMP_NUM_THREADS=1).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
from bench_common import (
    ASSETS,  # noqa: E402  (import paths + offline test-asset models)
    timed_stage,  # noqa: E402
)
from PIL import Image  # noqa: E402

import facelab  # noqa: E402

facelab.load_pack()
import torch  # noqa: E402
from comfyui_facelab.nodes.face import detection, visible_skin, zone_atlas, zone_masks  # noqa: E402

torch.set_num_threads(1)
SETTINGS = {"grow": 5.0, "feather": 10.0, "subtract": "eyes+brows+lips"}
NAMES = list(zone_atlas.ZONE_NAMES)


def portrait(side: int) -> np.ndarray:
    with Image.open(ASSETS / "photos" / "grace_hopper.jpg") as im:
        im = im.convert("RGB")
        s = min(im.size)
        im = im.crop(((im.width - s) // 2, (im.height - s) // 2, (im.width + s) // 2, (im.height + s) // 2))
        return np.asarray(im.resize((side, side), Image.BICUBIC))


def bench_image(label: str, rgb: np.ndarray, mode: str, repeat: int) -> None:
    h, w = rgb.shape[:2]
    size = f"{label} {w}x{h}"
    lms = detection.detect(rgb, mode=mode)
    faces = lms["frames"][0]
    if not faces:
        return
    image = torch.from_numpy(rgb.astype(np.float32) / 255.0)[None]
    n = len(faces)
    extra = {"faces": n, "settings": SETTINGS}

    def each_zone(skins=None):
        return [
            zone_masks.face_zone_mask_roi(
                f["landmarks_xy"], [z], (h, w), **SETTINGS, skin=None if skins is None else skins[k]
            )
            for k, f in enumerate(faces)
            for z in NAMES
        ]

    timed_stage("zone_masks_25_each_roi", size, each_zone, repeat, **extra)
    timed_stage(
        "zone_masks_25_union_full_mask", size, lambda: zone_masks.zones_mask(lms, 1, NAMES, **SETTINGS), repeat, **extra
    )

    def skins():
        return [visible_skin.face_skin(image[0], f["landmarks_xy"], f.get("landmarks_3d")) for f in faces]

    timed_stage("visible_skin_model_per_image", size, skins, repeat, **extra)
    ready = skins()
    timed_stage("zone_masks_25_each_roi_visible_skin_model_given", size, lambda: each_zone(ready), repeat, **extra)
    timed_stage(
        "zone_masks_25_union_full_mask_visible_skin",
        size,
        lambda: zone_masks.zones_mask(lms, 1, NAMES, **SETTINGS, image=image),
        repeat,
        **extra,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bench_image("grace_hopper upscaled", portrait(1024), "standard", args.repeat)
    bench_image("grace_hopper upscaled", portrait(4096), "standard", args.repeat)
    with Image.open(ASSETS / "photos" / "t1.jpg") as im:
        bench_image("t1.jpg 6 faces", np.asarray(im.convert("RGB")), "small_faces", args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
