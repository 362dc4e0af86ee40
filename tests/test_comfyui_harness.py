"""The ComfyUI test harness itself (tests/comfyui_server.py), exercised with stand-in `main.py` scripts so that it
runs without ComfyUI: the command line it builds, how it links the pack without touching the ComfyUI folder, its
start-up failure messages, that it stops the server, and how it finds import failures in a log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from comfyui_server import ROOT, ComfyUIError, ComfyUIServer, for_quick_run, start_comfyui

FAKE_SERVER = textwrap.dedent("""
    import http.server, json, sys
    args = sys.argv[1:]
    open("argv.json", "w").write(json.dumps(args))
    port = int(args[args.index("--port") + 1])
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"FaceLabFake": {}}).encode()
            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a): pass
    print("fake ComfyUI listening", flush=True)
    http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
""")


def _fake_comfy(tmp_path: Path, main_py: str, link_pack: bool = False) -> Path:
    comfy = tmp_path / "ComfyUI"
    (comfy / "custom_nodes").mkdir(parents=True)
    (comfy / "main.py").write_text(main_py)
    if link_pack:
        (comfy / "custom_nodes" / "facelab-dev").symlink_to(ROOT, target_is_directory=True)
    return comfy


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return (
        subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()[:1] != "Z"
    )


def test_command_line_and_temporary_pack_link(tmp_path):
    comfy = _fake_comfy(tmp_path, FAKE_SERVER)
    work = tmp_path / "work"
    with start_comfyui(comfy, work, python=sys.executable, mediapipe_dir=tmp_path, startup_timeout=30) as server:
        assert server.object_info() == {"FaceLabFake": {}}
        args = json.loads((comfy / "argv.json").read_text())
        pid = server.proc.pid
    assert not _alive(pid), "the server process outlived the context manager"
    opt = {a: args[i + 1] for i, a in enumerate(args[:-1]) if a.startswith("--")}
    assert "--cpu" in args and opt["--listen"] == "127.0.0.1" and opt["--database-url"] == "sqlite:///:memory:"
    assert int(opt["--port"]) == int(server.url.rsplit(":", 1)[1])
    for name in ("user", "input", "output", "temp"):
        assert Path(opt[f"--{name}-directory"]) == work.resolve() / name and (work / name).is_dir()
    # Only FaceLab is loaded, through a link outside the ComfyUI folder.
    assert "--disable-all-custom-nodes" in args and opt["--whitelist-custom-nodes"] == "ComfyUI-FaceLab"
    extra = Path(opt["--extra-model-paths-config"]).read_text()
    assert f'custom_nodes: "{work.resolve() / "custom_nodes"}"' in extra and f'mediapipe: "{tmp_path}"' in extra
    assert (work / "custom_nodes" / "ComfyUI-FaceLab").resolve() == ROOT
    assert sorted(p.name for p in (comfy / "custom_nodes").iterdir()) == []


def test_existing_link_is_used_as_is(tmp_path):
    comfy = _fake_comfy(tmp_path, FAKE_SERVER, link_pack=True)
    with start_comfyui(comfy, tmp_path / "work", python=sys.executable, startup_timeout=30) as server:
        assert server.pack_folder == "facelab-dev"
    args = json.loads((comfy / "argv.json").read_text())
    assert args[args.index("--whitelist-custom-nodes") + 1] == "facelab-dev"
    assert "--extra-model-paths-config" not in args


@pytest.mark.parametrize("foreign", ["folder", "link"])
def test_another_checkout_with_the_pack_name_is_left_alone(tmp_path, foreign):
    """Issue 19.21: after tools/setup_comfyui.sh linked one clone into the ComfyUI, the tests of every other clone
    refused to start ("exists but is not this checkout"). Now this checkout is loaded through a temporary link of
    its own name, the only one whitelisted, so the other copy is not loaded."""
    comfy = _fake_comfy(tmp_path, FAKE_SERVER)
    other = comfy / "custom_nodes" / "ComfyUI-FaceLab"
    if foreign == "folder":
        other.mkdir()
    else:
        (tmp_path / "other-clone").mkdir()
        other.symlink_to(tmp_path / "other-clone", target_is_directory=True)
    work = tmp_path / "work"
    with start_comfyui(comfy, work, python=sys.executable, startup_timeout=30) as server:
        name = server.pack_folder
    args = json.loads((comfy / "argv.json").read_text())
    assert name.startswith("ComfyUI-FaceLab-") and args[args.index("--whitelist-custom-nodes") + 1] == name
    assert (work / "custom_nodes" / name).resolve() == ROOT
    assert sorted(p.name for p in (comfy / "custom_nodes").iterdir()) == ["ComfyUI-FaceLab"]  # untouched


def test_not_a_comfyui_folder(tmp_path):
    with pytest.raises(ComfyUIError, match="not a ComfyUI folder"):
        with start_comfyui(tmp_path, tmp_path / "work"):
            pass


def test_crash_at_start_reports_exit_code_and_log(tmp_path):
    comfy = _fake_comfy(tmp_path, "import sys\nprint('ModuleNotFoundError: no module named torchsde')\nsys.exit(3)\n")
    with pytest.raises(ComfyUIError, match=r"(?s)exited with code 3.*no module named torchsde"):
        with start_comfyui(comfy, tmp_path / "work", python=sys.executable, startup_timeout=30):
            pass


def test_start_timeout_reports_log_and_stops_the_process(tmp_path):
    comfy = _fake_comfy(
        tmp_path,
        "import os, time\nopen('pid', 'w').write(str(os.getpid()))\n"
        "print('loading custom nodes...', flush=True)\ntime.sleep(600)\n",
    )
    with pytest.raises(ComfyUIError, match=r"(?s)did not answer /object_info within 3s.*loading custom nodes"):
        with start_comfyui(comfy, tmp_path / "work", python=sys.executable, startup_timeout=3):
            pass
    assert not _alive(int((comfy / "pid").read_text()))


def test_import_failures_are_found_only_for_this_pack(tmp_path):
    log = tmp_path / "comfyui.log"
    log.write_text(
        'Traceback (most recent call last):\n  File "/c/custom_nodes/OtherPack/__init__.py", line 1\nImportError: x\n\n'
        "Cannot import /c/custom_nodes/ComfyUI-FaceLab module for custom nodes: No module named 'skimage'\n\n"
        "Import times for custom nodes:\n   0.0 seconds (IMPORT FAILED): /c/custom_nodes/OtherPack\n\n"
    )
    server = ComfyUIServer("http://127.0.0.1:1", tmp_path, tmp_path, log, None, tmp_path, tmp_path, "ComfyUI-FaceLab")
    failures = server.import_failures()
    assert len(failures) == 1 and "No module named 'skimage'" in failures[0]
    log.write_text("Import times for custom nodes:\n   0.4 seconds: /c/custom_nodes/ComfyUI-FaceLab\n")
    assert server.import_failures() == []


def test_quick_run_uses_the_test_checkpoint_and_one_step():
    prompt = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "real.safetensors"}},
        "2": {"class_type": "KSampler", "inputs": {"steps": 30, "seed": 1}},
        "3": {"class_type": "KSampler", "inputs": {"steps": ["9", 0]}},
        "4": {"class_type": "FaceLabCrop", "inputs": {"target_size": 1024, "min_context": ["9", 1]}},
    }
    quick = for_quick_run(prompt, checkpoint="random.safetensors", steps=1)
    assert quick["4"]["inputs"] == {"target_size": 256, "min_context": ["9", 1]}
    assert quick["1"]["inputs"]["ckpt_name"] == "random.safetensors"
    assert quick["2"]["inputs"] == {"steps": 1, "seed": 1} and quick["3"]["inputs"]["steps"] == ["9", 0]
    assert prompt["2"]["inputs"]["steps"] == 30  # the original is left alone
