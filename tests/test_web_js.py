"""Runs the JavaScript unit tests of the web/ extension (tests/js/*.test.mjs, `node --test`, no npm install), so the
single pytest command covers the JS too. Skipped, with the reason, when Node.js 20+ is not on PATH."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
JS_TESTS = sorted((ROOT / "tests" / "js").glob("*.test.mjs"))
NODE = shutil.which("node")


def _node_version() -> tuple[int, ...]:
    out = subprocess.run([NODE, "--version"], capture_output=True, text=True, timeout=30).stdout
    return tuple(int(p) for p in re.findall(r"\d+", out)[:3])


def _node_args() -> list[str]:
    """web/*.js are ES modules without a package.json: Node reads them as such by syntax from 20.19 / 22.7 on."""
    version = _node_version()
    if version < (20, 10):
        pytest.skip(f"Node.js {'.'.join(map(str, version))} is too old for the JS tests (need 20.10+)")
    detects = version >= (22, 7) or (20, 19) <= version < (21,)
    return [] if detects else ["--experimental-detect-module"]


@pytest.mark.skipif(NODE is None, reason="Node.js is not on PATH: the JS unit tests in tests/js/ were NOT run")
def test_js_unit_tests_pass():
    assert JS_TESTS, "no tests/js/*.test.mjs found"
    result = subprocess.run(
        [NODE, *_node_args(), "--test", *map(str, JS_TESTS)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    report = result.stdout[-8000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    passed = re.search(r"^# pass (\d+)", result.stdout, re.M)
    assert passed and int(passed.group(1)) >= 20, report  # the files really ran their tests
