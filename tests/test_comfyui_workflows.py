"""Every API workflow runs in a real ComfyUI (needs COMFYUI_DIR and the random SDXL-inpaint checkpoint, see
docs/testing.md): queued over HTTP at a small size with 1 step, it succeeds, each "Save Result" image has the
input's size, and every pixel outside the edit mask is the input's pixel.

Runs workflows/api/*.json (shipped) and tests/data/workflows/api/*.json (core-only smoke graph). Each SDXL run
takes minutes and ~15 GB of RAM on CPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from comfyui_server import (  # noqa: F401  (comfyui: session fixture)
    EDIT_MASK_TITLE,
    RESULT_TITLE,
    TEST_CHECKPOINT,
    comfyui,
    for_quick_run,
    png_bytes,
    read_png,
    titled,
)
from conftest import load_photo

pytestmark = [pytest.mark.comfyui, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
API_WORKFLOWS = sorted((ROOT / "workflows" / "api").glob("*.json")) + sorted(
    (ROOT / "tests" / "data" / "workflows" / "api").glob("*.json")
)
# Small, but not a multiple of 64, and a face big enough for the landmarker.
INPUT_SIZE = (296, 256)  # (H, W)


def _portrait() -> np.ndarray:
    from PIL import Image

    h, w = INPUT_SIZE
    return np.asarray(Image.fromarray(load_photo("grace_hopper.jpg")).resize((w, h), Image.LANCZOS))


def _hand_drawn_mask() -> np.ndarray:
    """A forehead band with a soft left edge (values between 0 and 255), zero elsewhere."""
    mask = np.zeros(INPUT_SIZE, dtype=np.uint8)
    mask[48:104, 72:184] = 255
    mask[48:104, 64:72] = np.linspace(0, 255, 8, dtype=np.uint8)
    return mask


@pytest.fixture(scope="module")
def test_checkpoint(comfyui):
    names = comfyui.object_info()["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0]
    if TEST_CHECKPOINT not in names:
        pytest.skip(
            f"{TEST_CHECKPOINT} is not in {comfyui.comfy_dir}/models/checkpoints: build it with "
            "tools/setup_comfyui.sh (or set FACELAB_TEST_CHECKPOINT); see docs/testing.md"
        )
    return TEST_CHECKPOINT


def _upload_inputs(server, prompt: dict, portrait: np.ndarray, mask: np.ndarray) -> None:
    for node in prompt.values():
        name = node["inputs"].get("image")
        if node["class_type"] == "LoadImage" and isinstance(name, str):
            server.upload_image(png_bytes(portrait), name)
        elif node["class_type"] == "LoadImageMask" and isinstance(name, str):
            channel = node["inputs"].get("channel", "red")
            rgba = np.zeros((*mask.shape, 4), dtype=np.uint8)
            rgba[..., {"red": 0, "green": 1, "blue": 2, "alpha": 3}[channel]] = mask
            if channel != "alpha":
                rgba[..., 3] = 255
            server.upload_image(png_bytes(rgba), name)


def _edit_masks(server, prompt: dict, entry: dict, uploaded_mask: np.ndarray) -> list[np.ndarray]:
    """The edit mask(s) of a run: the uploaded one for a LoadImageMask titled "Edit Mask", else the images of
    PreviewImage/SaveImage nodes titled "Edit Mask" (the workflow shows the mask it computed)."""
    if titled(prompt, EDIT_MASK_TITLE, ("LoadImageMask",)):
        return [uploaded_mask]
    shown = []
    for node_id in titled(prompt, EDIT_MASK_TITLE, ("PreviewImage", "SaveImage")):
        shown += [read_png(data).max(axis=2) for data in server.output_images(entry, node_id)]
    return shown


# Workflows that return the photo unchanged (with an empty edit mask) when no edited variant keeps the identity.
IDENTITY_GATED = {"facelab_identity_guarded_retouch"}


def delta_of(image: np.ndarray, portrait: np.ndarray) -> np.ndarray:
    return np.abs(image.astype(np.int16) - portrait.astype(np.int16)).max(axis=2)


@pytest.mark.parametrize("path", API_WORKFLOWS, ids=[p.stem for p in API_WORKFLOWS])
def test_api_workflow_runs_and_keeps_pixels_outside_the_mask(comfyui, test_checkpoint, path):
    prompt = for_quick_run(json.loads(path.read_text()), checkpoint=test_checkpoint, steps=1)
    missing = sorted({n["class_type"] for n in prompt.values()} - set(comfyui.object_info()))
    if missing:  # e.g. facelab_anonymise_faceid needs ComfyUI_IPAdapter_plus and its weights (validated statically)
        pytest.skip(f"{path.name} needs nodes of another pack this ComfyUI does not have: {missing}")
    results = titled(prompt, RESULT_TITLE, ("SaveImage",))
    assert results, f'{path.name}: no SaveImage titled "{RESULT_TITLE}" to check'
    portrait, mask = _portrait(), _hand_drawn_mask()
    _upload_inputs(comfyui, prompt, portrait, mask)

    entry = comfyui.run(prompt, timeout=1800)

    masks = _edit_masks(comfyui, prompt, entry, mask)
    assert masks, f'{path.name}: expose the edit mask through a node titled "{EDIT_MASK_TITLE}" (see docs/testing.md)'
    images = [read_png(data) for node_id in results for data in comfyui.output_images(entry, node_id)]
    assert images, f"{path.name}: the result node saved nothing"
    for i, image in enumerate(images):
        edit = masks[min(i, len(masks) - 1)]
        assert image.shape == portrait.shape, f"{path.name}: output {image.shape} != input {portrait.shape}"
        assert edit.shape == portrait.shape[:2], f"{path.name}: mask {edit.shape} != input {portrait.shape[:2]}"
        outside, core = edit == 0, edit >= 128
        if path.stem in IDENTITY_GATED and not core.any():
            # Random weights paint noise in which no face is found, so no variant keeps the person: the selector
            # returns the photo itself and the edit mask follows it (all black). That fail-safe must be exact.
            assert not delta_of(image, portrait).any(), f"{path.name}: passed through, yet pixels changed"
            continue
        assert core.any() and outside.any(), (
            f"{path.name}: the edit mask is {'empty' if outside.all() else 'full'}, so the edit path was not tested; "
            "make the test photo need an edit through QUICK_RUN_INPUTS in tests/comfyui_server.py"
        )
        delta = delta_of(image, portrait)
        # Exact: a blend weight below 1/255 shows as black in an 8-bit mask, so it must not change a pixel either.
        assert not delta[outside].any(), (
            f"{path.name}: {int((delta[outside] > 0).sum())} pixels where the edit mask is black differ from the "
            f"input (by up to {int(delta[outside].max())} levels)"
        )
        # The random-weight model paints noise: the masked region must have been replaced, not passed through.
        assert (delta[core] > 0).mean() > 0.5, f"{path.name}: the edit region was left unchanged"
