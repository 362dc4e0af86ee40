"""Installing the pack into a real ComfyUI must break nothing: one source of truth for dependencies, no ONNX
Runtime requirement that would replace a user's onnxruntime-gpu, registry metadata, nothing but the pack shipped."""

from __future__ import annotations

import builtins
import re
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _requirements(name: str) -> list[str]:
    lines = (ROOT / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _names(specs) -> set[str]:
    return {re.split(r"[<>=!~\[ ;]", s, maxsplit=1)[0].lower() for s in specs}


def test_requirements_txt_is_exactly_the_pyproject_dependencies():
    assert _requirements("requirements.txt") == _pyproject()["project"]["dependencies"]


def test_dev_requirements_are_the_dev_arcface_and_dlib_extras():
    extras = _pyproject()["project"]["optional-dependencies"]
    assert sorted(_requirements("requirements-dev.txt")) == sorted(extras["dev"] + extras["arcface"] + extras["dlib"])


def test_no_onnxruntime_build_is_a_hard_requirement():
    """pip would replace onnxruntime-gpu (CUDA for every pack) with the CPU build if the pack required one."""
    deps = _names(_pyproject()["project"]["dependencies"]) | _names(_requirements("requirements.txt"))
    assert not any(name.startswith("onnxruntime") for name in deps), deps


def test_mediapipe_floor_is_the_first_numpy2_tasks_release():
    """0.10.21 pins numpy<2 and has no Python 3.13 wheel; 0.10.30 is the first with the Tasks API on numpy 2."""
    (spec,) = [d for d in _pyproject()["project"]["dependencies"] if d.startswith("mediapipe")]
    assert spec == "mediapipe>=0.10.30"


def test_registry_metadata():
    data = _pyproject()
    comfy = data["tool"]["comfy"]
    assert re.fullmatch(r">=\d+\.\d+\.\d+", comfy["requires-comfyui"])
    assert "Operating System :: OS Independent" in data["project"]["classifiers"]
    assert comfy["PublisherId"] and comfy["DisplayName"]


def test_comfyignore_keeps_development_files_out_of_the_package():
    ignored = {line.strip() for line in (ROOT / ".comfyignore").read_text().splitlines() if line.strip()}
    for folder in ("tests/", "bench/", "docs/", "tools/"):
        assert folder in ignored
    for shipped in ("nodes/", "web/", "workflows/", "__init__.py"):
        assert shipped not in ignored


def test_missing_onnxruntime_names_the_build_to_install(pack, monkeypatch):
    from comfyui_facelab.nodes.identity import model_loading

    real_import = builtins.__import__

    def no_onnxruntime(name, *args, **kwargs):
        if name == "onnxruntime":
            raise ImportError("No module named 'onnxruntime'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnxruntime)
    with pytest.raises(model_loading.IdentityModelError) as err:
        model_loading._onnxruntime()
    message = str(err.value)
    assert "onnxruntime-gpu" in message and "only one" in message
    assert model_loading.available_providers() == ["CPUExecutionProvider"]


def test_the_installed_onnxruntime_build_is_named(pack):
    from comfyui_facelab.nodes.identity import model_loading

    found = model_loading.onnxruntime_distribution()
    assert found is not None and found.split()[0] in model_loading.ONNXRUNTIME_DISTRIBUTIONS
