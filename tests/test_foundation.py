"""The pack imports cleanly, registers well-formed V1 nodes, and loads no model at import time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_import_registers_nodes_without_errors(pack):
    from comfyui_facelab import nodes

    assert nodes.IMPORT_ERRORS == {}
    assert pack.WEB_DIRECTORY == "./web"
    assert set(pack.NODE_CLASS_MAPPINGS) == set(pack.NODE_DISPLAY_NAME_MAPPINGS)


def test_import_does_no_network_and_loads_no_model():
    """Import the pack in a fresh interpreter with sockets and model loaders booby-trapped."""
    code = f"""
import socket, sys, builtins
def boom(*a, **k): raise AssertionError("network at import: %r" % (a,))
socket.socket.connect = boom
socket.create_connection = boom
real_open = builtins.open
opened = []
def spy_open(file, *a, **k):
    opened.append(str(file))
    return real_open(file, *a, **k)
builtins.open = spy_open
sys.path.insert(0, {str(ROOT)!r})
import facelab
pack = facelab.load_pack()
assert pack.NODE_CLASS_MAPPINGS
heavy = [m for m in ("mediapipe", "onnxruntime", "dlib", "insightface") if m in sys.modules]
assert not heavy, heavy
# Library imports (torch reads /proc/self/maps, Python reads its stdlib) are not the pack's I/O.
system = ("/proc/", "/sys/", "/dev/", "/etc/", sys.prefix, sys.base_prefix)
outside = [f for f in opened if not f.startswith({str(ROOT)!r}) and "site-packages" not in f and not f.startswith(system)]
assert not outside, outside
models = [f for f in opened if f.endswith((".task", ".onnx", ".dat", ".tflite", ".safetensors"))]
assert not models, models
print("OK", len(pack.NODE_CLASS_MAPPINGS))
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "OK" in res.stdout


def _all_nodes(pack):
    return sorted(pack.NODE_CLASS_MAPPINGS.items())


def test_every_node_is_documented_v1(pack):
    for node_id, cls in _all_nodes(pack):
        assert node_id.startswith("FaceLab"), node_id
        assert isinstance(getattr(cls, "DESCRIPTION", None), str) and len(cls.DESCRIPTION) > 20, node_id
        assert cls.CATEGORY.startswith("FaceLab/"), node_id
        assert callable(getattr(cls, cls.FUNCTION)), node_id
        spec = cls.INPUT_TYPES()
        for section in ("required", "optional"):
            for name, entry in spec.get(section, {}).items():
                opts = entry[1] if len(entry) > 1 else {}
                assert opts.get("tooltip"), f"{node_id}.{name} has no tooltip"
        n_out = len(cls.RETURN_TYPES)
        assert len(getattr(cls, "RETURN_NAMES", cls.RETURN_TYPES)) == n_out, node_id
        tips = getattr(cls, "OUTPUT_TOOLTIPS", None)
        assert tips is not None and len(tips) == n_out and all(tips), f"{node_id} lacks OUTPUT_TOOLTIPS"
        name = pack.NODE_DISPLAY_NAME_MAPPINGS[node_id]
        assert name and not name.startswith("FaceLab") or " " in name
        assert name != node_id and " " in name, f"{node_id}: display name {name!r} is not in plain words"


def test_pyproject_registry_metadata():
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11+")
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert data["project"]["name"] == "comfyui-facelab"
    comfy = data["tool"]["comfy"]
    assert comfy["DisplayName"] == "FaceLab" and comfy["PublisherId"] and comfy["Icon"]
    reqs = [
        l.strip() for l in (ROOT / "requirements.txt").read_text().splitlines() if l.strip() and not l.startswith("#")
    ]
    assert sorted(reqs) == sorted(data["project"]["dependencies"])
