"""README promises: the node table matches the code, the two set-up commands and every linked file exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_node_reference_is_current():
    res = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_node_reference.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-2000:]


def test_every_node_is_in_the_readme(pack):
    for node_id in pack.NODE_CLASS_MAPPINGS:
        assert f"`{node_id}`" in README, node_id


def test_linked_files_exist():
    links = re.findall(r"\]\(((?!https?:)[^)#]+)\)", README)
    assert links, "README links nothing?"
    missing = [l for l in links if not (ROOT / l).exists()]
    assert not missing, missing


def test_two_setup_commands_exist():
    block = re.search(r"Exactly two commands:\s*```bash\n(.*?)```", README, re.S)
    assert block, "the Quick start block is missing"
    commands = [l.split("#")[0].strip() for l in block.group(1).splitlines() if l.strip()]
    assert len(commands) == 2, commands
    for cmd in commands:
        script = cmd.split()[1]
        assert (ROOT / script).is_file(), script


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "tools/run_tests.sh" in ci and "bash tools/run_tests.sh" in README
