"""The default detection on a real crowded group photo: the 1927 Solvay conference (29 people, faces of 35-50 px in a
1280 x 926 grey-scale scan; provisioned from Debian's visp-images-data by tests/provision_assets.py, skipped where
apt cannot fetch it). Also the refinement's geometry (full_range.refine_tiles) on plain numbers.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import PHOTOS, photo_tensor

SOLVAY = "solvay_1927.png"
PEOPLE = 29  # the photo's 29 attendees, every face visible and nearly frontal


@pytest.fixture(scope="module")
def fr(pack):
    from comfyui_facelab.nodes.face import full_range

    return full_range


def _detect(pack, name: str, max_faces: int = 64) -> list[dict]:
    from comfyui_facelab.nodes.face import detection

    return detection.detect(photo_tensor(name), max_faces=max_faces, mode="full_range")["frames"][0]


@pytest.fixture(scope="module")
def solvay_faces(pack):
    if not (PHOTOS / SOLVAY).is_file():
        pytest.skip(f"{SOLVAY} not provisioned (needs `apt-get download visp-images-data`)")
    return _detect(pack, SOLVAY)


def test_default_mode_finds_the_crowd(pack, solvay_faces):
    """28 of 29 found (measured: 28; 14 before refinement), none twice and no false positive (at most 29)."""
    assert 28 <= len(solvay_faces) <= PEOPLE
    from comfyui_facelab.nodes.face.face_landmarks import box_iou

    boxes = np.array([f["bbox_xyxy"] for f in solvay_faces], dtype=np.float64)
    worst = max(box_iou(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    assert worst < 0.2  # distinct people (neighbours' mesh boxes touch, they do not overlap much)
    widths = boxes[:, 2] - boxes[:, 0]
    assert 25 <= widths.min() and widths.max() <= 60  # faces, not a head-sized or body-sized box


def test_refinement_is_what_finds_them(pack, fr, monkeypatch, solvay_faces):
    """Without the refinement around small faces the same pyramid finds about half (measured 14): the extra passes
    add faces that can be shown, as the issue asks of any tiling."""
    monkeypatch.setattr(fr, "REFINE_ROUNDS", 0)
    assert len(_detect(pack, SOLVAY)) <= 20 < len(solvay_faces)


def test_large_faces_need_no_refinement(pack, fr, monkeypatch):
    """t1.jpg's faces (~100 px) are large at level 0: no refinement pass runs, the pass count stays the pyramid's."""
    calls = []
    real = fr._detect_refined
    monkeypatch.setattr(fr, "_detect_refined", lambda *a: calls.append(a) or real(*a))
    assert len(_detect(pack, "t1.jpg")) == 6
    assert calls == []


def test_refine_tiles_geometry(fr):
    W, H, coarse = 1280, 926, 682
    assert fr.refine_tiles(W, H, [], coarse) == []
    assert fr.refine_tiles(W, H, [(10, 10, 40, 40)], 150) == []  # half of 150 px: more than a 2x upscale
    face = (600.0, 400.0, 640.0, 440.0)
    (tile,) = fr.refine_tiles(W, H, [face], coarse)
    assert tile[2] - tile[0] == tile[3] - tile[1] == coarse // 2
    assert tile[0] < face[0] and face[2] < tile[2] and tile[1] < face[1] and face[3] < tile[3]  # centred on it
    # A neighbour one face width away is held by that tile (REFINE_REACH to spare): no second tile; one far away
    # gets its own.
    near = (650.0, 400.0, 690.0, 440.0)
    assert len(fr.refine_tiles(W, H, [face, near], coarse)) == 1
    far = (1200.0, 850.0, 1240.0, 890.0)
    tiles = fr.refine_tiles(W, H, [face, far], coarse)
    assert len(tiles) == 2 and all(0 <= t[0] and t[2] <= W and 0 <= t[1] and t[3] <= H for t in tiles)
    assert fr.refine_tiles(W, H, [face, far], coarse, tiles) == []  # already run
