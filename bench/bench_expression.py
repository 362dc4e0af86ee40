"""Expression analysis and anonymisation selection time on CPU. Prints figures; run from the pack folder:

    .venv/bin/python bench/bench_expression.py [--reps 3]

- Expression Analysis on a full-resolution portrait (biden.jpg, 2204 px tall): the decision alone (open eyes,
  nothing to mask) and with both eyes and the mouth to mask (thresholds forced so every region is fixed).
- Pick Most Anonymous Candidate with the dlib backend on the 6-face group photo (t1.jpg), 2 candidates per
  face: total and per measured face (the original on the full photo, its own crop as a control, every
  candidate and the stitched result each get a MediaPipe detection check and a dlib descriptor).
Landmark detection is not included (see bench_detection.py).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def timed(fn, reps: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()

    import torch
    from conftest import landmarks_for, photo_tensor

    import facelab

    facelab.load_pack()
    from comfyui_facelab.nodes import node_expression
    from comfyui_facelab.nodes.anonymise import anonymise_plan, anonymise_select
    from comfyui_facelab.nodes.compose import crop as crop_mod
    from comfyui_facelab.nodes.face import detection
    from comfyui_facelab.nodes.identity.embedding import load_identity_model

    node = node_expression.FaceLabExpressionAnalysis()
    image, marks = photo_tensor("biden.jpg"), landmarks_for("biden.jpg")
    h, w = image.shape[1:3]
    base = dict(eye_dilation=10.0, mouth_dilation=10.0, feather=10.0, face_index=-1)
    t_decide, _ = timed(lambda: node.analyse(image, marks, "eyes", 0.22, 0.5, 0.3, **base), args.reps)
    t_mask, out = timed(lambda: node.analyse(image, marks, "eyes and smile", 0.6, 0.0, 1.0, **base), args.reps)
    assert out[1], "the forced thresholds must fix every region"
    print(
        f"Expression Analysis, biden.jpg {w}x{h}: decision only {t_decide * 1000:.0f} ms; "
        f"with 2 eyes + mouth masked {t_mask * 1000:.0f} ms"
    )

    group = photo_tensor("t1.jpg")
    lm = detection.detect(group, mode="small_faces")
    plan = anonymise_plan.make_plan(lm, 1, group.shape[1:3])
    settings = crop_mod.CropSettings(target_size=384, align=True, context_factor=1.6, min_context=64)
    crops, _, stitch = crop_mod.crop(group, plan.interior_mask(), lm, settings)
    candidates = torch.cat([crops, torch.roll(crops, -1, 0)])
    model = load_identity_model("dlib")
    n_faces = len(plan.faces[0])
    t_sel, _ = timed(
        lambda: anonymise_select.anonymise(group, candidates, plan, stitch, model, anonymise_select.Settings()),
        args.reps,
    )
    measured = n_faces * (2 + 2 + 1)  # original, own crop, 2 candidates, result
    print(
        f"Pick Most Anonymous Candidate (dlib), t1.jpg {n_faces} faces x 2 candidates, crops "
        f"{stitch.crop_hw[1]}x{stitch.crop_hw[0]}: {t_sel:.2f} s, {t_sel / n_faces * 1000:.0f} ms per face, "
        f"{t_sel / measured * 1000:.0f} ms per measured face image"
    )


if __name__ == "__main__":
    main()
