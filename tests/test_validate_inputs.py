"""VALIDATE_INPUTS of the free-text inputs (issue 12 item 2): a typo fails when the prompt is queued, before
detection or sampling runs, with the list of valid names.

ComfyUI 0.33 (execution.validate_inputs) calls the classmethod with only the inputs it names that are typed widgets
(linked inputs are absent, so every argument defaults to None), shows a returned string as the error of each named
input, and skips its own min/max/list checks for the inputs it names (checked here: no **kwargs, free text only).
Checked once by hand against ComfyUI 0.33's own execution.validate_inputs: a misspelt zone gives
custom_validation_failed with this message, a linked zones input passes, face_index -5 still gets
value_smaller_than_min.
"""

from __future__ import annotations

import inspect

import pytest


@pytest.fixture(scope="module")
def mappings(pack):
    return pack.NODE_CLASS_MAPPINGS


FREE_TEXT = {  # node -> the inputs its VALIDATE_INPUTS checks
    "FaceLabZoneMask": {"zones", "subtract"},
    "FaceLabZonePreview": {"zones"},
    "FaceLabZoneScores": {"side_overrides"},
    "FaceLabAgingConditioning": {
        "older_template",
        "younger_template",
        "older_negative_template",
        "younger_negative_template",
        "zone_phrases",
    },
    "FaceLabSweepStrengths": {"strengths"},
    "FaceLabVariantSelector": {"strengths"},
    "FaceLabSweepSeeds": {"seeds"},
    "FaceLabDDPMInvert": {"skip"},  # numeric, but its range check lives there (see _check_skip)
    "FaceLabIdentityGuider": {"start_percent", "end_percent"},  # start <= end, each in 0..1
}


def test_every_free_text_input_is_validated_and_nothing_else(mappings):
    declared = {name for name, cls in mappings.items() if hasattr(cls, "VALIDATE_INPUTS")}
    assert declared == set(FREE_TEXT)
    for name, wanted in FREE_TEXT.items():
        cls = mappings[name]
        spec = inspect.getfullargspec(cls.VALIDATE_INPUTS)
        assert spec.varkw is None and set(spec.args) - {"cls"} == wanted, name  # min/max checks stay ComfyUI's
        inputs = {**cls.INPUT_TYPES()["required"], **cls.INPUT_TYPES().get("optional", {})}
        assert wanted <= set(inputs), name
        assert cls.VALIDATE_INPUTS() is True, name  # all linked: checked at run time instead


def test_zone_names(mappings):
    mask, preview = mappings["FaceLabZoneMask"], mappings["FaceLabZonePreview"]
    assert mask.VALIDATE_INPUTS(zones="crows_feet, under_eye_left", subtract="eyes") is True
    assert preview.VALIDATE_INPUTS(zones="all") is True
    err = mask.VALIDATE_INPUTS(zones="crows feet", subtract="none")
    assert err.startswith("zones: FaceLab: unknown zone name(s) 'crows', 'feet'") and "crows_feet_left" in err
    assert "Valid groups:" in err and "forehead" in err
    assert mask.VALIDATE_INPUTS(zones=" , ").startswith("zones: FaceLab: the zones input is empty")
    assert preview.VALIDATE_INPUTS(zones="forehed").startswith("zones: FaceLab: unknown zone name(s) 'forehed'")
    err = mask.VALIDATE_INPUTS(zones="lips", subtract="moustache")
    assert err.startswith("subtract: FaceLab: unknown zone name(s) 'moustache'") and "Presets: none" in err


def test_side_overrides(mappings):
    scores = mappings["FaceLabZoneScores"]
    assert scores.VALIDATE_INPUTS(side_overrides="crows_feet_left=0.4, nasolabial=-0.2") is True
    assert scores.VALIDATE_INPUTS(side_overrides="") is True
    err = scores.VALIDATE_INPUTS(side_overrides="crowsfeet_left=0.4")
    assert err.startswith("side_overrides: FaceLab: unknown aging zone 'crowsfeet_left'") and "crows_feet_left" in err
    assert "must look like" in scores.VALIDATE_INPUTS(side_overrides="forehead 0.3")
    assert "must lie in [-1, 1]" in scores.VALIDATE_INPUTS(side_overrides="forehead=3")
    assert "must lie in [-1, 1]" in scores.VALIDATE_INPUTS(side_overrides="forehead=nan")


def test_prompt_templates_and_zone_phrases(mappings):
    cond = mappings["FaceLabAgingConditioning"]
    assert cond.VALIDATE_INPUTS(older_template="{prompt}, older {area}", zone_phrases="forehead: brow | lines") is True
    err = cond.VALIDATE_INPUTS(older_template="{prompt}, {colour}")
    assert err.startswith("older_template: FaceLab") and "colour" in err and "area" in err
    err = cond.VALIDATE_INPUTS(zone_phrases="ear: the ear | lobes")
    assert err.startswith("zone_phrases: FaceLab") and "forehead" in err


def test_strength_lists(mappings):
    sweep, selector = mappings["FaceLabSweepStrengths"], mappings["FaceLabVariantSelector"]
    assert sweep.VALIDATE_INPUTS(strengths="0.2, 0.35 0.5") is True and sweep.VALIDATE_INPUTS(strengths="") is True
    assert sweep.VALIDATE_INPUTS(strengths="0.2, half").startswith("strengths: FaceLab Effective Strengths: 'half'")
    assert "outside 0..1" in sweep.VALIDATE_INPUTS(strengths="0.3, 1.5")
    assert "outside 0..1" in sweep.VALIDATE_INPUTS(strengths="nan")
    assert selector.VALIDATE_INPUTS(strengths="0.3, 0.5") is True  # the variant count is only known at run time
    assert selector.VALIDATE_INPUTS(strengths="0.3; strong").startswith("strengths: FaceLab: strengths must be numbers")
    assert "finite" in selector.VALIDATE_INPUTS(strengths="0.3, inf")


def test_numeric_inputs_checked_here_keep_their_range(mappings):
    """Naming an input in VALIDATE_INPUTS turns off ComfyUI's own min/max check for it, so the range is ours."""
    invert, guider = mappings["FaceLabDDPMInvert"], mappings["FaceLabIdentityGuider"]
    assert invert.VALIDATE_INPUTS(skip=0.7) is True
    assert "between 0 and 1" in invert.VALIDATE_INPUTS(skip=1.5)
    assert "between 0 and 1" in invert.VALIDATE_INPUTS(skip=float("nan"))
    assert guider.VALIDATE_INPUTS(start_percent=0.2, end_percent=0.8) is True
    assert "start_percent must be between 0 and 1" in guider.VALIDATE_INPUTS(start_percent=-0.1)
    assert "end_percent must be between 0 and 1" in guider.VALIDATE_INPUTS(end_percent=float("nan"))
    assert "must not be after" in guider.VALIDATE_INPUTS(start_percent=0.9, end_percent=0.1)
