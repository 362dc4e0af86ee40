"""The full_range find stage's geometry and reading (nodes/face/full_range.py): tile pyramid, frame shrink, the
confirmation mosaic. Recall on real photos is tested in test_detection_full_range.py and test_detection_stability.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_photo
from PIL import Image


@pytest.fixture(scope="module")
def fr(pack):
    from comfyui_facelab.nodes.face import full_range

    return full_range


@pytest.mark.parametrize("size", [(1920, 1280), (1280, 886), (1920, 1329), (1920, 1080), (970, 2204), (4096, 4096)])
def test_each_level_holds_whole_every_face_the_next_level_may_miss(fr, size):
    """A face smaller than the next level's reliable size lies whole, clear of the cut margin, in some tile."""
    W, H = size
    levels = fr.tile_levels(W, H)
    assert levels[-1][1] == [(0, 0, W, H)]  # the whole image last
    assert levels[0][0] <= fr.TILE0 * fr.TILE_STRETCH  # level 0 shows a 30 px face at >= 8.3 px (measured: 75 % found)
    rng = np.random.default_rng(0)
    for (side, tiles), (next_side, _) in zip(levels, levels[1:]):
        face = fr.RELIABLE_PX * next_side / fr.DETECTOR_INPUT  # found reliably by the next level from this size
        margin = 0.01 * side  # find_faces drops boxes this close to an inner tile edge
        for x, y in rng.uniform(0, 1, (300, 2)) * [W - face, H - face]:

            def whole(t):
                return (
                    (t[0] == 0 or x >= t[0] + margin)
                    and (t[1] == 0 or y >= t[1] + margin)
                    and (t[2] == W or x + face <= t[2] - margin)
                    and (t[3] == H or y + face <= t[3] - margin)
                )

            assert any(whole(t) for t in tiles), (size, side, face, x, y)


def test_pass_counts_of_a_1920_px_group_photo(fr):
    # 3 x 2 tiles of 696 px (stretched from 640 to save a column and a row), 2 of 1280, the whole image: 9 detector
    # passes where the quarter-overlap pyramid took 15 (4 x 3 + 2 + 1). A thin strip still gets one row of tiles.
    assert [(s, len(t)) for s, t in fr.tile_levels(1920, 1280)] == [(696, 6), (1280, 2), (1920, 1)]
    assert [len(t) for _, t in fr.tile_levels(1280, 886)] == [4, 1]
    assert [len(t) for _, t in fr.tile_levels(512, 512)] == [1]


@pytest.mark.parametrize("as_float", [True, False])
def test_frame_shrink_in_bands_matches_one_whole_image_resize(pack, fr, as_float):
    import torch
    from comfyui_facelab.nodes.face import detection

    # Sizes not divisible by the box factor (6 here) and taller than one band of rows (1020 rows): the band seams
    # and the part-filled last boxes are where a misaligned shrink would show.
    big = np.asarray(Image.fromarray(load_photo("grace_hopper.jpg")).resize((1931, 2263), Image.BICUBIC))
    image = torch.from_numpy(big.astype(np.float32) / 255) if as_float else big
    out = fr._shrink_frame(detection._Frame(image), 283, 332).astype(np.float64)
    # Read in bands, it equals the same shrink of the whole image at once: exactly (measured 0 levels).
    whole = Image.fromarray(big).reduce(6).resize((283, 332), Image.BILINEAR, box=(0, 0, 1931 / 6, 2263 / 6))
    assert np.array_equal(out, np.asarray(whole))
    # Against PIL's one antialiased resize of the whole image: measured mean 1.0 level (99th percentile 8); mapping
    # the part-filled last boxes as whole pixels (no `box`) measured 2.6, a one-pixel shift 6.6-7.5.
    ref = np.asarray(Image.fromarray(big).resize((283, 332), Image.BILINEAR)).astype(np.float64)
    assert np.abs(out - ref).mean() < 1.5


def test_mosaic_confirmation_maps_faces_back_to_the_image(pack, fr):
    from comfyui_facelab.nodes.face import detection

    # Four real faces confirmed in one pass: each comes back where its candidate was, at its size.
    rgb = np.concatenate([load_photo("grace_hopper.jpg")[:512], load_photo("astronaut.png")], axis=1)
    rgb = np.ascontiguousarray(np.concatenate([rgb, rgb[:, ::-1]], axis=0))  # 1024 x 1024, four faces
    frame = detection._Frame(rgb)
    truth = [(166, 130, 365, 329), (512 + 172, 68, 512 + 275, 171)]  # detector boxes (tests/group_photo.py)
    truth += [(1023 - b[2], 512 + b[1], 1023 - b[0], 512 + b[3]) for b in truth]
    cands = [(b, 0.5, None) for b in truth]
    faces = fr._confirm(frame, cands, 0.5, 2)
    assert all(f is not None for f in faces), faces
    for b, f in zip(truth, faces):
        got, size = np.asarray(f["box"]), b[2] - b[0]
        # Centre within 10 % and width within 15 % of the face size (measured: up to 8.6 % and 5.4 %; the detector's
        # box of a face moves with the crop and the mirror). A wrong cell offset would be off by half the image.
        centre = ((got[0] + got[2]) / 2 - (b[0] + b[2]) / 2, (got[1] + got[3]) / 2 - (b[1] + b[3]) / 2)
        assert max(map(abs, centre)) < 0.1 * size and abs((got[2] - got[0]) - size) < 0.15 * size, (b, got)
        eyes = f["keypoints"][:2]
        assert all(b[0] <= x <= b[2] and b[1] <= y <= b[3] for x, y in eyes), (b, eyes)
