"""Input declarations shared by the node classes: one declaration (type, default, range, tooltip) per recurring input.

Each function returns a fresh V1 `(type, options)` tuple. The face order rule lives in the tooltips: faces are taken
in the order the FACE_LANDMARKS value carries (Face Landmarks' face_order, or Select Faces), and face_index counts
in that order in every node (face_landmarks.chosen_faces).
"""

from __future__ import annotations

from . import types

MAX_FACE_INDEX = 63

FACE_LANDMARKS_TIP = (
    "Face landmarks of {of}, from Face Landmarks or Select Faces (FaceLab) or ComfyUI's MediaPipe Face "
    "Landmarker. Landmarks found on a resized copy of the image are rescaled; a crop needs its own landmarks. "
    "Faces are used in the order the landmarks carry.{missing}"
)
FACE_INDEX_TIP = (
    "Which face, in the order the face landmarks carry (set by Face Landmarks' face_order or by Select Faces): "
    "0 = the first, 1 = the second, ...; -1 = every face."
)
ONE_FACE_INDEX_TIP = (
    "Which face, in the order the face landmarks carry (set by Face Landmarks' face_order or by Select Faces): "
    "0 = the first, 1 = the second, ..."
)
IMAGE_TIP = "The photo(s) to work on: one image or a batch. Grayscale and RGBA images work too."
FEATHER_TIP = (
    "Width of the soft edge, in % of the distance between the eyes (about 6 cm on an adult), so one value suits "
    "small and large faces alike. 0 = a crisp edge."
)
GROW_TIP = (
    "Enlarge (positive) or shrink (negative) the region, in % of the distance between the eyes (about 6 cm on an "
    "adult): 10 grows every edge by about 6 mm."
)
IDENTITY_MODEL_TIP = "The identity backend from the Identity Model Loader (arcface or dlib)."
THRESHOLD_TIP = (
    "Same-person threshold in the backend's own terms; -1 uses its documented default. ArcFace: minimum cosine "
    "similarity for the same person (default 0.32). dlib: maximum euclidean distance for the same person (0.6)."
)


def image(tip: str = IMAGE_TIP) -> tuple:
    return (types.IMAGE, {"tooltip": tip})


def face_landmarks(of: str = "this image", optional: bool = False) -> tuple:
    """of: which image they belong to; optional: the node detects the faces itself when they are not connected."""
    missing = " When not connected, the faces are found here, left to right." if optional else ""
    return (types.FACE_LANDMARKS, {"tooltip": FACE_LANDMARKS_TIP.format(of=of, missing=missing)})


def face_index(tip: str = FACE_INDEX_TIP) -> tuple:
    """-1 = every face (the default), else one face in the landmarks' order (a node without a landmarks input
    says in `tip` how it orders the faces it detects)."""
    return ("INT", {"default": -1, "min": -1, "max": MAX_FACE_INDEX, "step": 1, "tooltip": tip})


def one_face_index() -> tuple:
    """Exactly one face, in the landmarks' order (nodes whose outputs describe a single face)."""
    return ("INT", {"default": 0, "min": 0, "max": MAX_FACE_INDEX, "step": 1, "tooltip": ONE_FACE_INDEX_TIP})


def feather(default: float = 10.0, maximum: float = 100.0) -> tuple:
    """A soft edge in % of the inter-ocular distance (zone-style masks)."""
    return ("FLOAT", {"default": default, "min": 0.0, "max": maximum, "step": 0.5, "tooltip": FEATHER_TIP})


def grow(default: float = 0.0, minimum: float = -50.0, tip: str = GROW_TIP) -> tuple:
    return ("FLOAT", {"default": default, "min": minimum, "max": 100.0, "step": 0.5, "tooltip": tip})


def identity_model() -> tuple:
    return (types.IDENTITY_MODEL, {"tooltip": IDENTITY_MODEL_TIP})


def identity_threshold() -> tuple:
    return ("FLOAT", {"default": -1.0, "min": -1.0, "max": 2.0, "step": 0.01, "tooltip": THRESHOLD_TIP})


def first_error(*checks) -> bool | str:
    """VALIDATE_INPUTS result: True, or "<input>: <message>" of the first failing check.

    Each check is (input name, parse function, value); the function raises ValueError on bad text. A value of None
    is an input that is linked rather than typed (ComfyUI passes only widget values before the run): it is checked
    at run time. ComfyUI shows the message under every input VALIDATE_INPUTS names, hence the input name in front.
    Name only free-text inputs in VALIDATE_INPUTS: ComfyUI skips its own min/max/list checks for the inputs named.
    """
    for name, parse, value in checks:
        if value is None:
            continue
        try:
            parse(value)
        except ValueError as exc:
            return f"{name}: {exc}"
    return True


def choice(options, value, name: str):
    """A combo value looked up in its options (a dict maps it to what the logic takes); an out-of-list value, which
    ComfyUI's own check stops in the UI but a hand-written API prompt can carry, is a clear error."""
    if value not in options:
        raise ValueError(f"FaceLab: {name} {value!r} is not one of: {', '.join(map(str, options))}")
    return options[value] if isinstance(options, dict) else value
