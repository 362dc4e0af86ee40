"""Face check and identity descriptors for Pick Most Anonymous Candidate, at a known place in a known crop.

Every crop measured (the unedited crop, each candidate, the stitched result) is cut with a known crop matrix, so
the original face's mesh is already known in crop pixels: the expected box. The face check asks MediaPipe's
BlazeFace (the detector the landmarker runs first: ~5 ms on a 384 px crop, against ~31 ms with the mesh pass) for
a face whose centre lies inside the expected box, at 1/2..2x the size the same detector gives the unedited face,
with skin-like colours (detection.hue_coherence, detection's false-positive check). The dlib backend then gets the
original's mesh box moved and scaled as the detector box moved from the unedited crop to this one; dlib's own
5-point shape predictor finds that face's eyes and nose inside it, so no second landmark pass is needed. ArcFace
aligns on the face's own mesh points, so with it the check stays the landmarker pass (mesh + detector).
All descriptors of one face are computed in one batch (DlibEmbedder.embed_many).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ..base.tensors import to_rgb_uint8
from ..face import detection, landmarker
from ..identity.embedding import unit
from ..identity.similarity import compare_faces

DETECT_CONFIDENCE = 0.5
SIZE_RATIO = 2.0  # a detected candidate face may be at most this much larger or smaller than the original
SKIN_CORE = 0.5  # hue coherence is read on the central half of the detector box (skin, eyes, mouth; no background)


@dataclasses.dataclass
class Found:
    rgb: np.ndarray  # the crop, uint8
    face: dict  # what the identity model embeds (bbox_xyxy; landmarks_xy with ArcFace)
    box: np.ndarray  # the detector's box (crop pixels)


def _size(box) -> float:
    return float(max(box[2] - box[0], box[3] - box[1]))


def _centre(box) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], dtype=np.float64)


def _skin_like(rgb: np.ndarray, box) -> bool:
    c, half = _centre(box), SKIN_CORE * _size(box) / 2
    h, w = rgb.shape[:2]
    x0, y0 = max(0, int(c[0] - half)), max(0, int(c[1] - half))
    x1, y1 = min(w, int(np.ceil(c[0] + half))), min(h, int(np.ceil(c[1] + half)))
    if x1 <= x0 or y1 <= y0:
        return False
    return detection.hue_coherence(rgb[y0:y1, x0:x1] / 255.0) >= detection.HUE_COHERENCE_MIN


def moved_box(expected: np.ndarray, box: np.ndarray, unedited_box: np.ndarray | None) -> np.ndarray:
    """The original's mesh box moved and scaled as the detector box moved from the unedited crop to this one."""
    if unedited_box is None:
        return np.asarray(expected, dtype=np.float64)
    s = _size(box) / max(_size(unedited_box), 1.0)
    c0, c1 = _centre(unedited_box), _centre(box)
    e = np.asarray(expected, dtype=np.float64)
    return np.concatenate([c1 + (e[:2] - c0) * s, c1 + (e[2:] - c0) * s])


class Measurer:
    """Face check + identity descriptors against one backend."""

    def __init__(self, model):
        self.model = model
        self.backend = model.backend
        self.mesh = self.backend != "dlib" or not hasattr(model, "embed_many")  # ArcFace aligns on the face's mesh

    def find(self, crop: torch.Tensor, expected: np.ndarray, unedited_box: np.ndarray | None) -> Found | None:
        """The face at the expected place (xyxy crop pixels) of crop, or None.

        unedited_box: the detector box of the unedited face in its crop (None while measuring that crop)."""
        rgb = to_rgb_uint8(crop)
        if self.mesh:
            faces = detection.detect_frame(rgb, max_faces=4, min_confidence=DETECT_CONFIDENCE, mode="standard")
            hits = [(np.asarray(f["bbox_xyxy"], np.float64), f) for f in faces]
            size = _size(expected)
        else:
            boxes, _ = landmarker.detect_boxes(rgb, DETECT_CONFIDENCE)
            hits = [(np.asarray(b, np.float64), None) for b in boxes if _skin_like(rgb, b)]
            size = _size(unedited_box if unedited_box is not None else expected)
        ex0, ey0, ex1, ey1 = expected
        centre = _centre(expected)
        fits = []
        for box, face in hits:
            cx, cy = _centre(box)
            ratio = _size(box) / max(size, 1.0)
            if ex0 <= cx <= ex1 and ey0 <= cy <= ey1 and 1.0 / SIZE_RATIO <= ratio <= SIZE_RATIO:
                fits.append((float(np.hypot(cx - centre[0], cy - centre[1])), box, face))
        if not fits:
            return None
        _, box, face = min(fits, key=lambda t: t[0])
        if face is None:
            face = {"bbox_xyxy": moved_box(expected, box, unedited_box)}
        return Found(rgb, face, box)

    def embed(self, items: list[tuple[np.ndarray, dict]]) -> list[dict]:
        """Identity faces ({"raw", "embedding"}) of (rgb, face) pairs, one batch where the backend can."""
        if not items:
            return []
        if self.mesh:
            raw = np.stack([np.asarray(self.model.embed(rgb, [face])[0], np.float32) for rgb, face in items])
        else:
            raw = np.asarray(self.model.embed_many(items), dtype=np.float32)
        return [{"raw": r, "embedding": unit(r)} for r in raw]

    def similarities(self, found: list[Found | None], references: list[dict]) -> list[float | None]:
        """Similarity of each found face to its reference (None where no face was found), in one batch."""
        embs = iter(self.embed([(f.rgb, f.face) for f in found if f is not None]))
        return [
            None if f is None else float(compare_faces(ref, next(embs), self.backend)[0])
            for f, ref in zip(found, references)
        ]

    def reference_and_similarities(
        self, original: tuple[np.ndarray, dict], found: list[Found | None]
    ) -> tuple[dict, list[float | None]]:
        """The original face's identity (rgb, face with its mesh) and each found face's similarity to it, one batch."""
        embs = self.embed([original] + [(f.rgb, f.face) for f in found if f is not None])
        rest = iter(embs[1:])
        sims = [None if f is None else float(compare_faces(embs[0], next(rest), self.backend)[0]) for f in found]
        return embs[0], sims
