"""Effective Strengths (ComfyUI's real denoise -> schedule mapping) and the Sweep Comparison Grid."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import photo_tensor


@pytest.fixture(scope="module")
def sweep(pack):
    from comfyui_facelab.nodes.compose import sweep

    return sweep


# Expected values are worked out by hand from ComfyUI 0.33's KSampler.set_steps (comfy/samplers.py):
#   denoise > 0.9999 -> calculate_sigmas(steps); denoise <= 0 -> no sigmas; else calculate_sigmas(int(steps/denoise))
#   and keep the last steps + 1 sigmas.
@pytest.mark.parametrize(
    "steps, denoise, expected",
    [
        (20, 1.0, 20),
        (20, 0.99995, 20),
        (20, 0.5, 40),
        (20, 0.3, 66),
        (20, 0.75, 26),
        (4, 0.52, 7),
        (4, 0.55, 7),
        (30, 0.0, 0),
        (1, 0.01, 100),
    ],
)
def test_schedule_length_follows_comfyui_ksampler(sweep, steps, denoise, expected):
    assert sweep.schedule_length(steps, denoise) == expected


def test_duplicates_are_dropped_with_the_reason(sweep):
    kept, notes = sweep.effective_strengths(4, [0.5, 0.52, 0.55, 0.6, 1.0, 0.0])
    assert kept == [0.5, 0.52, 0.6, 1.0, 0.0]  # 4/0.52 = 7.69 and 4/0.55 = 7.27: both a 7-step schedule
    assert "0.55 dropped: same schedule as 0.52 (7 steps long)" in notes
    assert any("denoise 0 samples nothing" in n for n in notes)


def test_the_steps_times_denoise_rule_would_drop_strengths_comfyui_treats_as_different(sweep):
    """int(steps * denoise) (A1111 img2img) calls 0.31 and 0.33 at 20 steps the same (6 steps); KSampler does not."""
    assert int(20 * 0.31) == int(20 * 0.33) == 6
    kept, _ = sweep.effective_strengths(20, [0.31, 0.33])
    assert kept == [0.31, 0.33]  # schedules of int(20/0.31) = 64 and int(20/0.33) = 60 steps


def test_a_fine_sweep_at_few_steps_collapses_to_the_distinct_schedules(sweep):
    wanted = sweep.strength_range(0.5, 0.6, 11)
    kept, _ = sweep.effective_strengths(4, wanted)
    lengths = [sweep.schedule_length(4, d) for d in kept]
    assert len(set(lengths)) == len(lengths) == len({sweep.schedule_length(4, d) for d in wanted})
    assert kept == [0.5, 0.51, 0.58] and lengths == [8, 7, 6]  # 4/0.5 = 8, 4/0.51 = 7.8, 4/0.58 = 6.9


def test_strengths_node_outputs_a_list_and_text(pack):
    from comfyui_facelab.nodes.node_compose import FaceLabSweepStrengths

    node = FaceLabSweepStrengths()
    values, text, report = node.strengths(4, "0.5, 0.52 0.55\n0.6", 0.2, 0.6, 5)
    assert values == [0.5, 0.52, 0.6] and text == "0.5, 0.52, 0.6" and "0.55 dropped" in report
    assert FaceLabSweepStrengths.OUTPUT_IS_LIST == (True, False, False)
    values, text, _ = node.strengths(20, "  ", 0.2, 0.6, 5)  # empty list: minimum..maximum in count steps
    assert values == [0.2, 0.3, 0.4, 0.5, 0.6]
    with pytest.raises(ValueError, match="not a number"):
        node.strengths(20, "0.3, strong", 0.2, 0.6, 5)
    with pytest.raises(ValueError, match="outside 0..1"):
        node.strengths(20, "1.5", 0.2, 0.6, 5)


# --- grid -----------------------------------------------------------------------------------------------------


def test_grid_places_every_variant_and_draws_labels(pack):
    from comfyui_facelab.nodes.compose.grid import make_grid

    img = photo_tensor("astronaut.png")[:, ::4, ::4]  # 128 x 128
    variants = torch.cat([img * (0.4 + 0.1 * k) for k in range(6)])
    grid = make_grid(variants, 3, ["0.3", "0.45"], ["seed 1", "seed 2", "seed 3"], font_size=20, gap=6)
    _, gh, gw, _ = grid.shape
    top, left = gh - 2 * 128 - 6, gw - 3 * 128 - 2 * 6
    assert top > 20 and left > 20  # room for the labels
    for k in range(6):
        r, c = divmod(k, 3)
        y, x = top + r * (128 + 6), left + c * (128 + 6)
        assert torch.equal(grid[0, y : y + 128, x : x + 128], variants[k])
    # Labels are dark text on white: above each column and left of each row, and nowhere else in the strips.
    header = grid[0, :top]
    for c in range(3):
        x = left + c * (128 + 6)
        assert (header[:, x : x + 128] < 0.5).any()
    assert not (header[:, :left] < 0.5).any()  # no column label over the row-label strip
    side = grid[0, top:, :left]
    for r in range(2):
        y = r * (128 + 6)
        assert (side[y : y + 128] < 0.5).any()


def test_grid_node_turns_a_list_of_batches_into_rows(pack):
    from comfyui_facelab.nodes.node_compose import FaceLabSweepGrid

    img = photo_tensor("grace_hopper.jpg")[:, ::4, ::4]  # 150 x 128
    rows = [torch.cat([img * 0.5, img * 0.7]), torch.cat([img * 0.6, img * 0.8]), torch.cat([img * 0.9, img])]
    (grid,) = FaceLabSweepGrid().grid(rows, [0], ["0.3, 0.45, 0.6"], ["seed 1\nseed 2"], [16], [4])
    _, gh, gw, _ = grid.shape
    assert gh > 3 * 150 + 2 * 4 and gw > 2 * 128 + 4  # 3 rows (list items) x 2 columns (batch) + labels
    assert gh < 3 * 150 + 2 * 4 + 60 and gw < 2 * 128 + 4 + 128
    assert torch.isfinite(grid).all() and np.isclose(float(grid.max()), 1.0)
    top, left = gh - 3 * 150 - 2 * 4, gw - 2 * 128 - 4
    for r, batch in enumerate(rows):
        for c in range(2):
            y, x = top + r * (150 + 4), left + c * (128 + 4)
            assert torch.equal(grid[0, y : y + 150, x : x + 128], batch[c])
