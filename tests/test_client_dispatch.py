"""`queue --server A --server B ...`: a folder spread over several fake ComfyUI servers (tests/fake_comfyui.py,
the recorded ComfyUI 0.33 contract) of which some refuse, die or fail; the manifest makes re-runs resumable."""

from __future__ import annotations

import _thread
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fake_comfyui import FakeComfyUI, closed_port, inverted_png
from test_client_queue import queue, write_photo, write_workflow  # noqa: F401

NAMES = ("grace_hopper.jpg", "astronaut.png", "obama.jpg", "biden.jpg", "obama2.jpg", "chelsea.png")


def photo_folder(tmp_path: Path, n: int = 6) -> Path:
    folder = tmp_path / "photos"
    for i in range(n):
        write_photo(folder / f"p{i}.png", NAMES[i % len(NAMES)], size=24 + i)
    return folder


def manifest(folder: Path) -> dict[str, dict]:
    """Latest record per photo; also checks that every line is a complete JSON record."""
    records = {}
    for line in (folder / "facelab_manifest.jsonl").read_text().splitlines():
        record = json.loads(line)
        records[record["photo"]] = record
    return records


def outputs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "_Save-Result_" in p.name)


def prompts(*fakes) -> list[str]:
    """Uploaded photo name of every prompt queued on these servers."""
    return [p["prompt"]["1"]["inputs"]["image"] for fake in fakes for p in fake.prompts]


def test_faulty_servers_every_photo_done_once_and_reruns(queue, tmp_path):
    folder = photo_folder(tmp_path)
    wf = write_workflow(tmp_path)
    with FakeComfyUI() as good, FakeComfyUI(die_after=1) as dying, FakeComfyUI(scenario="execution_error") as bad:
        servers = [
            "--server",
            good.url,
            "--server",
            dying.url,
            "--server",
            bad.url,
            "--server",
            f"http://127.0.0.1:{closed_port()}",
        ]
        res = queue(wf, "--image", folder, *servers)
        assert res.rc == 0, res.err
        records = manifest(folder)
        names = [f"p{i}.png" for i in range(6)]
        assert sorted(records) == names and all(r["status"] == "done" for r in records.values())
        assert outputs(folder) == [f"p{i}_Save-Result_1.png" for i in range(6)]
        for name, record in records.items():
            out = folder / record["outputs"][0]["file"]
            # The output is the server's file for this photo (the fake inverts the upload), named after the photo.
            assert out.read_bytes() == inverted_png((folder / name).read_bytes())
            assert record["server"] in (good.url, dying.url)  # the failing server finished none
        assert "cannot reach ComfyUI" in res.err and "dropped" in res.err
        assert "summary: 6 done, 0 failed, 0 skipped" in res.err
        assert sorted(map(Path, res.out.split())) == sorted(folder / o for o in outputs(folder))
        before = len(prompts(good, dying, bad))
        again = queue(wf, "--image", folder, "--server", good.url, "--server", bad.url)
        assert again.rc == 0 and len(prompts(good, dying, bad)) == before  # nothing re-run
        assert "6 already done (manifest)" in again.err
        (folder / "p3_Save-Result_1.png").unlink()
        redo = queue(wf, "--image", folder, "--server", good.url, "--server", dying.url)
        assert redo.rc == 0, redo.err
        assert len(prompts(good, dying, bad)) == before + 1 and prompts(good)[-1] == "p3.png"  # only that photo
        assert outputs(folder) == [f"p{i}_Save-Result_1.png" for i in range(6)]


def test_a_server_that_keeps_failing_is_dropped(queue, tmp_path):
    folder = photo_folder(tmp_path, 8)
    # The good server takes 0.4 s a photo, long enough for the bad one to fail 3 times (back-off 0.5 s, 1 s).
    with FakeComfyUI(sample_time=0.4) as good, FakeComfyUI(scenario="execution_error") as bad:
        res = queue(write_workflow(tmp_path), "--image", folder, "--server", good.url, "--server", bad.url)
    assert res.rc == 0, res.err
    assert f"server {bad.url} dropped: 3 faults in a row" in res.err
    assert len(bad.prompts) == 3 and len(manifest(folder)) == 8


def test_a_photo_failing_everywhere_fails_after_its_retries(queue, tmp_path):
    folder = photo_folder(tmp_path, 3)
    wf = write_workflow(tmp_path)
    scenarios = {"p1.png": "execution_error"}
    with FakeComfyUI(scenarios=scenarios) as a, FakeComfyUI(scenarios=scenarios) as b:
        res = queue(wf, "--image", folder, "--server", a.url, "--server", b.url, "--retries", "2")
    assert res.rc == 1, res.err
    assert prompts(a, b).count("p1.png") == 3  # the first try and 2 retries
    records = manifest(folder)
    assert records["p1.png"]["status"] == "failed" and "UnidentifiedImageError" in records["p1.png"]["error"]
    assert records["p0.png"]["status"] == records["p2.png"]["status"] == "done"
    assert "summary: 2 done, 1 failed" in res.err and "failed: p1.png" in res.err


def test_unreadable_images_are_skipped_and_reported(queue, tmp_path):
    folder = photo_folder(tmp_path, 2)
    (folder / "notes.png").write_text("not an image")
    (folder / "empty.jpg").write_bytes(b"")
    with FakeComfyUI() as a, FakeComfyUI() as b:
        res = queue(write_workflow(tmp_path), "--image", folder, "--server", a.url, "--server", b.url)
    assert res.rc == 0, res.err
    assert sorted(prompts(a, b)) == ["p0.png", "p1.png"]
    assert "skipped: notes.png is not a PNG, JPEG, WebP, GIF, BMP or TIFF image" in res.err
    assert "skipped: empty.jpg is empty" in res.err
    assert manifest(folder)["notes.png"]["status"] == "skipped"


def test_photos_sharing_a_stem_are_refused(queue, tmp_path):
    folder = photo_folder(tmp_path, 1)
    write_photo(folder / "p0.jpg")
    with FakeComfyUI() as a, FakeComfyUI() as b:
        res = queue(write_workflow(tmp_path), "--image", folder, "--server", a.url, "--server", b.url)
    assert res.rc == 2 and "p0.jpg and p0.png would write the same output files" in res.err
    assert a.prompts == b.prompts == []


def test_bad_server_lists(queue, tmp_path):
    folder = photo_folder(tmp_path, 1)
    wf = write_workflow(tmp_path)
    with FakeComfyUI() as fake:
        port = fake.url.rsplit(":", 1)[1]
        dup = queue(wf, "--image", folder, "--server", fake.url, "--server", f"localhost:{port}/")
        assert dup.rc == 2 and "is given twice" in dup.err and fake.prompts == []
        (tmp_path / "servers.txt").write_text(f"# farm\n{fake.url}\n\nhttp://alice:pw@127.0.0.1:{closed_port()}\n")
        listed = queue(wf, "--image", folder, "--servers-file", tmp_path / "servers.txt")
    assert listed.rc == 0, listed.err
    assert "http://***@127.0.0.1" in listed.err and "pw" not in listed.err.replace("photos", "")
    web = ThreadingHTTPServer(("127.0.0.1", 0), SimpleHTTPRequestHandler)  # answers, but is no ComfyUI
    threading.Thread(target=web.serve_forever, daemon=True).start()
    try:
        res = queue(
            wf,
            "--image",
            folder,
            "--server",
            f"http://127.0.0.1:{web.server_address[1]}",
            "--server",
            f"http://127.0.0.1:{closed_port()}",
        )
    finally:
        web.shutdown()
        web.server_close()
    assert res.rc == 3 and "answered HTTP 404" in res.err and "no ComfyUI server answered" in res.err


def test_per_server_limit_and_json_events(queue, tmp_path):
    folder = photo_folder(tmp_path, 6)
    with FakeComfyUI(sample_time=0.1, scenario="progress") as a, FakeComfyUI(sample_time=0.1, scenario="progress") as b:
        res = queue(
            write_workflow(tmp_path),
            "--image",
            folder,
            "--server",
            a.url,
            "--server",
            b.url,
            "--per-server",
            "2",
            "--json",
        )
    assert res.rc == 0, res.err
    assert a.max_in_flight <= 2 and b.max_in_flight <= 2 and a.max_in_flight + b.max_in_flight >= 3
    events = [json.loads(line) for line in res.out.splitlines()]  # stdout is JSON lines only
    assert events[0]["event"] == "start" and events[0]["total"] == 6
    done = [e for e in events if e["event"] == "done"]
    assert sorted(e["photo"] for e in done) == [f"p{i}.png" for i in range(6)] and done[-1]["done"] == 6
    assert all("photos_per_minute" in e and "eta_s" in e for e in done)
    assert events[-1]["event"] == "summary" and len(events[-1]["done"]) == 6
    steps = [e for e in events if e["event"] == "step"]  # the recorded run reports ImageInvert's progress
    assert sorted({e["photo"] for e in steps}) == [f"p{i}.png" for i in range(6)] and all(e["max"] > 0 for e in steps)


def test_ctrl_c_cancels_prompts_in_flight_and_keeps_the_manifest_consistent(queue, tmp_path):
    folder = photo_folder(tmp_path, 4)
    wf = write_workflow(tmp_path)
    with (
        FakeComfyUI(scenarios={"p2.png": "hang", "p3.png": "hang"}) as a,
        FakeComfyUI(scenarios={"p2.png": "hang", "p3.png": "hang"}) as b,
    ):

        def interrupt():
            while len(a.prompts) + len(b.prompts) < 4:
                threading.Event().wait(0.05)
            threading.Event().wait(0.3)
            _thread.interrupt_main()

        threading.Thread(target=interrupt, daemon=True).start()
        res = queue(wf, "--image", folder, "--server", a.url, "--server", b.url)
        cancelled = [body["delete"][0] for fake in (a, b) for path, body in fake.cancels if path == "/queue"]
        hung = [
            p["prompt_id"]
            for fake in (a, b)
            for p in fake.prompts
            if p["prompt"]["1"]["inputs"]["image"] in ("p2.png", "p3.png")
        ]
        assert res.rc == 130, res.err
        assert sorted(cancelled) == sorted(hung) and len(hung) == 2
        records = manifest(folder)
        assert sorted(records) == ["p0.png", "p1.png"] and all(r["status"] == "done" for r in records.values())
        assert outputs(folder) == ["p0_Save-Result_1.png", "p1_Save-Result_1.png"]
    with FakeComfyUI() as c, FakeComfyUI() as d:
        again = queue(wf, "--image", folder, "--server", c.url, "--server", d.url)
    assert again.rc == 0 and sorted(prompts(c, d)) == ["p2.png", "p3.png"]


@pytest.mark.parametrize("n_servers", [1])
def test_single_server_keeps_the_sequential_mode(queue, tmp_path, n_servers):
    """One --server runs the folder one photo after the other, as before (no manifest)."""
    folder = photo_folder(tmp_path, 2)
    with FakeComfyUI() as fake:
        res = queue(write_workflow(tmp_path), "--image", folder, "--server", fake.url)
    assert res.rc == 0 and not (folder / "facelab_manifest.jsonl").exists()


def test_shipped_makeup_workflow_with_its_reference_over_two_servers(queue, tmp_path):
    folder = photo_folder(tmp_path, 3)
    ref = write_photo(tmp_path / "reference.png", "astronaut.png")
    wf = Path(__file__).resolve().parent.parent / "workflows" / "api" / "facelab_makeup_transfer.json"
    with FakeComfyUI() as a, FakeComfyUI() as b:
        res = queue(
            wf,
            "--image",
            folder,
            "--server",
            a.url,
            "--server",
            b.url,
            "--input",
            f"Makeup Reference={ref}",
            "--steps",
            "4",
        )
    assert res.rc == 0, res.err
    sent = [p["prompt"] for fake in (a, b) for p in fake.prompts]
    assert sorted(g["2"]["inputs"]["image"] for g in sent) == ["p0.png", "p1.png", "p2.png"]
    samplers = [n for g in sent for n in g.values() if n["class_type"] == "KSampler"]
    assert len(samplers) == 3 and all(n["inputs"]["steps"] == 4 for n in samplers)
    assert all(g["4"]["inputs"]["image"] == "reference.png" for g in sent)
    assert all(fake.uploads.get("reference.png") == ref.read_bytes() for fake in (a, b) if fake.prompts)


def test_progress_on_a_terminal_rewrites_one_status_line(pack):
    import io

    from comfyui_facelab.client.console import Console
    from comfyui_facelab.client.dispatch_report import Progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    progress = Progress(Console(stream))
    progress.start(total=2, already=0, skipped=0)
    for value in (1, 2, 3):
        progress.step("a.png", "http://s", value, 4)
    progress.event("done", photo="a.png", server="http://s", seconds=1.0, files=[])
    text = stream.getvalue()
    # Every step on the same line (carriage return + clear), ended by the next full line.
    assert "\r\x1b[K[0/2 done] a.png: step 1/4 on http://s\r\x1b[K[0/2 done] a.png: step 2/4" in text
    assert "step 3/4 on http://s\n[1/2 done] a.png: done on http://s in 1.0 s" in text


SHIPPED = sorted((Path(__file__).resolve().parent.parent / "workflows" / "api").glob("*.json"))


@pytest.mark.parametrize("workflow", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_workflow_over_two_servers(queue, tmp_path, workflow):
    """The prepared graph of each shipped API workflow reaches both servers with only its photo changed."""
    folder = photo_folder(tmp_path, 2)
    # the sweep's seeds are a list on its Seeds node (--set "Seeds.seeds=..."); --seed there is refused, clearly
    seed = [] if workflow.stem == "facelab_strength_seed_sweep" else ["--seed", "5"]
    with FakeComfyUI() as a, FakeComfyUI() as b:
        res = queue(workflow, "--image", folder, "--server", a.url, "--server", b.url, *seed)
    assert res.rc == 0, res.err
    graph = json.loads(workflow.read_text())
    sent = sorted((p["prompt"] for fake in (a, b) for p in fake.prompts), key=lambda g: g["2"]["inputs"]["image"])
    assert [g["2"]["inputs"]["image"] for g in sent] == ["p0.png", "p1.png"]
    for g in sent:  # only the photo and the seed differ from the shipped file
        changed = {(nid, k) for nid in graph for k, v in graph[nid]["inputs"].items() if g[nid]["inputs"][k] != v}
        others = changed - {("2", "image")}
        assert others if seed else not others  # the seed changed too, exactly when one was given
        assert all(k in ("seed", "noise_seed", "value", "image") for _, k in changed)
    assert len(manifest(folder)) == 2
