"""Run an API-format workflow without ComfyUI: FaceLab's own nodes for real, core nodes as small stand-ins.

The scheduler mirrors ComfyUI 0.33's execution.py: only what the output nodes need runs, inputs first; a node with
lazy inputs is asked (check_lazy_status) which of them it needs, and the others are never computed; each input is a
list; a node without INPUT_IS_LIST runs once per item of its longest input list (shorter lists repeat their last
item); OUTPUT_IS_LIST outputs are concatenated, the others collected one item per run. So list-driven sweeps
(Effective Strengths -> KSampler denoise), lazy switches, batch sizes and plan/crop pairings behave as they would on
a server.

The SDXL stand-ins behave like the random-weight checkpoint the real-ComfyUI tests use: the sampler paints noise
wherever the latent's noise mask is > 0, and the VAE round trip perturbs every pixel (a real VAE is not lossless),
so only compositing can bring pixels back exactly. InpaintModelConditioning trims pixels to multiples of 8 as
core does. Every call of a stand-in is recorded in `DryRun.calls` for assertions.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import torch


def _is_link(value) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)


CORE_OUTPUT_NODES = ("SaveImage", "PreviewImage", "PreviewAny")
# FaceLab nodes that need a real MODEL: stood in here (tests/test_sampling_*.py test them with real models).
MODEL_STAND_INS = ("FaceLabDDPMInvert", "FaceLabDDPMInversionSampler", "FaceLabIdentityGuider")


class FakeClip:
    """Encodes a text as a tensor whose first value is the text's index in `texts`."""

    def __init__(self):
        self.texts: list[str] = []

    def tokenize(self, text: str):
        return text

    def encode_from_tokens_scheduled(self, tokens):
        self.texts.append(tokens)
        return [[torch.full((1, 77, 8), float(len(self.texts) - 1)), {"pooled_output": torch.zeros(1, 8)}]]


class CoreStandIns:
    """Core node stand-ins: method name = class_type, keyword arguments = the API inputs."""

    def __init__(self, images: dict[str, torch.Tensor], seed: int = 0):
        self.images = images  # LoadImage file name -> IMAGE [1,H,W,3]
        self.generator = torch.Generator().manual_seed(seed)
        self.clip = FakeClip()
        self.calls: dict[str, list[dict]] = defaultdict(list)

    def LoadImage(self, image):
        rgb = self.images[image]
        return rgb, torch.zeros(rgb.shape[:3])

    def CheckpointLoaderSimple(self, ckpt_name):
        # a tiny MODEL with ComfyUI's patch interface, so FaceLab's MODEL patches run for real (the sampler below
        # never calls it); the VAE stand-in encodes for them, the core stand-ins ignore it
        import makeup_attention_standin as standin

        return standin.ModelPatcher(standin.BaseModel()), self.clip, standin.FakeVae()

    def DifferentialDiffusion(self, model, strength=1.0):
        patched = model.clone()
        patched.model_options["denoise_mask_function"] = "differential diffusion"
        return (patched,)

    def CLIPTextEncode(self, text, clip):
        return (clip.encode_from_tokens_scheduled(clip.tokenize(text)),)

    def InpaintModelConditioning(self, positive, negative, vae, pixels, mask, noise_mask):
        h, w = pixels.shape[1] // 8 * 8, pixels.shape[2] // 8 * 8  # VAE encoding trims to multiples of 8
        assert mask.shape[-2:] == pixels.shape[1:3], f"mask {tuple(mask.shape)} vs pixels {tuple(pixels.shape)}"
        latent = {"samples": pixels[:, :h, :w].clone(), "noise_mask": mask.reshape(-1, *mask.shape[-2:])[:, :h, :w]}
        return positive, negative, latent

    def KSampler(self, model, seed, steps, cfg, sampler_name, scheduler, positive, negative, latent_image, denoise):
        self.calls["KSampler"].append(
            {
                "denoise": denoise,
                "batch": latent_image["samples"].shape[0],
                "model": model,
                "positive": positive,
                "seed": seed,
                "steps": steps,
            }
        )
        samples = latent_image["samples"]
        noise = torch.rand(samples.shape, generator=self.generator)
        inside = (latent_image["noise_mask"] > 0)[..., None].expand_as(samples)
        return ({"samples": torch.where(inside, noise, samples)},)

    def BasicScheduler(self, model, scheduler, steps, denoise):
        return (torch.linspace(14.6, 0.0, steps + 1),)

    def DisableNoise(self):
        return ("no noise",)

    def CFGGuider(self, model, positive, negative, cfg):
        return ({"model": model, "positive": positive, "cfg": cfg},)

    def FaceLabIdentityGuider(
        self, model, positive, negative, cfg, identity_scale, start_percent, end_percent, identity_model=None
    ):
        return (
            {
                "model": model,
                "positive": positive,
                "cfg": cfg,
                "identity_model": identity_model,
                "identity_scale": identity_scale,
            },
            "note",
        )

    def FaceLabDDPMInvert(self, model, positive, negative, cfg, latent, sigmas, skip, seed):
        self.calls["FaceLabDDPMInvert"].append({"batch": latent["samples"].shape[0], "model": model, "skip": skip})
        return ({"latent": latent, "model": model},)

    def FaceLabDDPMInversionSampler(self, inversion):
        return ({"inversion": inversion},)

    def SamplerCustomAdvanced(self, noise, guider, sampler, sigmas, latent_image):
        self.calls["SamplerCustomAdvanced"].append(
            {"batch": latent_image["samples"].shape[0], "guider": guider, "sampler": sampler, "noise": noise}
        )
        samples = latent_image["samples"]
        painted = torch.rand(samples.shape, generator=self.generator)
        inside = (latent_image["noise_mask"] > 0)[..., None].expand_as(samples)
        out = {"samples": torch.where(inside, painted, samples)}
        return out, out

    def IPAdapterUnifiedLoaderFaceID(self, model, preset, lora_strength, provider):
        return ("faceid lora", model), "ipadapter"

    def IPAAdapterFaceIDBatch(self, model, ipadapter, image, **settings):
        return ("faceid", model, image.shape[0]), image

    def SetLatentNoiseMask(self, samples, mask):
        h, w = samples["samples"].shape[1:3]
        return ({**samples, "noise_mask": mask.reshape(-1, *mask.shape[-2:])[:, :h, :w]},)

    def ImageToMask(self, image, channel):
        return (image[..., "rgba".index(channel[0])].clone(),)

    def ThresholdMask(self, mask, value):
        return ((mask > value).float(),)

    def VAEDecode(self, samples, vae):
        x = samples["samples"]
        return ((x + (torch.rand(x.shape, generator=self.generator) - 0.5) * 0.02).clamp(0, 1),)

    def MaskToImage(self, mask):
        return (mask.reshape(-1, *mask.shape[-2:])[..., None].expand(-1, -1, -1, 3).clone(),)

    def RepeatImageBatch(self, image, amount):
        return (image.repeat(amount, 1, 1, 1),)

    def PrimitiveStringMultiline(self, value):
        return (value,)

    def StringConcatenate(self, string_a, string_b, delimiter):
        return (f"{string_a}{delimiter}{string_b}",)

    def SaveImage(self, images, filename_prefix):
        return (images,)

    def PreviewImage(self, images):
        return (images,)

    def PreviewAny(self, source):
        return (source,)


def rebatch_images(images: list, batch_size: list) -> list:
    """Core RebatchImages (INPUT_IS_LIST, OUTPUT_IS_LIST): concatenate the list, cut into batches."""
    flat = torch.cat(images)
    size = batch_size[0]
    return [flat[i : i + size] for i in range(0, flat.shape[0], size)]


class DryRun:
    """Executes one API prompt. `outputs[node_id]` holds each output as a list (as ComfyUI keeps them)."""

    def __init__(
        self, prompt: dict, node_classes: dict, images: dict[str, torch.Tensor], overrides: dict | None = None
    ):
        self.prompt = json.loads(json.dumps(prompt))
        for class_type, values in (overrides or {}).items():
            for node in self.prompt.values():
                if node["class_type"] == class_type:
                    node["inputs"].update(values)
        self.node_classes = node_classes
        self.core = CoreStandIns(images)
        self.outputs: dict[str, list[list]] = {}
        self.runs: dict[str, int] = {}

    @property
    def calls(self):
        return self.core.calls

    def titled(self, title: str) -> list[str]:
        return [nid for nid, n in self.prompt.items() if n.get("_meta", {}).get("title") == title]

    def images_of(self, node_id: str) -> list[torch.Tensor]:
        """The images a SaveImage/PreviewImage node received, one tensor [H,W,3] per image, in run order."""
        return [img for batch in self.outputs[node_id][0] for img in batch]

    def run(self) -> DryRun:
        for node_id in sorted(self.prompt, key=int):
            if self._is_output(self.prompt[node_id]["class_type"]):
                self._evaluate(node_id, ())
        return self

    def _is_output(self, class_type: str) -> bool:
        cls = self.node_classes.get(class_type)
        return bool(getattr(cls, "OUTPUT_NODE", False)) if cls is not None else class_type in CORE_OUTPUT_NODES

    def _lazy_inputs(self, class_type: str) -> set[str]:
        cls = self.node_classes.get(class_type)
        if cls is None:
            return set()
        declared = cls.INPUT_TYPES()
        return {
            name
            for section in ("required", "optional")
            for name, spec in (declared.get(section) or {}).items()
            if len(spec) > 1 and isinstance(spec[1], dict) and spec[1].get("lazy")
        }

    def _evaluate(self, node_id: str, stack: tuple) -> None:
        if node_id in self.outputs:
            return
        assert node_id not in stack, f"cycle through node {node_id}"
        node = self.prompt[node_id]
        lazy = self._lazy_inputs(node["class_type"])
        links = {name: v for name, v in node["inputs"].items() if _is_link(v)}
        for name, (source, _) in links.items():
            if name not in lazy:
                self._evaluate(source, (*stack, node_id))
        if lazy:
            known = {
                name: (self.outputs[v[0]][v[1]][0] if v[0] in self.outputs else None) if _is_link(v) else v
                for name, v in node["inputs"].items()
            }
            for name in self.node_classes[node["class_type"]]().check_lazy_status(**known):
                self._evaluate(links[name][0], (*stack, node_id))
        self._execute(node_id, node)

    def _execute(self, node_id: str, node: dict) -> None:
        class_type = node["class_type"]
        # A lazy input that was not needed stays None, as in ComfyUI.
        inputs = {
            name: (self.outputs[v[0]][v[1]] if v[0] in self.outputs else [None]) if _is_link(v) else [v]
            for name, v in node["inputs"].items()
        }
        if class_type == "RebatchImages":
            self.outputs[node_id] = [rebatch_images(**inputs)]
            self.runs[node_id] = 1
            return
        cls = None if class_type in MODEL_STAND_INS else self.node_classes.get(class_type)
        if cls is not None:
            obj = cls()
            func, input_is_list = getattr(obj, cls.FUNCTION), getattr(cls, "INPUT_IS_LIST", False)
            output_is_list = getattr(cls, "OUTPUT_IS_LIST", (False,) * len(cls.RETURN_TYPES))
        else:
            func, input_is_list = getattr(self.core, class_type), False
            output_is_list = None
        if input_is_list:
            results = [func(**inputs)]
        else:
            count = max((len(v) for v in inputs.values()), default=1)
            results = [func(**{k: v[min(i, len(v) - 1)] for k, v in inputs.items()}) for i in range(count)]
        output_is_list = output_is_list or (False,) * len(results[0])
        self.outputs[node_id] = [
            [x for r in results for x in r[j]] if is_list else [r[j] for r in results]
            for j, is_list in enumerate(output_is_list)
        ]
        self.runs[node_id] = len(results)


def load_api_workflow(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))
