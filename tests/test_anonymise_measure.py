"""Pick Most Anonymous Candidate's face measurement (nodes/anonymise/candidate_measure.py) on a real photo.

The dlib path finds candidate faces with BlazeFace only and gives dlib the original's mesh box moved and scaled as
the detector box moved, so a candidate face drawn a little off place or smaller is still measured on itself.
Measured on obama.jpg's crop (448x320): the unedited crop scores 0.93; the same crop shrunk to 0.8x and shifted by
a fifth of its width scores 0.94 with the moved box, 0.88 with the original's box left where it was; the 0.92 bound
sits between them. Same person must stay same person: a misplaced box that lowered the score would let a
recognisable face pass as anonymous.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_anonymise_faces import detect, nodes, prepare, select  # noqa: F401  (fixtures)

pytest.importorskip("dlib")
pytest.importorskip("face_recognition_models")


def shrunk_and_shifted(crops: torch.Tensor, scale: float, shift: float) -> torch.Tensor:
    """The crop's content scaled about its centre on a flat background, then moved right by shift x width."""
    c = crops.permute(0, 3, 1, 2)
    h, w = c.shape[2:]
    sh, sw = round(h * scale), round(w * scale)
    small = F.interpolate(c, size=(sh, sw), mode="bilinear", antialias=True)
    out = torch.full_like(c, float(c.mean()))
    y0, x0 = (h - sh) // 2, (w - sw) // 2
    out[:, :, y0 : y0 + sh, x0 : x0 + sw] = small
    return torch.roll(out, shifts=round(shift * w), dims=3).permute(0, 2, 3, 1).contiguous()


def test_a_moved_smaller_copy_of_the_face_is_still_the_same_person(nodes, detect):  # noqa: F811
    image, _, _, plan, crops, stitch, _ = prepare(nodes, detect, "obama.jpg")
    moved = shrunk_and_shifted(crops, 0.8, 0.1)
    _, _, ok, report = select(nodes, image, torch.cat([crops, moved]), plan, stitch, blur_failed=False)
    face = report["faces"][0]
    assert [c["face_found"] for c in face["candidates"]] == [True, True]
    assert face["similarity_before"] >= 0.9 and face["candidates"][0]["similarity"] >= 0.9
    assert face["candidates"][1]["similarity"] >= 0.92  # the box followed the face (0.88 if it had not)
    assert not ok and not face["passed"]  # both are him: nothing was anonymised


def test_moved_box_follows_the_detector_box(pack):
    from comfyui_facelab.nodes.anonymise.candidate_measure import moved_box

    expected = np.array([100.0, 80.0, 200.0, 220.0])
    unedited = np.array([110.0, 110.0, 190.0, 200.0])
    assert np.allclose(moved_box(expected, unedited, unedited), expected)  # the unedited face: its own mesh box
    assert np.allclose(moved_box(expected, unedited, None), expected)  # no detector box known: the mesh box
    # Twice as large, centred 50 px right: the mesh box (x -50..50 from the box centre) doubles and moves along.
    bigger = np.array([120.0, 65.0, 280.0, 245.0])
    assert np.allclose(moved_box(expected, bigger, unedited), [100.0, 5.0, 300.0, 285.0])


def test_thread_limit_is_local_and_restored(pack):
    from comfyui_facelab.nodes.base import threads

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with threads.at_most(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError), threads.at_most(1):
            raise RuntimeError("boom")
        assert torch.get_num_threads() == 2  # restored on error too
        torch.set_num_threads(1)
        with threads.at_most(4):  # never raised
            assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_arcface_keeps_the_mesh_check(nodes, detect, tmp_path):  # noqa: F811
    """ArcFace aligns on the face's own five mesh points, so its check is the landmarker pass (mesh + detector).
    The model is ArcFace-shaped with random weights (no ArcFace weights offline, see test_identity_arcface.py): only
    the check and the plumbing are tested here, and that the same pixels score as the same face."""
    pytest.importorskip("onnx")
    from comfyui_facelab.nodes.anonymise import anonymise_select
    from comfyui_facelab.nodes.anonymise.candidate_measure import Measurer
    from comfyui_facelab.nodes.identity.embedding import load_identity_model
    from test_anonymise_faces import resized, small
    from test_identity_arcface import build_model

    path = tmp_path / "arcface_like.onnx"
    build_model(path)
    model = load_identity_model("arcface", provider="CPUExecutionProvider", onnx_path=str(path))
    assert Measurer(model).mesh
    image, _, _, plan, crops, stitch, _ = prepare(nodes, detect, "obama.jpg")
    cat = resized(small("chelsea.png"), crops.shape[1:3])
    shifted = torch.roll(crops, shifts=crops.shape[2] // 2, dims=2)
    candidates = torch.cat([crops, cat, shifted])
    _, _, _, report = anonymise_select.anonymise(image, candidates, plan, stitch, model, anonymise_select.Settings())
    face = report["faces"][0]
    assert [c["face_found"] for c in face["candidates"]] == [True, False, False]
    assert face["similarity_before"] > 0.9 and face["candidates"][0]["similarity"] > 0.9


def test_a_face_in_rainbow_colours_is_not_a_usable_candidate(nodes, detect, monkeypatch):  # noqa: F811
    """The check's colour test (detection's false-positive rule: skin shares one hue): the original crop's
    brightness with hues circling across it is still a face to BlazeFace (score 0.66), not to the check."""
    from comfyui_facelab.nodes.anonymise import candidate_measure

    image, _, _, plan, crops, stitch, _ = prepare(nodes, detect, "obama.jpg")
    grey = crops.mean(-1, keepdim=True)
    h, w = crops.shape[1:3]
    hue = torch.arange(w).view(1, 1, w, 1) / w * 6 * np.pi + torch.arange(h).view(1, h, 1, 1) / h * 4 * np.pi
    rainbow = (grey + 0.35 * torch.cat([torch.cos(hue + k * 2 * np.pi / 3) for k in (0, -1, 1)], -1)).clamp(0, 1)
    candidates = torch.cat([crops, rainbow])
    _, _, _, report = select(nodes, image, candidates, plan, stitch)
    assert [c["face_found"] for c in report["faces"][0]["candidates"]] == [True, False]
    monkeypatch.setattr(candidate_measure, "_skin_like", lambda rgb, box: True)  # without the colour test
    _, _, _, report = select(nodes, image, candidates, plan, stitch)
    assert [c["face_found"] for c in report["faces"][0]["candidates"]] == [True, True]
