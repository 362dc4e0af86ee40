"""Pick, for every face, the candidate least like the original that is still a face; stitch; report; fail safe.

Data flow (see docs/anonymise.md): Crop Face Region cuts one crop per face (FACELAB_STITCH), the sampler
renders N candidates per crop, and this module, per face:
  1. measures the original identity on the full-resolution original (the plan's landmarks);
  2. finds the face in each candidate crop with MediaPipe (the face-detection check, candidate_measure.py): the
     detected face must sit where the original one was (centre inside its box, size within a factor 2, skin-like
     colours), otherwise the candidate has no usable face and is rejected; the original's mesh, mapped into the
     crop by the known crop matrix, gives the identity model its face box (no second landmark pass);
  3. keeps the candidate with the LOWEST identity similarity (identity.selection.select_variant, "anonymise");
  4. stitches the chosen crops back with the compose module ("replace" blend: the original's fine detail must
     not show through a new face), then measures the face again on the output ("after") and judges it
     against the threshold.
A control measurement ("before") runs the same detection + embedding on the unedited crop: it shows what the
same person scores through this pipeline, and a face whose crop is not even recognised as itself is flagged.
The original, the control and the candidates of a face are embedded in one batch, the stitched faces in another.
Faces that fail are listed (never skipped) and, with blur_failed, their box is pixelated instead of stitched.

Candidates arrive as one IMAGE batch, N per slot: crops (slot = stitch entry) when a stitch plan is given,
else full images of the original's size (slot = batch image; they are cut with an internal crop plan).
"repeated" order is what RepeatLatentBatch / Repeat For Candidates make (all slots, then all slots again);
"grouped" is slot 0's N candidates, then slot 1's, ...
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import torch

from .. import comfy_adapter
from ..base import threads
from ..base.tensors import to_rgb_uint8
from ..compose import crop as crop_mod
from ..compose import warp
from ..compose.plan import StitchPlan, check_original, fit_batch
from ..compose.stitch import stitch
from ..face import face_landmarks as fl
from ..identity.embedding import check_model
from ..identity.selection import select_variant
from ..identity.similarity import metric, resolve_threshold, similarity_threshold
from .anonymise_plan import AnonymisePlan
from .candidate_measure import Measurer
from .privacy_blur import face_box, obscure_box

log = logging.getLogger("FaceLab")

NODE = "Pick Most Anonymous Candidate"
ORDERS = ("repeated", "grouped")
THREADS = 1  # face crops and chips: one torch thread is steady on shared cores (figures in base/threads.py)
FULL_IMAGE_CROP = crop_mod.CropSettings(context_factor=1.6, min_context=64, resolution="keep", multiple=8)


@dataclasses.dataclass
class Settings:
    threshold: float = -1.0  # backend terms; -1 = the backend's documented default
    order: str = "repeated"
    blur_failed: bool = True
    feather: float = 0.1
    color_match: bool = True

    def __post_init__(self):
        if self.order not in ORDERS:
            raise ValueError(f"FaceLab {NODE}: candidate order must be one of {ORDERS}, got {self.order!r}")


def candidate_index(slot: int, k: int, n_slots: int, n_candidates: int, order: str) -> int:
    """Batch index of candidate k of a slot."""
    return k * n_slots + slot if order == "repeated" else slot * n_candidates + k


def _crop_of(image: torch.Tensor, matrix: np.ndarray, crop_hw) -> torch.Tensor:
    """[h, w, 3] crop of image [H, W, 3], sampled exactly as Crop Face Region samples."""
    return warp.sample(image.permute(2, 0, 1), matrix, crop_hw).permute(1, 2, 0)


def _to_crop(points_xy: np.ndarray, entry) -> np.ndarray:
    m = entry.image_to_crop
    return points_xy @ m[:2, :2].T + m[:2, 2]


def _expected_box(face: dict, entry) -> np.ndarray:
    """Where the original face lies in the entry's crop (xyxy crop pixels)."""
    return fl.bbox_from_landmarks(_to_crop(np.asarray(face["landmarks_xy"], np.float64), entry))


def _match_entries(entries, faces_per_image) -> dict[int, tuple[int, int]]:
    """entry index -> (image, face): the face whose mesh lies most on the entry's mask (each face used once)."""
    scores = []
    for e, entry in enumerate(entries):
        if entry.empty:
            continue
        h, w = entry.mask.shape
        mask = entry.mask.numpy()
        for k, face in enumerate(faces_per_image[entry.batch_index]):
            uv = np.round(_to_crop(np.asarray(face["landmarks_xy"], np.float64)[:468], entry)).astype(np.int64)
            ok = (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
            hits = int((mask[uv[ok, 1], uv[ok, 0]] > 0.5).sum())
            if hits:
                scores.append((hits, e, entry.batch_index, k))
    out: dict[int, tuple[int, int]] = {}
    used: set[tuple[int, int]] = set()
    for _, e, b, k in sorted(scores, reverse=True):
        if e not in out and (b, k) not in used:
            out[e] = (b, k)
            used.add((b, k))
    return out


def _full_image_plan(original: torch.Tensor, plan: AnonymisePlan) -> StitchPlan:
    _, _, stitch_plan = crop_mod.crop(
        original, plan.interior_mask().to(original.device), plan.landmarks(), FULL_IMAGE_CROP
    )
    return stitch_plan


def _candidate_crops(
    candidates, stitch_plan: StitchPlan, full_images: bool, order: str
) -> tuple[torch.Tensor, int, int]:
    """(candidate crops [S*N, h, w, 3] in the given order, S slots, N per slot)."""
    n_slots = stitch_plan.batch_size if full_images else len(stitch_plan.entries)
    count = int(candidates.shape[0])
    if count < n_slots or count % n_slots:
        what = "images in the batch" if full_images else "crops in the stitch plan"
        raise ValueError(
            f"FaceLab {NODE}: {count} candidates do not divide among the {n_slots} {what}; give N candidates for each "
            f"(Repeat For Candidates with N candidates gives {n_slots} x N)"
        )
    n = count // n_slots
    if not full_images:
        return fit_batch(candidates, count, stitch_plan.crop_hw, NODE, "candidates"), n_slots, n
    candidates = fit_batch(candidates, count, stitch_plan.source_hw, NODE, "candidate images")
    crops = torch.empty(
        (len(stitch_plan.entries) * n, *stitch_plan.crop_hw, 3), dtype=torch.float32, device=candidates.device
    )
    for e, entry in enumerate(stitch_plan.entries):
        for k in range(n):
            src = candidates[candidate_index(entry.batch_index, k, n_slots, n, order)]
            crops[candidate_index(e, k, len(stitch_plan.entries), n, order)] = _crop_of(
                src, entry.crop_to_image, stitch_plan.crop_hw
            )
    return crops, len(stitch_plan.entries), n


def _round(v):
    return None if v is None else round(float(v), 4)


@dataclasses.dataclass
class _Layout:
    """Where the candidates of each slot are in the crops batch."""

    crops: torch.Tensor  # [S*N, h, w, 3]
    n_slots: int
    n: int
    order: str
    crop_hw: tuple[int, int]

    def candidate(self, slot: int, k: int) -> torch.Tensor:
        return self.crops[candidate_index(slot, k, self.n_slots, self.n, self.order)]


def _choose(
    m: Measurer, rec: dict, face: dict, entry, slot: int, image: torch.Tensor, full_rgb, layout: _Layout, sim_t
):
    """Measure the original (full resolution), the unedited crop (control) and every candidate of one face in one
    batch; record them; return (Selection, the original's identity, the detector box of the unedited face)."""
    expected = _expected_box(face, entry)
    control = m.find(_crop_of(image, entry.crop_to_image, layout.crop_hw), expected, None)
    unedited_box = None if control is None else control.box
    found = [control]
    for k in range(layout.n):
        comfy_adapter.check_interrupt()
        found.append(m.find(layout.candidate(slot, k), expected, unedited_box))
    reference, sims = m.reference_and_similarities((full_rgb, face), found)
    rec["similarity_before"], scores = _round(sims[0]), sims[1:]
    choice = select_variant(scores, None, "anonymise", sim_t)
    rec.update(
        candidates=[{"index": k, "face_found": v is not None, "similarity": _round(v)} for k, v in enumerate(scores)],
        chosen=choice.index,
        similarity_candidate=_round(None if choice.index is None else scores[choice.index]),
        passed=choice.passed,
        reason=choice.reason,
    )
    if rec["similarity_before"] is None:
        rec["warning"] = (
            "the unedited face was not re-detected in its own crop: the face check may reject good candidates"
        )
    elif rec["similarity_before"] < sim_t:
        rec["warning"] = "the unedited face does not even match itself through this pipeline (too small or blurred?)"
    if choice.index is None:
        rec["status"] = "FAILED: no candidate has a face at this face's place"
    elif not choice.passed:
        rec["status"] = "FAILED: every candidate is still recognised as this person"
    return choice, reference, unedited_box


def _judge_after(m: Measurer, stitched: list[tuple], out: torch.Tensor, crop_hw, sim_t: float) -> None:
    """Measure every stitched face against its original, in one batch: the verdict that counts.

    stitched: (record, face, stitch entry, original identity, unedited detector box) per stitched face."""
    found = [
        m.find(_crop_of(out[rec["image"]], entry.crop_to_image, crop_hw), _expected_box(face, entry), box)
        for rec, face, entry, _, box in stitched
    ]
    for (rec, *_), after in zip(stitched, m.similarities(found, [t[3] for t in stitched])):
        rec["similarity_after"] = _round(after)
        if after is None:
            rec["note"] = "after stitching the face was not re-detected at its place; judged on the chosen candidate"
        elif after >= sim_t:
            rec.update(passed=False, status="FAILED: the stitched face is still recognised as this person")


def _obscure(rec: dict, face: dict, out_image: torch.Tensor, changed: torch.Tensor) -> None:
    box = face_box(face["bbox_xyxy"], out_image.shape[:2])
    if box is None:
        return
    obscure_box(out_image, box)
    x0, y0, x1, y1 = box
    changed[y0:y1, x0:x1] = 1.0
    rec.update(blurred=True, blur_box=list(box), status=rec["status"] + " (face box blurred)")


def anonymise(
    original: torch.Tensor,
    candidates: torch.Tensor,
    plan: AnonymisePlan,
    stitch_plan: StitchPlan | None,
    model,
    s: Settings,
):
    """original [B,H,W,3], candidates [S*N,h,w,3] -> (image [B,H,W,3], changed MASK [B,H,W], all passed, report dict)."""
    with threads.at_most(THREADS):
        return _anonymise(original, candidates, plan, stitch_plan, model, s)


def _anonymise(original, candidates, plan: AnonymisePlan, stitch_plan: StitchPlan | None, model, s: Settings):
    check_model(model)
    check_original(original, plan.batch_size, plan.image_hw, NODE)
    full_images = stitch_plan is None
    if full_images:
        stitch_plan = _full_image_plan(original, plan)
    else:
        check_original(original, stitch_plan.batch_size, stitch_plan.source_hw, NODE)
    crops, n_slots, n = _candidate_crops(candidates.to(original.device), stitch_plan, full_images, s.order)
    layout = _Layout(crops, n_slots, n, s.order, stitch_plan.crop_hw)
    sim_t = similarity_threshold(model.backend, s.threshold)
    m = Measurer(model)
    entry_of = {face: e for e, face in _match_entries(stitch_plan.entries, plan.faces).items()}
    full_rgb = {b: to_rgb_uint8(original[b]) for b in range(plan.batch_size) if plan.faces[b]}

    records, measured, chosen_crops, composite = {}, {}, crops[: len(stitch_plan.entries)].clone(), set()
    all_faces = [(b, k) for b in range(plan.batch_size) for k in range(len(plan.faces[b]))]
    for b, k in comfy_adapter.iterate_with_progress(all_faces):
        face = plan.faces[b][k]
        rec = records[(b, k)] = {
            "image": b,
            "face": k,
            "box": [round(float(v), 1) for v in face["bbox_xyxy"]],
            "size_px": round(fl.face_size(face), 1),
            "similarity_before": None,
            "candidates": [],
            "chosen": None,
            "similarity_after": None,
            "passed": False,
            "blurred": False,
            "status": "anonymised",
        }
        if (b, k) not in entry_of:
            rec.update(
                status="FAILED: this face was not cropped, so it has no candidates",
                reason="connect Crop Face Region with face_index -1 and this plan's mask",
            )
            continue
        e = entry_of[(b, k)]
        choice, reference, unedited_box = _choose(
            m, rec, face, stitch_plan.entries[e], e, original[b], full_rgb[b], layout, sim_t
        )
        measured[(b, k)] = (reference, unedited_box)
        if choice.index is not None and (choice.passed or not s.blur_failed):  # a failed face to blur is not stitched
            chosen_crops[e] = layout.candidate(e, choice.index)
            composite.add(e)

    entries = [
        dataclasses.replace(en, empty=en.empty or i not in composite) for i, en in enumerate(stitch_plan.entries)
    ]
    out, changed = stitch(
        original, chosen_crops, dataclasses.replace(stitch_plan, entries=entries), s.feather, s.color_match, "replace"
    )
    stitched = [
        (rec, plan.faces[b][k], stitch_plan.entries[entry_of[(b, k)]], *measured[(b, k)])
        for (b, k), rec in records.items()
        if entry_of.get((b, k)) in composite
    ]
    _judge_after(m, stitched, out, layout.crop_hw, sim_t)
    for (b, k), rec in records.items():
        if not rec["passed"] and s.blur_failed:
            _obscure(rec, plan.faces[b][k], out[b], changed[b])
        if not rec["passed"]:
            log.warning("FaceLab %s: image %d face %d at %s: %s", NODE, b, k, rec["box"], rec["status"])
    report = _report(records, plan, model.backend, model.name, s, sim_t, n, full_images)
    return out, changed, report["all_anonymised"], report


def _report(
    records, plan: AnonymisePlan, backend: str, model_name: str, s: Settings, sim_t: float, n: int, full_images: bool
) -> dict:
    faces = [records[key] for key in sorted(records)]
    failed = [
        {"image": r["image"], "face": r["face"], "box": r["box"], "status": r["status"]}
        for r in faces
        if not r["passed"]
    ]
    done = len(faces) - len(failed)
    if not faces:
        summary = "no face found: the image passes through unchanged"
    else:
        summary = f"{len(faces)} face(s): {done} anonymised" + (f", {len(failed)} FAILED" if failed else "")
    return {
        "summary": summary,
        "all_anonymised": bool(faces) and not failed,
        "backend": backend,
        "model": model_name,
        "threshold": resolve_threshold(backend, s.threshold),
        "threshold_on": metric(backend).threshold_on,
        "similarity_threshold": round(sim_t, 4),
        "candidates_per_face": n,
        "candidates_are": "full images" if full_images else "crops",
        "order": s.order,
        "blur_failed": s.blur_failed,
        "faces": faces,
        "failed_faces": failed,
        "images_without_faces": [b for b in range(plan.batch_size) if not plan.faces[b]],
    }
