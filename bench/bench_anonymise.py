"""Pick Most Anonymous Candidate speed on CPU (dlib backend), before/after in one run.

Run from the pack folder: `python bench/bench_anonymise.py [--repeat N] [--threads 1,2] [--baseline REF|none]`.
Uses the test assets (tests/provision_assets.py). Input: the 6-face group photo t1.jpg (small_faces detection,
done once, not timed), Crop Face Region at 384 px with aligned eyes, 2 candidates per face (the face's own crop
and its right-hand neighbour's). Per face the selector measures the original on the full photo, the unedited crop
(control), each candidate and the stitched result, then stitches. Each figure is a JSON line (bench_common.report):
"pick most anonymous, per face" = the whole call divided by the 6 faces; "dlib descriptor" = the identity model's
embed of one face and of a batch of 8 chips, per chip. The first call (model loading) is excluded.
Target (issue 16): <= 200 ms per face with dlib.
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common as bc  # noqa: E402  (paths, offline test assets, JSON lines)

BEFORE = "7f89b4b"  # the last commit before the issue-16 anonymisation speed work
CANDIDATES = 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", default="1,2", help="torch thread counts, e.g. 1,2")
    ap.add_argument("--baseline", default=BEFORE, help="git ref to compare with in the same run, or 'none'")
    args = ap.parse_args()

    import facelab

    packs = [("this checkout", facelab.load_pack())]
    if args.baseline.lower() != "none":
        packs.insert(0, (f"before ({args.baseline})", bc.load_pack_at(args.baseline)))
    name = packs[-1][1].__name__
    detection = import_module(name + ".nodes.face.detection")
    crop_mod = import_module(name + ".nodes.compose.crop")
    to_rgb_uint8 = import_module(name + ".nodes.base.tensors").to_rgb_uint8

    group = bc.photo("t1.jpg")
    lm = detection.detect(group, mode="small_faces")
    faces = lm["frames"][0]
    rgb = to_rgb_uint8(group[0])
    for threads in bc.thread_counts(args.threads):
        torch.set_num_threads(threads)
        for label, pack in packs:
            plan_mod = import_module(pack.__name__ + ".nodes.anonymise.anonymise_plan")
            select = import_module(pack.__name__ + ".nodes.anonymise.anonymise_select")
            model = import_module(pack.__name__ + ".nodes.identity.embedding").load_identity_model("dlib")
            plan = plan_mod.make_plan(lm, 1, group.shape[1:3])
            settings = crop_mod.CropSettings(target_size=384, align=True, context_factor=1.6, min_context=64)
            crops, _, stitch = crop_mod.crop(group, plan.interior_mask(), lm, settings)
            candidates = torch.cat([crops, torch.roll(crops, -1, 0)])
            n = len(plan.faces[0])
            w, c = bc.measure(
                lambda s=select, p=plan, st=stitch, m=model, cd=candidates: s.anonymise(
                    group, cd, p, st, m, s.Settings()
                ),
                args.repeat,
            )
            bc.report(
                "pick most anonymous, per face", f"t1.jpg {n} faces x {CANDIDATES} candidates, crops 384",
                [x / n for x in w], [x / n for x in c], variant=label, target="<= 200 ms (dlib)",
            )  # fmt: skip
            w, c = bc.measure(lambda m=model: m.embed(rgb, faces[:1]), 3 * args.repeat)
            bc.report("dlib descriptor, one face", "t1.jpg face 0", w, c, variant=label)
            w, c = bc.measure(lambda m=model: m.embed(rgb, (faces * 2)[:8]), args.repeat)
            bc.report("dlib descriptor, batch of 8, per chip", "t1.jpg", [x / 8 for x in w], [x / 8 for x in c],
                      variant=label)  # fmt: skip


if __name__ == "__main__":
    main()
