"""The workflow checker (workflow_check): UI -> API conversion on a hand-made graph whose API form is
written out by hand, and one small failing case per kind of mistake it must catch."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from workflow_schemas import schemas, wc  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parent.parent
SMOKE_UI = ROOT / "tests" / "data" / "workflows" / "core_inpaint_smoke.json"
SMOKE_API = ROOT / "tests" / "data" / "workflows" / "api" / "core_inpaint_smoke.json"


def _node(nid, type_, inputs=(), outputs=(), widgets=None, mode=0, title=None):
    node = {
        "id": nid,
        "type": type_,
        "pos": [0, 0],
        "size": [200, 100],
        "flags": {},
        "order": nid,
        "mode": mode,
        "inputs": [dict(i) for i in inputs],
        "outputs": [dict(o) for o in outputs],
        "properties": {},
    }
    if widgets is not None:
        node["widgets_values"] = widgets
    if title:
        node["title"] = title
    return node


def _hand_made_ui() -> dict:
    """Checkpoint -> text -> KSampler (seed from a PrimitiveNode, model through a Reroute) -> VAEDecode ->
    bypassed ImageInvert -> SaveImage; plus a Note and a muted PreviewImage."""
    links = [
        [1, 1, 0, 9, 0, "MODEL"],
        [2, 9, 0, 4, 0, "MODEL"],
        [3, 1, 1, 2, 0, "CLIP"],
        [4, 2, 0, 4, 1, "CONDITIONING"],
        [5, 2, 0, 4, 2, "CONDITIONING"],
        [6, 3, 0, 4, 3, "LATENT"],
        [7, 8, 0, 4, 4, "INT"],
        [8, 4, 0, 5, 0, "LATENT"],
        [9, 1, 2, 5, 1, "VAE"],
        [10, 5, 0, 10, 0, "IMAGE"],
        [11, 10, 0, 6, 0, "IMAGE"],
        [12, 5, 0, 11, 0, "IMAGE"],
    ]
    nodes = [
        _node(
            1,
            "CheckpointLoaderSimple",
            outputs=[
                {"name": "MODEL", "type": "MODEL", "links": [1]},
                {"name": "CLIP", "type": "CLIP", "links": [3]},
                {"name": "VAE", "type": "VAE", "links": [9]},
            ],
            widgets=["some_model.safetensors"],
        ),
        _node(
            2,
            "CLIPTextEncode",
            inputs=[{"name": "clip", "type": "CLIP", "link": 3}],
            outputs=[{"name": "CONDITIONING", "type": "CONDITIONING", "links": [4, 5]}],
            widgets=["a portrait"],
            title="Prompt",
        ),
        _node(
            3, "EmptyLatentImage", outputs=[{"name": "LATENT", "type": "LATENT", "links": [6]}], widgets=[512, 384, 1]
        ),
        _node(
            4,
            "KSampler",
            inputs=[
                {"name": "model", "type": "MODEL", "link": 2},
                {"name": "positive", "type": "CONDITIONING", "link": 4},
                {"name": "negative", "type": "CONDITIONING", "link": 5},
                {"name": "latent_image", "type": "LATENT", "link": 6},
                {"name": "seed", "type": "INT", "widget": {"name": "seed"}, "link": 7},
            ],
            outputs=[{"name": "LATENT", "type": "LATENT", "links": [8]}],
            widgets=[7, "randomize", 20, 6.5, "euler", "karras", 0.4],
        ),
        _node(
            5,
            "VAEDecode",
            inputs=[{"name": "samples", "type": "LATENT", "link": 8}, {"name": "vae", "type": "VAE", "link": 9}],
            outputs=[{"name": "IMAGE", "type": "IMAGE", "links": [10, 12]}],
        ),
        _node(6, "SaveImage", inputs=[{"name": "images", "type": "IMAGE", "link": 11}], widgets=["hand_made"]),
        _node(7, "Note", widgets=["a note"]),
        _node(
            8,
            "PrimitiveNode",
            outputs=[{"name": "connect to widget input", "type": "INT", "links": [7], "widget": {"name": "seed"}}],
            widgets=[123, "fixed"],
            title="Seed",
        ),
        _node(
            9,
            "Reroute",
            inputs=[{"name": "", "type": "*", "link": 1}],
            outputs=[{"name": "", "type": "MODEL", "links": [2]}],
        ),
        _node(
            10,
            "ImageInvert",
            inputs=[{"name": "image", "type": "IMAGE", "link": 10}],
            outputs=[{"name": "IMAGE", "type": "IMAGE", "links": [11]}],
            mode=4,
        ),
        _node(11, "PreviewImage", inputs=[{"name": "images", "type": "IMAGE", "link": 12}], mode=2),
    ]
    return {
        "last_node_id": 11,
        "last_link_id": 12,
        "nodes": nodes,
        "links": links,
        "groups": [],
        "config": {},
        "extra": {},
        "version": 0.4,
    }


# Written by hand from ComfyUI's node definitions, not from the converter's output.
HAND_MADE_API = {
    "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "some_model.safetensors"}},
    "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a portrait", "clip": ["1", 1]}},
    "3": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 384, "batch_size": 1}},
    "4": {
        "class_type": "KSampler",
        "inputs": {
            "seed": 123,
            "steps": 20,
            "cfg": 6.5,
            "sampler_name": "euler",
            "scheduler": "karras",
            "denoise": 0.4,
            "model": ["1", 0],
            "positive": ["2", 0],
            "negative": ["2", 0],
            "latent_image": ["3", 0],
        },
    },
    "5": {"class_type": "VAEDecode", "inputs": {"samples": ["4", 0], "vae": ["1", 2]}},
    "6": {"class_type": "SaveImage", "inputs": {"filename_prefix": "hand_made", "images": ["5", 0]}},
}


def _strip_meta(prompt: dict) -> dict:
    return {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in prompt.items()}


def test_hand_made_graph_converts_like_the_frontend(wc, schemas):
    prompt, issues = wc.ui_to_api(_hand_made_ui(), schemas)
    assert wc.errors(issues) == []
    assert _strip_meta(prompt) == HAND_MADE_API
    assert prompt["2"]["_meta"]["title"] == "Prompt"  # custom title kept
    assert prompt["1"]["_meta"]["title"] == "Load Checkpoint"  # else the display name, as the frontend does


def test_hand_made_graph_validates(wc, schemas):
    issues = wc.validate_ui(_hand_made_ui(), schemas)
    assert wc.errors(issues) == []
    assert [i.severity for i in issues] == ["note"] and "some_model.safetensors" in issues[0].message


def test_object_style_links_give_the_same_graph(wc, schemas):
    ui = _hand_made_ui()
    keys = ("id", "origin_id", "origin_slot", "target_id", "target_slot", "type")
    ui["links"] = [dict(zip(keys, link)) for link in ui["links"]]
    prompt, issues = wc.ui_to_api(ui, schemas)
    assert wc.errors(issues) == [] and _strip_meta(prompt) == HAND_MADE_API


def test_upload_button_value_is_optional_and_not_sent(wc, schemas):
    for widgets in (["face.png", "image"], ["face.png"]):
        ui = {
            "nodes": [
                _node(
                    1,
                    "LoadImage",
                    outputs=[
                        {"name": "IMAGE", "type": "IMAGE", "links": []},
                        {"name": "MASK", "type": "MASK", "links": []},
                    ],
                    widgets=widgets,
                )
            ],
            "links": [],
        }
        prompt, issues = wc.ui_to_api(ui, schemas)
        assert wc.errors(issues) == [] and prompt["1"]["inputs"] == {"image": "face.png"}


def test_smoke_workflow_and_its_api_copy_are_valid_and_match(wc, schemas):
    ui, api = json.loads(SMOKE_UI.read_text()), json.loads(SMOKE_API.read_text())
    assert wc.errors(wc.validate_ui(ui, schemas)) == []
    assert wc.errors(wc.validate_api(api, schemas)) == []
    assert wc.compare_ui_api(ui, api, schemas) == []
    notes = [i.message for i in wc.validate_api(api, schemas) if i.severity == "note"]
    assert len(notes) == 3  # checkpoint, input photo, mask: environment-specific files
    # A fresh conversion reproduces the committed API copy exactly (it is generated, not hand-edited).
    assert wc.ui_to_api(ui, schemas)[0] == api


# --- one small failing case per mistake ---------------------------------------------------------------------


def _smoke():
    return json.loads(SMOKE_UI.read_text()), json.loads(SMOKE_API.read_text())


def _ui_node(ui, type_):
    return next(n for n in ui["nodes"] if n["type"] == type_)


def _messages(issues):
    return [str(i) for i in issues if i.severity == "error"]


def test_catches_wrong_link_type(wc, schemas):
    ui, api = _smoke()
    # KSampler.model fed from the checkpoint's CLIP output instead of DifferentialDiffusion's MODEL.
    sampler = _ui_node(ui, "KSampler")
    link = next(l for l in ui["links"] if l[0] == sampler["inputs"][0]["link"])
    ckpt = _ui_node(ui, "CheckpointLoaderSimple")
    old_origin = next(n for n in ui["nodes"] if n["id"] == link[1])
    old_origin["outputs"][link[2]]["links"].remove(link[0])
    link[1], link[2], link[5] = ckpt["id"], 1, "CLIP"
    ckpt["outputs"][1]["links"].append(link[0])
    msgs = _messages(wc.validate_ui(ui, schemas))
    assert any("input 'model'" in m and "expects MODEL" in m and "CLIP" in m for m in msgs), msgs

    api[str(sampler["id"])]["inputs"]["model"] = [str(ckpt["id"]), 1]
    msgs = _messages(wc.validate_api(api, schemas))
    assert msgs == [
        f"error: node {sampler['id']} (KSampler) input 'model': expects MODEL but is linked to CLIP "
        f"(output 1 'CLIP' of node {ckpt['id']})"
    ]


def test_catches_unknown_node(wc, schemas):
    ui, api = _smoke()
    _ui_node(ui, "DifferentialDiffusion")["type"] = "DifferentialDiffusionPro"
    msgs = _messages(wc.validate_ui(ui, schemas))
    assert any("DifferentialDiffusionPro" in m and "unknown node type" in m for m in msgs), msgs
    node_id = next(k for k, v in api.items() if v["class_type"] == "DifferentialDiffusion")
    api[node_id]["class_type"] = "DifferentialDiffusionPro"
    assert any("unknown node type" in m for m in _messages(wc.validate_api(api, schemas)))


@pytest.mark.parametrize(
    "index, value, expected",
    [(2, 0, "below the minimum 1"), (6, 1.5, "above the maximum 1.0"), (3, "8", "is not a number")],
)
def test_catches_out_of_range_or_mistyped_widget(wc, schemas, index, value, expected):
    ui, _ = _smoke()
    _ui_node(ui, "KSampler")["widgets_values"][index] = (
        value  # [seed, control, steps, cfg, sampler, scheduler, denoise]
    )
    msgs = _messages(wc.validate_ui(ui, schemas))
    assert len(msgs) == 1 and expected in msgs[0], msgs


def test_catches_bad_combo_value(wc, schemas):
    ui, api = _smoke()
    _ui_node(ui, "KSampler")["widgets_values"][4] = "euler_magic"
    msgs = _messages(wc.validate_ui(ui, schemas))
    assert len(msgs) == 1 and "input 'sampler_name'" in msgs[0] and "'euler_magic' is not one of" in msgs[0]
    node_id = next(k for k, v in api.items() if v["class_type"] == "LoadImageMask")
    api[node_id]["inputs"]["channel"] = "purple"
    assert any(
        "'purple' is not one of ['alpha', 'red', 'green', 'blue']" in m
        for m in _messages(wc.validate_api(api, schemas))
    )


def test_model_files_are_accepted_by_extension_only(wc, schemas):
    _, api = _smoke()
    node_id = next(k for k, v in api.items() if v["class_type"] == "CheckpointLoaderSimple")
    api[node_id]["inputs"]["ckpt_name"] = "notes.txt"
    assert any("'notes.txt' is not one of" in m for m in _messages(wc.validate_api(api, schemas)))


def test_catches_missing_required_input(wc, schemas):
    ui, api = _smoke()
    decode_id = next(k for k, v in api.items() if v["class_type"] == "VAEDecode")
    del api[decode_id]["inputs"]["vae"]
    assert _messages(wc.validate_api(api, schemas)) == [
        f"error: node {decode_id} (VAEDecode) input 'vae': required input is missing"
    ]
    decode = _ui_node(ui, "VAEDecode")
    link_id = decode["inputs"][1]["link"]
    decode["inputs"][1]["link"] = None
    ui["links"] = [l for l in ui["links"] if l[0] != link_id]
    for node in ui["nodes"]:
        for out in node["outputs"]:
            out["links"] = [x for x in out["links"] if x != link_id]
    assert any("input 'vae': required input is missing" in m for m in _messages(wc.validate_ui(ui, schemas)))


def test_catches_wrong_widget_count_and_bad_control_value(wc, schemas):
    ui, _ = _smoke()
    _ui_node(ui, "KSampler")["widgets_values"].pop(1)  # the seed's control value forgotten
    msgs = _messages(wc.validate_ui(ui, schemas))
    assert len(msgs) == 1 and "has 6 widget values but KSampler has 7 widgets" in msgs[0], msgs
    ui, _ = _smoke()
    _ui_node(ui, "KSampler")["widgets_values"][1] = "sometimes"
    assert any("control_after_generate value 'sometimes'" in m for m in _messages(wc.validate_ui(ui, schemas)))


def test_catches_inconsistent_link_records(wc, schemas):
    ui, _ = _smoke()
    ui["links"][0][4] += 1  # target slot no longer points at the socket holding this link
    assert any("does not point back at this link" in m for m in _messages(wc.validate_ui(ui, schemas)))


def test_catches_ui_api_mismatch(wc, schemas):
    ui, api = _smoke()
    sampler_id = next(k for k, v in api.items() if v["class_type"] == "KSampler")
    api[sampler_id]["inputs"]["seed"] = 43
    assert _messages(wc.compare_ui_api(ui, api, schemas)) == [
        f"error: node {sampler_id} (KSampler) input 'seed': UI has 42, API has 43"
    ]
    ui, api = _smoke()
    diff_id = next(k for k, v in api.items() if v["class_type"] == "DifferentialDiffusion")
    api[sampler_id]["inputs"]["model"] = [
        next(k for k, v in api.items() if v["class_type"] == "CheckpointLoaderSimple"),
        0,
    ]
    del api[diff_id]
    msgs = _messages(wc.compare_ui_api(ui, api, schemas))
    assert any("DifferentialDiffusion is in the UI workflow but not in the API workflow" in m for m in msgs)
    assert any("input 'model'" in m for m in msgs)


def test_api_links_must_reach_an_existing_output(wc, schemas):
    _, api = _smoke()
    sampler_id = next(k for k, v in api.items() if v["class_type"] == "KSampler")
    bad = copy.deepcopy(api)
    bad[sampler_id]["inputs"]["positive"] = ["99", 0]
    assert any("node 99, which is not in the workflow" in m for m in _messages(wc.validate_api(bad, schemas)))
    bad = copy.deepcopy(api)
    cond_id = next(k for k, v in api.items() if v["class_type"] == "InpaintModelConditioning")
    bad[sampler_id]["inputs"]["positive"] = [cond_id, 3]
    assert any("which has 3 output(s)" in m for m in _messages(wc.validate_api(bad, schemas)))


def test_api_needs_an_output_node_and_links_for_non_widget_inputs(wc, schemas):
    _, api = _smoke()
    save_id = next(k for k, v in api.items() if v["class_type"] == "SaveImage")
    decode_id = next(k for k, v in api.items() if v["class_type"] == "VAEDecode")
    api[decode_id]["inputs"]["vae"] = "vae.safetensors"
    del api[save_id]
    msgs = _messages(wc.validate_api(api, schemas))
    assert any("no output node" in m for m in msgs)
    assert any("input 'vae': a VAE input must be linked" in m for m in msgs)


def test_link_type_rule_matches_comfyui(wc):
    assert wc.types_match("IMAGE", "IMAGE") and wc.types_match("IMAGE", "*") and wc.types_match("*", "MASK")
    assert wc.types_match("FLOAT", "FLOAT,INT") and wc.types_match("STRING,INT", "INT")
    assert not wc.types_match("IMAGE", "MASK") and not wc.types_match("FLOAT,STRING", "INT,BOOLEAN")


def test_validate_folder_pairs_ui_and_api_copies(wc, schemas, tmp_path):
    ui, api = _smoke()
    (tmp_path / "api").mkdir()
    (tmp_path / "edit.json").write_text(json.dumps(ui))
    (tmp_path / "api" / "edit.json").write_text(json.dumps(api))
    (tmp_path / "orphan.json").write_text(json.dumps(ui))
    (tmp_path / "api" / "stray.json").write_text(json.dumps(api))
    (tmp_path / "broken.json").write_text("{not json")
    report = {
        Path(k).relative_to(tmp_path).as_posix(): _messages(v) for k, v in wc.validate_folder(tmp_path, schemas).items()
    }
    assert report["edit.json"] == [] and report["api/edit.json"] == []
    assert any("missing API copy" in m for m in report["orphan.json"])
    assert any("without a UI workflow" in m for m in report["api/stray.json"])
    assert any("cannot be read as JSON" in m for m in report["broken.json"])


def test_builder_lays_out_sockets_and_widgets_like_the_frontend(wc, schemas):
    from comfyui_facelab.workflow_check.builder import UiWorkflowBuilder

    wf = UiWorkflowBuilder(schemas)
    ckpt = wf.add("CheckpointLoaderSimple", ckpt_name="m.safetensors")
    latent = wf.add("EmptyLatentImage", width=512)
    seed = wf.add("PrimitiveInt", value=5)
    wf.add(
        "KSampler",
        model=ckpt["MODEL"],
        positive=wf.add("CLIPTextEncode", clip=ckpt["CLIP"], text="x")[0],
        negative=wf.add("ConditioningZeroOut", conditioning=wf.add("CLIPTextEncode", clip=ckpt[1])[0])[0],
        latent_image=latent[0],
        seed=seed[0],
        steps=3,
    )
    ui = wf.workflow()
    sampler = ui["nodes"][-1]
    # Socket-only inputs first, then the widget turned socket; seed's control value follows it in widgets_values.
    assert [(s["name"], "widget" in s) for s in sampler["inputs"]] == [
        ("model", False),
        ("positive", False),
        ("negative", False),
        ("latent_image", False),
        ("seed", True),
    ]
    assert sampler["widgets_values"] == [0, "fixed", 3, 8.0, "euler", "simple", 1.0]  # 0.33's KSampler defaults
    assert ui["nodes"][1]["widgets_values"] == [512, 512, 1]
    assert [i.message for i in wc.errors(wc.validate_ui(ui, schemas))] == [  # valid, but nothing saves a result
        "no output node (e.g. SaveImage): ComfyUI refuses such a prompt"
    ]
    assert wc.ui_to_api(ui, schemas)[0][str(sampler["id"])]["inputs"]["seed"] == [str(seed.id), 0]


def test_builder_refuses_unknown_inputs_and_missing_links(schemas):
    from comfyui_facelab.workflow_check.builder import UiWorkflowBuilder

    wf = UiWorkflowBuilder(schemas)
    with pytest.raises(ValueError, match="has no input"):
        wf.add("SaveImage", filename="x")
    with pytest.raises(ValueError, match="required input 'images'"):
        wf.add("SaveImage", filename_prefix="x")
