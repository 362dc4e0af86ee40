"""Makeup geometry: the mesh triangulation, the piecewise-affine warp, head yaw and reference checks."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
import torch
from conftest import landmarks_for, load_photo
from PIL import Image


@pytest.fixture(scope="module")
def mw(pack):
    from comfyui_facelab.nodes.makeup import mesh_warp

    return mesh_warp


def _face(name):
    return landmarks_for(name)["frames"][0][0]


def test_triangulation_is_the_face_mesh_surface(mw):
    tris = mw.mesh_triangles()
    assert tris.shape == (852, 3)
    edges = Counter(tuple(sorted(e)) for t in tris for e in itertools.combinations(t, 2))
    # a surface: every edge borders one (boundary) or two triangles
    assert set(edges.values()) == {1, 2}
    # Euler characteristic of a disk with three holes (two eyes, the mouth): V - E + F = 1 - 3
    assert len(set(tris.ravel())) - len(edges) + len(tris) == -2
    # consistently oriented: neighbours run their shared edge in opposite directions
    directed = Counter(e for a, b, c in tris for e in ((a, b), (b, c), (c, a)))
    assert max(directed.values()) == 1
    # every tesselation edge is used
    from comfyui_facelab.nodes.face import landmarker

    tess = {tuple(sorted(e)) for e in landmarker.connection_sets()["tesselation"]}
    assert tess == set(edges)


def test_separating_three_cycle_is_not_a_face(mw):
    # Triangle 0-1-2 fanned around a centre 3, inside a square 4-5-6-7 joined to it by a strip:
    # 0-1-2 is a 3-cycle of the edge graph but not a face (it separates the inner fan from the strip).
    fan = [(0, 1, 3), (1, 2, 3), (2, 0, 3)]
    strip = [(0, 7, 4), (0, 4, 1), (1, 4, 5), (1, 5, 6), (1, 6, 2), (2, 6, 7), (2, 7, 0)]
    faces = fan + strip
    edges = {tuple(sorted(e)) for f in faces for e in itertools.combinations(f, 2)}
    got = {tuple(sorted(t)) for t in mw.triangles_from_edges(edges)}
    assert got == {tuple(sorted(f)) for f in faces}


def test_frontal_face_has_almost_no_folded_triangles(mw):
    for name in ("grace_hopper.jpg", "obama.jpg"):
        keep = mw.unfolded_triangles(_face(name)["landmarks_xy"], mw.mesh_triangles())
        assert keep.mean() > 0.98, name


def test_moving_a_vertex_across_its_neighbours_folds_only_its_triangles(mw):
    tris = mw.mesh_triangles()
    lm = np.array(_face("obama.jpg")["landmarks_xy"], dtype=np.float64)
    before = mw.unfolded_triangles(lm, tris)
    nose_tip = 1
    moved = lm.copy()
    moved[nose_tip, 0] += np.ptp(lm[:, 0]) / 3  # far across its ring of neighbours
    after = mw.unfolded_triangles(moved, tris)
    touching = (tris == nose_tip).any(1)
    assert before[touching].all() and not after[touching].all()
    assert np.array_equal(after[~touching], before[~touching])


def _affine_warp(img: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Apply x' = A @ [x, y, 1] (pixel centres at +0.5) with PIL (which wants the inverse map)."""
    full = np.vstack([a, [0, 0, 1]])
    inv = np.linalg.inv(full)
    # PIL maps output pixel corner coords -> input; our coordinates use centres at +0.5 in both frames
    shift = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    m = np.linalg.inv(shift) @ inv @ shift
    h, w = img.shape[:2]
    out = Image.fromarray(img).transform((w, h), Image.AFFINE, tuple(m[:2].ravel()), resample=Image.BILINEAR)
    return np.asarray(out)


def test_warp_undoes_a_known_affine_transform(mw):
    rgb = load_photo("grace_hopper.jpg")
    lm = np.asarray(_face("grace_hopper.jpg")["landmarks_xy"], dtype=np.float64)
    ang = np.radians(12)
    a = np.array([[0.8 * np.cos(ang), -0.8 * np.sin(ang), 60.0], [0.8 * np.sin(ang), 0.8 * np.cos(ang), 20.0]])
    moved_img = _affine_warp(rgb, a)
    moved_lm = lm @ a[:, :2].T + a[:, 2]
    src = torch.from_numpy(moved_img.astype(np.float32) / 255.0)
    warped, valid = mw.warp_face(src, moved_lm, lm, rgb.shape[:2])
    assert valid.sum() > 0.9 * np.count_nonzero(mw.rasterize_triangle_ids(lm, mw.mesh_triangles(), rgb.shape[:2]) >= 0)
    err = np.abs(warped.numpy()[valid] - rgb[valid].astype(np.float32) / 255.0)
    assert err.mean() < 0.03  # two bilinear resamplings of a JPEG face
    # and a warp onto itself is the identity
    same, ok = mw.warp_face(torch.from_numpy(rgb.astype(np.float32) / 255.0), lm, lm, rgb.shape[:2])
    assert np.abs(same.numpy()[ok] - rgb[ok] / 255.0).max() < 1e-4


def test_warp_marks_samples_outside_the_reference_invalid(mw):
    rgb = load_photo("grace_hopper.jpg")
    lm = np.asarray(_face("grace_hopper.jpg")["landmarks_xy"], dtype=np.float64)
    cut = int(lm[:, 1].mean())  # keep only the upper half of the face in the reference
    ref = torch.from_numpy(rgb[:cut].astype(np.float32) / 255.0)
    _, valid = mw.warp_face(ref, lm, lm, rgb.shape[:2])
    rows = np.nonzero(valid)[0]
    assert rows.max() <= cut + 1 and len(rows) > 1000


def test_yaw_is_small_for_frontal_and_flips_with_a_mirror(pack):
    from comfyui_facelab.nodes.face import landmarker
    from comfyui_facelab.nodes.makeup.reference_check import estimate_yaw

    assert abs(estimate_yaw(_face("grace_hopper.jpg"))) < 5
    biden = _face("biden.jpg")
    yaw = estimate_yaw(biden)
    assert abs(yaw) > 8  # the Biden portrait is visibly turned
    mirrored = landmarker.detect_faces(np.ascontiguousarray(load_photo("biden.jpg")[:, ::-1]))[0]
    assert estimate_yaw(mirrored) == pytest.approx(-yaw, abs=3)
    # without depth, the 2-D nose estimate agrees with the 3-D one
    flat = {k: v for k, v in biden.items() if k != "landmarks_3d"}
    assert estimate_yaw(flat) == pytest.approx(yaw, abs=6)


def test_check_face_reports_missing_tiny_small_and_turned_faces(pack):
    from comfyui_facelab.nodes.makeup import reference_check as rc

    ok, msgs = rc.check_face(None, "reference")
    assert not ok and "no face" in msgs[0]
    face = dict(_face("obama.jpg"))
    assert rc.check_face(face, "reference") == (True, [])
    tiny = {**face, "landmarks_xy": face["landmarks_xy"] * 0.1, "landmarks_3d": face["landmarks_3d"] * 0.1}
    ok, msgs = rc.check_face(tiny, "reference")
    assert not ok and "too small" in msgs[0]
    small = {**face, "landmarks_xy": face["landmarks_xy"] * 0.35, "landmarks_3d": face["landmarks_3d"] * 0.35}
    ok, msgs = rc.check_face(small, "reference")
    assert ok and "small" in msgs[0]
    # turn the 3-D mesh 50 degrees about the vertical axis
    p = face["landmarks_3d"] - face["landmarks_3d"].mean(0)
    t = np.radians(50)
    rot = np.array([[np.cos(t), 0, np.sin(t)], [0, 1, 0], [-np.sin(t), 0, np.cos(t)]])
    turned = {**face, "landmarks_3d": (p @ rot.T).astype(np.float32)}
    ok, msgs = rc.check_face(turned, "reference")
    assert ok and any("turned" in m for m in msgs)
