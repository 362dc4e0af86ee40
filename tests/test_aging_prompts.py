"""Zone prompt templates: wording scaled by |score|, editable templates and phrase table, clear errors."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def pr(pack):
    from comfyui_facelab.nodes.aging import prompts

    return prompts


def test_default_phrase_table_covers_every_group(pr, pack):
    from comfyui_facelab.nodes.aging import zone_scores

    table = pr.parse_zone_phrases(pr.DEFAULT_ZONE_PHRASES)
    assert set(table) == set(zone_scores.AGING_GROUPS)
    assert all(area and feature for area, feature in table.values())


def test_wording_scales_with_abs_score(pr):
    words = [pr.amount_word(s) for s in (0.1, 0.5, 0.9)]
    assert words == ["slightly", "noticeably", "much"]
    assert pr.amount_word(-0.9) == "much"
    weights = [float(pr.emphasis_weight(s)) for s in (0.05, 0.3, 0.6, 1.0)]
    assert weights == sorted(weights) and weights[0] > 1.0 and weights[-1] == pytest.approx(1.3)


def test_older_and_younger_prompts(pr):
    pos, neg = pr.zone_prompts(0.9, "forehead", "forehead lines", "portrait of a woman", "blurry")
    assert pos == "portrait of a woman, (much deeper forehead lines on the forehead, older skin:1.27)"
    assert neg == "blurry, (smooth airbrushed skin on the forehead:1.27)"
    pos, neg = pr.zone_prompts(-0.2, "forehead", "forehead lines", "portrait of a woman", "blurry")
    assert pos.startswith("portrait of a woman, (slightly smoother") and "forehead lines" not in pos
    assert neg == "blurry, (forehead lines:1.06)"
    # empty base prompts leave no dangling commas; an empty negative template gives no regional negative
    pos, neg = pr.zone_prompts(-0.5, "chin", "chin creases", "", "", younger_negative_template="")
    assert pos.startswith("(noticeably smoother") and neg == ""
    with pytest.raises(ValueError, match="score 0"):
        pr.zone_prompts(0.0, "chin", "chin creases", "a", "b")


def test_custom_template_and_phrase_table(pr, pack):
    table = pr.parse_zone_phrases(
        "# mine\ncrows_feet: eye corners | laugh lines\ncrows_feet_left: left eye corner | one laugh line\nchin: dimples"
    )
    assert table["chin"] == ("chin", "dimples")
    assert pr.zone_phrase(("crows_feet_left", "crows_feet_right"), table) == ("eye corners", "laugh lines")
    assert pr.zone_phrase(("crows_feet_left",), table) == ("left eye corner", "one laugh line")
    assert pr.zone_phrase(("crows_feet_right",), table) == ("eye corners", "laugh lines")
    # zones missing from an edited table fall back to the defaults
    assert pr.zone_phrase(("forehead",), table) == pr.parse_zone_phrases(pr.DEFAULT_ZONE_PHRASES)["forehead"]
    pos, _ = pr.zone_prompts(0.5, *table["chin"], "photo", "x", older_template="{prompt} with {amount} more {feature}")
    assert pos == "photo with noticeably more dimples"


def test_bad_templates_and_tables_raise(pr):
    with pytest.raises(ValueError, match=r"unknown placeholder.*'zone'"):
        pr.check_template("{prompt}, {zone}", pr.PLACEHOLDERS_POSITIVE, "older")
    with pytest.raises(ValueError, match="malformed"):
        pr.check_template("{prompt", pr.PLACEHOLDERS_POSITIVE, "older")
    with pytest.raises(ValueError, match="unknown zone 'ears'"):
        pr.parse_zone_phrases("ears: ears | big ears")
    with pytest.raises(ValueError, match="must look like"):
        pr.parse_zone_phrases("forehead lines")
