"""`python -m facelab queue` against a real ComfyUI (needs COMFYUI_DIR; tests/comfyui_server.py starts it).
Only cheap core nodes (LoadImage -> ImageInvert -> SaveImage): no model, no sampling."""

from __future__ import annotations

import json

import numpy as np
import pytest
from comfyui_server import comfyui  # noqa: F401  (session fixture)
from fake_comfyui import contract
from PIL import Image
from test_client_queue import SUCCESS_GRAPH, all_files, queue, write_photo, write_workflow  # noqa: F401

pytestmark = pytest.mark.comfyui


def test_real_server_inverts_the_photo(comfyui, queue, tmp_path):  # noqa: F811
    photo = write_photo(tmp_path / "hopper.png", size=64)
    res = queue(write_workflow(tmp_path), "--image", photo, "--server", comfyui.url)
    assert res.rc == 0, res.err + comfyui.log_tail()
    (out,) = res.files
    assert out == tmp_path / "hopper_Save-Result_1.png"
    with Image.open(photo) as a, Image.open(out) as b:
        src, got = np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB"))
    assert got.shape == src.shape
    # ImageInvert computes 1 - x/255 in float32 and SaveImage truncates 255 * y to uint8: 255 - x, or one less.
    diff = (255 - src.astype(int)) - got.astype(int)
    assert diff.min() >= 0 and diff.max() <= 1
    assert np.abs(got.astype(int) - src).mean() > 50  # not the input itself
    # Progress lines come from the websocket only (the executed event of the SaveImage node).
    assert "#9 'Save Result' (SaveImage) produced 1 image(s)" in res.err


def test_real_server_rejection_prints_its_node_errors(comfyui, queue, tmp_path):  # noqa: F811
    graph = contract("prompt_node_errors")["request"]["prompt"]  # ImageScale width 99999 > max 16384
    photo = write_photo(tmp_path / "a.png")
    res = queue(write_workflow(tmp_path, graph), "--image", photo, "--server", comfyui.url)
    assert res.rc == 4
    assert "error: ComfyUI rejected the workflow: Prompt outputs failed validation" in res.err
    assert "node #2 'ImageScale' (ImageScale):" in res.err
    assert "- Value 99999 bigger than max of 16384: width" in res.err
    assert "node #1" not in res.err  # the uploaded photo is valid, so LoadImage has no error
    assert all_files(tmp_path) == ["a.png", "workflow_api.json"]


def test_real_server_execution_error(comfyui, queue, tmp_path):  # noqa: F811
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a PNG at all")  # passes validation (the file exists), fails when LoadImage opens it
    res = queue(write_workflow(tmp_path), "--image", broken, "--server", comfyui.url)
    assert res.rc == 1
    assert "error: node #1 'Input Image' (LoadImage) raised PIL.UnidentifiedImageError" in res.err
    assert "traceback" in res.err
    assert all_files(tmp_path) == ["broken.png", "workflow_api.json"]
    assert json.loads((tmp_path / "workflow_api.json").read_text()) == SUCCESS_GRAPH


def test_real_server_partial_validation_names_the_missing_checkpoint(comfyui, queue, tmp_path):  # noqa: F811
    """Issue 19.1 on the real server: one output valid, one depending on a checkpoint that is not installed.
    ComfyUI answers HTTP 200 with node_errors and queues the valid output; the client refuses (exit 4)."""
    graph = json.loads(json.dumps(SUCCESS_GRAPH))
    graph["20"] = {
        "class_type": "CheckpointLoaderSimple",
        "inputs": {"ckpt_name": "not_installed.safetensors"},
        "_meta": {"title": "Load Checkpoint"},
    }
    graph["21"] = {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}}
    graph["22"] = {"class_type": "VAEDecode", "inputs": {"samples": ["21", 0], "vae": ["20", 2]}}
    graph["23"] = {
        "class_type": "SaveImage",
        "inputs": {"images": ["22", 0], "filename_prefix": "never"},
        "_meta": {"title": "Save Decoded"},
    }
    photo = write_photo(tmp_path / "a.png")
    res = queue(write_workflow(tmp_path, graph), "--image", photo, "--server", comfyui.url)
    assert res.rc == 4, res.err + comfyui.log_tail()
    assert "node #20 'Load Checkpoint' (CheckpointLoaderSimple):" in res.err
    assert "put not_installed.safetensors in ComfyUI/models/checkpoints/" in res.err
    assert all_files(tmp_path) == ["a.png", "workflow_api.json"]


def test_real_and_fake_server_share_a_folder(comfyui, queue, tmp_path):  # noqa: F811
    """Issue 18 with one real ComfyUI and one fake: every photo done once, the manifest names both servers' work."""
    from fake_comfyui import FakeComfyUI

    folder = tmp_path / "photos"
    for i, name in enumerate(("grace_hopper.jpg", "astronaut.png", "obama.jpg", "biden.jpg")):
        write_photo(folder / f"p{i}.png", name, size=48)
    with FakeComfyUI(sample_time=0.5) as fake:
        res = queue(write_workflow(tmp_path), "--image", folder, "--server", comfyui.url, "--server", fake.url)
    assert res.rc == 0, res.err + comfyui.log_tail()
    records = [json.loads(line) for line in (folder / "facelab_manifest.jsonl").read_text().splitlines()]
    assert sorted(r["photo"] for r in records) == [f"p{i}.png" for i in range(4)]
    assert all(r["status"] == "done" for r in records)
    assert {r["server"] for r in records} == {comfyui.url, fake.url}  # each starts with a photo in hand
    for r in records:  # both servers invert: 255 - x (the real one may be one less, see above)
        with Image.open(folder / r["photo"]) as a, Image.open(folder / r["outputs"][0]["file"]) as b:
            diff = (255 - np.asarray(a.convert("RGB")).astype(int)) - np.asarray(b.convert("RGB")).astype(int)
        assert diff.min() >= 0 and diff.max() <= 1, r


def test_two_real_servers_give_the_single_server_outputs(comfyui, queue, tmp_path):  # noqa: F811
    """Issue 18 with two real ComfyUI processes (a second one started here): a folder of 4 photos spread over both
    gives byte-identical outputs to the same folder run on one server."""
    from comfyui_server import start_comfyui
    from conftest import MODELS_DIR

    single, spread = tmp_path / "single", tmp_path / "spread"
    for folder in (single, spread):
        for i, name in enumerate(("grace_hopper.jpg", "astronaut.png", "obama.jpg", "biden.jpg")):
            write_photo(folder / f"p{i}.png", name, size=48)
    wf = write_workflow(tmp_path)
    assert queue(wf, "--image", single, "--server", comfyui.url).rc == 0
    with start_comfyui(comfyui.comfy_dir, tmp_path / "second", mediapipe_dir=MODELS_DIR / "mediapipe") as second:
        res = queue(wf, "--image", spread, "--server", comfyui.url, "--server", second.url)
    assert res.rc == 0, res.err + second.log_tail()
    records = [json.loads(line) for line in (spread / "facelab_manifest.jsonl").read_text().splitlines()]
    assert {r["server"] for r in records} == {comfyui.url, second.url}
    outputs = sorted(p.name for p in single.iterdir() if "_Save-Result_" in p.name)
    assert len(outputs) == 4
    for name in outputs:
        assert (spread / name).read_bytes() == (single / name).read_bytes(), name
