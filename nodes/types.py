"""ComfyUI type names FaceLab uses (custom opaque types are prefixed FACELAB_ so they cannot be miswired)."""

import json

IMAGE = "IMAGE"
MASK = "MASK"
FACE_LANDMARKS = "FACE_LANDMARKS"  # core format, see face/face_landmarks.py
BOUNDING_BOX = "BOUNDING_BOX"  # core format: per image a list of {x, y, width, height, label, score}

STITCH = "FACELAB_STITCH"  # crop -> stitch plan
TILES = "FACELAB_TILES"  # tile split -> merge plan
ZONE_SCORES = "FACELAB_ZONE_SCORES"  # per-zone aging/wrinkle scores (JSON-serialisable dict)
IDENTITY_MODEL = "FACELAB_IDENTITY_MODEL"  # loaded identity embedder
IDENTITY = "FACELAB_IDENTITY"  # per-face normalised embeddings
MAKEUP = "FACELAB_MAKEUP"  # per-region makeup description (JSON-serialisable)
INVERSION = "FACELAB_INVERSION"  # DDPM inversion: start latent + per-step noise maps (sampling/ddpm_inversion.py)
ANONYMISE = "FACELAB_ANONYMISE"  # faces to anonymise + face-interior mask settings (anonymise/anonymise_plan.py)

CATEGORY = "FaceLab"


def category(sub: str) -> str:
    return f"{CATEGORY}/{sub}"


def report_json(obj) -> str:
    """A node's report output (STRING): indented JSON, numpy/torch scalars as floats, never NaN."""
    return json.dumps(obj, indent=1, allow_nan=False, default=float)
