"""dlib's descriptor network run in torch (nodes/identity/dlib_resnet.py) gives dlib's own descriptors.

Chips are cut by dlib (HOG box -> 5-point shape -> get_face_chip 150 px) from real photos: three portraits and the
six faces of the group photo. dlib's float32 network and torch's differ only in summation order, so descriptors
agree to ~1e-6 (measured 3e-7); 1e-4 is far below anything the 0.6 distance threshold could notice, and a wrong
layer (a missing affine, a skipped zero-padded add, a transposed fc) moves them by > 0.01.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_photo

dlib = pytest.importorskip("dlib")
frm = pytest.importorskip("face_recognition_models")


@pytest.fixture(scope="module")
def chips(pack):
    det = dlib.get_frontal_face_detector()
    sp = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    out = []
    for name in ("obama.jpg", "biden.jpg", "grace_hopper.jpg", "t1.jpg"):
        rgb = load_photo(name)
        for r in det(rgb, 1):
            out.append(dlib.get_face_chip(rgb, sp(rgb, r), size=150, padding=0.25))
    assert len(out) >= 7  # three portraits and most of the group photo's six faces
    return np.stack(out)


def test_torch_descriptors_equal_dlibs(chips):
    from comfyui_facelab.nodes.identity import dlib_resnet

    rec = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
    ref = np.stack([np.asarray(rec.compute_face_descriptor(c), dtype=np.float32) for c in chips])
    net = dlib_resnet.load(frm.face_recognition_model_location())
    batched = net.describe(chips)
    single = np.concatenate([net.describe(c[None]) for c in chips])
    assert batched.shape == (len(chips), 128) and batched.dtype == np.float32
    assert float(np.abs(batched - ref).max()) < 1e-4 and float(np.abs(single - ref).max()) < 1e-4
    # Different people stay different: the pairwise distances are dlib's to 1e-4 (same decisions at 0.6).
    d_ref = np.linalg.norm(ref[:, None] - ref[None], axis=-1)
    d_net = np.linalg.norm(batched[:, None] - batched[None], axis=-1)
    assert float(np.abs(d_ref - d_net).max()) < 1e-4


def test_a_file_that_is_not_the_network_is_refused_and_dlib_is_used(tmp_path, monkeypatch, pack):
    from comfyui_facelab.nodes.identity import dlib_backend, dlib_resnet, embedding

    real = frm.face_recognition_model_location()
    cut = tmp_path / "truncated.dat"
    data = open(real, "rb").read()
    cut.write_bytes(data[: len(data) // 2])  # half the layers: the sequence check must refuse it
    with pytest.raises(dlib_resnet.DlibResNetFormatError):
        dlib_resnet.DlibResNet(cut)
    with pytest.raises(ValueError, match="chips must be"):
        dlib_resnet.load(real).describe(np.zeros((1, 112, 112, 3), np.uint8))

    model = embedding.load_identity_model("dlib")
    rgb = load_photo("obama.jpg")
    faces = model.detect(rgb)[:1]
    fast = model.embed(rgb, faces)
    monkeypatch.setitem(dlib_backend._models, "rec_path", str(cut))  # as if the installed file were another model
    monkeypatch.setattr(dlib_backend, "_torch_failed", set())
    slow = model.embed(rgb, faces)  # dlib's own network, warned once
    assert str(cut) in dlib_backend._torch_failed
    assert float(np.abs(fast - slow).max()) < 1e-4
