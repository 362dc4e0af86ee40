"""Fixtures for tests of workflows: the checker package and the node schemas it validates against (core nodes
from tests/data/core_object_info.json, FaceLab nodes from the pack). Import them into a test module:
`from workflow_schemas import schemas, wc  # noqa: F401`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

CORE_OBJECT_INFO = Path(__file__).resolve().parent / "data" / "core_object_info.json"


@pytest.fixture(scope="session")
def wc(pack):
    from comfyui_facelab import workflow_check

    return workflow_check


@pytest.fixture(scope="session")
def schemas(wc, pack):
    # core + other packs' recorded /object_info (tests/data/peer_object_info, e.g. IPAdapter FaceID nodes)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
    from export_api_workflows import core_and_peer_schemas

    return wc.build_schemas(core_and_peer_schemas(), pack.NODE_CLASS_MAPPINGS, pack.NODE_DISPLAY_NAME_MAPPINGS)
