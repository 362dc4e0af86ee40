"""`python -m facelab queue` against tests/fake_comfyui.py, which replays the HTTP/websocket contract recorded from a
real ComfyUI 0.33 (tests/data/comfyui_http_contract/). Expected messages come from the recorded answers."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import load_photo
from fake_comfyui import FakeComfyUI, SilentServer, closed_port, contract

SUCCESS_GRAPH = contract("run_success")["request"][
    "prompt"
]  # LoadImage "Input Image" -> ImageInvert -> SaveImage "Save Result"


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def files(self) -> list[Path]:
        return [Path(line) for line in self.out.splitlines() if line.strip()]


@pytest.fixture
def queue(pack, capsys):
    from comfyui_facelab.cli import main

    def run(*args) -> Result:
        rc = main(["queue", *map(str, args)])
        captured = capsys.readouterr()
        return Result(rc, captured.out, captured.err)

    return run


def write_photo(path: Path, name: str = "grace_hopper.jpg", size: int = 40) -> Path:
    """A small PNG cut from a real test portrait."""
    from PIL import Image

    im = Image.fromarray(load_photo(name))
    im.thumbnail((size, size))
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
    return path


def write_workflow(tmp_path: Path, graph: dict = SUCCESS_GRAPH, name: str = "workflow_api.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(graph))
    return path


def all_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def queue_photo(queue, tmp_path: Path, graph: dict = SUCCESS_GRAPH, args: tuple = (), **fake_options):
    """(Result, FakeComfyUI): the workflow queued on one photo (tmp_path/a.png) against FakeComfyUI(**fake_options)."""
    photo = write_photo(tmp_path / "a.png")
    with FakeComfyUI(**fake_options) as fake:
        res = queue(write_workflow(tmp_path, graph), "--image", photo, "--server", fake.url, *args)
    return res, fake


def test_success_downloads_what_the_server_served(queue, tmp_path):
    photo = write_photo(tmp_path / "photos" / "hopper.png")
    with FakeComfyUI() as fake:
        res = queue(write_workflow(tmp_path), "--image", photo, "--server", fake.url)
    assert res.rc == 0, res.err
    out = photo.parent / "hopper_Save-Result_1.png"
    assert res.files == [out]
    assert all_files(photo.parent) == ["hopper.png", "hopper_Save-Result_1.png"]  # no temp files left
    assert out.read_bytes() == fake.files["facelab_contract_00001_.png"]
    # The upload is the photo's bytes; the queued graph is the workflow with only the image changed.
    assert fake.uploads == {"hopper.png": photo.read_bytes()}
    (queued,) = fake.prompts
    expected = json.loads(json.dumps(SUCCESS_GRAPH))
    expected["1"]["inputs"]["image"] = "hopper.png"
    assert queued["prompt"] == expected
    # Progress came over the websocket registered under the queued client_id (the fake's ping was answered).
    assert fake.pongs == [b"facelab"] and queued["client_id"]
    assert "#9 'Save Result' (SaveImage) produced 1 image(s)" in res.err
    assert "finished, downloading outputs" in res.err


def test_progress_events_are_shown(queue, tmp_path):
    # history_delay: ComfyUI stores the history entry just after the final event; the client must wait for it.
    res, _ = queue_photo(queue, tmp_path, scenario="progress", history_delay=0.5)
    assert res.rc == 0, res.err
    recorded = next(e["data"] for e in contract("run_progress")["ws_events"] if e["type"] == "progress")
    assert f"#{recorded['node']} 'ImageInvert' {recorded['value']}/{recorded['max']}" in res.err
    assert "1 node(s) reused from ComfyUI's cache" in res.err  # the recorded execution_cached listed one node
    assert (tmp_path / "a_Save-Result_1.png").is_file()


def test_folder_is_run_photo_by_photo_and_reruns_skip_outputs(queue, tmp_path):
    folder = tmp_path / "photos"
    photos = [
        write_photo(folder / f"{n}.png", n2)
        for n, n2 in (("b_astro", "astronaut.png"), ("a_hopper", "grace_hopper.jpg"), ("c_obama", "obama.jpg"))
    ]
    (folder / "notes.txt").write_text("not a photo")
    (folder / ".hidden.png").write_bytes(photos[0].read_bytes())
    wf = write_workflow(tmp_path)
    with FakeComfyUI(outputs_per_run=2) as fake:
        res = queue(wf, "--image", folder, "--server", fake.url)
        assert res.rc == 0, res.err
        stems = ["a_hopper", "b_astro", "c_obama"]  # sorted by name
        assert res.files == [folder / f"{s}_Save-Result_{n}.png" for s in stems for n in (1, 2)]
        assert [p["prompt"]["1"]["inputs"]["image"] for p in fake.prompts] == [f"{s}.png" for s in stems]
        for i, path in enumerate(res.files):  # file n of the k-th photo is the server's file k*2+n
            assert path.read_bytes() == fake.files[f"facelab_contract_{i + 1:05d}_.png"]
        assert "[2/3 b_astro.png]" in res.err
        # Run again on the same folder: the outputs of the first run are not taken as new photos.
        again = queue(wf, "--image", folder, "--server", fake.url)
    assert again.rc == 0, again.err
    assert len(fake.prompts) == 6 and len(again.files) == 6
    assert "3 of 3 photo(s) done" in again.err


def test_out_folder_and_server_side_renaming(queue, tmp_path):
    photo = write_photo(tmp_path / "in" / "face.png")
    out = tmp_path / "results" / "run1"
    with FakeComfyUI() as fake:
        fake.uploads["face.png"] = b"another user's file with the same name"
        res = queue(write_workflow(tmp_path), "--image", photo, "--server", fake.url, "--out", out)
    assert res.rc == 0, res.err
    assert res.files == [out / "face_Save-Result_1.png"]
    # ComfyUI renamed the upload (recorded behaviour: "name (1).png"); the graph uses the name it returned.
    assert fake.prompts[0]["prompt"]["1"]["inputs"]["image"] == "face (1).png"
    assert fake.uploads["face.png"] == b"another user's file with the same name"
    assert all_files(photo.parent) == ["face.png"]


def test_unreachable_server_fails_fast_with_a_hint(queue, tmp_path):
    photo = write_photo(tmp_path / "a.png")
    url = f"http://127.0.0.1:{closed_port()}"
    start = time.monotonic()
    res = queue(write_workflow(tmp_path), "--image", photo, "--server", url)
    assert time.monotonic() - start < 5
    assert res.rc == 3
    assert f"cannot reach ComfyUI at {url}" in res.err and "start ComfyUI" in res.err and "--server" in res.err
    assert all_files(tmp_path) == ["a.png", "workflow_api.json"]


def test_a_server_that_never_answers_times_out(queue, tmp_path):
    photo = write_photo(tmp_path / "a.png")
    with SilentServer() as server:
        start = time.monotonic()
        res = queue(write_workflow(tmp_path), "--image", photo, "--server", server.url, "--connect-timeout", "0.5")
    assert time.monotonic() - start < 5
    assert res.rc == 7
    assert f"ComfyUI at {server.url} stopped answering GET /prompt: timed out" in res.err


def test_http_400_prints_comfyui_node_errors(queue, tmp_path):
    recorded = contract("prompt_node_errors")
    graph = recorded["request"]["prompt"]  # the workflow the real server rejected
    res, _ = queue_photo(queue, tmp_path, graph=graph, scenario="node_errors")
    assert res.rc == 4
    body = recorded["body"]
    assert f"error: ComfyUI rejected the workflow: {body['error']['message']}" in res.err
    assert len(body["node_errors"]) == 2
    for node_id, entry in body["node_errors"].items():
        title = graph[node_id]["_meta"]["title"]
        assert f"node #{node_id} {title!r} ({entry['class_type']}):" in res.err
        for err in entry["errors"]:
            assert f"- {err['message']}: {err['details']}" in res.err
    assert "Value 99999 bigger than max of 16384: width" in res.err  # what the real server said, verbatim
    assert res.files == [] and all_files(tmp_path) == ["a.png", "workflow_api.json"]


def test_http_400_without_node_errors(queue, tmp_path):
    res, _ = queue_photo(queue, tmp_path, scenario="no_outputs")
    assert res.rc == 4
    assert "ComfyUI rejected the workflow: Prompt has no outputs" in res.err


def test_execution_error_shows_node_exception_and_traceback_tail(queue, tmp_path):
    res, _ = queue_photo(queue, tmp_path, scenario="execution_error")
    assert res.rc == 1
    err = next(e["data"] for e in contract("run_execution_error")["ws_events"] if e["type"] == "execution_error")
    assert (
        f"error: node #{err['node_id']} 'Input Image' ({err['node_type']}) raised {err['exception_type']}: "
        f"{err['exception_message'].strip()}"
    ) in res.err
    last_line = "".join(err["traceback"]).rstrip().splitlines()[-1]
    assert "traceback (last 8 lines):" in res.err and last_line in res.err
    assert res.files == [] and all_files(tmp_path) == ["a.png", "workflow_api.json"]


def test_interrupted_run(queue, tmp_path):
    res, _ = queue_photo(queue, tmp_path, scenario="interrupted")
    assert res.rc == 5
    data = next(e["data"] for e in contract("run_interrupted")["ws_events"] if e["type"] == "execution_interrupted")
    assert f"interrupted on the server at node #{data['node_id']} ({data['node_type']})" in res.err
    assert all_files(tmp_path) == ["a.png", "workflow_api.json"]


@pytest.mark.parametrize("dropped", [1, 2])
def test_dropped_download_leaves_no_file(queue, tmp_path, dropped):
    """The server drops the connection mid-body of the first or the second of a photo's two outputs: no
    output of that photo is kept (not even the complete first one) and no temp file is left."""
    res, fake = queue_photo(queue, tmp_path, outputs_per_run=2, drop_download=dropped)
    assert res.rc == 7
    size = len(fake.files[f"facelab_contract_0000{dropped}_.png"])
    assert f"download of 'facelab_contract_0000{dropped}_.png' ended after {size // 2} of {size} bytes" in res.err
    assert all_files(tmp_path) == ["a.png", "workflow_api.json"]


def test_folder_stops_at_a_failure_and_says_which_photos_are_done(queue, tmp_path):
    folder = tmp_path / "photos"
    for name in ("a", "b", "c"):
        write_photo(folder / f"{name}.png")
    with FakeComfyUI(scenarios={"b.png": "execution_error"}) as fake:
        res = queue(write_workflow(tmp_path), "--image", folder, "--server", fake.url)
        assert res.rc == 1
        assert res.files == [folder / "a_Save-Result_1.png"]
        assert "1 of 3 photo(s) done: a.png" in res.err
        assert "failed (no outputs written): b.png" in res.err and "not run: c.png" in res.err
        assert all_files(folder) == ["a.png", "a_Save-Result_1.png", "b.png", "c.png"]
        going = queue(write_workflow(tmp_path), "--image", folder, "--server", fake.url, "--keep-going")
    assert going.rc == 1
    assert going.files == [folder / "a_Save-Result_1.png", folder / "c_Save-Result_1.png"]
    assert "2 of 3 photo(s) done: a.png, c.png" in going.err and "not run" not in going.err


def test_set_and_conventional_options_reach_the_queued_graph(queue, tmp_path):
    graph = json.loads(json.dumps(SUCCESS_GRAPH))
    graph["5"] = {
        "class_type": "KSampler",
        "_meta": {"title": "Sampler"},
        "inputs": {"seed": 0, "steps": 20, "cfg": 7.0, "denoise": 1.0, "model": ["4", 0]},
    }
    graph["6"] = {
        "class_type": "CLIPTextEncode",
        "inputs": {"text": "", "clip": ["4", 1]},
        "_meta": {"title": "Positive Prompt"},
    }
    graph["7"] = {
        "class_type": "CLIPTextEncode",
        "inputs": {"text": "", "clip": ["4", 1]},
        "_meta": {"title": "Negative Prompt"},
    }
    graph["8"] = {
        "class_type": "PrimitiveStringMultiline",
        "inputs": {"value": "{}"},
        "_meta": {"title": "Zone Scores"},
    }
    photo = write_photo(tmp_path / "a.png")
    with FakeComfyUI() as fake:
        res = queue(
            write_workflow(tmp_path, graph),
            "--image",
            photo,
            "--server",
            fake.url,
            "--set",
            "Save Result.filename_prefix=aging/run",
            "--set",
            "Sampler.steps=8",
            "--seed",
            "1234",
            "--strength",
            "0.35",
            "--prompt",
            "older skin",
            "--negative",
            "blurry",
            "--zone-scores",
            '{"forehead": 0.7}',
        )
    assert res.rc == 0, res.err
    sent = fake.prompts[0]["prompt"]
    assert sent["9"]["inputs"]["filename_prefix"] == "aging/run"
    assert sent["5"]["inputs"] == {"seed": 1234, "steps": 8, "cfg": 7.0, "denoise": 0.35, "model": ["4", 0]}
    assert sent["6"]["inputs"]["text"] == "older skin" and sent["7"]["inputs"]["text"] == "blurry"
    assert json.loads(sent["8"]["inputs"]["value"]) == {"forehead": 0.7}


def test_unknown_title_is_reported_before_contacting_the_server(queue, tmp_path):
    photo = write_photo(tmp_path / "a.png")
    with FakeComfyUI() as fake:
        res = queue(write_workflow(tmp_path), "--image", photo, "--server", fake.url, "--set", "Sampler.seed=3")
        seed = queue(write_workflow(tmp_path), "--image", photo, "--server", fake.url, "--seed", "3")
    assert res.rc == 2 and seed.rc == 2
    assert "no node titled 'Sampler'" in res.err
    assert "#1 'Input Image' (LoadImage), #2 'ImageInvert', #9 'Save Result' (SaveImage)" in res.err
    assert "--seed: the workflow has no node titled 'Seed' or 'DDPM Invert' or 'Sampler'" in seed.err
    assert fake.uploads == {} and fake.prompts == []


def test_bad_arguments(queue, tmp_path):
    photo = write_photo(tmp_path / "a.png")
    ui = write_workflow(tmp_path, {"nodes": [], "links": [], "version": 0.4}, "ui.json")
    assert "Export (API)" in queue(ui, "--image", photo).err
    res = queue(write_workflow(tmp_path), "--image", tmp_path / "missing.png")
    assert res.rc == 2 and "no such file or folder" in res.err
    (tmp_path / "empty").mkdir()
    assert "the folder has no photos" in queue(write_workflow(tmp_path), "--image", tmp_path / "empty").err
    (tmp_path / "broken.json").write_text("{")
    assert "is not valid JSON" in queue(tmp_path / "broken.json", "--image", photo).err
    assert "cannot read the workflow" in queue(tmp_path / "nope.json", "--image", photo).err


def test_run_timeout_cancels_the_prompt(queue, tmp_path):
    photo = write_photo(tmp_path / "a.png")
    with FakeComfyUI(scenario="hang") as fake:
        start = time.monotonic()
        res = queue(write_workflow(tmp_path), "--image", photo, "--server", fake.url, "--timeout", "1")
        elapsed = time.monotonic() - start
    assert res.rc == 6 and elapsed < 5
    prompt_id = fake.cancels[0][1]["delete"][0]
    assert prompt_id not in fake.history  # it never finished
    assert fake.cancels == [("/queue", {"delete": [prompt_id]}), ("/interrupt", {"prompt_id": prompt_id})]
    assert (
        "the time limit (--timeout) passed" in res.err and f"prompt {prompt_id} was cancelled on the server" in res.err
    )
    assert all_files(tmp_path) == ["a.png", "workflow_api.json"]


@pytest.mark.parametrize("ws_mode", ["refuse", "drop"])
def test_without_websocket_the_client_polls_history(queue, tmp_path, caplog, ws_mode):
    with caplog.at_level(logging.WARNING, logger="FaceLab"):
        res, fake = queue_photo(queue, tmp_path, ws=ws_mode)
    assert res.rc == 0, res.err
    assert (tmp_path / "a_Save-Result_1.png").read_bytes() == fake.files["facelab_contract_00001_.png"]
    assert "polling /history instead" in caplog.text


def test_facelab_launcher_runs_queue(pack, tmp_path, capsys):
    """`python -m facelab queue ...` goes through facelab.main (in-process here: a fresh interpreter would spend
    its time importing the whole pack, not in the client)."""
    import facelab

    photo = write_photo(tmp_path / "a.png")
    with FakeComfyUI() as fake:
        rc = facelab.main(["queue", str(write_workflow(tmp_path)), "--image", str(photo), "--server", fake.url])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert captured.out.splitlines() == [str(tmp_path / "a_Save-Result_1.png")]
    assert "[a.png] #9 'Save Result' (SaveImage)" in captured.err
