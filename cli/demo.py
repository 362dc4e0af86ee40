"""`python -m facelab demo [PHOTO] --out DIR`: face zones on a photo, without ComfyUI.

Detects every face, writes one PNG mask per selected zone (union over the faces, 8-bit), an annotated preview
and report.json. The MediaPipe model is taken from $FACELAB_MODELS_DIR/mediapipe (or
~/.cache/comfyui-facelab/models/mediapipe) and downloaded there on first use unless FACELAB_OFFLINE=1.
Exit status: 0 with faces, 1 when no face was found, 2 on a bad input or a missing model.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

PACK_DIR = Path(__file__).resolve().parent.parent
SAMPLE_PHOTO = PACK_DIR / "samples" / "grace_hopper.jpg"

log = logging.getLogger("FaceLab")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "photo",
        nargs="?",
        default=str(SAMPLE_PHOTO),
        help=f"photo to analyse (default: the bundled sample, {SAMPLE_PHOTO.name})",
    )
    parser.add_argument("--out", default="facelab-demo", help="output folder (created if missing)")
    parser.add_argument("--zones", default="all", help="zones or groups, comma separated (default: all)")
    parser.add_argument("--grow", type=float, default=0.0, help="grow (negative: shrink) in %% of the eye distance")
    parser.add_argument("--feather", type=float, default=10.0, help="soft edge width in %% of the eye distance")
    parser.add_argument(
        "--subtract", default="none", help="protected features removed from every mask, e.g. eyes+brows+lips"
    )
    parser.add_argument(
        "--mode",
        default="full_range",
        choices=("full_range", "standard", "small_faces", "auto"),
        help="face detection mode (full_range, the default, finds faces down to ~30 px)",
    )
    parser.add_argument("--max-faces", type=int, default=8, help="most faces to find")
    parser.add_argument(
        "--contact-sheet",
        action="store_true",
        help="also write contact_sheet.png: one small picture per zone of the first face",
    )


def _load_rgb(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB")).copy()


def run(args: argparse.Namespace) -> int:
    from PIL import Image

    from ..nodes import model_files
    from ..nodes.face import detection, zone_atlas, zone_masks, zone_preview

    photo = Path(args.photo)
    if not photo.is_file():
        log.error("FaceLab demo: photo not found: %s", photo)
        return 2
    try:
        zones = zone_atlas.resolve_zones(args.zones)
        protected = zone_atlas.resolve_subtract(args.subtract)
        rgb = _load_rgb(photo)
    except (ValueError, OSError) as exc:
        log.error("FaceLab demo: %s", exc)
        return 2
    if not zones:
        log.error("FaceLab demo: no zone selected (--zones)")
        return 2
    try:
        landmarks = detection.detect(rgb, max_faces=args.max_faces, mode=args.mode)
        faces = landmarks["frames"][0]
    except (model_files.ModelFileError, ImportError) as exc:
        log.error("FaceLab demo: %s", exc)
        return 2

    out = Path(args.out)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    h, w = rgb.shape[:2]
    report = {
        "photo": str(photo), "image_size": [h, w], "zones": zones,
        "settings": {"grow": args.grow, "feather": args.feather, "subtract": args.subtract, "mode": args.mode},
        "faces": [], "masks": {}, "preview": None,
    }  # fmt: skip
    if not faces:
        report["message"] = "no face found: nothing to mask"
        (out / "report.json").write_text(json.dumps(report, indent=2))
        log.warning("FaceLab demo: no face found in %s; wrote %s", photo, out / "report.json")
        return 1

    for i, face in enumerate(faces):
        report["faces"].append({
            "index": i, "bbox_xyxy": [round(float(v), 1) for v in face["bbox_xyxy"]],
            "inter_ocular_px": round(zone_masks.inter_ocular_distance(face["landmarks_xy"]), 1),
        })  # fmt: skip
    for zone in zones:
        mask = zone_masks.zones_mask(landmarks, 1, [zone], -1, args.grow, args.feather, protected)[0].numpy()
        path = out / "masks" / f"{zone}.png"
        Image.fromarray(np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8), mode="L").save(path)
        report["masks"][zone] = {
            "file": str(path.relative_to(out)),
            "area_px": round(float(mask.sum()), 1),
            "definition": zone_atlas.ZONES[zone].definition,
        }
    preview = zone_preview.render_preview(rgb, faces, zones)
    Image.fromarray(preview).save(out / "preview.png")
    report["preview"] = "preview.png"
    if args.contact_sheet:
        sheet = zone_preview.render_contact_sheet(rgb, faces[0], zones)
        Image.fromarray(sheet).save(out / "contact_sheet.png")
        report["contact_sheet"] = "contact_sheet.png"
    (out / "report.json").write_text(json.dumps(report, indent=2))
    log.info(
        "FaceLab demo: %d face(s) in %s; %d zone masks in %s, preview %s, report %s",
        len(faces),
        photo.name,
        len(zones),
        out / "masks",
        out / "preview.png",
        out / "report.json",
    )
    return 0
