"""Layout and shared sections of FaceLab's shipped workflows (used by tools/build_workflows.py).

`Canvas` stacks nodes in columns (a fixed pitch, gaps that leave room for group frames) and frames groups around
their nodes; the section helpers add the parts every workflow shares (photo and face, SDXL models and prompts,
inpaint, stitch and save) with the conventions the headless client and the tests rely on (docs/client.md,
docs/testing.md).
"""

from __future__ import annotations

import uuid

CHECKPOINT = "sd_xl_base_1.0_inpainting_0.1.safetensors"
# What ComfyUI's missing-model dialog offers to download into models/checkpoints (the single-file SDXL inpainting
# 0.1 checkpoint, CreativeML Open RAIL++-M, 6.9 GB).
CHECKPOINT_MODEL = {
    "name": CHECKPOINT,
    "url": "https://huggingface.co/wangqyqq/sd_xl_base_1.0_inpainting_0.1.safetensors/resolve/main/" + CHECKPOINT,
    "directory": "checkpoints",
}
PACK_ID = "comfyui-facelab"  # the registry id (pyproject [project].name): ComfyUI-Manager installs a missing pack by it
CORE_VERSION = "0.33.0"  # the ComfyUI the workflows are validated against
NOTE_SIZE = (440, 900)
SCALE = 0.8  # saved zoom: node text is drawn (the frontend hides it below ~50 %) and the read-me is legible
EXAMPLE_IMAGE = "example.png"
INPUT_TITLE = "Input Image"
RESULT_TITLE = "Save Result"
EDIT_MASK_TITLE = "Edit Mask"  # tests/comfyui_server.py finds the blend mask by this title prefix
WRINKLE_ZONES = "forehead, under_eye, nasolabial, chin"
PROTECTED = "eyes+brows+lips+nostrils+hairline"
# Every zone Aging Zone Scores can change: the aging crop/stitch region, so any slider the user moves is covered.
AGING_REGION_ZONES = "all_wrinkle_zones, chin, cheeks, jawline"
POSITIVE = (
    "photo of a person, smooth healthy skin, softened fine lines, natural skin texture, visible pores, "
    "same person, same lighting"
)
NEGATIVE = "plastic skin, airbrushed, blurry, deep wrinkles, makeup, painting, cartoon, artifacts, different person"
SAMPLER = dict(seed=42, steps=24, cfg=5.0, sampler_name="dpmpp_2m", scheduler="karras")

COL = 400  # column pitch; nodes are at most 360 wide, so neighbouring columns (and their groups) never touch
NODE_GAP = 50  # between nodes of one group in a column (the node title bar is 30 high)
GROUP_GAP = 130  # between nodes of different groups in a column (room for both group frames and a title)
GROUP_COLORS = {
    "input": "#3f789e",
    "zones": "#8A8",
    "crop": "#b58b2a",
    "sdxl": "#a1309b",
    "output": "#88A",
    "check": "#444",
}


# Nodes that the web extension (web/facelab_widgets.js) makes taller: the zone picker adds a ~290 px face diagram,
# the score panel groups the sliders. Reserving the room here keeps the saved layout from overlapping on load.
WEB_WIDGET_SIZES = {"FaceLabZoneMask": (340, 540), "FaceLabZonePreview": (340, 440), "FaceLabZoneScores": (360, 540)}


class Canvas:
    """UiWorkflowBuilder plus layout: nodes stacked in columns, groups framed around their nodes."""

    def __init__(self, schemas):
        from comfyui_facelab.workflow_check.builder import UiWorkflowBuilder

        self.wf = UiWorkflowBuilder(schemas)
        self.bottom: dict[int, float] = {}  # column -> lowest edge of its nodes so far

    def add(self, node_type: str, col: int, *, size=None, new_group: bool = False, **kwargs):
        """Add a node at the bottom of column `col` (below a gap; a larger one when it starts a new group there)."""
        y = self.bottom[col] + (GROUP_GAP if new_group else NODE_GAP) if col in self.bottom else 0.0
        ref = self.wf.add(node_type, pos=(col * COL, y), **kwargs)
        node = self.node(ref.id)
        if size:
            node["size"] = list(size)
        if node_type in WEB_WIDGET_SIZES:
            node["size"] = [max(a, b) for a, b in zip(node["size"], WEB_WIDGET_SIZES[node_type])]
        self.bottom[col] = y + node["size"][1]
        return ref

    def align(self, *cols: int) -> None:
        """Continue these columns below the lowest of them (before a group spanning them)."""
        lowest = max(self.bottom.get(col, 0.0) for col in cols)
        self.bottom.update({col: lowest for col in cols})

    def node(self, node_id: int) -> dict:
        return self.wf.nodes[node_id - 1]

    def note(self, text: str, size=NOTE_SIZE, title: str = "Read me: model and knobs") -> int:
        """The read-me, left of column 0."""
        return self.wf.note(text.strip(), pos=(-size[0] - 60, -40), size=size, title=title)

    def group(self, title: str, refs, color: str, pad: int = 20) -> None:
        boxes = [
            (n["pos"][0], n["pos"][1], n["pos"][0] + n["size"][0], n["pos"][1] + n["size"][1])
            for n in (self.node(r.id) for r in refs)
        ]
        x0, y0 = min(b[0] for b in boxes) - pad, min(b[1] for b in boxes) - pad - 40  # room for the title bars
        x1, y1 = max(b[2] for b in boxes) + pad, max(b[3] for b in boxes) + pad
        self.wf.group(title, (x0, y0, x1 - x0, y1 - y0))
        self.wf.groups[-1]["color"] = color

    def workflow(self, name: str) -> dict:
        wf = self.wf.workflow()
        _execution_order(wf)
        _pack_ids(wf, self.wf.schemas)
        # The frontend fits the whole graph when the template browser opens it; web/template_view.js restores
        # this view while extra.ds still equals it (the untouched template).
        wf["extra"]["ds"] = _opening_view(wf)
        wf["extra"]["facelab_view"] = dict(wf["extra"]["ds"])
        # A stable id per workflow, as exported workflows carry one (the frontend tracks open workflows by it).
        return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"comfyui-facelab/workflows/{name}")), "revision": 0, **wf}


def _pack_ids(wf: dict, schemas: dict) -> None:
    """cnr_id/ver on FaceLab and core nodes, as the frontend saves them, so ComfyUI-Manager can install a missing
    FaceLab (other packs' nodes keep what their section set)."""
    ids = {"FaceLab": (PACK_ID, _pack_version()), "core": ("comfy-core", CORE_VERSION)}
    for node in wf["nodes"]:
        schema = schemas.get(node["type"])
        if schema is not None and schema.source in ids and "cnr_id" not in node["properties"]:
            cnr_id, ver = ids[schema.source]
            node["properties"].update(cnr_id=cnr_id, ver=ver)


def _pack_version() -> str:
    from pathlib import Path

    import tomllib

    return tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]["version"]


def _opening_view(wf: dict) -> dict:
    """The saved view: the read-me note's top-left corner (and so the photo input right of it) on screen, below
    the frontend's top bar, at a zoom where node text is drawn. screen = (pos + offset) * scale."""
    xs = [n["pos"][0] for n in wf["nodes"]]
    ys = [n["pos"][1] for n in wf["nodes"]]
    left, top = min(xs), min(ys)
    # 80 px clears the frontend's left tool bar (58 px), 110 px its top bars.
    return {"scale": SCALE, "offset": [round(-left + 80 / SCALE, 1), round(-top + 110 / SCALE, 1)]}


def _execution_order(wf: dict) -> None:
    """Set each node's `order` to its position in a topological order (what the frontend saves)."""
    deps = {n["id"]: set() for n in wf["nodes"]}
    for _, origin, _, target, _, _ in wf["links"]:
        deps[target].add(origin)
    order, done = [], set()
    while len(order) < len(deps):
        ready = sorted(i for i, d in deps.items() if i not in done and d <= done)
        order += ready
        done |= set(ready)
    for n in wf["nodes"]:
        n["order"] = order.index(n["id"])


# --- shared sections ------------------------------------------------------------------------------------------------


def photo_and_face(c: Canvas, col: int = 0, **detection):
    image = c.add("LoadImage", col, size=(320, 400), title=INPUT_TITLE, image=EXAMPLE_IMAGE)
    faces = c.add("FaceLabFaceLandmarks", col, image=image["IMAGE"], **detection)
    c.group("1 · Photo and face", [image, faces], GROUP_COLORS["input"])
    return image, faces


def sdxl_models(
    c: Canvas,
    col: int,
    prompts: bool = True,
    positive=POSITIVE,
    negative=NEGATIVE,
    titles=("Positive Prompt", "Negative Prompt"),
):
    """Checkpoint, Differential Diffusion and (optionally) the two prompts, as text or linked from another node's
    prompt outputs; returns (ckpt, model, pos, neg, refs)."""
    ckpt = c.add("CheckpointLoaderSimple", col, title="Load Checkpoint (SDXL inpainting)", ckpt_name=CHECKPOINT)
    c.node(ckpt.id)["properties"]["models"] = [dict(CHECKPOINT_MODEL)]
    diff = c.add("DifferentialDiffusion", col, model=ckpt["MODEL"], strength=1.0)
    refs = [ckpt, diff]
    pos = neg = None
    if prompts:
        pos = c.add("CLIPTextEncode", col, size=(320, 180), title=titles[0], clip=ckpt["CLIP"], text=positive)
        neg = c.add("CLIPTextEncode", col, size=(320, 150), title=titles[1], clip=ckpt["CLIP"], text=negative)
        c.node(pos.id).update(color="#232", bgcolor="#353")
        c.node(neg.id).update(color="#322", bgcolor="#533")
        refs += [pos, neg]
    return ckpt, diff, pos, neg, refs


def inpaint(c: Canvas, col: int, ckpt, model, positive, negative, pixels, mask, denoise, **sampler_settings):
    """InpaintModelConditioning -> KSampler ("Sampler") -> VAEDecode; returns (decoded, refs)."""
    cond = c.add(
        "InpaintModelConditioning",
        col,
        positive=positive,
        negative=negative,
        vae=ckpt["VAE"],
        pixels=pixels,
        mask=mask,
        noise_mask=True,
    )
    sampler = c.add(
        "KSampler",
        col,
        size=(320, 290),
        title="Sampler",
        model=model,
        positive=cond["positive"],
        negative=cond["negative"],
        latent_image=cond["latent"],
        denoise=denoise,
        **{**SAMPLER, **sampler_settings},
    )
    decoded = c.add("VAEDecode", col, samples=sampler[0], vae=ckpt["VAE"])
    return decoded, [cond, sampler, decoded]


def save_pair(c: Canvas, col: int, image, mask_image, prefix: str) -> list:
    """Save Result and Edit Mask (a mask already drawn as an image), in one column; returns the refs."""
    save = c.add(
        "SaveImage", col, size=(360, 420), title=RESULT_TITLE, images=image, filename_prefix=f"FaceLab/{prefix}"
    )
    mask_save = c.add(
        "SaveImage",
        col,
        size=(320, 300),
        title=EDIT_MASK_TITLE,
        images=mask_image,
        filename_prefix=f"FaceLab/{prefix}_edit_mask",
    )
    return [save, mask_save]


def save_result(c: Canvas, col: int, image, blend_mask, prefix: str, new_group: bool = False):
    """Save Result, and the blend mask as an image in Edit Mask; returns the refs."""
    save = c.add(
        "SaveImage",
        col,
        size=(360, 420),
        new_group=new_group,
        title=RESULT_TITLE,
        images=image,
        filename_prefix=f"FaceLab/{prefix}",
    )
    as_image = c.add("MaskToImage", col, mask=blend_mask)
    mask_save = c.add(
        "SaveImage",
        col,
        size=(320, 300),
        title=EDIT_MASK_TITLE,
        images=as_image[0],
        filename_prefix=f"FaceLab/{prefix}_edit_mask",
    )
    return [save, as_image, mask_save]


def stitch_and_save(c: Canvas, col: int, original, crops, plan, prefix: str, new_group: bool = False):
    """Stitch Face Region, then save_result in the next column; returns (stitch node, refs)."""
    stitch = c.add("FaceLabStitch", col, new_group=new_group, original=original, crops=crops, stitch=plan)
    return stitch, [stitch] + save_result(c, col + 1, stitch["image"], stitch["blend_mask"], prefix, new_group)


def zone_mask(c: Canvas, col: int, image, faces, zones: str, subtract: str = PROTECTED, preview=True):
    mask = c.add(
        "FaceLabZoneMask",
        col,
        image=image["IMAGE"],
        face_landmarks=faces["face_landmarks"],
        zones=zones,
        feather=10.0,
        subtract=subtract,
    )
    refs = [mask]
    if preview:
        shown = c.add(
            "FaceLabZonePreview", col, image=image["IMAGE"], face_landmarks=faces["face_landmarks"], zones=zones
        )
        refs += [shown, c.add("PreviewImage", col, size=(320, 360), title="Zone Preview", images=shown[0])]
    return mask, refs


def face_crop(c: Canvas, col: int, image, mask, faces, new_group: bool = False, report: bool = True, **settings):
    crop = c.add(
        "FaceLabCrop",
        col,
        new_group=new_group,
        image=image["IMAGE"],
        mask=mask,
        face_landmarks=faces["face_landmarks"],
        **settings,
    )
    if not report:
        return crop, [crop]
    shown = c.add("PreviewAny", col, size=(320, 200), title="Crop Report", source=crop["report"])
    return crop, [crop, shown]
