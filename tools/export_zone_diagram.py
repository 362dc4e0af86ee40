"""Export the face diagram and zone-name rules of the web zone picker to web/zone_diagram.json.

    python tools/export_zone_diagram.py            # rewrite web/zone_diagram.json
    python tools/export_zone_diagram.py --check    # exit 1 if the committed file is out of date

The diagram is the REAL zone atlas drawn on a real face: MediaPipe landmarks of a frontal public-domain
portrait (US government photo obama.jpg from the test assets, detected with the real model), made exactly
left/right symmetric (the photo is slightly turned and tilted; a symmetric drawing reads better and keeps both
sides identical), and every zone's outlines from zone_masks.zone_polygons / zone_hole_polygons, normalised so
the longer side of the drawing spans 1. Image orientation is kept: the subject's left appears on the right.

Next to the geometry the file carries what the picker needs to agree with Python's resolve_zones without a
server round trip: zone names, groups, aliases, zone definitions, the aging groups of the Zone Scores node, and
`resolution_examples` (selection strings and what resolve_zones made of them) that the JS tests replay.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "web" / "zone_diagram.json"
DEFAULT_PHOTO = ROOT / ".cache" / "test-assets" / "photos" / "obama.jpg"
PHOTO_SOURCE = "obama.jpg: official US government portrait (public domain), from the face-recognition 1.3.0 sdist"
DECIMALS = 3  # 0.1% of the drawing: well under a screen pixel at picker sizes
FORMAT_VERSION = 1

# Selections whose resolution the JS tests must reproduce, on top of every single name, group and alias.
MIXED_EXAMPLES = (
    "crows_feet, under_eye",
    "Crow's-Feet; UNDER_EYE  forehead",
    "crows_feet_left, crows_feet",
    "nasolabial_right,nasolabial_left,nasolabial",
    "all_wrinkle_zones, chin, jawline",
    "lips mouth eyes",
    " , ; ",
    "",
    "eye-left;;eyebrow_left",
    "crows_feet, bogus",
    "left_eye",
)


def _pack():
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import facelab

    return facelab.load_pack()


def _resolve_or_error(resolve, selection: str) -> dict:
    try:
        return {"selection": selection, "zones": resolve(selection)}
    except ValueError:
        return {"selection": selection, "error": True}


def atlas_data() -> dict:
    """Everything in the file except geometry: names, groups, aliases, definitions, examples (no model needed)."""
    _pack()
    from comfyui_facelab.nodes.aging import zone_scores
    from comfyui_facelab.nodes.face import zone_atlas as za

    singles = list(za.ZONE_NAMES) + list(za.EXTRA_ZONE_NAMES) + list(za.ZONE_GROUPS) + list(za.ALIASES)
    return {
        "zone_names": list(za.ZONE_NAMES),
        "extra_zone_names": list(za.EXTRA_ZONE_NAMES),
        "groups": {k: list(v) for k, v in za.ZONE_GROUPS.items()},
        "aliases": dict(za.ALIASES),
        "definitions": {name: za.ZONES[name].definition for name in list(za.ZONE_NAMES) + list(za.EXTRA_ZONE_NAMES)},
        "aging_groups": list(zone_scores.AGING_GROUPS),
        "resolution_examples": [_resolve_or_error(za.resolve_zones, s) for s in singles + list(MIXED_EXAMPLES)],
    }


def symmetric_landmarks(landmarks_xy: np.ndarray) -> np.ndarray:
    """Landmarks rotated so the eyes are level, then averaged with their mirror image (exactly symmetric)."""
    from comfyui_facelab.nodes.face import zone_atlas as za

    lm = np.asarray(landmarks_xy, dtype=np.float64)
    eye_r = lm[list(za.EYE_RIGHT)].mean(axis=0)  # the subject's right eye: image left
    eye_l = lm[[za.MIRROR[i] for i in za.EYE_RIGHT]].mean(axis=0)
    angle = np.arctan2(eye_l[1] - eye_r[1], eye_l[0] - eye_r[0])
    c, s = np.cos(-angle), np.sin(-angle)
    centre = lm.mean(axis=0)
    level = (lm - centre) @ np.array([[c, s], [-s, c]]) + centre
    mid_x = level[list(za.MIDLINE), 0].mean()
    mirrored = level[list(za.MIRROR)] * np.array([-1.0, 1.0]) + np.array([2.0 * mid_x, 0.0])
    return (level + mirrored) / 2.0


def diagram_geometry(landmarks_xy: np.ndarray) -> dict:
    """Outlines and holes of every atlas zone on one face, normalised so the longer side spans 1."""
    from comfyui_facelab.nodes.face import zone_atlas as za
    from comfyui_facelab.nodes.face import zone_masks

    lm = symmetric_landmarks(landmarks_xy)
    names = list(za.ZONE_NAMES) + list(za.EXTRA_ZONE_NAMES)
    raw = {n: (zone_masks.zone_polygons(lm, n), zone_masks.zone_hole_polygons(lm, n)) for n in names}
    pts = np.concatenate([p for rings, _ in raw.values() for p in rings])
    lo, span = pts.min(axis=0), float((pts.max(axis=0) - pts.min(axis=0)).max())

    def norm(poly: np.ndarray) -> list:
        return np.round((np.asarray(poly, dtype=np.float64) - lo) / span, DECIMALS).tolist()

    size = np.round((pts.max(axis=0) - lo) / span, DECIMALS).tolist()
    zones = {
        n: {"rings": [norm(p) for p in rings], "holes": [norm(p) for p in holes]} for n, (rings, holes) in raw.items()
    }
    return {"size": size, "zones": zones}


def detect_landmarks(photo: Path) -> np.ndarray:
    """landmarks_xy of the single face in `photo`, with the real MediaPipe model."""
    os.environ.setdefault("FACELAB_MODELS_DIR", str(ROOT / ".cache" / "test-assets" / "models"))
    os.environ.setdefault("FACELAB_OFFLINE", "1")
    from PIL import Image

    _pack()
    from comfyui_facelab.nodes.face import landmarker

    with Image.open(photo) as im:
        rgb = np.asarray(im.convert("RGB"))
    faces = landmarker.detect_faces(rgb, max_faces=2)
    if len(faces) != 1:
        raise SystemExit(f"{photo}: expected exactly one face, found {len(faces)}")
    return faces[0]["landmarks_xy"]


def build(photo: Path = DEFAULT_PHOTO) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "generated_by": "tools/export_zone_diagram.py (do not edit by hand)",
        "source_photo": PHOTO_SOURCE if photo == DEFAULT_PHOTO else photo.name,
        **atlas_data(),
        **diagram_geometry(detect_landmarks(photo)),
    }


def dumps(data: dict) -> str:
    """Compact JSON with one zone / one example per line: readable diffs, small file."""

    def compact(v) -> str:
        return json.dumps(v, separators=(",", ":"))

    lines = []
    for key, value in data.items():
        if key == "zones":
            items = ",\n".join(f"  {json.dumps(n)}: {compact(z)}" for n, z in value.items())
            lines.append(f" {json.dumps(key)}: {{\n{items}\n }}")
        elif key == "resolution_examples":
            items = ",\n".join(f"  {compact(e)}" for e in value)
            lines.append(f" {json.dumps(key)}: [\n{items}\n ]")
        else:
            lines.append(f" {json.dumps(key)}: {compact(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def differences(current: dict, fresh: dict, tolerance: float = 2.5 * 10**-DECIMALS) -> list[str]:
    """What differs between two exports: names and rules exactly, geometry beyond `tolerance` (detection on another
    CPU may move a landmark by a hair, which can flip the last rounded digit)."""
    out = [
        f"{k}: differs"
        for k in sorted(set(current) | set(fresh))
        if k not in ("zones", "size", "source_photo", "generated_by") and current.get(k) != fresh.get(k)
    ]
    if set(current.get("zones", {})) != set(fresh["zones"]):
        return out + [f"zones: {sorted(set(current.get('zones', {})) ^ set(fresh['zones']))} only on one side"]
    for name, zone in fresh["zones"].items():
        for kind in ("rings", "holes"):
            a, b = current["zones"][name][kind], zone[kind]
            if [len(r) for r in a] != [len(r) for r in b]:
                out.append(f"{name} {kind}: different outlines")
            elif a and max(float(np.abs(np.subtract(ra, rb)).max()) for ra, rb in zip(a, b)) > tolerance:
                out.append(f"{name} {kind}: moved")
    if np.abs(np.subtract(current.get("size", [0, 0]), fresh["size"])).max() > tolerance:
        out.append("size: differs")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photo", type=Path, default=DEFAULT_PHOTO, help="frontal single-face portrait")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--check", action="store_true", help="exit 1 if --out differs from a fresh export")
    args = ap.parse_args(argv)
    fresh = build(args.photo)
    if args.check:
        current = json.loads(args.out.read_text()) if args.out.exists() else {}
        diffs = differences(current, fresh)
        print(
            f"{args.out} is out of date ({'; '.join(diffs)}): run python tools/export_zone_diagram.py"
            if diffs
            else f"{args.out} is up to date"
        )
        return 1 if diffs else 0
    text = dumps(fresh)
    args.out.write_text(text)
    print(f"wrote {args.out} ({len(text)} bytes, {len(fresh['zones'])} zones)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
