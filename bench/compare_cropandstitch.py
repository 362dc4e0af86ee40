"""FaceLab's Crop/Stitch Face Region side by side with Inpaint-CropAndStitch's Inpaint Crop/Stitch, same inputs.

Needs ComfyUI importable (the peer imports `comfy` and ComfyUI's `nodes`) and the peer pack: run it with
ComfyUI's Python, COMFYUI_DIR pointing at ComfyUI, and the peer in $COMFYUI_DIR/custom_nodes or given by
--peer / CROPANDSTITCH_DIR (only read, never copied):

    COMFYUI_DIR=/work/comfyui /work/comfyui/venv/bin/python bench/compare_cropandstitch.py \\
        [--peer /path/to/ComfyUI-Inpaint-CropAndStitch] [--sizes 4096,1024] [--repeat 3] [--threads 1]

Scene: obama.jpg scaled to cover a size x size square, one face, its face oval as the mask. Both packs crop
with context 1.5 around the mask to a 1024-px crop and blend over 32 image px (the peer's mask_blend_pixels
32, FaceLab's feather set to 32 px for this mask); FaceLab also with its defaults (colour match on). The peer
runs in its "cpu (compatible)" mode. Printed as JSON lines (bench_common.report): crop, stitch and
crop + stitch per pack, the ratio FaceLab / peer, the peak memory above the inputs (a fresh process per
pack), and two quality figures:
- no-op round trip: pixels whose (rounded) 8-bit value changes when the crop comes back unedited, and the
  largest change in levels;
- seam: with a colour-drifted "inpaint", the mean gradient magnitude of the change (out - original, 8-bit
  levels per pixel, summed over RGB) in the 40 px outside the mask where both packs blend: a smooth fade of
  the drift adds little, a seam or a blurred-away texture adds more.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common as bc  # noqa: E402  (paths, offline test assets, JSON lines)
from bench_compose import drifted, face_scene  # noqa: E402

FEATHER_PX = 32
CONTEXT = 1.5


def _import_comfyui() -> Path:
    comfy_dir = Path(os.environ.get("COMFYUI_DIR", "")).expanduser()
    if "comfy.model_management" in sys.modules:
        return comfy_dir
    if not (comfy_dir / "comfy").is_dir():
        raise SystemExit("set COMFYUI_DIR to a ComfyUI checkout (the peer pack imports comfy and ComfyUI's nodes)")
    # ComfyUI's top-level `nodes` module must win over this pack's nodes/ package (which facelab loads by path).
    sys.path.insert(0, str(comfy_dir))
    for name in [m for m in sys.modules if m == "nodes" or m.startswith("nodes.")]:
        del sys.modules[name]
    import comfy.cli_args

    if not torch.cuda.is_available():
        comfy.cli_args.args.cpu = True  # as `python main.py --cpu`: model_management must not look for a GPU
    import comfy.model_management  # noqa: F401

    import nodes  # noqa: F401

    return comfy_dir


def _load_peer(path: str | None, comfy_dir: Path):
    candidates = [
        path,
        os.environ.get("CROPANDSTITCH_DIR"),
        comfy_dir / "custom_nodes" / "ComfyUI-Inpaint-CropAndStitch",
    ]
    for c in candidates:
        if c and (Path(c) / "inpaint_cropandstitch.py").is_file():
            spec = importlib.util.spec_from_file_location("peer_cropandstitch", Path(c) / "inpaint_cropandstitch.py")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            version = next((ln.split('"')[1] for ln in (Path(c) / "pyproject.toml").read_text().splitlines()
                            if ln.startswith("version")), "?")  # fmt: skip
            return module, version
    raise SystemExit("Inpaint-CropAndStitch not found: install it in $COMFYUI_DIR/custom_nodes or pass --peer PATH")


class Peer:
    label = "Inpaint-CropAndStitch"

    def __init__(self, module):
        self.crop_node, self.stitch_node = module.InpaintCropImproved(), module.InpaintStitchImproved()
        self.args = {
            **bc.node_defaults(module.InpaintCropImproved),
            "context_from_mask_extend_factor": CONTEXT,
            "output_target_width": 1024,
            "output_target_height": 1024,
            "mask_blend_pixels": FEATHER_PX,
            "device_mode": "cpu (compatible)",
        }

    def crop(self, image, mask):
        stitcher, crops, _ = self.crop_node.inpaint_crop(image, **self.args, mask=mask)[:3]
        return crops, stitcher

    def stitch(self, image, crops, plan):
        return self.stitch_node.inpaint_stitch(plan, crops)[0]


class FaceLab:
    def __init__(self, feather: float, color_match: bool):
        import facelab

        facelab.load_pack()
        from comfyui_facelab.nodes import node_compose

        self.label = f"FaceLab ({'defaults, colour match on' if color_match else 'colour match off'})"
        self.crop_node, self.stitch_node = node_compose.FaceLabCrop(), node_compose.FaceLabStitch()
        self.crop_args = {**bc.node_defaults(node_compose.FaceLabCrop), "context_factor": CONTEXT, "target_size": 1024}
        self.stitch_args = {**bc.node_defaults(node_compose.FaceLabStitch), "feather": feather}
        if not color_match:
            self.stitch_args["color_match"] = "off"

    def crop(self, image, mask):
        crops, _, plan, _ = self.crop_node.crop(image, **self.crop_args, mask=mask)
        return crops, plan

    def stitch(self, image, crops, plan):
        return self.stitch_node.stitch(
            image, crops, plan, **{k: v for k, v in self.stitch_args.items() if k != "original"}
        )[0]


def _feather_for(mask: torch.Tensor) -> float:
    """FaceLab's feather (a fraction of the masked region's size) that spans FEATHER_PX image pixels here."""
    ys, xs = torch.nonzero(mask[0] > 0, as_tuple=True)
    side = float(((xs.max() - xs.min() + 1) * (ys.max() - ys.min() + 1)) ** 0.5)
    return FEATHER_PX / side


def _to8(t: torch.Tensor) -> np.ndarray:
    """8-bit as a PNG writer rounds it (float round-off far below a level does not count as a change)."""
    return np.clip(np.round(255.0 * t[0].numpy()), 0, 255).astype(np.uint8)


def _quality(pack, image, mask) -> dict:
    from scipy import ndimage

    crops, plan = pack.crop(image, mask)
    same = pack.stitch(image, crops, plan)
    changed = int((_to8(same) != _to8(image)).any(-1).sum())
    crops, plan = pack.crop(image, mask)
    out = pack.stitch(image, drifted(crops), plan)
    m = mask[0].numpy() > 0
    band = (ndimage.binary_dilation(m, iterations=40) & ~m)[:-1, :-1]  # the blend zone outside the mask
    d = (out - image)[0].numpy().astype(np.float64) * 255
    grad = np.hypot(np.diff(d, axis=1)[:-1], np.diff(d, axis=0)[:, :-1]).sum(-1)
    return {
        "noop_changed_px": changed,
        "noop_max_levels": round(float((same - image).abs().max()) * 255, 4),
        "seam_gradient_added": round(float(grad[band].mean()), 3),  # levels/px the edit adds around the mask
    }


_PEER = {}


def _packs(args, mask):
    comfy_dir = _import_comfyui()
    if not _PEER:
        _PEER["module"], _PEER["version"] = _load_peer(args.peer, comfy_dir)
    peer_module, version = _PEER["module"], _PEER["version"]
    peer = Peer(peer_module)
    peer.label = f"Inpaint-CropAndStitch {version}"
    return [peer, FaceLab(_feather_for(mask), True), FaceLab(_feather_for(mask), False)]


def _peak(args) -> None:
    """In a fresh process: peak memory of one crop + stitch of pack number args.peak_of at 4096^2."""
    torch.set_num_threads(1)
    image, mask = face_scene(4096)
    pack = _packs(args, mask)[args.peak_of]

    def both():
        crops, plan = pack.crop(image, mask)
        return pack.stitch(image, drifted(crops, in_place=True), plan)

    both()
    mb = bc.peak_extra_mb(both)
    image_mb = image.numel() * 4 / 2**20
    print(json.dumps({"stage": "peak memory, crop + stitch", "size": 4096, "variant": pack.label, "peak_extra_mb": mb and round(mb, 1),
                      "x_image": mb and round(mb / image_mb, 2), "threads": 1, "loadavg": bc.load_average()}), flush=True)  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--peer", default=None, help="the Inpaint-CropAndStitch folder (else CROPANDSTITCH_DIR or custom_nodes)"
    )
    ap.add_argument("--sizes", default="4096,1024")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", default="1")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--peak-of", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peak_of is not None:
        _peak(args)
        return 0
    print(json.dumps({"machine": os.uname().nodename, "cpus": os.cpu_count(), "torch": torch.__version__}), flush=True)
    for threads in bc.thread_counts(args.threads):
        torch.set_num_threads(threads)
        for size in (int(s) for s in args.sizes.split(",")):
            image, mask = face_scene(size)
            totals = {}
            for pack in _packs(args, mask):
                crops, plan = pack.crop(image, mask)
                edit = drifted(crops)
                extra = {"variant": pack.label, "crop": f"{crops.shape[2]}x{crops.shape[1]}"}
                cw, cc = bc.measure(lambda p=pack, im=image, m=mask: p.crop(im, m), args.repeat)
                sw, sc = bc.measure(lambda p=pack, im=image, e=edit, pl=plan: p.stitch(im, e, pl), args.repeat)
                bc.report("crop", size, cw, cc, **extra)
                bc.report("stitch", size, sw, sc, **extra)
                line = bc.report("crop + stitch", size, [a + b for a, b in zip(cw, sw)], [a + b for a, b in zip(cc, sc)],
                                 **extra, **_quality(pack, image, mask))  # fmt: skip
                totals[pack.label] = line
            peer = next(v for k, v in totals.items() if k.startswith("Inpaint"))
            for label, line in totals.items():
                if line is not peer:
                    print(json.dumps({"stage": "ratio FaceLab / peer, crop + stitch", "size": size, "variant": label,
                                      "wall_ratio": round(line["median_ms"] / peer["median_ms"], 4),
                                      "cpu_ratio": round(line["cpu_median_ms"] / peer["cpu_median_ms"], 4),
                                      "threads": threads, "loadavg": bc.load_average(), "target": "<= 0.01"}), flush=True)  # fmt: skip
    if not args.no_memory:
        for i in range(3):
            cmd = [sys.executable, __file__, "--peak-of", str(i)] + (["--peer", args.peer] if args.peer else [])
            subprocess.run(cmd, check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
