"""Every `python -m facelab queue ...` command in docs/client.md and docs/workflows.md runs as written (issue 19.5: the page named workflow files
that did not exist). Each is run in-process from a folder holding the files the commands name, against the fake
ComfyUI of tests/fake_comfyui.py (its --server, if any, pointed there); comfy-cli commands name existing files."""

from __future__ import annotations

import contextlib
import re
import shlex
from pathlib import Path

import pytest
from fake_comfyui import FakeComfyUI
from test_client_queue import write_photo

ROOT = Path(__file__).resolve().parent.parent
DOCS = (ROOT / "docs" / "client.md", ROOT / "docs" / "workflows.md")


def doc_commands(prefix: str) -> list[list[str]]:
    """Commands in the pages' code blocks starting with `prefix`, backslash continuations joined."""
    pages = "\n".join(doc.read_text(encoding="utf-8") for doc in DOCS)
    blocks = re.findall(r"```[a-z]*\n(.*?)```", pages, flags=re.S)
    text = "\n".join(blocks).replace("\\\n", " ")
    return [shlex.split(line) for line in text.splitlines() if line.strip().startswith(prefix)]


COMMANDS = doc_commands("python -m facelab queue ")


def test_the_page_has_commands():
    assert len(COMMANDS) >= 4 and doc_commands("comfy ")


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(c[3:5]) for c in COMMANDS])
def test_documented_command_runs(argv, pack, tmp_path, monkeypatch, capsys):
    import facelab

    (tmp_path / "workflows").symlink_to(ROOT / "workflows")
    for name in ("portrait.jpg", "reference.jpg", "photos/a.jpg", "photos/b.jpg"):
        write_photo(tmp_path / name)
    monkeypatch.chdir(tmp_path)
    urls = list(dict.fromkeys(a for prev, a in zip([""] + argv, argv) if prev == "--server")) or ["default"]
    with contextlib.ExitStack() as stack:
        fakes = {url: stack.enter_context(FakeComfyUI()).url for url in urls}  # one fake per documented server
        monkeypatch.setenv("COMFYUI_URL", next(iter(fakes.values())))
        args = [fakes[a] if prev == "--server" else a for prev, a in zip([""] + argv, argv)]
        rc = facelab.main(args[3:])
    err = capsys.readouterr().err
    assert rc == 0, err


def test_comfy_cli_commands_name_existing_workflows():
    for argv in doc_commands("comfy "):
        workflow = argv[argv.index("--workflow") + 1]
        assert (ROOT / workflow).is_file(), workflow
