"""Makeup colour maths: CIELAB conversion, the relighting model, smooth fields, colour names and prompts."""

from __future__ import annotations

import numpy as np
import pytest
import torch


@pytest.fixture(scope="module")
def cs(pack):
    from comfyui_facelab.nodes.base import colorspace

    return colorspace


def test_lab_matches_skimage_and_round_trips(cs):
    from skimage.color import lab2rgb, rgb2lab

    rng = np.random.default_rng(0)
    rgb = rng.random((4096, 3)).astype(np.float32)
    rgb[:8] = [[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0.02, 0.01, 0.0], [0.5, 0.5, 0.5], [1, 1, 0]]
    lab = cs.rgb_to_lab(torch.from_numpy(rgb)).numpy()
    assert np.abs(lab - rgb2lab(rgb[None].astype(np.float64))[0]).max() < 2e-3
    back = cs.lab_to_rgb(torch.from_numpy(lab)).numpy()
    assert np.abs(back - rgb).max() < 1e-4
    out_of_gamut = np.array([[50.0, 120.0, -120.0]], dtype=np.float32)
    got = cs.lab_to_rgb(torch.from_numpy(out_of_gamut)).numpy()
    assert got.min() >= 0 and got.max() <= 1
    assert np.abs(got - np.clip(lab2rgb(out_of_gamut.astype(np.float64)[None])[0], 0, 1)).max() < 2e-3


def test_relight_undoes_a_change_of_light_intensity(cs, pack):
    """Scaling linear light by k is undone by the skin lightness ratio (the model illumination.py relies on)."""
    from comfyui_facelab.nodes.makeup import illumination

    rng = np.random.default_rng(1)
    linear = rng.uniform(0.05, 0.8, (500, 3)).astype(np.float32)  # skin, lipstick, shadow: away from black
    lab = cs.rgb_to_lab(cs.linear_to_srgb(torch.from_numpy(linear))).numpy()
    for k in (0.3, 0.6, 1.2):
        dim = cs.rgb_to_lab(cs.linear_to_srgb(torch.from_numpy(linear * k))).numpy()
        skin_src, skin_dim = lab[:1], dim[:1]  # any pixel seen in both lights gives the ratio
        ratio = np.full(len(lab), illumination.relight_ratio(skin_src, skin_dim)[0])
        assert np.abs(illumination.relight(dim, ratio) - lab).max() < 0.05


def test_smooth_field_is_exact_on_constant_and_fills_holes(pack):
    from comfyui_facelab.nodes.makeup.illumination import smooth_field

    values = np.zeros((90, 120, 3), dtype=np.float32)
    values[...] = [60.0, 20.0, 15.0]
    mask = np.zeros((90, 120), dtype=bool)
    mask[10:50, 20:70] = True
    values[~mask] = [0.0, 99.0, -50.0]  # what lies outside the mask must not leak in
    for sigma in (2.0, 30.0):  # direct and coarse-grid paths
        field = smooth_field(values, mask, sigma)
        assert field.shape == values.shape
        assert np.abs(field - [60.0, 20.0, 15.0]).max() < 1e-3


def test_smooth_field_coarse_path_follows_a_lighting_gradient(pack):
    from comfyui_facelab.nodes.makeup.illumination import smooth_field

    x = np.linspace(30, 70, 160, dtype=np.float32)
    values = np.repeat(np.stack([np.tile(x, (120, 1))] * 3, axis=-1), 1, axis=0)
    mask = np.ones((120, 160), dtype=bool)
    mask[40:80, 60:100] = False  # a hole (e.g. the lips) is interpolated from the skin around it
    field = smooth_field(values, mask, 24.0)
    inner = (slice(30, 90), slice(40, 120))
    assert np.abs(field[inner][..., 0] - values[inner][..., 0]).max() < 1.5


@pytest.mark.parametrize(
    "rgb, name",
    [
        ((120, 15, 25), "deep red"),
        ((200, 30, 40), "red"),
        ((255, 192, 203), "soft pink"),
        ((255, 127, 80), "coral"),
        ((150, 95, 55), "bronze"),
        ((128, 128, 128), "taupe"),
        ((20, 20, 20), "black"),
        ((70, 40, 110), "purple"),
    ],
)
def test_colour_names(cs, pack, rgb, name):
    from comfyui_facelab.nodes.makeup.describe import colour_name

    lab = cs.rgb_to_lab(torch.tensor(rgb, dtype=torch.float32) / 255.0).numpy()
    assert colour_name(lab) == name


def test_hex_round_trip(cs, pack):
    from comfyui_facelab.nodes.makeup.describe import lab_to_hex

    lab = cs.rgb_to_lab(torch.tensor([171, 48, 52], dtype=torch.float32) / 255.0).numpy()
    assert lab_to_hex(lab) == "#ab3034"


def test_lip_finish_sees_specular_highlights(pack):
    from comfyui_facelab.nodes.makeup.describe import lip_finish

    rng = np.random.default_rng(2)
    matte = rng.normal(40, 4, 2000)
    glossy = matte.copy()
    glossy[:120] = 85  # 6% bright specular spots
    assert lip_finish(matte) == "matte"
    assert lip_finish(glossy) == "glossy"


def test_prompt_fragment_names_applied_visible_regions_in_order(pack):
    from comfyui_facelab.nodes.makeup.describe import prompt_fragment

    regions = {
        "blush": {"lab": [75.0, 22.0, 6.0], "strength": 0.6, "visible": True},
        "lips": {"lab": [30.0, 45.0, 25.0], "strength": 1.0, "visible": True, "finish": "matte"},
        "eyes": {"lab": [45.0, 15.0, 30.0], "strength": 0.8, "visible": True},
        "brows": {"lab": [30.0, 8.0, 12.0], "strength": 0.5, "visible": False},
        "foundation": {"lab": [65.0, 12.0, 18.0], "strength": 0.0, "visible": True},
    }
    assert prompt_fragment(regions) == "deep red matte lipstick, bronze eyeshadow, soft pink blush"
    assert prompt_fragment({}) == ""
