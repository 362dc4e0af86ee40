"""Identity Guider, standalone: the combination rule on known tensors, its reductions to plain CFG (scale 0, equal
models, no identity model, outside the schedule window) and a clear error for an identity model with other weights."""

from __future__ import annotations

import pytest
import torch
from tiny_denoiser import TinyDenoiser

POS, NEG = torch.tensor([0.2, -0.1, 0.0, 0.3]), torch.tensor([0.0, 0.1, 0.0, 0.0])


@pytest.fixture(scope="module")
def mods(pack):
    from comfyui_facelab.nodes import comfy_adapter, node_sampling
    from comfyui_facelab.nodes.sampling import identity_guidance

    return node_sampling, identity_guidance, comfy_adapter


class ConstModel:
    """Predicts a constant per conditioning: lets the expected value be written down by hand."""

    def __init__(self, values: dict, key="same"):
        self.values, self.key, self.model_options = values, key, {}

    def __call__(self, x, sigma, cond):
        return torch.full_like(x, self.values[cond])


def guider(mods, model, identity, scale, cfg=3.0, start=0.0, end=1.0):
    node_sampling = mods[0]
    g, note = node_sampling.FaceLabIdentityGuider().get_guider(model, "pos", "neg", cfg, scale, start, end, identity)
    return g, note


def test_combination_on_known_tensors(mods, monkeypatch):
    _, ig, adapter = mods
    base, cond, ident = torch.tensor([1.0, 2.0]), torch.tensor([0.5, 0.5]), torch.tensor([1.5, -0.5])
    # base + scale * (identity - cond) = [1, 2] + (-2) * [1, -1] = [-1, 4]
    assert torch.equal(ig.combine(base, cond, ident, -2.0), torch.tensor([-1.0, 4.0]))
    monkeypatch.setattr(adapter, "same_weights", lambda a, b: True)
    model, identity = ConstModel({"pos": 2.0, "neg": 1.0}), ConstModel({"pos": 5.0, "neg": 0.0})
    g, note = guider(mods, model, identity, -0.5, cfg=3.0)
    x = torch.zeros(1, 4, 2, 2)
    # CFG: 1 + 3 * (2 - 1) = 4; identity term: -0.5 * (5 - 2) = -1.5 -> 2.5 everywhere
    assert torch.allclose(g.predict_noise(x, torch.tensor([1.0])), torch.full_like(x, 2.5))
    assert "-0.5 (away from the identity)" in note


def test_reduces_to_plain_cfg(mods):
    node_sampling, _, adapter = mods
    model = TinyDenoiser(seed=3)
    x, sigma = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(1)), torch.tensor([2.0, 2.0])
    plain = adapter.StandaloneCFGGuider(model)
    plain.set_conds(POS, NEG)
    plain.set_cfg(5.0)
    expected = plain.predict_noise(x, sigma)
    other = TinyDenoiser(seed=8)
    for identity, scale in ((model, -3.0), (other, 0.0), (None, -3.0)):  # same model, scale 0, not connected
        g, note = node_sampling.FaceLabIdentityGuider().get_guider(model, POS, NEG, 5.0, scale, 0.0, 1.0, identity)
        assert torch.allclose(g.predict_noise(x, sigma), expected, atol=1e-6), (scale, note)
    assert "plain CFG" in note and "not connected" in note
    # and it is not plain CFG when the identity model differs (guards against a rule that never applies)
    g, _ = node_sampling.FaceLabIdentityGuider().get_guider(model, POS, NEG, 5.0, -3.0, 0.0, 1.0, other)
    assert (g.predict_noise(x, sigma) - expected).abs().max() > 1e-2


def test_active_only_inside_the_schedule_window(mods, monkeypatch):
    _, ig, adapter = mods
    monkeypatch.setattr(adapter, "same_weights", lambda a, b: True)
    model, identity = ConstModel({"pos": 2.0, "neg": 1.0}), ConstModel({"pos": 5.0, "neg": 0.0})
    model.model_sampling = TinyDenoiser().model_sampling  # percent 0.5 -> sigma ~0.66 (log-linear 14.6 .. 0.03)
    g, _ = guider(mods, model, identity, 1.0, cfg=1.0, start=0.5, end=1.0)
    x = torch.zeros(1, 4, 2, 2)
    assert torch.allclose(g.predict_noise(x, torch.tensor([5.0])), torch.full_like(x, 2.0))  # early step: CFG only
    assert torch.allclose(g.predict_noise(x, torch.tensor([0.3])), torch.full_like(x, 5.0))  # late: 2 + (5 - 2)
    assert mods[0].FaceLabIdentityGuider.VALIDATE_INPUTS(start_percent=0.8, end_percent=0.2) != True  # noqa: E712
    with pytest.raises(ValueError, match="start_percent"):
        ig.window_sigmas(lambda p: p, 0.8, 0.2)


def test_identity_model_with_other_weights_is_a_clear_error(mods):
    g, _ = guider(mods, TinyDenoiser(seed=1), TinyDenoiser(seed=2), -1.0)
    x = torch.zeros(1, 4, 8, 8)
    with pytest.raises(ValueError, match=r"identity model \(TinyDenoiser\) does not run the same weights"):
        g.sample(x, x, object(), torch.tensor([1.0, 0.0]))
