"""Zone atlas and zone masks on real portraits with the real MediaPipe model: placement, anatomy, mask maths."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from conftest import SINGLE_FACE_PHOTOS, landmarks_for, load_photo
from PIL import Image, ImageDraw
from scipy import ndimage


@pytest.fixture(scope="module")
def za(pack):
    from comfyui_facelab.nodes.face import zone_atlas

    return zone_atlas


@pytest.fixture(scope="module")
def zm(pack):
    from comfyui_facelab.nodes.face import zone_masks

    return zone_masks


def face_of(name: str) -> tuple[np.ndarray, tuple[int, int]]:
    lms = landmarks_for(name)
    faces = lms["frames"][0]
    assert len(faces) == 1, f"{name}: expected one face, found {len(faces)}"
    return np.asarray(faces[0]["landmarks_xy"], dtype=np.float64), tuple(lms["image_size"])


def centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    w = mask[ys, xs]
    return np.array([np.average(xs, weights=w), np.average(ys, weights=w)]) + 0.5


# --- atlas ------------------------------------------------------------------------------------------------------


def test_atlas_has_the_interface_zones_and_groups(za):
    expected = (
        "forehead glabella crows_feet_left crows_feet_right under_eye_left under_eye_right inter_ocular "
        "nasolabial_left nasolabial_right marionette_left marionette_right upper_lip chin cheek_left cheek_right "
        "jawline nose eye_left eye_right eyebrow_left eyebrow_right lips mouth face_oval skin"
    ).split()
    assert list(za.ZONE_NAMES) == expected
    assert all(name in za.ZONES and za.ZONES[name].definition for name in za.ZONE_NAMES)
    for group in (
        "crows_feet",
        "under_eye",
        "nasolabial",
        "marionette",
        "cheeks",
        "eyes",
        "eyebrows",
        "all_wrinkle_zones",
    ):
        assert za.ZONE_GROUPS[group] and set(za.ZONE_GROUPS[group]) <= set(za.ZONES)


def test_mirror_table_is_an_involution_fixing_only_the_midline(za):
    m = np.array(za.MIRROR)
    assert sorted(m) == list(range(478))
    assert (m[m] == np.arange(478)).all()
    assert set(np.nonzero(m == np.arange(478))[0]) == set(za.MIDLINE)
    # well-known MediaPipe pairs: outer/inner eye corners, mouth corners, brow tails, cheek contour
    for right, left in ((33, 263), (133, 362), (61, 291), (70, 300), (234, 454), (468, 473)):
        assert m[right] == left


def test_mirror_table_matches_real_faces(za):
    """Landmark MIRROR[i] of a photo's mirror image lands where landmark i is (within a few % of the eye distance).

    A wrong pairing would put points on the other side of the face (errors of tens of %)."""
    from comfyui_facelab.nodes.face import landmarker

    for name in ("obama.jpg", "grace_hopper.jpg"):
        rgb = load_photo(name)
        lm = landmarks_for(name)["frames"][0][0]["landmarks_xy"][:468]
        flipped = landmarker.detect_faces(np.ascontiguousarray(rgb[:, ::-1]))[0]["landmarks_xy"][:468]
        back = flipped[np.array(za.MIRROR[:468])].copy()
        back[:, 0] = rgb.shape[1] - back[:, 0]
        iod = np.linalg.norm(lm[list(za.EYE_RIGHT)].mean(0) - lm[[za.MIRROR[i] for i in za.EYE_RIGHT]].mean(0))
        err = np.linalg.norm(back - lm, axis=1) / iod
        assert np.median(err) < 0.03 and err.max() < 0.12, (name, np.median(err), err.max())


def test_left_zones_are_mirrors_of_right_zones(za):
    for name in za.ZONE_NAMES + za.EXTRA_ZONE_NAMES:
        if name.endswith("_left"):
            left, right = za.ZONES[name], za.ZONES[name[: -len("_left")] + "_right"]
            assert left.rings == tuple(za.mirror_ring(r) for r in right.rings)
            assert left.holes == tuple(za.mirror_ring(r) for r in right.holes)
            assert left.rings != right.rings and left.inside_face == right.inside_face  # really the other side


def test_resolve_zones_groups_order_duplicates_aliases(za):
    assert za.resolve_zones("crows_feet, lips eyes;LIPS") == [
        "crows_feet_left",
        "crows_feet_right",
        "lips",
        "eye_left",
        "eye_right",
    ]
    assert za.resolve_zones(["under_eye_left", "under_eye"]) == ["under_eye_left", "under_eye_right"]
    assert za.resolve_zones("Tear-Trough") == ["under_eye_left", "under_eye_right"]
    assert za.resolve_zones("all") == list(za.ZONE_NAMES)
    assert za.resolve_zones("") == []


def test_resolve_zones_unknown_name_lists_valid_names(za):
    with pytest.raises(ValueError) as err:
        za.resolve_zones("forehead, crowsfoot, eyeball")
    msg = str(err.value)
    assert "'crowsfoot'" in msg and "'eyeball'" in msg
    assert "crows_feet_left" in msg and "skin" in msg and "all_wrinkle_zones" in msg


def test_resolve_subtract_presets_and_names(za):
    assert za.resolve_subtract("none") == [] and za.resolve_subtract(None) == []
    assert set(za.resolve_subtract("eyes+brows+lips")) == {
        "eye_left",
        "eye_right",
        "eyebrow_left",
        "eyebrow_right",
        "mouth",
    }
    assert za.resolve_subtract("eyes+nostrils") == ["eye_left", "eye_right", "nostril_left", "nostril_right"]
    with pytest.raises(ValueError, match="Presets"):
        za.resolve_subtract("eyes+ears")


# --- placement on real portraits ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zone_masks_of(zm, za):
    """name -> (landmarks, {zone: crisp mask}, oval grown by 2% IOD)."""
    cache = {}

    def get(name):
        if name not in cache:
            lm, size = face_of(name)
            masks = {z: zm.face_zone_mask(lm, z, size) for z in za.ZONE_NAMES}
            cache[name] = (lm, masks, zm.face_zone_mask(lm, "face_oval", size, grow=2.0))
        return cache[name]

    return get


# Plausible share of the face oval, from facial proportions (eye fissure ~3 x 1 cm, lips ~5 x 1.8 cm, forehead
# about a third of the face above the brows, ...), wide enough for expressions (obama and astronaut smile).
AREA_RATIO = {
    "forehead": (0.15, 0.45), "glabella": (0.01, 0.05), "crows_feet": (0.004, 0.04), "under_eye": (0.01, 0.06),
    "inter_ocular": (0.005, 0.03), "nasolabial": (0.01, 0.05), "marionette": (0.01, 0.05), "upper_lip": (0.02, 0.08),
    "chin": (0.04, 0.15), "cheek": (0.04, 0.2), "jawline": (0.04, 0.2), "nose": (0.04, 0.12), "eye": (0.003, 0.02),
    "eyebrow": (0.005, 0.03), "lips": (0.01, 0.07), "mouth": (0.01, 0.12), "face_oval": (1.0, 1.0), "skin": (0.8, 0.97),
}  # fmt: skip


def _kind(zone: str) -> str:
    return zone.replace("_left", "").replace("_right", "")


@pytest.mark.parametrize("name", SINGLE_FACE_PHOTOS)
def test_every_zone_is_non_empty_inside_the_face_and_plausibly_sized(name, za, zone_masks_of):
    lm, masks, oval_grown = zone_masks_of(name)
    oval_area = masks["face_oval"].sum()
    for zone, m in masks.items():
        assert m.dtype == np.float32 and 0.0 <= m.min() and m.max() <= 1.0
        lo, hi = AREA_RATIO[_kind(zone)]
        ratio = m.sum() / oval_area
        assert lo - 1e-3 <= ratio <= hi + 1e-3, f"{name} {zone}: {ratio:.4f} of the face oval, expected {lo}..{hi}"
        if zone != "forehead":
            inside = (m * oval_grown).sum() / m.sum()
            assert inside > 0.995, f"{name} {zone}: only {inside:.3f} of it inside the face oval"
    # The forehead reaches above the mesh toward the hairline, and only there.
    fh = masks["forehead"]
    outside = fh * (1 - oval_grown)
    assert outside.sum() > 0.1 * fh.sum()
    up_axis = lm[10] - lm[152]
    assert np.dot(centroid(outside) - lm[10], up_axis) > 0


@pytest.mark.parametrize("name", SINGLE_FACE_PHOTOS)
def test_subject_left_zones_lie_on_the_image_right_of_the_nose_axis(name, za, zone_masks_of):
    lm, masks, _ = zone_masks_of(name)
    top, bottom = lm[168], lm[152]  # nose root -> chin: the facial midline

    def side(points):  # > 0: image-right of the midline
        d = bottom - top
        return d[0] * (points[:, 1] - top[1]) - d[1] * (points[:, 0] - top[0]) < 0

    for zone, m in masks.items():
        if not zone.endswith(("_left", "_right")):
            continue
        ys, xs = np.nonzero(m >= 0.5)
        on_right = side(np.stack([xs + 0.5, ys + 0.5], axis=1)).mean()
        want = on_right if zone.endswith("_left") else 1 - on_right
        assert want > 0.97, f"{name} {zone}: only {want:.2f} of it on the expected side of the nose axis"


@pytest.mark.parametrize("name", SINGLE_FACE_PHOTOS)
def test_anatomical_order(name, za, zone_masks_of):
    lm, masks, _ = zone_masks_of(name)
    c = {z: centroid(m) for z, m in masks.items()}
    # Vertical order along the face's own up-axis (chin -> mesh top), so a tilt does not matter.
    up = (lm[10] - lm[152]) / np.linalg.norm(lm[10] - lm[152])
    h = {z: float(np.dot(p, up)) for z, p in c.items()}
    order = ["forehead", "glabella", "nose", "upper_lip", "lips", "chin"]
    heights = [h[z] for z in order]
    assert heights == sorted(heights, reverse=True), dict(zip(order, heights))
    lateral = (lm[263] - lm[33]) / np.linalg.norm(lm[263] - lm[33])  # image x-ish, toward the subject's left
    for side, outer, inner, sign in (("right", 33, 133, -1), ("left", 263, 362, 1)):
        assert h[f"eye_{side}"] < h[f"eyebrow_{side}"]
        assert h[f"under_eye_{side}"] < h[f"eye_{side}"] and h[f"cheek_{side}"] < h[f"under_eye_{side}"]
        # crow's feet: lateral to the outer eye corner
        assert sign * np.dot(c[f"crows_feet_{side}"] - lm[outer], lateral) > 0
        # nasolabial: from the nose wing down to the mouth corner, lateral to the upper lip
        assert (
            h["nose"]
            > h[f"nasolabial_{side}"]
            > float(np.dot(lm[61 if side == "right" else 291], up)) - 0.05 * np.linalg.norm(lm[10] - lm[152])
        )
        assert sign * np.dot(c[f"nasolabial_{side}"] - c["upper_lip"], lateral) > 0
        # marionette: below the mouth corner, lateral to the chin centre
        assert h[f"marionette_{side}"] < float(np.dot(lm[61 if side == "right" else 291], up))
        assert sign * np.dot(c[f"marionette_{side}"] - c["chin"], lateral) > 0
    # glabella between the brow heads, above the nose root; inter-ocular between the inner eye corners
    for zone in ("glabella", "inter_ocular"):
        t = np.dot(c[zone] - lm[133], lateral) / np.dot(lm[362] - lm[133], lateral)
        assert 0.3 < t < 0.7, (zone, t)
    assert h["glabella"] > float(np.dot(lm[168], up)) > h["inter_ocular"] - 0.02 * np.linalg.norm(lm[10] - lm[152])
    # skin leaves the features out
    for feature in ("eye_left", "eye_right", "lips", "eyebrow_left"):
        core = ndimage.binary_erosion(masks[feature] >= 1.0)
        assert masks["skin"][core].max() == 0.0, feature


def _non_adjacent_edge_crossings(poly: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (i, j) of non-adjacent edges (edge k runs from vertex k to k+1) that cross or touch."""
    a, b = poly, np.roll(poly, -1, axis=0)
    n = len(poly)

    def orient(p, q, r):  # sign of the turn p -> q -> r, broadcast over (n, n)
        return np.sign(
            (q[..., 0] - p[..., 0]) * (r[..., 1] - p[..., 1]) - (q[..., 1] - p[..., 1]) * (r[..., 0] - p[..., 0])
        )

    def on_segment(p, q, r):  # r on segment p-q, given p, q, r collinear
        return (
            (np.minimum(p[..., 0], q[..., 0]) <= r[..., 0])
            & (r[..., 0] <= np.maximum(p[..., 0], q[..., 0]))
            & (np.minimum(p[..., 1], q[..., 1]) <= r[..., 1])
            & (r[..., 1] <= np.maximum(p[..., 1], q[..., 1]))
        )

    p1, p2, p3, p4 = a[:, None], b[:, None], a[None, :], b[None, :]
    d1, d2, d3, d4 = orient(p3, p4, p1), orient(p3, p4, p2), orient(p1, p2, p3), orient(p1, p2, p4)
    hit = (d1 * d2 < 0) & (d3 * d4 < 0)
    hit |= (d1 == 0) & on_segment(p3, p4, p1) | (d2 == 0) & on_segment(p3, p4, p2)
    hit |= (d3 == 0) & on_segment(p1, p2, p3) | (d4 == 0) & on_segment(p1, p2, p4)
    i, j = np.triu_indices(n, k=2)
    keep = ~((i == 0) & (j == n - 1))  # the first and last edges share vertex 0
    i, j = i[keep], j[keep]
    return [(int(x), int(y)) for x, y in zip(i, j) if hit[x, y]]


def test_edge_crossing_check_catches_a_bow_tie():
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)
    assert _non_adjacent_edge_crossings(square) == []
    assert _non_adjacent_edge_crossings(square[[0, 1, 3, 2]]) == [(1, 3)]  # the two diagonals cross
    assert _non_adjacent_edge_crossings(np.array([[0, 0], [2, 0], [1, 0], [1, 1]], dtype=float))  # folds back


@pytest.mark.parametrize("name", SINGLE_FACE_PHOTOS)
def test_every_zone_is_a_simple_polygon_and_a_solid_mask(name, za, zm):
    """Each filled outline is a simple polygon (no two non-adjacent edges meet), and each zone's mask is one
    piece without holes other than the ones it declares (the mouth opening of `lips`, the features of `skin`).

    Holes are not checked for simplicity: the inner lip contour legitimately touches itself when the mouth is
    closed (its points meet), which only makes the cut-out empty there."""
    lm, size = face_of(name)
    eight = np.ones((3, 3), dtype=bool)
    for zone in za.ZONE_NAMES + za.EXTRA_ZONE_NAMES:
        for poly in zm.zone_polygons(lm, zone):
            crossings = _non_adjacent_edge_crossings(poly)
            assert not crossings, f"{name} {zone}: ring edges {crossings} cross (self-intersecting outline)"
        solid = zm.face_zone_mask(lm, zone, size) > 0.5
        declared = Image.new("L", (size[1], size[0]), 0)
        for hole in zm.zone_hole_polygons(lm, zone):
            ImageDraw.Draw(declared).polygon(hole.ravel().tolist(), fill=1)
        solid |= ndimage.binary_dilation(np.asarray(declared, dtype=bool))  # a declared hole is no defect
        added = ndimage.binary_fill_holes(solid).sum() - solid.sum()
        assert added < 0.02 * solid.sum(), f"{name} {zone}: holes inside the mask ({added / solid.sum():.1%} of it)"
        _, pieces = ndimage.label(solid, structure=eight)  # diagonal touches count: thin spikes alias to them
        assert pieces == 1, f"{name} {zone}: {pieces} separate pieces"


@pytest.mark.parametrize("name", SINGLE_FACE_PHOTOS)
def test_cheek_fills_the_space_from_the_nasolabial_fold_to_the_face_contour(name, za, zone_masks_of):
    """The cheek is solid from the fold out to the contour: no bite out of the malar/buccal area.

    Landmarks 203 -> 206 -> 216 lie on the nasolabial crease (checked on the smiling obama.jpg); 205 and 207, one
    mesh column lateral to it, are the middle of the cheek (its apple). A cheek edge running through 205/207
    instead of the fold cut an L-shaped band out of the cheek (the mirrored left side likewise)."""
    lm, masks, _ = zone_masks_of(name)
    iod = np.linalg.norm(lm[list(za.EYE_RIGHT)].mean(0) - lm[[za.MIRROR[i] for i in za.EYE_RIGHT]].mean(0))
    for side in ("right", "left"):
        cheek = masks[f"cheek_{side}"] >= 0.5
        depth = (ndimage.distance_transform_edt(cheek) - ndimage.distance_transform_edt(~cheek)) / iod  # > 0 inside

        def at(i):
            j = i if side == "right" else za.MIRROR[i]
            return depth[int(lm[j, 1]), int(lm[j, 0])]

        for mid in (50, 187, 205, 207):
            assert at(mid) > 0.08, f"{name} cheek_{side}: mid-cheek landmark {mid} only {at(mid):+.3f} IOD inside"
        for fold in (203, 206, 216):
            assert at(fold) > -0.04, f"{name} cheek_{side}: stops {-at(fold):.3f} IOD short of the fold ({fold})"


# --- mask maths -------------------------------------------------------------------------------------------------


def test_crisp_mask_is_anti_aliased_and_matches_polygon_area(zm):
    lm, size = face_of("grace_hopper.jpg")
    for zone in ("nose", "forehead", "eye_left"):
        m = zm.face_zone_mask(lm, zone, size)
        (poly,) = zm.zone_polygons(lm, zone)
        x, y = poly[:, 0], poly[:, 1]
        area = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
        assert abs(m.sum() - area) < 0.03 * area, (zone, m.sum(), area)
        edge = (m > 0) & (m < 1)
        assert edge.sum() > 0.5 * np.sqrt(area)  # partial coverage along the outline, not a jagged binary edge


def test_feather_band_exact_zero_outside_and_one_inside(zm):
    lm, size = face_of("obama.jpg")
    iod = zm.inter_ocular_distance(lm)
    crisp = zm.face_zone_mask(lm, "under_eye_left", size) >= 0.5
    signed = ndimage.distance_transform_edt(~crisp) - ndimage.distance_transform_edt(crisp)  # px, < 0 inside
    for grow, feather in ((0, 20), (10, 10), (-5, 6)):
        m = zm.face_zone_mask(lm, "under_eye_left", size, grow=grow, feather=feather)
        assert m.dtype == np.float32 and m.min() >= 0.0 and m.max() <= 1.0
        outer = (grow + feather / 2) / 100 * iod  # the band ends here outside the zone
        inner = (grow - feather / 2) / 100 * iod  # and starts here
        assert (m[signed > outer + 2.0] == 0.0).all(), (grow, feather)
        assert (m[signed < inner - 2.0] == 1.0).all(), (grow, feather)
        band = (m > 0) & (m < 1)
        assert band.sum() > 0  # a real soft edge
        # the soft edge is as wide as asked: values cross 0.5 near the grown outline
        half = m >= 0.5
        assert (
            abs(half.sum() - (zm.face_zone_mask(lm, "under_eye_left", size, grow=grow) >= 0.5).sum())
            < 0.06 * half.sum()
        )


@pytest.mark.parametrize("name", SINGLE_FACE_PHOTOS)
def test_inter_ocular_distance_is_the_eye_centre_distance(zm, name):
    lm, _ = face_of(name)
    iod = zm.inter_ocular_distance(lm)
    assert iod == pytest.approx(zm.face_frame(lm).iod, rel=1e-12)
    # independent estimate: the midpoints of each eye's two corners
    corners = np.linalg.norm((lm[263] + lm[362]) / 2 - (lm[33] + lm[133]) / 2)
    assert iod == pytest.approx(corners, rel=0.1)


def test_grow_is_monotonic_and_nested_shrink_reduces(zm):
    lm, size = face_of("biden.jpg")
    areas, prev = [], None
    for grow in (-20, -10, 0, 10, 20, 40):
        m = zm.face_zone_mask(lm, "cheek_right", size, grow=grow, feather=5)
        areas.append(float(m.sum()))
        if prev is not None:
            assert (m >= prev - 1e-6).all(), grow
        prev = m
    assert all(a < b for a, b in zip(areas, areas[1:])), areas


def test_settings_are_relative_to_face_size(zm):
    """The same grow/feather on a 3x larger photo gives the same mask, 3x larger."""
    lm, (h, w) = face_of("astronaut.png")
    small = zm.face_zone_mask(lm, "marionette", (h, w), grow=15, feather=20)
    big = zm.face_zone_mask(lm * 3, "marionette", (3 * h, 3 * w), grow=15, feather=20)
    down = big.reshape(h, 3, w, 3).mean(axis=(1, 3))
    assert abs(down.sum() - small.sum()) < 0.02 * small.sum()
    assert np.abs(down - small).max() < 0.15


def test_subtract_removes_protected_features(zm):
    lm, size = face_of("grace_hopper.jpg")
    for zones, subtract, feature in (
        ("under_eye_left, eye_left", "eyes", "eye_left"),
        ("upper_lip, lips", "eyes+brows+lips", "mouth"),
    ):
        plain = zm.face_zone_mask(lm, zones, size, feather=15)
        cut = zm.face_zone_mask(lm, zones, size, feather=15, subtract=subtract)
        inside = zm.face_zone_mask(lm, feature, size) > 0
        assert plain[inside].mean() > 0.5 and cut[inside].max() == 0.0
        assert (cut <= plain + 1e-6).all()
    # nothing left when the whole selection is protected
    assert zm.face_zone_mask(lm, "eyes", size, subtract="eyes").max() == 0.0
    # skin with the hairline protected never reaches above the forehead extension
    hair = zm.face_zone_mask(lm, "hairline", size) >= 1.0
    assert zm.face_zone_mask(lm, "forehead", size, grow=30, feather=20, subtract="hairline")[hair].max() == 0.0


def test_holes_cut_the_mouth_opening_from_lips(zm):
    lm, size = face_of("obama.jpg")  # smiling: the teeth show
    lips, mouth = zm.face_zone_mask(lm, "lips", size), zm.face_zone_mask(lm, "mouth", size)
    (opening,) = zm.zone_hole_polygons(lm, "lips")
    y, x = opening.mean(axis=0)[::-1].astype(int)
    assert mouth[y, x] == 1.0 and lips[y, x] == 0.0
    assert lips.sum() < 0.8 * mouth.sum()


def test_face_partly_outside_the_image_and_bad_input(zm):
    lm, (h, w) = face_of("obama.jpg")
    shifted = lm - np.array([lm[:, 0].mean(), 0])  # face centred on the left border
    m = zm.face_zone_mask(shifted, "face_oval", (h, w))
    assert 0 < m.sum() < zm.face_zone_mask(lm, "face_oval", (h, w)).sum()
    assert zm.face_zone_mask(lm + 5000, "face_oval", (h, w)).max() == 0.0
    with pytest.raises(ValueError, match="478, 2"):
        zm.face_zone_mask(lm[:100], "nose", (h, w))
    with pytest.raises(ValueError, match="NaN"):
        zm.face_zone_mask(np.full_like(lm, np.nan), "nose", (h, w))
    with pytest.raises(ValueError, match="Valid zones"):
        zm.face_zone_mask(lm, "nostrills", (h, w))
    with pytest.raises(ValueError, match="no zone"):
        zm.face_zone_mask(lm, " , ", (h, w))
    with pytest.raises(ValueError, match="height, width"):
        zm.face_zone_mask(lm, "nose", (0, w))


def test_large_image_works_in_the_face_roi_only(zm, za):
    """All zones of one face on a 4096 x 4096 image: one full-size output array, not one per zone or per step."""
    lm, (h, w) = face_of("grace_hopper.jpg")
    k = 4096 / max(h, w)
    lm4k = lm * k
    roi = zm.face_zone_mask_roi(lm4k, "face_oval", (4096, 4096))
    x0, y0, x1, y1 = roi[1]
    assert (x1 - x0) * (y1 - y0) < 0.5 * 4096 * 4096
    full = 4096 * 4096 * 4
    tracemalloc.start()
    try:
        m = zm.face_zone_mask(lm4k, "all", (4096, 4096), grow=5, feather=10, subtract="eyes+brows+lips")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert m.shape == (4096, 4096) and m.max() == 1.0
    assert peak < 2.5 * full, f"peak {peak / full:.2f} full-size float arrays"


def test_zones_mask_batches_faces_and_face_index(zm):
    import torch

    a, b = landmarks_for("grace_hopper.jpg"), landmarks_for("obama.jpg")
    size = tuple(a["image_size"])
    # two images of one batch, the second with two faces (grace's face and a copy shifted right)
    g = a["frames"][0][0]
    shift = np.array([220.0, 0.0], dtype=np.float32)
    twin = dict(g, landmarks_xy=g["landmarks_xy"] + shift, bbox_xyxy=g["bbox_xyxy"] + np.tile(shift, 2))
    lms = {"frames": [[g], [twin, g]], "image_size": size}
    out = zm.zones_mask(lms, 2, "nose", face_index=-1)
    assert isinstance(out, torch.Tensor) and out.shape == (2, *size) and out.dtype == torch.float32
    single = zm.face_zone_mask(g["landmarks_xy"], "nose", size)
    assert np.allclose(out[0].numpy(), single)
    assert out[1].sum() == pytest.approx(2 * single.sum(), rel=0.02)
    # face_index counts in the order the landmarks carry (no re-sorting): face 0 of image 1 is the shifted twin
    first = zm.zones_mask(lms, 2, "nose", face_index=0)[1].numpy()
    assert np.allclose(first, zm.face_zone_mask(twin["landmarks_xy"], "nose", size))
    assert np.allclose(zm.zones_mask(lms, 2, "nose", face_index=1)[1].numpy(), single)
    assert zm.zones_mask(lms, 2, "nose", face_index=2)[1].max() == 0.0  # no third face
    # a single frame applies to every image; no faces -> zeros
    three = zm.zones_mask(b, 3, "lips")
    assert three.shape[0] == 3
    lips = zm.face_zone_mask(b["frames"][0][0]["landmarks_xy"], "lips", tuple(b["image_size"]))
    assert lips.max() == 1.0 and all(np.allclose(three[i].numpy(), lips) for i in range(3))
    assert zm.zones_mask({"frames": [[], []], "image_size": size}, 2, "lips").max() == 0.0
    with pytest.raises(ValueError, match="frames"):
        zm.zones_mask(lms, 3, "nose")
