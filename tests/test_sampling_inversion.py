"""Edit-friendly DDPM inversion, standalone (no ComfyUI): the nodes drive a tiny non-linear EPS denoiser through the
same Sampler/guider calling conventions core's SamplerCustomAdvanced uses (comfy_adapter's stand-ins).

Defining property: invert -> regenerate with the same model and conditioning gives back the input latent, max |delta|
<= 1e-3 of the latent's value range, for every step count, skip and CFG tried; outside a noise mask the latent is
kept bit-exactly."""

from __future__ import annotations

import pytest
import torch
from tiny_denoiser import TinyDenoiser, karras_sigmas

TOL = 1e-3  # the acceptance bound, relative to the latent's range


@pytest.fixture(scope="module")
def mods(pack):
    from comfyui_facelab.nodes import comfy_adapter, node_sampling
    from comfyui_facelab.nodes.sampling import ddpm_inversion

    return node_sampling, ddpm_inversion, comfy_adapter


def latent(batch=1, size=16, seed=3):
    # A latent-like image: smooth structure plus texture, range about +-3 as SDXL latents (x0.13 inside ComfyUI)
    g = torch.Generator().manual_seed(seed)
    base = torch.nn.functional.interpolate(
        torch.randn(batch, 4, 4, 4, generator=g), size=(size, size), mode="bilinear", align_corners=False
    )
    return base * 2 + 0.3 * torch.randn(batch, 4, size, size, generator=g)


POS, NEG, EDIT = (
    torch.tensor([0.2, -0.1, 0.0, 0.3]),
    torch.tensor([0.0, 0.0, 0.0, 0.0]),
    torch.tensor([-0.5, 0.4, 0.3, -0.2]),
)


def invert_and_regenerate(mods, model, lat, sigmas, skip, cfg=1.0, seed=7, regen_pos=POS, regen_model=None):
    node_sampling, _, adapter = mods
    (inv,) = node_sampling.FaceLabDDPMInvert().invert(model, POS, NEG, cfg, lat, sigmas, skip, seed)
    (sampler,) = node_sampling.FaceLabDDPMInversionSampler().get_sampler(inv)
    guider = adapter.StandaloneCFGGuider(regen_model or model)
    guider.set_conds(regen_pos, NEG)
    guider.set_cfg(cfg)
    steps = []
    out = guider.sample(
        torch.zeros_like(lat["samples"]),
        lat["samples"],
        sampler,
        sigmas,
        denoise_mask=lat.get("noise_mask"),
        callback=lambda *a: steps.append(a[0]),
        seed=0,
    )
    return inv, out, steps


@pytest.mark.parametrize("steps", [4, 10, 30])
@pytest.mark.parametrize("skip", [0.0, 0.3, 0.7])
def test_invert_then_regenerate_returns_the_input(mods, steps, skip):
    model = TinyDenoiser()
    lat = {"samples": latent()}
    inv, out, seen = invert_and_regenerate(mods, model, lat, karras_sigmas(steps), skip)
    err = mods[1].reconstruction_error(out, lat["samples"])
    assert err <= TOL, (steps, skip, err)
    # skip keeps the first part of the schedule from the image: only the rest is sampled, with progress per step
    assert inv.start == min(round(skip * steps), steps - 1) and seen == list(range(steps - inv.start))


@pytest.mark.parametrize("cfg", [1.0, 4.0])
def test_reconstruction_holds_with_cfg_and_a_batch(mods, cfg):
    model = TinyDenoiser(seed=1)
    lat = {"samples": latent(batch=3, size=12, seed=5)}
    inv, out, _ = invert_and_regenerate(mods, model, lat, karras_sigmas(12), 0.2, cfg=cfg)
    for b in range(3):
        assert mods[1].reconstruction_error(out[b], lat["samples"][b]) <= TOL
    # each batch element gets its own independent noise (repeated crops become different candidates)
    assert not torch.allclose(inv.zs[0][0], inv.zs[0][1])


def test_noise_mask_keeps_outside_exactly_and_edits_inside(mods):
    model = TinyDenoiser(seed=2)
    x0 = latent(size=16)
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 4:12, 3:13] = 1.0
    lat = {"samples": x0, "noise_mask": mask}
    _, same, _ = invert_and_regenerate(mods, model, lat, karras_sigmas(10), 0.0)
    assert mods[1].reconstruction_error(same, x0) <= TOL
    _, edit, _ = invert_and_regenerate(mods, model, lat, karras_sigmas(10), 0.0, regen_pos=EDIT)
    outside = mask.expand_as(x0) == 0
    assert torch.equal(edit[outside], x0[outside])  # bit-exact outside the mask
    # inside, another prompt changes the latent (a change of the prompt is an edit, not a no-op)
    assert (edit - x0)[~outside].abs().max() > 0.05


def test_edit_keeps_more_of_the_image_than_fresh_noise(mods):
    """What the inversion is for: an edit from the inverted noise stays closer to the input than sampling the same
    prompt from fresh noise with the same sampler steps (the noise maps carry the structure)."""
    _, ddpm, _ = mods
    model = TinyDenoiser(seed=4)
    x0 = latent(size=16, seed=9)
    sigmas = karras_sigmas(20)
    _, edit, _ = invert_and_regenerate(mods, model, {"samples": x0}, sigmas, 0.3, regen_pos=EDIT)
    inv = ddpm.invert(lambda x, s: model(x, s, EDIT), x0, sigmas, 6, ddpm.seeded_noise(11, x0.shape))
    fresh = ddpm.Inversion(
        x_start=x0 + sigmas[6] * torch.randn_like(x0),
        noise_start=x0,
        zs=[torch.randn_like(x0) for _ in inv.zs],
        sigmas=inv.sigmas,
        start=6,
    )
    unrelated = ddpm.regenerate(lambda x, s: model(x, s, EDIT), fresh)
    assert (edit - x0).abs().mean() < 0.5 * (unrelated - x0).abs().mean()


def test_other_latent_size_or_model_is_a_clear_error_naming_both(mods):
    node_sampling, ddpm, adapter = mods
    model = TinyDenoiser()
    lat = {"samples": latent(size=16)}
    (inv,) = node_sampling.FaceLabDDPMInvert().invert(model, POS, NEG, 1.0, lat, karras_sigmas(5), 0.0, 0)
    (sampler,) = node_sampling.FaceLabDDPMInversionSampler().get_sampler(inv)
    guider = adapter.StandaloneCFGGuider(model)
    guider.set_conds(POS, NEG)
    other = latent(size=12)
    with pytest.raises(ddpm.InversionError, match=r"\[1, 4, 16, 16\].*\[1, 4, 12, 12\]"):
        guider.sample(torch.zeros_like(other), other, sampler, karras_sigmas(5))
    second = adapter.StandaloneCFGGuider(TinyDenoiser(seed=5))
    second.set_conds(POS, NEG)
    with pytest.raises(ddpm.InversionError, match=r"made with model TinyDenoiser \[.*\] but the sampler runs model"):
        second.sample(torch.zeros_like(lat["samples"]), lat["samples"], sampler, karras_sigmas(5))
    with pytest.raises(ddpm.InversionError, match="SIGMAS"):
        guider.sample(torch.zeros_like(lat["samples"]), lat["samples"], sampler, karras_sigmas(6))


def test_skip_outside_0_1_fails_validation(mods):
    node_sampling, ddpm, _ = mods
    assert node_sampling.FaceLabDDPMInvert.VALIDATE_INPUTS(skip=0.7) is True
    for bad in (-0.1, 1.5, "x"):
        assert "skip" in node_sampling.FaceLabDDPMInvert.VALIDATE_INPUTS(skip=bad)
    with pytest.raises(ValueError, match="skip must be between 0 and 1"):
        node_sampling.FaceLabDDPMInvert().invert(
            TinyDenoiser(), POS, NEG, 1.0, {"samples": latent()}, karras_sigmas(4), 1.2, 0
        )
    with pytest.raises(ddpm.InversionError, match="sigmas must decrease"):
        ddpm.step_coefficients(1.0, 2.0)
    assert ddpm.start_index(karras_sigmas(10), 1.0) == 9  # skip 1 still regenerates the last step


def test_interrupt_stops_the_inversion_and_progress_counts_every_step(mods, monkeypatch):
    node_sampling, _, adapter = mods
    updates = []

    class Bar:
        def __init__(self, total):
            updates.append(("total", total))

        def update_absolute(self, value, total=None, preview=None):
            updates.append(value)

    monkeypatch.setattr(adapter, "progress_bar", Bar)
    model = TinyDenoiser()
    node_sampling.FaceLabDDPMInvert().invert(model, POS, NEG, 1.0, {"samples": latent()}, karras_sigmas(8), 0.5, 0)
    assert updates == [("total", 4), 0, 1, 2, 3, 4]
    adapter.request_interrupt()
    calls = model.calls
    with pytest.raises(adapter.ProcessingInterrupted):
        node_sampling.FaceLabDDPMInvert().invert(model, POS, NEG, 1.0, {"samples": latent()}, karras_sigmas(8), 0.0, 0)
    assert model.calls == calls  # stopped before the first model call
    # the regeneration pass checks too, after every step
    lat = {"samples": latent()}
    (inv,) = node_sampling.FaceLabDDPMInvert().invert(model, POS, NEG, 1.0, lat, karras_sigmas(8), 0.0, 0)
    (sampler,) = node_sampling.FaceLabDDPMInversionSampler().get_sampler(inv)
    guider = adapter.StandaloneCFGGuider(model)
    guider.set_conds(POS, NEG)
    adapter.request_interrupt()
    calls = model.calls
    with pytest.raises(adapter.ProcessingInterrupted):
        guider.sample(torch.zeros_like(lat["samples"]), lat["samples"], sampler, karras_sigmas(8))
    assert model.calls == calls + 1  # one step, then stopped
