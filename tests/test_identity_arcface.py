"""ArcFace backend: preprocessing against an independent reference, pack discovery and broken installs.

No ArcFace weights can be had offline (and their licence is non-commercial), so the tests build ONNX models
with ArcFace's interface themselves: input [N,3,112,112] float, output [N,512]. The network is a fixed random
8x8/stride-8 convolution and a linear projection, which reacts to every pixel and to the channel order, and
whose output the test computes independently in numpy.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import MODELS_DIR, landmarks_for, load_photo, photo_tensor

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from skimage.transform import SimilarityTransform, warp  # noqa: E402

# insightface/utils/face_align.py arcface_dst, copied from the reference, not from our module.
ARCFACE_DST = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
)


def build_model(path, *, batch="N", mxnet_style=False, out_dim=512, size=112, seed=0):
    """An ONNX model shaped like ArcFace; returns its (conv, projection) weights for the reference."""
    rng = np.random.default_rng(seed)
    blocks = size // 8
    w_conv = (rng.standard_normal((8, 3, 8, 8)) * 0.05).astype(np.float32)
    w_proj = (rng.standard_normal((8 * blocks * blocks, out_dim)) * 0.05).astype(np.float32)
    inits = [numpy_helper.from_array(w_conv, "w_conv"), numpy_helper.from_array(w_proj, "w_proj")]
    nodes, x = [], "data"
    if mxnet_style:  # MXNet exports normalise inside the graph: these take raw 0..255 pixels
        inits += [
            numpy_helper.from_array(np.array(127.5, np.float32), "mean"),
            numpy_helper.from_array(np.array(1 / 127.5, np.float32), "scale"),
        ]
        nodes += [
            helper.make_node("Sub", ["data", "mean"], ["centred"], name="_minusscalar0"),
            helper.make_node("Mul", ["centred", "scale"], ["normed"], name="_mulscalar0"),
        ]
        x = "normed"
    nodes += [
        helper.make_node("Conv", [x, "w_conv"], ["feat"], name="conv0", kernel_shape=[8, 8], strides=[8, 8]),
        helper.make_node("Flatten", ["feat"], ["flat"], name="flatten0", axis=1),
        helper.make_node("MatMul", ["flat", "w_proj"], ["fc1"], name="fc1"),
    ]
    graph = helper.make_graph(
        nodes,
        "arcface_like",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, [batch, 3, size, size])],
        [helper.make_tensor_value_info("fc1", TensorProto.FLOAT, [batch, out_dim])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return w_conv, w_proj


def reference_embedding(rgb, landmarks_xy, weights, *, raw_pixels=False, bgr=False):
    """insightface's recipe, written independently: 5 points (iris centres, nose tip, mouth corners; image-left
    first), similarity fit by scikit-image, bilinear warp, RGB planes (insightface passes a BGR crop with
    swapRB=True), (x - 127.5) / 127.5, then the network in numpy, L2-normalised."""
    lm = np.asarray(landmarks_xy, dtype=np.float64)
    points = lm[[468, 473, 1, 61, 291]]
    tform = SimilarityTransform.from_estimate(points, ARCFACE_DST)
    chip = warp(
        rgb.astype(np.float64),
        tform.inverse,
        output_shape=(112, 112),
        order=1,
        mode="constant",
        cval=0.0,
        preserve_range=True,
    )
    if bgr:
        chip = chip[..., ::-1]
    x = chip if raw_pixels else (chip - 127.5) / 127.5
    planes = x.transpose(2, 0, 1).reshape(3, 14, 8, 14, 8)  # channel, block row, row in block, block col, col in block
    w_conv, w_proj = weights
    feat = np.einsum("cakbl,ockl->oab", planes, w_conv.astype(np.float64))
    out = feat.reshape(-1) @ w_proj.astype(np.float64)
    return out / np.linalg.norm(out)


@pytest.fixture()
def models_dir(tmp_path, monkeypatch):
    """A standalone models folder for this test with no insightface packs (MediaPipe's model linked in)."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "mediapipe").symlink_to(MODELS_DIR / "mediapipe")
    monkeypatch.setenv("FACELAB_MODELS_DIR", str(tmp_path / "models"))
    return tmp_path / "models" / "insightface" / "models"


@pytest.fixture()
def antelopev2(models_dir):
    weights = build_model(models_dir / "antelopev2" / "glintr100.onnx")
    build_model(models_dir / "antelopev2" / "scrfd_10g_bnkps.onnx", out_dim=10, size=64)  # a non-recognition model
    return weights


def test_alignment_fit_matches_scikit_image(pack):
    from comfyui_facelab.nodes.identity import alignment

    lm = landmarks_for("grace_hopper.jpg")["frames"][0][0]["landmarks_xy"]
    pts = alignment.five_points_from_mesh(lm)
    ours = alignment.similarity_transform(pts, ARCFACE_DST)
    ref = SimilarityTransform.from_estimate(pts, ARCFACE_DST).params[:2]
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    # Image-left eye lands on the template's left eye: the fit is not mirrored and the eyes are level.
    mapped = pts @ ours[:, :2].T + ours[:, 2]
    assert np.abs(mapped - ARCFACE_DST).max() < 6.0


def test_468_point_mesh_uses_eye_corners(pack):
    from comfyui_facelab.nodes.identity import alignment

    lm = landmarks_for("obama.jpg")["frames"][0][0]["landmarks_xy"]
    pts = alignment.five_points_from_mesh(lm[:468])
    np.testing.assert_allclose(pts[0], (lm[33] + lm[133]) / 2, atol=1e-4)
    np.testing.assert_allclose(pts[1], (lm[362] + lm[263]) / 2, atol=1e-4)
    # Eye-corner centres sit within a few pixels of the iris centres on a frontal portrait (eyes ~60 px apart).
    assert np.linalg.norm(pts[0] - lm[468]) < 6 and np.linalg.norm(pts[1] - lm[473]) < 6


@pytest.mark.parametrize("mxnet_style", [False, True], ids=["normalised-input", "raw-pixel-input"])
def test_embedding_equals_independent_reference(pack, models_dir, mxnet_style):
    from comfyui_facelab.nodes.identity import embedding

    weights = build_model(models_dir / "antelopev2" / "glintr100.onnx", mxnet_style=mxnet_style)
    model = embedding.load_identity_model("arcface", "antelopev2", "auto")
    assert (model.mean, model.std) == ((0.0, 1.0) if mxnet_style else (127.5, 127.5))
    lms = landmarks_for("grace_hopper.jpg")
    ident = embedding.embed_images(model, photo_tensor("grace_hopper.jpg"), lms)
    got = ident["frames"][0][0]["embedding"]
    rgb = load_photo("grace_hopper.jpg")
    lm = lms["frames"][0][0]["landmarks_xy"]
    ref = reference_embedding(rgb, lm, weights)
    assert got.shape == (512,) and abs(np.linalg.norm(got) - 1) < 1e-5
    np.testing.assert_allclose(got, ref, atol=1e-5)  # measured agreement ~1e-7
    # The check is sensitive to what it claims to check: BGR planes or un-normalised pixels give other vectors.
    assert np.abs(got - reference_embedding(rgb, lm, weights, bgr=True)).max() > 1e-2
    assert np.abs(got - reference_embedding(rgb, lm, weights, raw_pixels=True)).max() > 1e-2
    assert ident["backend"] == "arcface" and ident["model"] == "antelopev2/glintr100.onnx"


def test_fixed_batch_model_and_detection_without_landmarks(pack, models_dir):
    """Two faces detected here (MediaPipe), left to right; a batch-1 model gives the same vectors as a batch-N one."""
    import torch
    from comfyui_facelab.nodes.identity import embedding
    from PIL import Image

    def at_height(name, h=400):
        im = Image.fromarray(load_photo(name))
        return np.asarray(im.resize((round(im.size[0] * h / im.size[1]), h), Image.BILINEAR))

    # MediaPipe reports the right face first on this pair: the node must still order them left to right.
    left, right = at_height("grace_hopper.jpg"), at_height("obama2.jpg")
    pair = np.concatenate([left, right], axis=1)
    image = torch.from_numpy(pair.astype(np.float32) / 255)[None]
    build_model(models_dir / "buffalo_l" / "w600k_r50.onnx", batch=1)
    build_model(models_dir / "antelopev2" / "glintr100.onnx")
    fixed = embedding.load_identity_model("arcface", "buffalo_l")
    dynamic = embedding.load_identity_model("arcface", "antelopev2")
    assert fixed.fixed_batch == 1 and dynamic.fixed_batch is None
    a, b = embedding.embed_images(fixed, image), embedding.embed_images(dynamic, image)
    assert [len(f) for f in a["frames"]] == [2] and a["detector"] == "mediapipe"
    assert a["frames"][0][0]["box"][2] < left.shape[1] < a["frames"][0][1]["box"][0]  # left face first
    for fa, fb in zip(a["frames"][0], b["frames"][0]):
        np.testing.assert_allclose(fa["embedding"], fb["embedding"], atol=1e-5)


def test_first_node_names_reader_matches_onnx(pack, tmp_path):
    from comfyui_facelab.nodes.identity import arcface_onnx

    build_model(tmp_path / "m.onnx", mxnet_style=True)
    expected = [n.name for n in onnx.load(str(tmp_path / "m.onnx")).graph.node[:8]]
    assert (
        arcface_onnx.first_node_names(tmp_path / "m.onnx")
        == expected
        == ["_minusscalar0", "_mulscalar0", "conv0", "flatten0", "fc1"]
    )


def test_recognition_model_found_by_interface_not_name(pack, models_dir):
    from comfyui_facelab.nodes.identity import embedding

    build_model(models_dir / "antelopev2" / "1k3d68.onnx", out_dim=204, size=64)
    build_model(models_dir / "antelopev2" / "my_recognition.onnx")
    model = embedding.load_identity_model("arcface", "antelopev2")
    assert model.path.name == "my_recognition.onnx"


def _error(pack_name="antelopev2"):
    from comfyui_facelab.nodes.identity import embedding, model_loading

    with pytest.raises(model_loading.IdentityModelError) as info:
        embedding.load_identity_model("arcface", pack_name, "auto")
    return str(info.value)


def test_missing_pack_names_places_url_and_licence(pack, models_dir):
    msg = _error()
    assert "not found" in msg and str(models_dir / "antelopev2") in msg
    assert "https://github.com/deepinsight/insightface/releases/download/v0.7/antelopev2.zip" in msg
    assert "non-commercial" in msg


def test_zip_not_extracted(pack, models_dir):
    models_dir.mkdir(parents=True)
    (models_dir / "antelopev2.zip").write_bytes(b"PK\x03\x04 partial")
    msg = _error()
    assert "not extracted" in msg and str(models_dir / "antelopev2.zip") in msg


def test_nested_pack_folder(pack, models_dir):
    build_model(models_dir / "antelopev2" / "antelopev2" / "glintr100.onnx")
    msg = _error()
    assert "nested" in msg and str(models_dir / "antelopev2" / "antelopev2") in msg and "Move them up one level" in msg


def test_empty_pack_folder_from_failed_download(pack, models_dir):
    (models_dir / "buffalo_l").mkdir(parents=True)
    msg = _error("buffalo_l")
    assert "is empty" in msg and "failed" in msg and str(models_dir / "buffalo_l") in msg
    assert "buffalo_l.zip" in msg


def test_empty_models_folder_from_failed_download(pack, models_dir):
    models_dir.mkdir(parents=True)
    msg = _error()
    assert "not found" in msg and f"{models_dir}/ exists but is empty" in msg


def test_pack_one_level_too_high(pack, models_dir):
    build_model(models_dir.parent / "antelopev2" / "glintr100.onnx")
    msg = _error()
    assert str(models_dir.parent / "antelopev2") in msg and "inside the 'models' subfolder" in msg


def test_missing_recognition_model(pack, models_dir):
    build_model(models_dir / "antelopev2" / "scrfd_10g_bnkps.onnx", out_dim=10, size=64)
    msg = _error()
    assert (
        "no face recognition model" in msg and "scrfd_10g_bnkps.onnx: input ['N', 3, 64, 64] -> output ['N', 10]" in msg
    )


def test_wrong_interface_under_the_usual_name(pack, models_dir):
    build_model(models_dir / "antelopev2" / "glintr100.onnx", out_dim=128)
    msg = _error()
    assert "no face recognition model" in msg and "glintr100.onnx: input ['N', 3, 112, 112] -> output ['N', 128]" in msg


def test_corrupt_model_file(pack, models_dir):
    folder = models_dir / "antelopev2"
    folder.mkdir(parents=True)
    (folder / "glintr100.onnx").write_bytes(b"\x08\x07this is not a protobuf" * 50)
    msg = _error()
    assert "could not load" in msg and str(folder / "glintr100.onnx") in msg and "corrupt" in msg


def test_typed_onnx_path(pack, tmp_path, models_dir):
    from comfyui_facelab.nodes import node_identity
    from comfyui_facelab.nodes.identity import model_loading

    build_model(tmp_path / "custom" / "rec.onnx")
    (model,) = node_identity.FaceLabIdentityModelLoader().load(
        "arcface", "antelopev2", "auto", str(tmp_path / "custom" / "rec.onnx")
    )
    assert model.name == "rec.onnx"
    build_model(tmp_path / "custom" / "det.onnx", out_dim=10, size=64)
    with pytest.raises(model_loading.IdentityModelError, match="is not an ArcFace recognition model"):
        node_identity.FaceLabIdentityModelLoader().load(
            "arcface", "antelopev2", "auto", str(tmp_path / "custom" / "det.onnx")
        )


def test_provider_choice_is_validated(pack, antelopev2):
    import onnxruntime
    from comfyui_facelab.nodes import node_identity
    from comfyui_facelab.nodes.identity import embedding, model_loading

    available = onnxruntime.get_available_providers()
    listed = node_identity.FaceLabIdentityModelLoader.INPUT_TYPES()["required"]["provider"][0]
    assert listed == ["auto", *available]
    assert model_loading.resolve_providers("CPUExecutionProvider") == ["CPUExecutionProvider"]
    assert (
        embedding.load_identity_model("arcface", "antelopev2", "auto").session.get_providers()[-1]
        == "CPUExecutionProvider"
    )
    missing = next(
        p for p in ("CUDAExecutionProvider", "ROCMExecutionProvider", "NoSuchExecutionProvider") if p not in available
    )
    with pytest.raises(ValueError, match=f"{missing}' is not available.*Available: {available[0]}"):
        embedding.load_identity_model("arcface", "antelopev2", missing)


def test_pack_menu_lists_found_folders(pack, antelopev2, models_dir):
    from comfyui_facelab.nodes import node_identity

    (models_dir / "my_pack").mkdir()
    menu = node_identity.FaceLabIdentityModelLoader.INPUT_TYPES()["required"]["model_pack"][0]
    assert menu[:2] == ["antelopev2", "buffalo_l"] and "my_pack" in menu


def test_insightface_is_never_imported(pack, antelopev2):
    from comfyui_facelab.nodes import node_identity

    (model,) = node_identity.FaceLabIdentityModelLoader().load("arcface", "antelopev2", "auto")
    node_identity.FaceLabIdentityEmbed().embed(
        model, photo_tensor("grace_hopper.jpg"), -1, landmarks_for("grace_hopper.jpg")
    )
    assert "insightface" not in sys.modules
