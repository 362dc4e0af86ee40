"""Compare FACELAB_IDENTITY values: per-face similarity / distance and a same-person decision.

Backends and their documented decision rules:
- arcface: cosine similarity of the normalised 512-d embeddings; same person when >= 0.32. That is
  DeepFace's verification threshold for ArcFace (cosine distance 0.68, tuned on LFW; also used by
  ComfyUI_FaceAnalysis), inside the 0.28-0.4 band insightface users apply. Reported distance = 1 - cosine.
- dlib: euclidean distance between the raw 128-d descriptors; same person when <= 0.6, dlib's documented
  threshold (dnn_face_recognition_ex, face_recognition's default tolerance). Reported similarity = 1 - distance,
  so that on both backends a higher similarity means "more alike" and the threshold maps exactly
  (distance <= 0.6  <=>  similarity >= 0.4).

Faces are paired by box overlap (IoU of boxes in image-relative coordinates, for edits of one photo),
then the remaining ones by their order (for two different photos).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..base.numbers import finite
from ..face.face_landmarks import box_iou

MIN_IOU = 0.3
# Values reported when no pair of faces could be compared: the least-alike ends of both scales.
NO_PAIR_SIMILARITY, NO_PAIR_DISTANCE = -1.0, 2.0


@dataclass(frozen=True)
class Metric:
    similarity: str
    distance: str
    default_threshold: float
    threshold_on: str  # "similarity" (same when >= threshold) or "distance" (same when <= threshold)


METRICS = {
    "arcface": Metric("cosine similarity", "1 - cosine", 0.32, "similarity"),
    "dlib": Metric("1 - euclidean distance", "euclidean distance", 0.6, "distance"),
}


def metric(backend: str) -> Metric:
    if backend not in METRICS:
        raise ValueError(f"FaceLab: unknown identity backend {backend!r}; expected one of {tuple(METRICS)}")
    return METRICS[backend]


def resolve_threshold(backend: str, threshold: float) -> float:
    """A negative threshold means the backend's documented default; NaN would silently invert every decision."""
    if threshold is not None:
        threshold = finite(threshold, "the identity threshold")
    return metric(backend).default_threshold if threshold is None or threshold < 0 else float(threshold)


def similarity_threshold(backend: str, threshold: float) -> float:
    """The (resolved) threshold on the similarity scale: same person <=> similarity >= this."""
    t = resolve_threshold(backend, threshold)
    return t if metric(backend).threshold_on == "similarity" else 1.0 - t


def compare_faces(face_a: dict, face_b: dict, backend: str) -> tuple[float, float]:
    """(similarity, distance) of two identity faces of one backend."""
    if backend == "dlib":
        d = float(np.linalg.norm(np.asarray(face_a["raw"], np.float64) - np.asarray(face_b["raw"], np.float64)))
        return 1.0 - d, d
    metric(backend)
    cos = float(np.dot(np.asarray(face_a["embedding"], np.float64), np.asarray(face_b["embedding"], np.float64)))
    return cos, 1.0 - cos


def is_same(backend: str, similarity: float, threshold: float) -> bool:
    return similarity >= similarity_threshold(backend, threshold)


def _relative_box(box, size) -> np.ndarray:
    h, w = size
    return np.asarray(box, dtype=np.float64) / np.array([w, h, w, h], dtype=np.float64)


def match_faces(boxes_a, size_a, boxes_b, size_b, min_iou: float = MIN_IOU) -> list[tuple[int, int, str]]:
    """Pairs (i, j, "overlap" | "order"): greedy by IoU >= min_iou, then the leftovers in their order."""
    ra = [_relative_box(b, size_a) for b in boxes_a]
    rb = [_relative_box(b, size_b) for b in boxes_b]
    candidates = sorted(((box_iou(x, y), i, j) for i, x in enumerate(ra) for j, y in enumerate(rb)), reverse=True)
    pairs: list[tuple[int, int, str]] = []
    used_a: set[int] = set()
    used_b: set[int] = set()
    for iou, i, j in candidates:
        if iou < min_iou:
            break
        if i not in used_a and j not in used_b:
            pairs.append((i, j, "overlap"))
            used_a.add(i)
            used_b.add(j)
    rest_a = [i for i in range(len(ra)) if i not in used_a]
    rest_b = [j for j in range(len(rb)) if j not in used_b]
    pairs += [(i, j, "order") for i, j in zip(rest_a, rest_b)]
    return sorted(pairs)


def _check_comparable(id_a: dict, id_b: dict) -> None:
    if id_a["backend"] != id_b["backend"] or id_a["model"] != id_b["model"]:
        raise ValueError(
            f"FaceLab: cannot compare identities from different models ({id_a['backend']} {id_a['model']} vs "
            f"{id_b['backend']} {id_b['model']}): embed both images with the same Identity Model Loader"
        )


def _image_pairs(n_a: int, n_b: int) -> list[tuple[int, int]]:
    if n_a == n_b:
        return [(i, i) for i in range(n_a)]
    if n_a == 1 or n_b == 1:
        return [(0 if n_a == 1 else i, 0 if n_b == 1 else i) for i in range(max(n_a, n_b))]
    raise ValueError(
        f"FaceLab: identity batches of {n_a} and {n_b} images cannot be paired; use equal batches or a single image on one side"
    )


def compare_identities(id_a: dict, id_b: dict, threshold: float = -1.0) -> dict:
    """JSON-ready report of every face pair; `similarity`/`distance`/`same_person` summarise the worst pair."""
    _check_comparable(id_a, id_b)
    backend = id_a["backend"]
    t = resolve_threshold(backend, threshold)
    pairs, unmatched = [], []
    for ia, ib in _image_pairs(len(id_a["frames"]), len(id_b["frames"])):
        fa, fb = id_a["frames"][ia], id_b["frames"][ib]
        matched = match_faces([f["box"] for f in fa], id_a["image_size"], [f["box"] for f in fb], id_b["image_size"])
        for i, j, how in matched:
            sim, dist = compare_faces(fa[i], fb[j], backend)
            pairs.append(
                {
                    "image_a": ia,
                    "image_b": ib,
                    "face_a": fa[i]["face_index"],
                    "face_b": fb[j]["face_index"],
                    "matched_by": how,
                    "similarity": round(sim, 4),
                    "distance": round(dist, 4),
                    "same_person": is_same(backend, sim, t),
                }
            )
        paired_a, paired_b = {p[0] for p in matched}, {p[1] for p in matched}
        unmatched += [
            {"side": "a", "image": ia, "face": f["face_index"]} for i, f in enumerate(fa) if i not in paired_a
        ]
        unmatched += [
            {"side": "b", "image": ib, "face": f["face_index"]} for j, f in enumerate(fb) if j not in paired_b
        ]
    m = metric(backend)
    report = {
        "backend": backend,
        "model": id_a["model"],
        "similarity_metric": m.similarity,
        "distance_metric": m.distance,
        "threshold": t,
        "threshold_on": m.threshold_on,
        "threshold_is_default": threshold is None or threshold < 0,
        "pairs": pairs,
        "unmatched_faces": unmatched,
    }
    if pairs:
        worst = min(pairs, key=lambda p: p["similarity"])
        same = all(p["same_person"] for p in pairs)
        report.update(similarity=worst["similarity"], distance=worst["distance"], same_person=same)
        verdict = "same person" if report["same_person"] else "different people (at least one pair)"
        report["message"] = f"{len(pairs)} face pair(s) compared: {verdict}"
    else:
        empty = [side for side, ident in (("a", id_a), ("b", id_b)) if not any(ident["frames"])]
        report.update(similarity=NO_PAIR_SIMILARITY, distance=NO_PAIR_DISTANCE, same_person=False)
        report["message"] = (
            f"no face found in image {' and '.join(empty)}: nothing compared"
            if empty
            else "no face pairs could be matched"
        )
    return report
