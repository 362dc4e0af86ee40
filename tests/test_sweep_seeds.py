"""Sweep Seeds: a real seed list crossed with the strengths, strength-major, as the grid lays cells out."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def node(pack):
    return pack.NODE_CLASS_MAPPINGS["FaceLabSweepSeeds"]()


def test_every_strength_runs_with_every_seed(node):
    # INPUT_IS_LIST: ComfyUI passes every input as a list
    strengths, seeds, columns, labels = node.cross([0.18, 0.25, 0.32], ["42, 1234 7"])
    assert strengths == [0.18, 0.18, 0.18, 0.25, 0.25, 0.25, 0.32, 0.32, 0.32]
    assert seeds == [42, 1234, 7] * 3  # row r, column c = strengths[r] with seeds[c]
    assert columns == 3 and labels == "seed 42, seed 1234, seed 7"
    assert type(node).OUTPUT_IS_LIST == (True, True, False, False) and type(node).INPUT_IS_LIST is True


def test_seed_text_is_checked(node, pack):
    from comfyui_facelab.nodes.compose import seed_list

    assert seed_list.parse_seeds("5, 5, 6") == [5, 6]  # a repeated seed would repeat a column
    assert type(node).VALIDATE_INPUTS(seeds="42, 7") is True
    assert "whole number" in type(node).VALIDATE_INPUTS(seeds=["42, x"])  # as ComfyUI passes it (INPUT_IS_LIST)
    for bad, why in (("42, x", "whole number"), ("", "at least one"), ("-1", "range"), (str(2**64), "range")):
        assert why in type(node).VALIDATE_INPUTS(seeds=bad)
        with pytest.raises(ValueError, match=why):
            node.cross([0.2], [bad])
