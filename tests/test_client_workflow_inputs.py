"""Setting inputs of API-format workflows by node title (the `queue` command's --set/--seed/... options)."""

from __future__ import annotations

import json

import pytest
from fake_comfyui import contract


@pytest.fixture(scope="module")
def wi(pack):
    from comfyui_facelab.client import workflow_inputs

    return workflow_inputs


def sdxl_graph() -> dict:
    """An SDXL inpaint graph in API format following docs/client.md's title conventions (input names from
    ComfyUI 0.33's /object_info)."""
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": "example.png"}, "_meta": {"title": "Input Image"}},
        "2": {"class_type": "LoadImage", "inputs": {"image": "mask.png"}, "_meta": {"title": "Load Image"}},
        "3": {
            "class_type": "CheckpointLoaderSimple",
            "inputs": {"ckpt_name": "sdxl-inpaint.safetensors"},
            "_meta": {"title": "Load Checkpoint"},
        },
        "4": {
            "class_type": "CLIPTextEncodeSDXL",
            "_meta": {"title": "Positive Prompt"},
            "inputs": {
                "clip": ["3", 1],
                "width": 1024,
                "height": 1024,
                "crop_w": 0,
                "crop_h": 0,
                "target_width": 1024,
                "target_height": 1024,
                "text_g": "a face",
                "text_l": "a face",
            },
        },
        "5": {
            "class_type": "CLIPTextEncode",
            "inputs": {"text": "blurry", "clip": ["3", 1]},
            "_meta": {"title": "Negative Prompt"},
        },
        "6": {
            "class_type": "KSampler",
            "_meta": {"title": "Sampler"},
            "inputs": {
                "model": ["3", 0],
                "seed": 1,
                "steps": 20,
                "cfg": 6.5,
                "sampler_name": "euler",
                "scheduler": "normal",
                "positive": ["4", 0],
                "negative": ["5", 0],
                "latent_image": ["7", 0],
                "denoise": 0.4,
            },
        },
        "7": {
            "class_type": "EmptyLatentImage",
            "inputs": {"width": 1024, "height": 1024, "batch_size": 1},
            "_meta": {"title": "Empty Latent Image"},
        },
        "9": {
            "class_type": "SaveImage",
            "inputs": {"images": ["8", 0], "filename_prefix": "facelab"},
            "_meta": {"title": "Save Result"},
        },
    }


def test_set_by_title_converts_to_the_widget_type(wi):
    g = sdxl_graph()
    for text in (
        "Sampler.seed=42",
        "Sampler.cfg=7",
        "Sampler.sampler_name=dpmpp_2m",
        "Negative Prompt.text=123",
        "Sampler.steps=30.0",
    ):
        wi.set_input(g, *wi.parse_assignment(text))
    s = g["6"]["inputs"]
    assert s["seed"] == 42 and type(s["seed"]) is int
    assert s["cfg"] == 7.0 and type(s["cfg"]) is float
    assert s["sampler_name"] == "dpmpp_2m"
    assert s["steps"] == 30 and type(s["steps"]) is int
    assert g["5"]["inputs"]["text"] == "123"  # a text widget keeps digits as text
    assert s["positive"] == ["4", 0]  # untouched links


def test_assignment_syntax(wi):
    assert wi.parse_assignment("Face v1.2.strength=0.5") == ("Face v1.2", "strength", "0.5")
    assert wi.parse_assignment("Positive Prompt.text=a=b") == ("Positive Prompt", "text", "a=b")
    for bad in ("Sampler.seed", "seed=3", ".seed=3", "Sampler.=3"):
        with pytest.raises(ValueError, match="Title.input=value"):
            wi.parse_assignment(bad)


def test_node_id_works_when_no_title_matches(wi):
    g = sdxl_graph()
    assert wi.set_input(g, "6", "steps", "12") == ["6"]
    assert wi.set_input(g, "#7", "batch_size", "2") == ["7"]
    assert g["6"]["inputs"]["steps"] == 12 and g["7"]["inputs"]["batch_size"] == 2


def test_unknown_title_lists_every_node(wi):
    g = sdxl_graph()
    with pytest.raises(ValueError) as err:
        wi.set_input(g, "Samplr", "seed", "1")
    msg = str(err.value)
    assert "no node titled 'Samplr'" in msg
    for nid, node in g.items():
        assert f"#{nid} {node['_meta']['title']!r}" in msg
    assert "(KSampler)" in msg


def test_unknown_input_lists_the_inputs(wi):
    with pytest.raises(ValueError, match=r"has no input 'sede'; its inputs are: cfg, denoise, latent_image, model"):
        wi.set_input(sdxl_graph(), "Sampler", "sede", "1")


def test_links_and_bad_values_are_refused(wi):
    with pytest.raises(ValueError, match="'positive' of node #6 'Sampler' .* is connected to node '4'"):
        wi.set_input(sdxl_graph(), "Sampler", "positive", "x")
    with pytest.raises(ValueError, match=r"expects an integer \(like 1\), got 'abc'"):
        wi.set_input(sdxl_graph(), "Sampler", "seed", "abc")
    with pytest.raises(ValueError, match="expects an integer"):
        wi.set_input(sdxl_graph(), "Sampler", "steps", "2.5")
    with pytest.raises(ValueError, match="expects a number"):
        wi.set_input(sdxl_graph(), "Sampler", "denoise", "strong")


def test_a_shared_title_sets_every_node(wi):
    g = sdxl_graph()
    g["10"] = json.loads(json.dumps(g["6"]))  # a second pass with the same title
    assert wi.set_input(g, "Sampler", "seed", "7") == ["6", "10"]
    assert g["6"]["inputs"]["seed"] == g["10"]["inputs"]["seed"] == 7


def test_conventions_on_an_sdxl_graph(wi):
    g = sdxl_graph()
    assert wi.apply_convention(g, "seed", 123) == [("6", "seed")]
    assert wi.apply_convention(g, "strength", 0.25) == [("6", "denoise")]
    assert wi.apply_convention(g, "prompt", "an older face") == [("4", "text_g"), ("4", "text_l")]
    assert wi.apply_convention(g, "negative", "cartoon") == [("5", "text")]
    assert g["6"]["inputs"]["seed"] == 123 and g["6"]["inputs"]["denoise"] == 0.25
    assert g["4"]["inputs"]["text_g"] == g["4"]["inputs"]["text_l"] == "an older face"
    assert g["5"]["inputs"]["text"] == "cartoon"


def test_a_seed_node_wins_over_the_sampler(wi):
    g = sdxl_graph()
    g["11"] = {"class_type": "PrimitiveInt", "inputs": {"value": 5}, "_meta": {"title": "Seed"}}
    g["6"]["inputs"]["seed"] = ["11", 0]
    assert wi.apply_convention(g, "seed", 99) == [("11", "value")]
    assert g["11"]["inputs"]["value"] == 99 and g["6"]["inputs"]["seed"] == ["11", 0]


def test_advanced_sampler_seed_and_missing_denoise(wi):
    g = sdxl_graph()
    g["6"] = {
        "class_type": "KSamplerAdvanced",
        "_meta": {"title": "Sampler"},
        "inputs": {"noise_seed": 0, "steps": 20, "start_at_step": 0, "end_at_step": 10000},
    }
    assert wi.apply_convention(g, "seed", 4) == [("6", "noise_seed")]
    with pytest.raises(ValueError, match="--strength: node #6 'Sampler' .* has none of the inputs denoise"):
        wi.apply_convention(g, "strength", 0.3)


def facelab_node(class_name: str, title: str) -> dict:
    """A FaceLab node as ComfyUI exports it in API format: widget inputs at their defaults, sockets linked."""
    from comfyui_facelab.nodes import NODE_CLASS_MAPPINGS

    spec = NODE_CLASS_MAPPINGS[class_name].INPUT_TYPES()
    inputs = {}
    for section in spec.values():
        for name, (kind, *opts) in section.items():
            if isinstance(kind, list):  # combo
                inputs[name] = (opts[0] if opts else {}).get("default", kind[0])
            elif kind in ("INT", "FLOAT", "STRING", "BOOLEAN"):
                inputs[name] = opts[0].get("default", "" if kind == "STRING" else 0)
            else:
                inputs[name] = ["99", 0]
    return {"class_type": class_name, "inputs": inputs, "_meta": {"title": title}}


def zone_scores_node() -> dict:
    node = facelab_node("FaceLabZoneScores", "Zone Scores")
    from comfyui_facelab.nodes.aging import zone_scores

    assert set(zone_scores.AGING_GROUPS) <= set(node["inputs"]) and "side_overrides" in node["inputs"]
    return node


def test_face_edit_node_takes_prompts_and_strength(wi):
    """An aging workflow: KSampler at denoise 1.0 behind Differential Diffusion; the edit's strength is the
    conditioning node's max_denoise, and its prompts are that node's positive/negative (docs/aging.md)."""
    g = sdxl_graph()
    del g["4"], g["5"]
    g["6"]["inputs"]["denoise"] = 1.0
    g["12"] = facelab_node("FaceLabAgingConditioning", "Face Edit")
    assert wi.apply_convention(g, "strength", "0.25") == [("12", "max_denoise")]
    assert wi.apply_convention(g, "prompt", "a portrait, soft light") == [("12", "positive")]
    assert wi.apply_convention(g, "negative", "plastic skin") == [("12", "negative")]
    assert wi.apply_convention(g, "seed", 8) == [("6", "seed")]
    edit = g["12"]["inputs"]
    assert (edit["max_denoise"], edit["positive"], edit["negative"]) == (0.25, "a portrait, soft light", "plastic skin")
    assert g["6"]["inputs"]["denoise"] == 1.0  # the sampler's denoise is not the edit strength here


def test_zone_scores_set_sliders_and_side_overrides(wi):
    g = sdxl_graph()
    g["12"] = zone_scores_node()
    scores = wi.parse_zone_scores(
        '{"forehead": 0.6, "under_eye": -0.5, "crows_feet_left": 0.3, "nasolabial_right": -0.25}'
    )
    done = wi.apply_zone_scores(g, scores)
    assert done == [("12", "forehead"), ("12", "under_eye"), ("12", "side_overrides")]
    inputs = g["12"]["inputs"]
    assert inputs["forehead"] == 0.6 and inputs["under_eye"] == -0.5 and type(inputs["forehead"]) is float
    assert inputs["side_overrides"] == "crows_feet_left=0.3, nasolabial_right=-0.25"
    assert inputs["preset"] == zone_scores_node()["inputs"]["preset"]  # the workflow's preset stays
    # The text is what the node itself parses: the same zones and values.
    from comfyui_facelab.nodes.aging import zone_scores

    assert zone_scores.parse_overrides(inputs["side_overrides"]) == {"crows_feet_left": 0.3, "nasolabial_right": -0.25}
    with pytest.raises(ValueError, match="no score input 'preset'"):
        wi.apply_zone_scores(g, {"preset": 1})


def test_zone_scores_as_json_text_and_bad_values(wi):
    g = sdxl_graph()
    g["12"] = {"class_type": "PrimitiveStringMultiline", "inputs": {"value": "{}"}, "_meta": {"title": "Zone Scores"}}
    assert wi.apply_zone_scores(g, wi.parse_zone_scores('{"forehead": 0.6, "chin": 1}')) == [("12", "value")]
    assert json.loads(g["12"]["inputs"]["value"]) == {"forehead": 0.6, "chin": 1}
    for bad, why in (
        ("{forehead: 1}", "not valid JSON"),
        ("[0.5]", "JSON object"),
        ('{"chin": "high"}', "JSON object"),
        ('{"chin": true}', "JSON object"),
    ):
        with pytest.raises(ValueError, match=why):
            wi.parse_zone_scores(bad)
    del g["12"]
    with pytest.raises(ValueError, match="no node titled 'Zone Scores'"):
        wi.apply_zone_scores(g, {"forehead": 0.5})


def test_missing_conventional_title_says_what_to_do(wi):
    g = contract("run_success")["request"]["prompt"]  # LoadImage -> ImageInvert -> SaveImage: no sampler
    with pytest.raises(ValueError) as err:
        wi.apply_convention(g, "seed", 1)
    msg = str(err.value)
    assert "--seed: the workflow has no node titled 'Seed' or 'DDPM Invert' or 'Sampler'" in msg
    assert "#9 'Save Result' (SaveImage)" in msg and "--set" in msg


def test_image_loader_rules(wi):
    g = sdxl_graph()
    assert wi.image_loader(g) == "1"  # "Input Image" among two LoadImage nodes
    g["1"]["_meta"]["title"] = "Photo"
    with pytest.raises(ValueError, match="2 LoadImage nodes .*title the one that takes --image 'Input Image'"):
        wi.image_loader(g)
    del g["2"]
    assert wi.image_loader(g) == "1"  # the only LoadImage, whatever its title
    del g["1"]
    with pytest.raises(ValueError, match="no LoadImage node"):
        wi.image_loader(g)


def test_api_format_is_required(wi):
    ui = {"last_node_id": 3, "nodes": [{"id": 1, "type": "LoadImage"}], "links": [], "version": 0.4}
    with pytest.raises(ValueError, match=r"UI-format .*workflows/api/.*Export \(API\)"):
        wi.check_api_workflow(ui)
    with pytest.raises(ValueError, match="JSON object mapping node ids"):
        wi.check_api_workflow([1, 2])
    with pytest.raises(ValueError, match="node '3' is not an API-format node"):
        wi.check_api_workflow({"3": {"inputs": {}}})
    recorded = contract("run_success")["request"]["prompt"]
    assert wi.check_api_workflow(recorded) is recorded


def test_file_labels_are_safe_names(wi):
    g = sdxl_graph()
    g["13"] = {"class_type": "SaveImage", "inputs": {}, "_meta": {"title": "../../etc/Résumé: final?"}}
    g["14"] = {"class_type": "SaveImage", "inputs": {}, "_meta": {"title": "???"}}
    assert wi.file_label(g, "9") == "Save-Result"
    label = wi.file_label(g, "13")
    assert "/" not in label and not label.startswith(".") and label == "etc-R-sum-final"
    assert wi.file_label(g, "14") == "14"
    assert wi.file_label(g, "77:3") == "77-3"  # an id absent from the graph (subgraph node)


def test_seed_of_an_inversion_workflow_is_the_ddpm_invert_seed(wi):
    """The inversion workflows sample with DisableNoise (no seed on their Sampler): --seed sets DDPM Invert's."""
    g = {
        "5": {
            "class_type": "FaceLabDDPMInvert",
            "_meta": {"title": "DDPM Invert"},
            "inputs": {"seed": 42, "skip": 0.4},
        },
        "6": {"class_type": "SamplerCustomAdvanced", "_meta": {"title": "Sampler"}, "inputs": {"noise": ["7", 0]}},
    }
    assert wi.apply_convention(g, "seed", 9) == [("5", "seed")] and g["5"]["inputs"]["seed"] == 9
