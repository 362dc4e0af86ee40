"""Visible-skin zones on real photos with the real model: the per-face skin model keeps clean skin of every tone,
removes hair strands, survives grey-scale photos; turned faces lose their hidden side; the option off is the old
geometry bit for bit; the Zone Mask node reports what it removed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import landmarks_for, load_photo, photo_tensor
from painted_hair import paint_strands

PORTRAITS = ["grace_hopper.jpg", "astronaut.png", "obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"]
# The cheek on the lit, camera-facing side of each portrait (checked by eye: clean skin, no hair, no beard).
LIT_CHEEK = {
    "grace_hopper.jpg": "cheek_left",
    "astronaut.png": "cheek_left",
    "obama.jpg": "cheek_right",
    "obama2.jpg": "cheek_left",
    "obama3.jpg": "cheek_right",
    "biden.jpg": "cheek_right",
}
TONES = {
    "as photographed": lambda x: x,
    "darkened x0.35": lambda x: x * 0.35,  # obama3's skin (L* 54) -> L* 18, darker than any face we have
    "brightened": lambda x: 1 - (1 - x) * 0.4,  # grace_hopper's skin (L* 78) -> L* 91
    "grey-scale": lambda x: np.repeat(x.mean(-1, keepdims=True), 3, -1),
}


@pytest.fixture(scope="module")
def zm(pack):
    from comfyui_facelab.nodes.face import zone_masks

    return zone_masks


@pytest.fixture(scope="module")
def vs(pack):
    from comfyui_facelab.nodes.face import visible_skin

    return visible_skin


def _face(name: str) -> dict:
    return landmarks_for(name)["frames"][0][0]


def _rgb(name: str) -> np.ndarray:
    return load_photo(name).astype(np.float32) / 255.0


@pytest.mark.parametrize("tone", list(TONES))
@pytest.mark.parametrize("name", PORTRAITS)
def test_skin_model_keeps_clean_skin_of_every_tone(zm, vs, name, tone):
    """>= 95 % of clean-skin zones kept. Measured (as photographed): 97.1-100 %; darkened 97.8-100 %; brightened
    98.5-100 %; grey-scale 98.5-100 % (the shaded, washed-out far cheeks of obama2/obama3/biden drop to 79-88 % and
    are not in this set: see docs/zones.md)."""
    face = _face(name)
    lm = np.asarray(face["landmarks_xy"], np.float64)
    skin = vs.face_skin(TONES[tone](_rgb(name)), lm, face["landmarks_3d"])
    assert skin.summary["fitted"]
    shares = vs.skin_shares(lm, ["glabella", "inter_ocular", LIT_CHEEK[name]], skin)
    for zone, row in shares.items():
        assert row["kept"] >= 95.0, (zone, row)


@pytest.mark.parametrize("name", ["grace_hopper.jpg", "obama.jpg", "biden.jpg"])
def test_grey_scale_photo_keeps_the_skin(zm, vs, name):
    """No colour at all: the chroma model degenerates to its floor and the lightness term alone decides. The whole
    'skin' zone stays (measured 95.5-99.6 %)."""
    face = _face(name)
    lm = np.asarray(face["landmarks_xy"], np.float64)
    grey = TONES["grey-scale"](_rgb(name))
    assert vs.skin_shares(lm, "skin", vs.face_skin(grey, lm, face["landmarks_3d"]))["skin"]["kept"] > 90.0


@pytest.mark.parametrize("name", ["grace_hopper.jpg", "astronaut.png", "obama.jpg", "biden.jpg"])
def test_hair_strands_are_cut_out_of_the_forehead(zm, vs, name):
    face = _face(name)
    lm = np.asarray(face["landmarks_xy"], np.float64)
    rgb = _rgb(name)
    hairy, strands = paint_strands(rgb, lm, zm.inter_ocular_distance(lm))
    shape = rgb.shape[:2]
    plain = zm.face_zone_mask(lm, "forehead", shape)
    on = zm.face_zone_mask(lm, "forehead", shape, skin=vs.face_skin(hairy, lm, face["landmarks_3d"]))
    before = zm.face_zone_mask(lm, "forehead", shape, skin=vs.face_skin(rgb, lm, face["landmarks_3d"]))
    core = strands & (plain > 0.5)  # strand pixels inside the geometric forehead
    assert core.sum() > 100 and plain[core].mean() > 0.95  # the geometry alone paints right over them
    assert on[core].mean() < 0.05  # measured 0.00-0.03
    # skin between the strands stays: at least 3/4 of what the clean photo kept away from the strands (the edges
    # of 3 % wide strands cover much of the forehead when dilated by the guided filter's window)
    away = (plain > 0.5) & ~strands
    assert on[away].sum() > 0.75 * before[away].sum()


# Blond (200, 170, 110) and light brown (160, 120, 70) hair: as light as the skin of these faces and as saturated,
# but yellower in hue than any of their skins. Measured mask on the strands: blond 0.00 on all four, light brown
# 0.00 (0.51 on astronaut.png, whose skin is the yellowest); with the former symmetric 2x hue tolerance 0.12-1.0 and
# 0.82-1.0. Not separated: mid-brown (70, 45, 30), of the skin's own hue and darkness (0.82-1.0, docs/zones.md).
@pytest.mark.parametrize("name", ["grace_hopper.jpg", "astronaut.png", "obama.jpg", "biden.jpg"])
def test_light_hair_strands_are_cut_out_of_the_forehead(zm, vs, name):
    face = _face(name)
    lm = np.asarray(face["landmarks_xy"], np.float64)
    rgb = _rgb(name)
    plain = zm.face_zone_mask(lm, "forehead", rgb.shape[:2])
    for colour, bound in (((200, 170, 110), 0.1), ((160, 120, 70), 0.6)):
        hairy, strands = paint_strands(rgb, lm, zm.inter_ocular_distance(lm), np.array(colour) / 255.0)
        on = zm.face_zone_mask(lm, "forehead", rgb.shape[:2], skin=vs.face_skin(hairy, lm, face["landmarks_3d"]))
        core = strands & (plain > 0.5)
        assert core.sum() > 100 and on[core].mean() < bound, (colour, on[core].mean())


def test_turned_face_far_side_shrinks_to_visible_skin(zm, vs):
    """obama2.jpg (yaw ~15 deg toward his right): the far-side crow's feet lose the mesh triangles turned away
    from the camera (measured 22.6 % hidden), the near side none; every skin zone with the option on lies inside
    the same zone without it (the forehead excepted: it reaches up to the hairline)."""
    face = _face("obama2.jpg")
    lm = np.asarray(face["landmarks_xy"], np.float64)
    rgb = _rgb("obama2.jpg")
    skin = vs.face_skin(rgb, lm, face["landmarks_3d"])
    shares = vs.skin_shares(lm, "crows_feet", skin)
    assert shares["crows_feet_right"]["hidden"] > 10.0 and shares["crows_feet_left"]["hidden"] < 1.0
    for zone in ("crows_feet_right", "cheek_right", "jawline", "nasolabial_right", "marionette_right"):
        on = zm.face_zone_mask(lm, zone, rgb.shape[:2], skin=skin)
        off = zm.face_zone_mask(lm, zone, rgb.shape[:2])
        assert (on <= off + 1e-6).all() and on.sum() < off.sum(), zone


def test_strongly_turned_face_in_a_group_photo(zm, vs):
    """t1.jpg's most turned face (yaw ~-48 deg): its far cheek keeps far less of its area than its near cheek
    (measured 60 % vs 99.7 %): the background beyond the silhouette is not this face's skin."""
    from comfyui_facelab.nodes.face import analysis, detection

    rgb = load_photo("t1.jpg")
    faces = detection.detect(rgb, mode="small_faces")["frames"][0]
    yaws = [
        analysis.head_pose(f["landmarks_xy"], f.get("transformation_matrix"), f["landmarks_3d"])["yaw"] for f in faces
    ]
    face = faces[int(np.argmax(np.abs(yaws)))]
    assert abs(max(yaws, key=abs)) > 35
    lm = np.asarray(face["landmarks_xy"], np.float64)
    shares = vs.skin_shares(lm, "cheeks", vs.face_skin(rgb, lm, face["landmarks_3d"]))
    far, near = ("cheek_right", "cheek_left") if max(yaws, key=abs) < 0 else ("cheek_left", "cheek_right")
    assert shares[far]["kept"] < shares[near]["kept"] - 20, shares


def test_option_off_is_the_geometry_bit_for_bit(pack, zm):
    from comfyui_facelab.nodes import node_zones

    image = photo_tensor("obama.jpg")
    lms = landmarks_for("obama.jpg")
    names = "forehead, crows_feet, cheeks, jawline, skin, lips"
    off, report = node_zones.FaceLabZoneMask().make_mask(image, lms, names, -1, 5.0, 10.0, "eyes", False)
    assert torch.equal(off, zm.zones_mask(lms, 1, names, -1, 5.0, 10.0, "eyes"))
    assert "geometry only" in report and "hidden" not in report
    on, report = node_zones.FaceLabZoneMask().make_mask(image, lms, names, -1, 5.0, 10.0, "eyes")
    assert "visible skin only" in report and "jawline:" in report and "% non-skin" in report
    assert not torch.equal(on, off)
    # non-skin zones are untouched by the option
    lips_on, _ = node_zones.FaceLabZoneMask().make_mask(image, lms, "lips", -1, 0.0, 5.0, "none", True)
    lips_off, _ = node_zones.FaceLabZoneMask().make_mask(image, lms, "lips", -1, 0.0, 5.0, "none", False)
    assert torch.equal(lips_on, lips_off)


def test_skin_mask_follows_the_hair_edge_softly(zm, vs):
    """The boundary is soft (guided filter) where the forehead meets the hair, not a blocky threshold: the forehead
    mask has intermediate values along its upper edge, and they sit where the photo's lightness changes."""
    face = _face("obama.jpg")
    lm = np.asarray(face["landmarks_xy"], np.float64)
    rgb = _rgb("obama.jpg")
    mask = zm.face_zone_mask(lm, "forehead", rgb.shape[:2], skin=vs.face_skin(rgb, lm, face["landmarks_3d"]))
    soft = (mask > 0.05) & (mask < 0.95)
    assert soft.sum() > 200
    lum = rgb.mean(-1)
    gy, gx = np.gradient(lum)
    grad = np.hypot(gx, gy)
    inside = mask >= 0.95
    assert grad[soft].mean() > 1.5 * grad[inside].mean()  # edges of the mask lie on edges of the photo


def test_face_cut_by_the_border_falls_back_to_the_geometry(vs):
    """Only the face below the nose tip is in the image: the central seeds are outside it, so the model is not
    fitted, says so, and keeps every pixel (the masks are the zones' geometry) instead of guessing a skin colour."""
    face = _face("grace_hopper.jpg")
    lm = np.asarray(face["landmarks_xy"], np.float64)
    y0 = int(lm[1, 1])
    crop, shifted = _rgb("grace_hopper.jpg")[y0:], lm - np.array([0.0, y0])
    skin = vs.face_skin(crop, shifted, face["landmarks_3d"])
    assert skin.summary == {"fitted": False} and skin.skin.min() == 1.0
    assert vs.skin_shares(shifted, "chin", skin)["chin"]["non_skin"] == 0.0


def test_blond_fringe_is_not_skin(zm, vs):
    """astronaut.png: a blond fringe hangs over the forehead down to the mesh's top point (landmark 10; read off a
    3x enlargement of the photo: the fringe's lower edge runs at y 72-85 across the forehead, landmark 10 is at
    y 72), so the geometric forehead more than 0.1 eye distance above landmark 10 is all hair. Its chromaticity is
    close to her skin's but yellower in hue (hair has no blood under it): the skin model's tight tolerance toward
    yellow drops it. Measured: mask on the fringe 0.14 (0.94 with the old symmetric hue tolerance); the forehead
    skin under the fringe stays (measured 0.99-1.0 at landmarks 151 and 108; 337 lies on the fringe's edge)."""
    face = _face("astronaut.png")
    lm = np.asarray(face["landmarks_xy"], np.float64)
    rgb = _rgb("astronaut.png")
    iod = zm.inter_ocular_distance(lm)
    plain = zm.face_zone_mask(lm, "forehead", rgb.shape[:2])
    on = zm.face_zone_mask(lm, "forehead", rgb.shape[:2], skin=vs.face_skin(rgb, lm, face["landmarks_3d"]))
    rows = np.arange(rgb.shape[0])[:, None] + 0.5
    fringe = (plain > 0.5) & (rows < lm[10, 1] - 0.1 * iod)
    assert fringe.sum() > 200  # measured 357 px
    assert on[fringe].mean() < 0.3, on[fringe].mean()
    for i in (151, 108):
        x, y = lm[i].astype(int)
        assert on[y, x] > 0.9, (i, on[y, x])


@pytest.fixture(scope="module")
def t1_faces(pack):
    from comfyui_facelab.nodes.face import detection

    return detection.detect(load_photo("t1.jpg"), mode="small_faces")["frames"][0]


def test_group_photo_faces_keep_their_clean_skin(vs, t1_faces):
    """Every t1.jpg face (six, 170-330 px, two with blond or auburn hair, a yellow-cast JPEG): the nose bridge and
    glabella, clean skin on all six, keep >= 95 % on average (measured 96.4-100 %) and >= 93 % each (measured
    93.6-100 %, the same as before the yellow-side hue tolerance: the shaded nose side of the turned faces). The
    cheeks are not clean skin on every face (stubble, hair over them, washed-out highlights: best cheek 77.8-100 %,
    unchanged) and are not checked here."""
    rgb = _rgb("t1.jpg")
    assert len(t1_faces) == 6
    for face in t1_faces:
        lm = np.asarray(face["landmarks_xy"], np.float64)
        shares = vs.skin_shares(lm, ["glabella", "inter_ocular"], vs.face_skin(rgb, lm, face["landmarks_3d"]))
        centre = (shares["glabella"]["kept"], shares["inter_ocular"]["kept"])
        assert min(centre) >= 93.0 and sum(centre) / 2 >= 95.0, shares
