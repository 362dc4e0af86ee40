"""The `queue` command on what a first run and a hostile or broken server give it (issue 19, items 1-6): partial
validation, malformed answers, a request that hangs, credentials in the URL, type-mapped options, size caps, and a
second uploaded image. Against tests/fake_comfyui.py (the recorded ComfyUI 0.33 contract, answers tampered with
where a case needs it)."""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
from fake_comfyui import FakeComfyUI, closed_port, contract
from test_client_queue import SUCCESS_GRAPH, all_files, queue, queue_photo, write_photo, write_workflow  # noqa: F401

CKPT = "sd_xl_base_1.0_inpainting_0.1.safetensors"


def with_checkpoint(graph: dict = SUCCESS_GRAPH) -> dict:
    """The recorded graph plus a checkpoint loader (node 4, the one fake_comfyui's "partial" scenario names)."""
    graph = json.loads(json.dumps(graph))
    graph["4"] = {
        "class_type": "CheckpointLoaderSimple",
        "inputs": {"ckpt_name": CKPT},
        "_meta": {"title": "Load Checkpoint (SDXL inpainting)"},
    }
    graph["5"] = {
        "class_type": "KSampler",
        "_meta": {"title": "Base pass"},
        "inputs": {"model": ["4", 0], "seed": 1, "steps": 20, "cfg": 5.0, "denoise": 0.4},
    }
    return graph


# -- 19.1: HTTP 200 with node_errors ---------------------------------------------------------------------------
def test_node_errors_with_http_200_are_a_rejection_naming_the_model_folder(queue, tmp_path):
    res, fake = queue_photo(queue, tmp_path, graph=with_checkpoint(), scenario="partial")
    assert res.rc == 4, res.err
    assert "node #4 'Load Checkpoint (SDXL inpainting)' (CheckpointLoaderSimple):" in res.err
    assert f"- Value not in list: ckpt_name: '{CKPT}' not in []" in res.err
    assert f"put {CKPT} in ComfyUI/models/checkpoints/" in res.err
    # ComfyUI had queued the valid part (the previews): it is cancelled, and nothing is downloaded.
    (queued,) = fake.prompts
    assert ("/queue", {"delete": [queued["prompt_id"]]}) in fake.cancels
    assert res.files == [] and all_files(tmp_path) == ["a.png", "workflow_api.json"]


def test_allow_partial_runs_what_validated(queue, tmp_path):
    photo = write_photo(tmp_path / "a.png")
    with FakeComfyUI(scenario="partial") as fake:
        res = queue(
            write_workflow(tmp_path, with_checkpoint()), "--image", photo, "--server", fake.url, "--allow-partial"
        )
    assert res.rc == 0, res.err
    assert res.files == [tmp_path / "a_Save-Result_1.png"] and fake.cancels == []


# -- 19.2: malformed answers -> documented exit code, one line, no traceback ------------------------------------
def _history(fn):
    """Tamper with a finished history entry (pending answers, {}, pass unchanged)."""
    return lambda answer: {pid: fn(entry) for pid, entry in answer.items()}


def _images(fn):
    return _history(
        lambda e: {
            **e,
            "outputs": {nid: {**o, "images": [fn(r) for r in o["images"]]} for nid, o in e["outputs"].items()},
        }
    )


MALFORMED = {
    # case: (fake options, expected exit code, expected words in the error)
    "400 node_errors as a list": (
        {"scenario": "node_errors", "tamper": {"POST /prompt": lambda a: {**a, "node_errors": ["bad width"]}}},
        4,
        "bad width",
    ),
    "200 node_errors as a list": ({"tamper": {"POST /prompt": lambda a: {**a, "node_errors": ["bad"]}}}, 4, "bad"),
    "history answer a list": ({"tamper": {"GET /history": lambda a: [a]}}, 7, "not a JSON object"),
    "history entry a list": ({"tamper": {"GET /history": _history(lambda e: [e])}}, 7, "entry that is a list"),
    "outputs a list": (
        {"tamper": {"GET /history": _history(lambda e: {**e, "outputs": list(e["outputs"].values())})}},
        7,
        "outputs that are a list",
    ),
    "images not a list": (
        {
            "tamper": {
                "GET /history": _history(lambda e: {**e, "outputs": {k: {"images": "x.png"} for k in e["outputs"]}})
            }
        },
        7,
        "malformed outputs",
    ),
    "string execution_error": (
        {
            "scenario": "execution_error",
            "tamper": {
                "GET /history": _history(
                    lambda e: {**e, "status": {**e["status"], "messages": [["execution_error", "CUDA out of memory"]]}}
                )
            },
        },
        1,
        "CUDA out of memory",
    ),
    "status a string": (
        {"tamper": {"GET /history": _history(lambda e: {**e, "status": "error"})}},
        7,
        "malformed status",
    ),
    "numeric filename": (
        {"tamper": {"GET /history": _images(lambda r: {**r, "filename": 12345})}},
        7,
        "malformed output file name",
    ),
    "NUL-terminated filename": (
        {"tamper": {"GET /history": _images(lambda r: {**r, "filename": r["filename"] + "\0"})}},
        7,
        "malformed output file name",
    ),
    "deeply nested JSON answer": (
        {"tamper": {"POST /prompt": lambda a: b"[" * 100_000 + b"]" * 100_000}},
        7,
        "nested too deeply",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_answers_end_with_their_exit_code(queue, tmp_path, case):
    options, code, words = MALFORMED[case]
    # An exception would propagate out of main() and fail here; --timeout bounds the old behaviour of polling
    # forever when /history answered a list.
    res, _ = queue_photo(queue, tmp_path, args=("--timeout", "15"), **options)
    assert res.rc == code, res.err
    assert words in res.err and "Traceback" not in res.err
    assert res.files == [] and all_files(tmp_path) == ["a.png", "workflow_api.json"]


def test_non_numeric_progress_does_not_abort_a_good_run(queue, tmp_path):
    bad = {"ws": lambda e: {**e, "data": {**e["data"], "value": "half", "max": None}} if e["type"] == "progress" else e}
    res, fake = queue_photo(queue, tmp_path, scenario="progress", tamper=bad)
    assert res.rc == 0, res.err
    assert (tmp_path / "a_Save-Result_1.png").read_bytes() == fake.files["facelab_contract_00001_.png"]


def test_deeply_nested_workflow_is_a_usage_error(queue, tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"a":' * 100_000 + "1" + "}" * 100_000)
    res = queue(path, "--image", write_photo(tmp_path / "a.png"))
    assert res.rc == 2 and "nested too deeply" in res.err


# -- 19.3: --timeout while a request hangs ----------------------------------------------------------------------
@pytest.mark.parametrize("route", ["POST /prompt", "GET /history", "GET /view", "POST /upload/image"])
def test_timeout_is_enforced_while_a_request_hangs(queue, tmp_path, route):
    """Before: each request waited out its 60 s read timeout and nothing was cancelled. The deadline covers the
    photo from upload to download; the prompt (its id proposed by the client) is deleted and interrupted."""
    photo = write_photo(tmp_path / "a.png")
    with FakeComfyUI(stall={route}) as fake:
        start = time.monotonic()
        res = queue(write_workflow(tmp_path), "--image", photo, "--server", fake.url, "--timeout", "1.5")
        elapsed = time.monotonic() - start
    assert res.rc == 6, res.err
    assert 1.4 < elapsed < 4  # the deadline, plus the cancel requests
    assert "the time limit (--timeout) passed" in res.err
    if route == "POST /upload/image":
        assert fake.cancels == [] and fake.prompts == []  # nothing was queued, so nothing to cancel
        return
    if route == "GET /view":  # the prompt had finished: nothing to cancel, and no partial file is left
        assert fake.cancels == [] and f"(prompt {fake.prompts[0]['prompt_id']} had finished)" in res.err
        assert all_files(tmp_path) == ["a.png", "workflow_api.json"]
        return
    prompt_id = fake.cancels[0][1]["delete"][0]
    assert str(uuid.UUID(prompt_id)) == prompt_id
    assert fake.cancels == [("/queue", {"delete": [prompt_id]}), ("/interrupt", {"prompt_id": prompt_id})]
    assert f"prompt {prompt_id} was cancelled on the server" in res.err
    assert all_files(tmp_path) == ["a.png", "workflow_api.json"]


# -- 19.4: credentials in --server ------------------------------------------------------------------------------
def test_url_credentials_are_sent_as_basic_auth_and_never_shown(queue, tmp_path):
    photo = write_photo(tmp_path / "a.png")
    with FakeComfyUI(scenario="execution_error") as fake:
        url = fake.url.replace("http://", "http://alice:s%40cret@")
        res = queue(write_workflow(tmp_path), "--image", photo, "--server", url)
    assert res.rc == 1
    expected = "Basic " + base64.b64encode(b"alice:s@cret").decode()
    assert fake.headers and all(h.get("Authorization") == expected for h in fake.headers)
    unreachable = queue(
        write_workflow(tmp_path), "--image", photo, "--server", f"http://alice:s3cret@127.0.0.1:{closed_port()}"
    )
    bad_port = queue(write_workflow(tmp_path), "--image", photo, "--server", "http://alice:s3cret@host:99999999")
    assert unreachable.rc == 3 and "cannot reach ComfyUI at http://***@127.0.0.1:" in unreachable.err
    assert bad_port.rc == 2 and "http://***@host:99999999" in bad_port.err
    for r in (res, unreachable, bad_port):
        assert "s3cret" not in r.err + r.out and "s%40cret" not in r.err and "alice" not in r.err


# -- 19.5: type-mapped options, --list-inputs, size caps --------------------------------------------------------
def test_checkpoint_steps_denoise_are_set_by_node_type(queue, tmp_path):
    photo = write_photo(tmp_path / "a.png")
    with FakeComfyUI() as fake:
        res = queue(
            write_workflow(tmp_path, with_checkpoint()),
            "--image",
            photo,
            "--server",
            fake.url,
            "--checkpoint",
            "juggernaut.safetensors",
            "--steps",
            "8",
            "--denoise",
            "0.3",
        )
        missing = queue(write_workflow(tmp_path), "--image", photo, "--server", fake.url, "--steps", "8")
    assert res.rc == 0, res.err
    sent = fake.prompts[0]["prompt"]
    assert sent["4"]["inputs"]["ckpt_name"] == "juggernaut.safetensors"
    assert sent["5"]["inputs"]["steps"] == 8 and sent["5"]["inputs"]["denoise"] == 0.3  # titled "Base pass"
    assert missing.rc == 2 and "--steps: the workflow has no KSampler / KSamplerAdvanced" in missing.err
    assert len(fake.prompts) == 1


def test_list_inputs_prints_what_can_be_set(queue, tmp_path):
    res = queue(write_workflow(tmp_path, with_checkpoint()), "--list-inputs")
    assert res.rc == 0, res.err
    lines = res.out.splitlines()
    assert "#4 'Load Checkpoint (SDXL inpainting)' (CheckpointLoaderSimple)" in lines
    assert f'    Load Checkpoint (SDXL inpainting).ckpt_name = "{CKPT}"   (--checkpoint)' in lines
    assert "    Base pass.steps = 20   (--steps)" in lines
    assert '    Input Image.image = "contract_input.png"   (--image)' in lines
    assert not any("model" in line for line in lines)  # links are not settable


def test_oversized_answers_are_refused(queue, tmp_path, monkeypatch, pack):
    from comfyui_facelab.client import api

    monkeypatch.setattr(api, "MAX_DOWNLOAD_BYTES", 100)  # the fake's output PNG is larger
    res, _ = queue_photo(queue, tmp_path)
    assert res.rc == 7 and "more than the 100 bytes an output may have" in res.err
    assert all_files(tmp_path) == ["a.png", "workflow_api.json"]
    monkeypatch.setattr(api, "MAX_JSON_BYTES", 100)  # the recorded /history entry is several kB
    big = {"GET /history": lambda a: {**a, "padding": "x" * 1000}}
    res, _ = queue_photo(queue, tmp_path, tamper=big)
    assert res.rc == 7 and "bytes, more than the 100 bytes an answer may have" in res.err


# -- 19.6: every titled LoadImage uploadable ---------------------------------------------------------------------
def test_input_uploads_a_second_image_by_title(queue, tmp_path):
    graph = json.loads(json.dumps(SUCCESS_GRAPH))
    graph["3"] = {
        "class_type": "LoadImage",
        "inputs": {"image": "makeup_reference.png"},
        "_meta": {"title": "Makeup Reference"},
    }
    photo = write_photo(tmp_path / "a.png")
    ref = write_photo(tmp_path / "ref.png", "astronaut.png")
    wf = write_workflow(tmp_path, graph)
    with FakeComfyUI() as fake:
        res = queue(wf, "--image", photo, "--server", fake.url, "--input", f"Makeup Reference={ref}")
        wrong = queue(wf, "--image", photo, "--server", fake.url, "--input", f"Reference={ref}")
    assert res.rc == 0, res.err
    assert fake.uploads == {"a.png": photo.read_bytes(), "ref.png": ref.read_bytes()}
    assert fake.prompts[0]["prompt"]["3"]["inputs"]["image"] == "ref.png"
    assert wrong.rc == 2 and "no image loader titled 'Reference'" in wrong.err
    assert "#1 'Input Image' (LoadImage), #3 'Makeup Reference' (LoadImage)" in wrong.err


def test_shipped_makeup_workflow_takes_its_reference(queue, tmp_path, pack):
    from pathlib import Path

    wf = Path(pack.__file__).parent / "workflows" / "api" / "facelab_makeup_transfer.json"
    res = queue(wf, "--list-inputs")
    assert '    Makeup Reference.image = "makeup_reference.png"   (--input "Makeup Reference=PATH")' in res.out


def test_a_photo_that_cannot_be_read_is_a_usage_error(queue, tmp_path, monkeypatch):
    """Before: the OSError of reading the photo for upload escaped as a traceback."""
    from pathlib import Path as _Path

    photo = write_photo(tmp_path / "a.png")
    real = _Path.read_bytes
    monkeypatch.setattr(
        _Path,
        "read_bytes",
        lambda self: (
            (_ for _ in ()).throw(PermissionError(13, "Permission denied")) if self.name == "a.png" else real(self)
        ),
    )
    with FakeComfyUI() as fake:
        res = queue(write_workflow(tmp_path), "--image", photo, "--server", fake.url)
    assert res.rc == 2 and f"cannot read {str(photo)!r}: Permission denied" in res.err
    assert fake.prompts == []
