"""Wrinkle score on real portraits: synthetic wrinkles raise their zone only, smoothing lowers it, the score does not
depend on resolution, hair strands do not count, older faces score above young ones at matched resolution; the
Wrinkle Score / Wrinkle Compare nodes; the target and comparison helpers (relative change with a floor)."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import torch
from conftest import landmarks_for, load_photo
from painted_hair import paint_strands
from scipy import ndimage


@pytest.fixture(scope="module")
def ws(pack):
    from comfyui_facelab.nodes.aging import wrinkle_score

    return wrinkle_score


@pytest.fixture(scope="module")
def zm(pack):
    from comfyui_facelab.nodes.face import zone_masks

    return zone_masks


def rgb_of(name: str) -> np.ndarray:
    return load_photo(name).astype(np.float32) / 255.0


def landmarks_xy(name: str) -> np.ndarray:
    return np.asarray(landmarks_for(name)["frames"][0][0]["landmarks_xy"], dtype=np.float64)


def landmarks_3d(name: str) -> np.ndarray:
    return np.asarray(landmarks_for(name)["frames"][0][0]["landmarks_3d"], dtype=np.float64)


def skin_zone(zm, rgb, lm, zone, **kw) -> np.ndarray:
    """The zone as the score sees it: limited to the face's visible skin (the forehead up to the hairline)."""
    from comfyui_facelab.nodes.face import visible_skin

    return zm.face_zone_mask(lm, [zone], rgb.shape[:2], skin=visible_skin.face_skin(rgb, lm), **kw)


def blendshapes(name: str) -> dict:
    return landmarks_for(name)["frames"][0][0]["blendshapes"]


@functools.cache
def base_report(name: str) -> dict:
    """The full wrinkle report of a photo's first face: zone scores, fold_depth, expression."""
    import facelab

    facelab.load_pack()
    from comfyui_facelab.nodes.aging import wrinkle_score

    return wrinkle_score.face_wrinkle_scores(
        rgb_of(name), landmarks_xy(name), landmarks_3d=landmarks_3d(name), blendshapes=blendshapes(name)
    )


def base_scores(name: str) -> dict:
    """The {zone: score} part of base_report."""
    from comfyui_facelab.nodes.aging import wrinkle_score

    return wrinkle_score.zone_values(base_report(name))


def scores_with_original_masks(ws, name: str, edited: np.ndarray) -> dict:
    """Scores of an edited copy with the original's skin-limited masks, as Wrinkle Compare measures an edit (the
    skin model learned again on the edit would move the masks by a pixel or two wherever the edit touched a seed)."""
    rgb = rgb_of(name)
    geo = ws.face_geometry(landmarks_xy(name), rgb.shape[:2], image=rgb, landmarks_3d=landmarks_3d(name))
    return ws.zone_values(ws.zone_scores_from_map(ws.face_ridge_map(edited, landmarks_xy(name), geometry=geo)))


def draw_wrinkles(zm, rgb, lm, zone, n=8, depth=0.08, half_width_iod=0.015):
    """n thin dark sine curves across `zone` (on visible skin: the forehead up to the hairline, ~1.5x the height of
    the fixed forehead that 5 lines used to cover: 8 keep about that spacing), kept inside the zone eroded by 12% of
    the eye distance (so the filters' reach cannot touch a neighbouring zone). depth = fractional darkening at the
    line centre."""
    h, w = rgb.shape[:2]
    iod = zm.inter_ocular_distance(lm)
    inside = ndimage.binary_erosion(skin_zone(zm, rgb, lm, zone) > 0.5, iterations=int(0.12 * iod))
    ys = np.nonzero(inside)[0]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dark = np.zeros((h, w), np.float32)
    for k in range(n):
        centre = (
            ys.min() + (k + 0.5) * (ys.max() - ys.min()) / n + 0.04 * iod * np.sin(2 * np.pi * xx / (0.6 * iod) + k)
        )
        dark = np.maximum(dark, np.clip(1 - np.abs(yy - centre) / (half_width_iod * iod), 0, 1))
    return rgb * (1 - depth * dark * inside)[..., None]


def smooth_zone(zm, rgb, lm, zone):
    """Gaussian-blur one zone (sigma 3% of the eye distance), blended in with a feathered mask."""
    iod = zm.inter_ocular_distance(lm)
    m = skin_zone(zm, rgb, lm, zone, feather=10)[..., None]
    return rgb * (1 - m) + ndimage.gaussian_filter(rgb, (0.03 * iod, 0.03 * iod, 0)) * m


@pytest.mark.parametrize("name", ["obama.jpg", "obama2.jpg"])
def test_synthetic_forehead_wrinkles_raise_forehead_only(ws, zm, name):
    lm = landmarks_xy(name)
    before = base_scores(name)
    after = scores_with_original_masks(ws, name, draw_wrinkles(zm, rgb_of(name), lm, "forehead"))
    assert after["forehead"] > before["forehead"] * 1.15 and after["forehead"] - before["forehead"] > 0.5
    for zone in before:
        if zone != "forehead":
            assert abs(after[zone] - before[zone]) <= 0.02 * before[zone] + 0.05, (zone, before[zone], after[zone])


def test_fainter_wrinkles_score_lower_than_deeper_ones(ws, zm):
    lm, rgb = landmarks_xy("obama.jpg"), rgb_of("obama.jpg")
    scores = [
        ws.face_wrinkle_scores(
            draw_wrinkles(zm, rgb, lm, "forehead", depth=d), lm, landmarks_3d=landmarks_3d("obama.jpg")
        )["forehead"]
        for d in (0.04, 0.08, 0.16)
    ]
    assert base_scores("obama.jpg")["forehead"] < scores[0] < scores[1] < scores[2]


@pytest.mark.parametrize("name", ["obama.jpg", "grace_hopper.jpg"])
def test_smoothing_a_zone_lowers_its_score(ws, zm, name):
    lm = landmarks_xy(name)
    before = base_scores(name)
    after = scores_with_original_masks(ws, name, smooth_zone(zm, rgb_of(name), lm, "forehead"))
    assert after["forehead"] < 0.7 * before["forehead"]
    for zone in ("chin", "upper_lip", "nasolabial_left", "nasolabial_right", "marionette_left", "marionette_right"):
        assert after[zone] == pytest.approx(before[zone], rel=0.01, abs=0.05), zone


@pytest.mark.parametrize("name", ["obama.jpg", "grace_hopper.jpg"])
def test_score_is_resolution_independent(ws, pack, name):
    """2x bicubic upscale, measured through the node with the ORIGINAL landmarks (they are rescaled to the image)."""
    rgb = torch.from_numpy(rgb_of(name))
    up = torch.nn.functional.interpolate(
        rgb.permute(2, 0, 1)[None], scale_factor=2, mode="bicubic", align_corners=False
    )
    up = up.clamp(0, 1).permute(0, 2, 3, 1)
    text, _, _ = pack.NODE_CLASS_MAPPINGS["FaceLabWrinkleScore"]().score(up, landmarks_for(name), 0, "mean")
    big, small = ws.zone_values(json.loads(text)), base_scores(name)
    rel = {z: abs(big[z] - small[z]) / small[z] for z in small if small[z] > 2.0}
    assert len(rel) >= 10
    assert max(rel.values()) < 0.2 and float(np.mean(list(rel.values()))) < 0.08, rel


def test_precomputed_geometry_gives_the_same_map(ws):
    """One face geometry (ROI, skin-limited zone masks) serves several images of the same size (Wrinkle Compare)."""
    name = "obama.jpg"
    rgb, lm, lm3 = rgb_of(name), landmarks_xy(name), landmarks_3d(name)
    geo = ws.face_geometry(lm, rgb.shape[:2], image=rgb, landmarks_3d=lm3)
    shared, fresh = ws.face_ridge_map(rgb, lm, geometry=geo), ws.face_ridge_map(rgb, lm, landmarks_3d=lm3)
    assert np.array_equal(shared["raw"], fresh["raw"]) and shared["roi"] == fresh["roi"]
    assert all(np.array_equal(shared["masks"][z], fresh["masks"][z]) for z in fresh["masks"])
    assert ws.zone_scores_from_map(shared) == ws.face_wrinkle_scores(rgb, lm, landmarks_3d=lm3)
    # Same masks, darker pixels: the valley response and each zone's skin median scale alike (the filter is
    # linear in intensity), so the per-zone normalised scores are unchanged up to float rounding.
    darker = ws.zone_values(ws.zone_scores_from_map(ws.face_ridge_map(rgb * 0.8, lm, geometry=geo)))
    assert darker == pytest.approx(base_scores(name), rel=1e-3, abs=1e-3)


def test_score_ignores_exposure(ws):
    """Darker exposure (all pixels x 0.6) is not fewer wrinkles: each zone works on contrast to its own skin. The skin
    mask is learned again on the darker photo and its edge at dark hair moves by a pixel or two (the sRGB and CIELAB
    curves are not powers near black), so a zone moves by up to ~8 % (measured), the mean over zones by ~2 %."""
    name = "obama.jpg"
    darker = ws.zone_values(
        ws.face_wrinkle_scores(rgb_of(name) * 0.6, landmarks_xy(name), landmarks_3d=landmarks_3d(name))
    )
    base = base_scores(name)
    rel = [abs(darker[z] - base[z]) / max(base[z], ws.CHANGE_FLOOR) for z in base]
    assert max(rel) < 0.12 and float(np.mean(rel)) < 0.03, rel


def test_wrinkle_score_node_outputs(pack, ws):
    node = pack.NODE_CLASS_MAPPINGS["FaceLabWrinkleScore"]()
    name = "obama.jpg"
    image = torch.from_numpy(rgb_of(name))[None]
    rgba = torch.cat([image, torch.ones_like(image[..., :1])], dim=-1)  # alpha is ignored
    text, crows, heat = node.score(rgba, landmarks_for(name), 0, "crows_feet")
    report = json.loads(text)
    scores = ws.zone_values(report)
    assert list(scores) == list(ws.wrinkle_zones()) and "jawline" not in scores
    assert scores == pytest.approx(base_scores(name), abs=1e-3)
    assert report["fold_depth"] == pytest.approx(base_report(name)["fold_depth"], abs=1e-3)
    assert list(report["fold_depth"]) == list(scores)
    assert crows == pytest.approx((scores["crows_feet_left"] + scores["crows_feet_right"]) / 2, abs=1e-3)
    # obama.jpg smiles broadly (mouthSmile ~0.94): the zones a smile folds are scored but left out of the mean
    moved = report["expression"]["zones"]
    assert report["expression"]["smile"] > 0.9 and {"nasolabial_left", "cheek_right", "crows_feet_left"} <= set(moved)
    assert {"forehead", "glabella", "chin", "upper_lip"}.isdisjoint(moved)
    _, mean, _ = node.score(image, landmarks_for(name), 0, "mean")
    assert mean == pytest.approx(np.mean([v for z, v in scores.items() if z not in moved]), abs=1e-3)

    assert heat.shape == image.shape and heat.dtype == torch.float32
    x0, y0, x1, y1 = ws.face_roi(landmarks_xy(name), image.shape[1:3])
    outside = torch.ones(image.shape[1:3], dtype=torch.bool)
    outside[y0:y1, x0:x1] = False
    assert torch.equal(heat[0][outside], image[0][outside])  # only the face is painted
    assert float((heat[0, y0:y1, x0:x1] - image[0, y0:y1, x0:x1]).abs().amax(-1).gt(0.05).float().mean()) > 0.2


def test_wrinkle_score_no_face_passes_image_through(pack, ws):
    node = pack.NODE_CLASS_MAPPINGS["FaceLabWrinkleScore"]()
    image = torch.from_numpy(rgb_of("chelsea.png"))[None]
    text, value, heat = node.score(image, landmarks_for("chelsea.png"), 0, "mean")
    assert json.loads(text)["no_face"] is True and value == 0.0 and torch.equal(heat, image)
    with pytest.raises(ValueError, match="face_index"):
        ws.select_face(landmarks_for("obama.jpg"), 0, -1)


def test_relative_target_and_compare_helpers(ws):
    assert ws.relative_target(20.0, 0.3) == pytest.approx(14.0)
    assert ws.relative_target(20.0, -0.25) == pytest.approx(25.0)
    with pytest.raises(ValueError, match="30% smoother"):
        ws.relative_target(20.0, 30)
    rows = ws.compare_scores({"forehead": 20.0, "chin": 10.0}, {"forehead": 12.0, "chin": 9.5}, 0.3)
    assert rows["forehead"] == {
        "before": 20.0,
        "after": 12.0,
        "change": -8.0,
        "change_pct": -40.0,
        "target": 14.0,
        "reached": True,
    }
    assert rows["chin"]["reached"] is False and rows["chin"]["target"] == 7.0
    aged = ws.compare_scores({"chin": 10.0}, {"chin": 13.0}, -0.2)
    assert aged["chin"]["reached"] is True and aged["chin"]["change_pct"] == 30.0
    assert "target" not in ws.compare_scores({"chin": 10.0}, {"chin": 13.0})["chin"]


def test_wrinkle_compare_node(pack, ws, zm):
    node = pack.NODE_CLASS_MAPPINGS["FaceLabWrinkleCompare"]()
    name = "obama.jpg"
    lm = landmarks_xy(name)
    before = torch.from_numpy(rgb_of(name))[None]
    after = torch.from_numpy(smooth_zone(zm, rgb_of(name), lm, "forehead").astype(np.float32))[None]
    text, change = node.compare(before, after, landmarks_for(name), 0, "forehead", 30.0)
    report = json.loads(text)
    assert report["forehead"]["reached"] is True and report["forehead"]["change_pct"] < -30
    assert report["chin"]["reached"] is False and abs(report["chin"]["change_pct"]) < 1.0
    assert change == pytest.approx(report["forehead"]["change_pct"], abs=0.1)
    assert {z: r["before"] for z, r in report.items()} == pytest.approx(base_scores(name), abs=1e-3)
    # the original's skin serves both images, so after equals a measurement with the original's geometry
    geo = ws.face_geometry(lm, before.shape[1:3], image=before[0].numpy(), landmarks_3d=landmarks_3d(name))
    after_alone = ws.zone_scores_from_map(ws.face_ridge_map(after[0].numpy(), lm, geometry=geo))
    assert report["forehead"]["after"] == pytest.approx(after_alone["forehead"], abs=1e-3)
    with pytest.raises(ValueError, match="differ"):
        node.compare(before, after[:, :-8], landmarks_for(name), 0, "forehead", 30.0)


def test_near_zero_start_cannot_explode_the_relative_change(ws):
    """0.1 -> 11.4 was reported as +11 300 %; against the floor (5 points, the low end of smooth skin) it is +226 %."""
    row = ws.compare_scores({"chin": 0.1}, {"chin": 11.4})["chin"]
    assert row["change"] == pytest.approx(11.3) and row["change_pct"] == pytest.approx(226.0)
    assert ws.relative_change(20.0, 10.0) == pytest.approx(-50.0)  # above the floor: the plain relative change
    missing = ws.compare_scores({"chin": None}, {"chin": 3.0})["chin"]
    assert "change_pct" not in missing and "not measured" in missing["note"]
    assert ws.group_mean({"a": 2.0, "b": None, "c": 4.0}, "mean") == pytest.approx(3.0)


# grace_hopper and astronaut.png are left out: a hat, and astronaut's own blond fringe, leave under a third of the
# forehead as skin, and with the strands too little is left to measure (the score is None, not a number to compare;
# see test_real_blond_fringe_is_not_scored_as_wrinkles). obama2.jpg neither: its short curly hairline, where skin
# shows between the curls, is only partly cut and the strands' ends merge with it (measured 9.1 -> 18.3).
@pytest.mark.parametrize("name", ["obama.jpg", "obama3.jpg"])
def test_hair_strands_over_the_forehead_are_not_wrinkles(ws, zm, name):
    """Painted dark strands leave the visible-skin forehead score close to the clean one; with the geometry only
    (the old behaviour) the strands read as lines and the score jumps."""
    rgb, lm, lm3 = rgb_of(name), landmarks_xy(name), landmarks_3d(name)
    hairy, strands = paint_strands(rgb, lm, zm.inter_ocular_distance(lm))
    clean = base_scores(name)["forehead"]
    skin_only = ws.face_wrinkle_scores(hairy, lm, landmarks_3d=lm3)["forehead"]
    geometry = ws.face_wrinkle_scores(hairy, lm, visible_skin=False)["forehead"]
    plain = ws.face_wrinkle_scores(rgb, lm, visible_skin=False)["forehead"]
    assert geometry > 2 * plain + 5  # the strands are strong valleys where they are scored
    assert abs(skin_only - clean) < 0.25 * clean + 1.5, (clean, skin_only, geometry)


def test_real_blond_fringe_is_not_scored_as_wrinkles(ws):
    """astronaut.png's blond fringe covers three quarters of the forehead outline (which reaches 35 % of the face
    height above the mesh). The skin model drops it (its hue is yellower than her skin), so only the band of smooth
    skin under it is left, 24 % of the outline, under MIN_SKIN_SHARE: the forehead is reported unmeasured instead
    of the fringe's strands being scored as lines (measured 19.7 before the skin model separated blond hair; the
    band alone would score 1.9). Without the skin model the strands score as before."""
    report = base_report("astronaut.png")
    assert report["forehead"] is None, report
    geometry = ws.face_wrinkle_scores(rgb_of("astronaut.png"), landmarks_xy("astronaut.png"), visible_skin=False)
    assert geometry["forehead"] > 10, geometry["forehead"]


def test_older_faces_score_above_younger_at_matched_resolution(ws, zm):
    """Every portrait resized so the eye distance is 42.5 px (astronaut.png's own, the smallest; the others have
    84-121 px), scored with its blendshapes: the older faces (grace_hopper, biden) above the young-ish astronaut.png
    and the three middle-aged Obama photos. Measured means (docs/aging.md): Hopper 25.2, Biden 7.9; obama3 6.7,
    astronaut 1.5, obama2 3.1, obama 2.9 (the smiling faces' means leave out the zones a smile folds: their
    nasolabial folds alone score 33-36, from the smile, not from age).
    Margins: a 2x rescale of the same photo moves a face's mean by 2-6 % (test_score_is_resolution_independent:
    measured +2 % obama.jpg, +6 % grace_hopper.jpg), so Biden must lead every younger face by 10 %, beyond that
    (measured 19 % over obama3, whose deep nasolabial folds at rest read as lines); Hopper, with lines over her
    whole face, leads every other face by at least 2x (measured 3.2x over Biden)."""
    from PIL import Image

    names = ["grace_hopper.jpg", "biden.jpg", "obama.jpg", "obama2.jpg", "obama3.jpg", "astronaut.png"]
    target = zm.inter_ocular_distance(landmarks_xy("astronaut.png"))
    means, reports = {}, {}
    for name in names:
        rgb, lm, lm3 = load_photo(name), landmarks_xy(name), landmarks_3d(name)
        k = target / zm.inter_ocular_distance(lm)
        im = Image.fromarray(rgb)
        small = im.resize((round(im.width * k), round(im.height * k)), Image.LANCZOS)
        scale = np.array([small.width / im.width, small.height / im.height])
        reports[name] = ws.face_wrinkle_scores(
            np.asarray(small).astype(np.float32) / 255.0,
            lm * scale,
            landmarks_3d=lm3 * k,
            blendshapes=blendshapes(name),
        )
        means[name] = ws.group_mean(reports[name], "mean")
    younger = [n for n in names if n.startswith("obama") or n == "astronaut.png"]
    assert means["biden.jpg"] > 1.1 * max(means[n] for n in younger), means
    assert means["grace_hopper.jpg"] > 2.0 * max(means[n] for n in names if n != "grace_hopper.jpg"), means
    # the smiling faces (mouthSmile >= 0.5: obama, obama2, astronaut) leave their smile zones out; the others do not
    smiling = {n for n in names if reports[n]["expression"]["zones"]}
    assert smiling == {"obama.jpg", "obama2.jpg", "astronaut.png"}, {n: reports[n]["expression"] for n in names}


def painted_forehead(zm, name: str) -> dict:
    """The forehead of a real portrait with, each painted on its own copy across the zone centre: a broad fold (a
    Gaussian valley, sigma 5 % of the eye distance, 15 % deep), six fine lines (1.2 % half-width, 8 % deep, 6 %
    apart) and a grid of specular spots (radius 2 %, +0.6 brightness, 6 % apart)."""
    rgb, lm = rgb_of(name), landmarks_xy(name)
    iod = zm.inter_ocular_distance(lm)
    ys, xs = np.nonzero(skin_zone(zm, rgb, lm, "forehead") > 0.5)
    cx, cy = xs.mean(), ys.mean()
    yy, xx = np.mgrid[0 : rgb.shape[0], 0 : rgb.shape[1]].astype(np.float32)
    d = ((xx - cx) - (yy - cy)) / np.sqrt(2)  # distance across a diagonal through the zone centre
    fold = 0.15 * np.exp(-0.5 * (d / (0.05 * iod)) ** 2)
    lines = np.zeros(rgb.shape[:2], np.float32)
    for k in range(-3, 3):
        lines = np.maximum(lines, np.clip(1 - np.abs(d - k * 0.06 * iod) / (0.012 * iod), 0, 1))
    spots = np.zeros(rgb.shape[:2], np.float32)
    for gx in np.arange(cx - 0.3 * iod, cx + 0.3 * iod, 0.06 * iod):
        for gy in np.arange(cy - 0.2 * iod, cy + 0.2 * iod, 0.06 * iod):
            spots = np.maximum(spots, np.clip(1 - np.hypot(xx - gx, yy - gy) / (0.02 * iod), 0, 1))
    return {
        "clean": rgb,
        "fold": rgb * (1 - fold)[..., None],
        "lines": rgb * (1 - 0.08 * lines * (np.abs(d) < 0.2 * iod))[..., None],
        "spots": np.clip(rgb + 0.6 * spots[..., None], 0, 1),
    }


@pytest.mark.parametrize("name", ["biden.jpg", "obama3.jpg"])
def test_folds_and_highlights_are_not_fine_lines(ws, zm, name):
    """On the forehead, measured with the original's zones: a painted broad fold raises fold_depth, not the score;
    painted fine lines raise the score; specular spots (and the dark gaps between them) are left out as washed-out
    skin, where the Sato valley filter the score used before reads the gaps as lines. Measured (biden / obama3):
    clean 9.4 / 3.4; fold 9.2 / 3.4 (fold_depth 2.5 -> 6.4 / 0.2 -> 3.8); lines 11.5 / 5.6; spots 10.1 / 3.6
    (Sato's mean over the zone x2.8 / x13)."""
    rgb, lm = rgb_of(name), landmarks_xy(name)
    geo = ws.face_geometry(lm, rgb.shape[:2], image=rgb, landmarks_3d=landmarks_3d(name))
    out, sato = {}, {}
    m = geo["masks"]["forehead"]
    for kind, img in painted_forehead(zm, name).items():
        out[kind] = ws.zone_scores_from_map(ws.face_ridge_map(img, lm, geometry=geo))
        lum = ws.luminance(ws.reference_roi(img, geo["roi"], geo["out_hw"]))
        sato[kind] = float((ws.sato_response(lum, geo["masks"]) * m).sum() / m.sum())
    clean = out["clean"]["forehead"]
    assert abs(out["fold"]["forehead"] - clean) < 0.1 * clean, out
    assert out["fold"]["fold_depth"]["forehead"] > out["clean"]["fold_depth"]["forehead"] + 2.5, out
    assert out["lines"]["forehead"] > 1.15 * clean, out
    assert out["spots"]["forehead"] < 1.15 * clean and sato["spots"] > 2 * sato["clean"], (out, sato)
