"""Anonymisation plan: every face to give a new identity, and the face-interior mask to repaint.

The face interior is the face_oval zone (the visible mesh outline, from the jaw up to the mesh top at
mid-forehead) shrunk by a margin: the hairline, ears, hair, the jaw contour and the background stay
untouched, so pose and framing survive while eyes, brows, nose, mouth and cheeks (what recognisers use)
are repainted. On a turned face the nose tip and the far eye reach the silhouette, where the shrunk oval
would leave them out, so the convex hull of the features (eyes, brows, nose with its tip, lips) is always
added whole. Margin and feather are in % of the inter-ocular distance, like every zone mask.

FACELAB_ANONYMISE (AnonymisePlan) carries the faces (full-resolution landmarks, per image in the landmarks' order) to
the selection node, which reports on every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image, ImageDraw
from scipy import ndimage
from scipy.spatial import ConvexHull

from ..base.numbers import finite
from ..expression.expression_masks import paste_max
from ..face import face_landmarks as fl
from ..face.zone_atlas import EYE_RIGHT, EYEBROW_RIGHT, LIPS_OUTER, MIRROR
from ..face.zone_masks import inter_ocular_distance, zones_mask

INTERIOR_ZONE = "face_oval"
NOSE_POINTS = (1, 4, 5, 6, 168, 195, 197, 2, 98, 327, 64, 294, 129, 358)  # ridge, tip, base, wings
FEATURE_POINTS = tuple(
    sorted(set(EYE_RIGHT + EYEBROW_RIGHT + LIPS_OUTER + NOSE_POINTS) | {MIRROR[i] for i in EYE_RIGHT + EYEBROW_RIGHT})
)
SMALL_FACE_PX = 64  # below this (mesh box side) inpainting and identity checks are unreliable: said in the report
DEFAULT_MARGIN = 6.0  # % IOD the interior stays inside the face outline
DEFAULT_FEATHER = 8.0


@dataclass
class AnonymisePlan:
    """FACELAB_ANONYMISE: the faces of one image batch and the interior mask settings."""

    image_hw: tuple[int, int]
    batch_size: int
    faces: list[list[dict]]  # per image, in the landmarks' order: {"landmarks_xy", "bbox_xyxy", "score"}
    margin: float
    feather: float
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:  # ComfyUI previews and logs: keep arrays out
        n = sum(len(f) for f in self.faces)
        return f"AnonymisePlan({n} face(s) in {self.batch_size} image(s) of {self.image_hw[1]}x{self.image_hw[0]})"

    def landmarks(self) -> dict:
        """The plan's faces as FACE_LANDMARKS (core format)."""
        return fl.make_face_landmarks(self.faces, self.image_hw)

    def interior_mask(self) -> torch.Tensor:
        """MASK [B, H, W]: the union of the face interiors of each image."""
        return face_interior_mask(self.landmarks(), self.batch_size, self.margin, self.feather)


def face_interior_mask(
    face_landmarks: dict, batch_size: int, margin: float, feather: float, face_index: int = -1
) -> torch.Tensor:
    """MASK [B, H, W]: per face, the face oval shrunk by `margin` % IOD (its `feather` % IOD soft edge inside the
    margin) joined with the features' convex hull; the union over the faces of each image."""
    if margin < 0:
        raise ValueError(f"FaceLab: the hairline margin must be >= 0 (% of the eye distance), got {margin}")
    # The zone feather is centred on the outline: shrink by another half feather so it stays inside the margin.
    out = zones_mask(
        face_landmarks, batch_size, INTERIOR_ZONE, face_index, grow=-(margin + feather / 2.0), feather=feather
    )
    h, w = out.shape[1:]
    for b in range(out.shape[0]):
        for face in fl.chosen_faces(face_landmarks, b, face_index):
            paste_max(out[b], _feature_hull(np.asarray(face["landmarks_xy"], np.float64), (h, w), feather))
    return out


def _feature_hull(lm: np.ndarray, hw, feather: float):
    """(mask, (x0, y0, x1, y1)): the features' convex hull, 1 inside, fading to 0 over `feather` % IOD outside."""
    pts = lm[list(FEATURE_POINTS)]
    hull = pts[ConvexHull(pts).vertices]
    fpx = max(0.0, feather) / 100.0 * inter_ocular_distance(lm)
    pad = fpx + 2.0
    h, w = hw
    x0, y0 = max(0, int(np.floor(hull[:, 0].min() - pad))), max(0, int(np.floor(hull[:, 1].min() - pad)))
    x1, y1 = min(w, int(np.ceil(hull[:, 0].max() + pad)) + 1), min(h, int(np.ceil(hull[:, 1].max() + pad)) + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    canvas = Image.new("L", (x1 - x0, y1 - y0), 0)
    ImageDraw.Draw(canvas).polygon([(float(x - x0), float(y - y0)) for x, y in hull], fill=255)
    inside = np.asarray(canvas) > 0
    if fpx < 1.0:
        return inside.astype(np.float32), (x0, y0, x1, y1)
    t = np.clip(1.0 - ndimage.distance_transform_edt(~inside) / fpx, 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32), (x0, y0, x1, y1)


def make_plan(
    face_landmarks: dict, batch_size: int, image_hw, margin: float = DEFAULT_MARGIN, feather: float = DEFAULT_FEATHER
) -> AnonymisePlan:
    """The plan for an image batch: faces per image in the landmarks' order (single-frame landmarks: every image)."""
    margin, feather = finite(margin, "hairline_margin"), finite(feather, "feather")
    face_landmarks = fl.fit_landmarks_to_image(face_landmarks, image_hw, batch_size, "Anonymise Faces")
    h, w = int(image_hw[0]), int(image_hw[1])
    faces, notes = [], []
    for b in range(int(batch_size)):
        per = []
        for k, f in fl.indexed_faces(face_landmarks, b):
            box = np.asarray(f["bbox_xyxy"], dtype=np.float32)[:4]
            per.append(
                {
                    "landmarks_xy": np.asarray(f["landmarks_xy"], dtype=np.float32),
                    "bbox_xyxy": box,
                    "score": float(f.get("score", 1.0)),
                }
            )
            if fl.face_size(f) < SMALL_FACE_PX:
                notes.append(
                    f"image {b} face {k}: only {fl.face_size(f):.0f} px; crop it at SDXL size (Crop Face Region, target 1024) "
                    "and expect a less reliable identity check"
                )
        if not per:
            notes.append(f"image {b}: no face found, it passes through unchanged")
        faces.append(per)
    return AnonymisePlan((h, w), int(batch_size), faces, float(margin), float(feather), notes)


def plan_report(plan: AnonymisePlan) -> dict:
    images = [
        {
            "image": b,
            "faces": [
                {
                    "face": k,
                    "box": [round(float(v), 1) for v in f["bbox_xyxy"]],
                    "size_px": round(float(fl.face_size(f)), 1),
                    "score": round(f["score"], 3),
                }
                for k, f in enumerate(faces)
            ],
        }
        for b, faces in enumerate(plan.faces)
    ]
    n = sum(len(f) for f in plan.faces)
    return {
        "summary": f"{n} face(s) to anonymise in {plan.batch_size} image(s)"
        if n
        else "no face found: nothing to anonymise",
        "face_count": n,
        "margin": plan.margin,
        "feather": plan.feather,
        "images": images,
        "notes": plan.notes,
    }
