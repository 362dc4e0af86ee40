"""Makeup Reference Attention: the exactness properties on a torch stand-in model with ComfyUI's attention hooks
(tests/makeup_attention_standin.py), and the node on real portraits with the real landmark model.

The references are the ones test_makeup_transfer.py paints: grace_hopper.jpg with deep red lips.
"""

from __future__ import annotations

import makeup_attention_standin as st
import pytest
import torch
from conftest import landmarks_for, photo_tensor
from test_makeup_transfer import DEEP_RED, _recolour

REGIONS_ON = (1.0, 1.0, 0.7, 0.5, 0.0)  # lips, eyes, blush, brows, skin
# Smaller copies keep the stand-in's full-resolution attention cheap (the landmarks are rescaled by the nodes):
# obama.jpg 910x1137 (102 px between the eyes) -> 364x455 (41 px), the red-lips grace_hopper 512x600 -> 256x300.
SRC_SCALE, REF_SCALE = 0.4, 0.5


def _scaled(image, f):
    import torch.nn.functional as F

    h, w = round(image.shape[1] * f), round(image.shape[2] * f)
    x = F.interpolate(image.permute(0, 3, 1, 2), size=(h, w), mode="bilinear", antialias=True, align_corners=False)
    return x.permute(0, 2, 3, 1).clamp(0, 1)


def _lips_transfer(node, source, reference):
    """Makeup Transfer's node call for the red-lips pair: lips 1.0, eyes 0.8, blush 0.6, brows 0.5, no foundation."""
    return node.transfer(
        source,
        reference,
        -1,
        1.0,
        0.8,
        0.6,
        0.5,
        0.0,
        8.0,
        source_landmarks=landmarks_for("obama.jpg"),
        reference_landmarks=landmarks_for("grace_hopper.jpg"),
    )


@pytest.fixture(scope="module")
def ra(pack):
    from comfyui_facelab.nodes.makeup import reference_attention

    return reference_attention


@pytest.fixture(scope="module")
def adapter(pack):
    from comfyui_facelab.nodes import comfy_adapter

    return comfy_adapter


@pytest.fixture(scope="module")
def model():
    return st.ModelPatcher(st.BaseModel(seed=0))


def _patch(adapter, ra, model, branch):
    patched = adapter.clone_model(model)
    for block in adapter.unet_self_attention_blocks(model):
        adapter.set_attn1_replace(patched, ra.attn1_replace(), *block)
    adapter.set_unet_wrapper(patched, ra.unet_wrapper(branch))
    return patched


def _conds():
    g = torch.Generator().manual_seed(1)
    return torch.randn(1, 5, st.CONTEXT, generator=g), torch.zeros(1, 5, st.CONTEXT)


def _region_weights(n, h, w):
    wts = torch.zeros(n, h, w)
    wts[:, h // 4 : h // 2, w // 4 : 3 * w // 4] = 0.8
    return wts


# --- the mechanism on the stand-in -------------------------------------------------------------------------------


def test_duplicated_keys_and_values_leave_attention_unchanged(ra):
    g = torch.Generator().manual_seed(0)
    n, t, inner = 2, 64, st.HEADS * st.DIM_HEAD
    q, k, v = (torch.randn(2 * n, t, inner, generator=g) for _ in range(3))
    k[n:], v[n:] = k[:n], v[:n]  # reference rows = the targets' own keys and values
    info = ra.CallInfo(n, torch.tensor([[2], [3]]), torch.ones(n, 8, 8))
    w = torch.ones(n, t)
    base = st.attention(q, k, v, st.HEADS)
    same = ra.mixed_attention(q, k, v, st.HEADS, info, w, st.attention)
    # softmax over [k; k] weighs every key e^x twice and renormalises: the same distribution, up to rounding
    assert torch.allclose(same, base, atol=1e-6, rtol=0)
    k[n:] = torch.randn(n, t, inner, generator=g)  # a different reference moves every (weighted) token
    other = ra.mixed_attention(q, k, v, st.HEADS, info, w, st.attention)
    assert (other[:n] - base[:n]).abs().amax(-1).min() > 1e-3
    assert torch.equal(other[n:], st.attention(q, k, v, st.HEADS)[n:])  # reference rows: plain self-attention


def test_outside_the_regions_a_patched_block_is_bit_identical_per_token(ra, model):
    """A transformer block of the stand-in, with and without the patch, on the same 2N-row input."""
    block = model.model.diffusion_model.input_blocks[1].attn.transformer_blocks[0]
    g = torch.Generator().manual_seed(2)
    n, h, w, ch = 2, 8, 8, block.norm1.normalized_shape[0]
    x = torch.randn(2 * n, h * w, ch, generator=g)
    context = torch.randn(2 * n, 5, st.CONTEXT, generator=g)
    weights = _region_weights(n, h, w)
    info = ra.CallInfo(n, torch.tensor([[2], [3]]), weights)
    opts = {"block": ("input", 1), "block_index": 0, "activations_shape": [2 * n, ch, h, w]}
    plain = block(x, context, dict(opts))
    patched_opts = dict(opts, patches_replace={"attn1": {("input", 1, 0): ra.attn1_replace(st.attention)}})
    patched_opts[ra.OPTIONS_KEY] = info
    out = block(x, context, patched_opts)
    inside = (weights.flatten(1) > 0)[..., None].expand(-1, -1, ch)
    assert torch.equal(out[:n][~inside], plain[:n][~inside])  # attn1, attn2 and ff are per token after attention
    assert (out[:n][inside] - plain[:n][inside]).abs().max() > 1e-4  # the region did change: the test can fail
    assert torch.equal(out[n:], plain[n:])


def test_zero_weights_or_outside_the_schedule_pass_the_call_through_bit_identically(adapter, ra, model):
    cond, uncond = _conds()
    g = torch.Generator().manual_seed(3)
    lat, noise = torch.randn(1, 4, 16, 16, generator=g), torch.randn(1, 4, 16, 16, generator=g)
    sigmas = torch.tensor([6.0, 3.0, 1.0, 0.0])
    base = st.sample(model, lat, noise, sigmas, cond, uncond)
    ref = torch.randn(1, 4, 16, 16, generator=g)
    zero = ra.ReferenceBranch(ref, noise, torch.zeros(1, 16, 16), noise_scaling=model.sampling.noise_scaling)
    assert torch.equal(st.sample(_patch(adapter, ra, model, zero), lat, noise, sigmas, cond, uncond), base)
    late = ra.ReferenceBranch(
        ref,
        noise,
        _region_weights(1, 16, 16),
        sigma_start=0.5,
        sigma_end=0.0,
        noise_scaling=model.sampling.noise_scaling,
    )  # no step of this schedule is in range
    assert torch.equal(st.sample(_patch(adapter, ra, model, late), lat, noise, sigmas, cond, uncond), base)
    on = ra.ReferenceBranch(ref, noise, _region_weights(1, 16, 16), noise_scaling=model.sampling.noise_scaling)
    assert not torch.equal(st.sample(_patch(adapter, ra, model, on), lat, noise, sigmas, cond, uncond), base)


def test_reference_equal_to_the_target_leaves_the_model_call_unchanged(adapter, ra, model):
    cond, uncond = _conds()
    g = torch.Generator().manual_seed(4)
    lat, noise = torch.randn(2, 4, 16, 16, generator=g), torch.randn(2, 4, 16, 16, generator=g)
    sigma = torch.tensor([3.0])
    x = model.sampling.noise_scaling(sigma.expand(2), noise, lat)
    base = st.model_call(model, x, sigma, cond, uncond)
    same = ra.ReferenceBranch(lat, noise, torch.ones(2, 16, 16), noise_scaling=model.sampling.noise_scaling)
    out = st.model_call(_patch(adapter, ra, model, same), x, sigma, cond, uncond)
    for a, b in zip(out, base):  # float32 rounding of the doubled softmax only
        assert torch.allclose(a, b, atol=1e-5, rtol=0)
    other = ra.ReferenceBranch(lat.flip(-1), noise, torch.ones(2, 16, 16), noise_scaling=model.sampling.noise_scaling)
    moved = st.model_call(_patch(adapter, ra, model, other), x, sigma, cond, uncond)
    assert (moved[0] - base[0]).abs().max() > 1e-4  # a different reference does change it: the wiring is live


def test_pairing_of_batches_and_references(adapter, ra, model):
    assert ra.pairing(2, 2) == [[0], [1]] and ra.pairing(3, 1) == [[0], [0], [0]]
    assert ra.pairing(1, 3) == [[0, 1, 2]]  # one image, several looks: attends to all of them
    assert ra.pairing(4, 2) == [[0], [1], [0], [1]]
    cond, uncond = _conds()
    g = torch.Generator().manual_seed(5)
    seen = []

    def spy(apply_model, args):  # the call as the UNet gets it, after our wrapper
        seen.append((args["input"].shape[0], args["c"]["transformer_options"][ra.OPTIONS_KEY].ref_rows.tolist()))
        return apply_model(args["input"], args["timestep"], **args["c"])

    refs = torch.randn(3, 4, 16, 16, generator=g)
    branch = ra.ReferenceBranch(
        refs,
        torch.randn(3, 4, 16, 16, generator=g),
        _region_weights(3, 16, 16),
        noise_scaling=model.sampling.noise_scaling,
    )
    patched = adapter.clone_model(model)
    for block in adapter.unet_self_attention_blocks(model):
        adapter.set_attn1_replace(patched, ra.attn1_replace(), *block)
    adapter.set_unet_wrapper(patched, ra.unet_wrapper(branch, previous=spy))
    x = torch.randn(1, 4, 16, 16, generator=g)
    dc, du = st.model_call(patched, x, torch.tensor([2.0]), cond, uncond)
    assert dc.shape == du.shape == x.shape
    # cond row 0 and uncond row 1 each get three reference rows after the two targets
    assert seen == [(8, [[2, 3, 4], [5, 6, 7]])]
    seen.clear()
    x3 = torch.randn(3, 4, 16, 16, generator=g)  # three images, three references: one each
    st.model_call(patched, x3, torch.tensor([2.0]), cond, uncond)
    assert seen == [(12, [[6], [7], [8], [9], [10], [11]])]


def test_a_model_without_unet_attention_is_refused_by_name(pack, makeup_pair):
    node = pack.NODE_CLASS_MAPPINGS["FaceLabMakeupReferenceAttention"]()
    dit = st.ModelPatcher(st.NotAUNet())
    with pytest.raises(ValueError, match=r"FaceLab: .*this model is NotAUNet \(Linear\)"):
        node.patch(dit, st.FakeVae(), makeup_pair[2], 0.8, *REGIONS_ON, 0.0, 0.8)


# --- the node on real portraits ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def red_lips(pack):
    return _recolour("grace_hopper.jpg", "lips", DEEP_RED)


@pytest.fixture(scope="module")
def makeup_pair(pack, red_lips):
    """Makeup Transfer of red lips (grace_hopper) onto obama.jpg: (prior, mask, makeup, prompt, report)."""
    node = pack.NODE_CLASS_MAPPINGS["FaceLabMakeupTransfer"]()
    return _lips_transfer(node, _scaled(photo_tensor("obama.jpg"), SRC_SCALE), _scaled(red_lips[None], REF_SCALE))


def _attention_node(pack):
    return pack.NODE_CLASS_MAPPINGS["FaceLabMakeupReferenceAttention"]()


def test_reference_image_is_the_reference_face_on_the_source_geometry(pack, makeup_pair):
    from comfyui_facelab.nodes.base.colorspace import rgb_to_lab
    from comfyui_facelab.nodes.face.face_landmarks import fit_landmarks_to_image
    from comfyui_facelab.nodes.makeup import regions
    from comfyui_facelab.nodes.makeup.encoding import image_references
    from comfyui_facelab.nodes.makeup.reference_image import reference_image

    prior, mask, makeup = makeup_pair[:3]
    (entry,) = image_references(makeup)
    ref = reference_image(entry, {"lips": 1.0})
    face = fit_landmarks_to_image(landmarks_for("obama.jpg"), prior.shape[1:3])["frames"][0][0]
    # the interior of the feathered lips (Makeup Transfer's feather 8 % IOD, which the weight map reuses)
    lips = torch.from_numpy(regions.region_mask(face["landmarks_xy"], "lips", prior.shape[1:3], feather=8.0) > 0.99)
    # the warped reference's lips carry the painted deep red (a* 55, b* 30), far from obama's own lips
    lab = rgb_to_lab(ref.image)[lips].mean(0)
    assert abs(float(lab[1]) - DEEP_RED[1]) < 12 and abs(float(lab[2]) - DEEP_RED[2]) < 12
    assert bool((ref.weight[lips] > 0.99).all())  # lips-only strength 1: full weight inside the lips
    far = torch.zeros_like(ref.weight, dtype=torch.bool)
    far[:20], far[:, :20] = True, True  # image border: no face there
    assert not bool(ref.weight[far].any()) and torch.equal(ref.image[far], prior[0][far])


def test_node_patches_every_self_attention_block_and_changes_the_result(pack, model, makeup_pair):
    from comfyui_facelab.nodes import comfy_adapter

    prior, _, makeup = makeup_pair[:3]
    patched, report = _attention_node(pack).patch(model, st.FakeVae(), makeup, 0.8, *REGIONS_ON, 0.0, 0.8)
    assert patched is not model and "7 self-attention blocks" in report
    replaced = patched.model_options["transformer_options"]["patches_replace"]["attn1"]
    assert set(replaced) == set(comfy_adapter.unet_self_attention_blocks(model))
    lat = st.FakeVae().encode(prior) * 0.5
    cond, uncond = _conds()
    noise = torch.randn(lat.shape, generator=torch.Generator().manual_seed(6))
    sigmas = torch.tensor([4.0, 1.5, 0.0])
    base = st.sample(model, lat, noise, sigmas, cond, uncond)
    assert not torch.equal(st.sample(patched, lat, noise, sigmas, cond, uncond), base)
    # strength 0 (or every region at 0): the model itself comes back, so sampling is bit-identical
    for args in ((0.0, *REGIONS_ON), (0.8, 0.0, 0.0, 0.0, 0.0, 0.0)):
        same, note = _attention_node(pack).patch(model, st.FakeVae(), makeup, *args, 0.0, 0.8)
        assert same is model and "unchanged" in note
        assert torch.equal(st.sample(same, lat, noise, sigmas, cond, uncond), base)


def test_reference_without_a_face_is_a_noop_with_a_note(pack, model):
    transfer = pack.NODE_CLASS_MAPPINGS["FaceLabMakeupTransfer"]()
    makeup = transfer.transfer(
        _scaled(photo_tensor("obama.jpg"), SRC_SCALE),
        photo_tensor("chelsea.png"),
        -1,
        1.0,
        0.8,
        0.6,
        0.5,
        0.0,
        8.0,
        source_landmarks=landmarks_for("obama.jpg"),
    )[2]
    out, report = _attention_node(pack).patch(model, st.FakeVae(), makeup, 0.8, *REGIONS_ON, 0.0, 0.8)
    assert out is model and "no face was transferred" in report and "model unchanged" in report


def test_small_reference_is_upsampled_with_a_warning(pack, model, red_lips):
    transfer = pack.NODE_CLASS_MAPPINGS["FaceLabMakeupTransfer"]()
    makeup = _lips_transfer(transfer, photo_tensor("obama.jpg"), _scaled(red_lips[None], 0.25))[2]
    out, report = _attention_node(pack).patch(model, st.FakeVae(), makeup, 0.8, *REGIONS_ON, 0.0, 0.8)
    # 102 px between obama's eyes, 84 / 4 = 21 px in the quarter-size reference: 4.9x smaller, past the 2x limit
    assert out is not model and "4.9x smaller than the source face: it is upsampled" in report


def test_batches_one_reference_for_two_sources_and_two_looks_for_one_source(pack, model, red_lips):
    transfer = pack.NODE_CLASS_MAPPINGS["FaceLabMakeupTransfer"]()
    obama, lm_o, lm_g = (
        _scaled(photo_tensor("obama.jpg"), SRC_SCALE),
        landmarks_for("obama.jpg"),
        landmarks_for("grace_hopper.jpg"),
    )
    red, grace = _scaled(red_lips[None], REF_SCALE), _scaled(photo_tensor("grace_hopper.jpg"), REF_SCALE)
    two_sources = transfer.transfer(
        torch.cat([obama, obama]),
        red,
        -1,
        1.0,
        0.8,
        0.6,
        0.5,
        0.0,
        8.0,
        source_landmarks=lm_o,
        reference_landmarks=lm_g,
    )
    looks = transfer.transfer(
        obama,
        torch.cat([red, grace]),
        -1,
        1.0,
        0.8,
        0.6,
        0.5,
        0.0,
        8.0,
        source_landmarks=lm_o,
        reference_landmarks=lm_g,
    )
    assert looks[0].shape[0] == 2 and not torch.equal(looks[0][0], looks[0][1])  # one result per look
    cond, uncond = _conds()
    for prior, _, makeup, _, _ in (two_sources, looks):
        patched, report = _attention_node(pack).patch(model, st.FakeVae(), makeup, 0.8, *REGIONS_ON, 0.0, 0.8)
        assert "2 reference(s)" in report
        lat = st.FakeVae().encode(prior) * 0.5
        dc, _ = st.model_call(patched, lat, torch.tensor([2.0]), cond, uncond)
        assert dc.shape == lat.shape and torch.isfinite(dc).all()


def test_crops_from_the_stitch_plan_match_the_sampled_crop(pack, model, makeup_pair, caplog):
    prior, mask, makeup = makeup_pair[:3]
    crop = pack.NODE_CLASS_MAPPINGS["FaceLabCrop"]()
    crops, _, plan, _ = crop.crop(
        prior,
        1.5,
        384,
        "SDXL area (target size squared)",
        256,
        "64",
        "shift inside image",
        False,
        -1,
        mask=mask,
        face_landmarks=landmarks_for("obama.jpg"),
    )
    patched, report = _attention_node(pack).patch(model, st.FakeVae(), makeup, 0.8, *REGIONS_ON, 0.0, 0.8, stitch=plan)
    wrapper = patched.model_options["model_function_wrapper"]
    lat = st.FakeVae().encode(crops) * 0.5
    cond, uncond = _conds()
    with caplog.at_level("INFO", logger="FaceLab"):
        dc, _ = st.model_call(patched, lat, torch.tensor([2.0]), cond, uncond)
    assert callable(wrapper) and dc.shape == lat.shape and "1 reference(s)" in report
    assert "resized" not in caplog.text  # the reference was cut exactly like the crop: same latent size
