"""Find an insightface ArcFace recognition model in the shared model folders and open it with ONNX Runtime.

Packs live where IPAdapter, InstantID, PuLID and ReActor put them: `models/insightface/models/<pack>/`
(antelopev2: glintr100.onnx for recognition; buffalo_l: w600k_r50.onnx). The recognition model is told
apart from the pack's detection/landmark/attribute models by its ONNX interface (input [N,3,112,112],
output [N,512]), so renamed files work too. The common broken installs (zip not extracted, nested
`antelopev2/antelopev2/`, folder left empty by a failed download, pack one level too high, missing or
corrupt recognition model) are diagnosed with a message saying what is wrong, where, and how to fix it.

Nothing is ever downloaded: ArcFace weights are licensed for non-commercial research only, so the user
places them. Sessions are created lazily and cached per (file, size, mtime, providers).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from .. import comfy_adapter
from ..model_files import ModelFileError

log = logging.getLogger("FaceLab")

RELEASE_URL = "https://github.com/deepinsight/insightface/releases/download/v0.7/{pack}.zip"
LICENCE_NOTE = (
    "The insightface model packs are licensed for non-commercial research use only; FaceLab never downloads "
    "them. For commercial work use the 'dlib' backend (CC0 weights)."
)
# Known recognition models of the packs the ComfyUI ecosystem uses; checked first, then any other .onnx.
KNOWN_RECOGNITION_FILES = {
    "antelopev2": "glintr100.onnx",
    "buffalo_l": "w600k_r50.onnx",
    "buffalo_m": "w600k_r50.onnx",
    "buffalo_s": "w600k_mbf.onnx",
    "buffalo_sc": "w600k_mbf.onnx",
}
KNOWN_PACKS = ("antelopev2", "buffalo_l")
ARCFACE_INPUT = (3, 112, 112)
ARCFACE_DIM = 512

# "auto" picks the first available of these; TensorRT (long engine builds) and Azure are only used when named.
AUTO_PROVIDER_ORDER = (
    "CUDAExecutionProvider",
    "ROCMExecutionProvider",
    "DmlExecutionProvider",
    "CoreMLExecutionProvider",
    "CPUExecutionProvider",
)


class IdentityModelError(ModelFileError):
    """An identity model is missing, misplaced, corrupt or of the wrong kind; the message says how to fix it."""


# Every ONNX Runtime build installs the same `onnxruntime` module; the pack never requires one of them, because
# pip would then replace a user's onnxruntime-gpu (CUDA for every pack) with the CPU build.
ONNXRUNTIME_DISTRIBUTIONS = (
    "onnxruntime-gpu",
    "onnxruntime",
    "onnxruntime-directml",
    "onnxruntime-openvino",
    "onnxruntime-silicon",
    "onnxruntime-qnn",
)


def onnxruntime_distribution() -> str | None:
    """The installed ONNX Runtime distribution's name and version (e.g. 'onnxruntime-gpu 1.20.1'), or None."""
    from importlib import metadata

    for name in ONNXRUNTIME_DISTRIBUTIONS:
        try:
            return f"{name} {metadata.version(name)}"
        except metadata.PackageNotFoundError:
            continue
    return None


def _onnxruntime():
    try:
        import onnxruntime  # type: ignore[import-not-found]
    except ImportError as exc:
        raise IdentityModelError(
            "FaceLab: no ONNX Runtime is installed in ComfyUI's Python (ArcFace needs one; the dlib backend does "
            "not). Install the one that fits your machine, only one of them: `<ComfyUI python> -m pip install "
            "onnxruntime-gpu` for an NVIDIA GPU, `onnxruntime` for CPU only (or `onnxruntime-directml` on Windows "
            "with another GPU)."
        ) from exc
    return onnxruntime


def available_providers() -> list[str]:
    """ONNX Runtime execution providers usable in this Python (CPU at least)."""
    try:
        return list(_onnxruntime().get_available_providers())
    except IdentityModelError:
        return ["CPUExecutionProvider"]


def resolve_providers(provider: str) -> list[str]:
    """The provider list for a session: 'auto' or one available provider, always with CPU as fallback."""
    available = available_providers()
    if provider in ("", "auto"):
        chosen = next(p for p in AUTO_PROVIDER_ORDER if p in available or p == "CPUExecutionProvider")
    elif provider in available:
        chosen = provider
    else:
        raise ValueError(
            f"FaceLab: ONNX Runtime provider {provider!r} is not available in this Python. Available: "
            f"{', '.join(available)} (or 'auto'). For CUDA install onnxruntime-gpu matching your CUDA version."
        )
    return [chosen] if chosen == "CPUExecutionProvider" else [chosen, "CPUExecutionProvider"]


# ---------------------------------------------------------------------------------------------- finding packs
def pack_roots() -> list[Path]:
    """Every `models/insightface/models` folder, in lookup order."""
    return [d / "models" for d in comfy_adapter.model_dirs("insightface")]


def list_packs() -> list[str]:
    """Pack names for the loader's menu: the well-known ones first, then every folder found."""
    found: list[str] = []
    for root in pack_roots():
        if root.is_dir():
            found += sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    return list(dict.fromkeys([*KNOWN_PACKS, *found]))


def _how_to_install(pack: str, root: Path) -> str:
    return (
        f"Download {RELEASE_URL.format(pack=pack)} and extract it so that {root / pack}/ holds the .onnx files "
        f"(e.g. {root / pack / KNOWN_RECOGNITION_FILES.get(pack, 'glintr100.onnx')}). {LICENCE_NOTE}"
    )


def _onnx_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.onnx") if p.is_file())


def diagnose_pack(pack: str) -> Path:
    """The pack folder that holds .onnx files, or IdentityModelError describing exactly what is wrong."""
    roots = pack_roots()
    problems: list[str] = []
    for root in roots:
        folder = root / pack
        if folder.is_dir():
            if _onnx_files(folder):
                return folder
            nested = folder / pack
            if nested.is_dir() and _onnx_files(nested):
                problems.append(
                    f"the pack is nested one folder too deep: the .onnx files are in {nested}/ but must be directly in "
                    f"{folder}/. Move them up one level (a common result of extracting {pack}.zip into a folder "
                    f"already named {pack})."
                )
            elif not any(folder.iterdir()):
                problems.append(
                    f"{folder}/ is empty (typically left by a failed or offline automatic insightface download). "
                    + _how_to_install(pack, root)
                )
            else:
                names = ", ".join(sorted(p.name for p in folder.iterdir())[:8])
                problems.append(f"{folder}/ holds no .onnx model (found: {names}). " + _how_to_install(pack, root))
        for zip_path in (root / f"{pack}.zip", root.parent / f"{pack}.zip"):
            if zip_path.is_file():
                problems.append(
                    f"{zip_path} was downloaded but not extracted. Extract it so that {folder}/ holds the .onnx files "
                    "(if extraction fails the download is incomplete: download it again)."
                )
        too_high = root.parent / pack
        if too_high.is_dir() and (_onnx_files(too_high) or _onnx_files(too_high / pack)):
            problems.append(
                f"the pack is in {too_high}/ but must be in {folder}/ (inside the 'models' subfolder). Move it there."
            )
    if problems:
        raise IdentityModelError(f"FaceLab: insightface model pack {pack!r} is not usable: " + " Also: ".join(problems))
    empty_roots = [r for r in roots if r.is_dir() and not any(r.iterdir())]
    hint = f" {empty_roots[0]}/ exists but is empty (left by a failed automatic download)." if empty_roots else ""
    raise IdentityModelError(
        f"FaceLab: insightface model pack {pack!r} not found. Looked in: {', '.join(str(r / pack) for r in roots)}.{hint} "
        + _how_to_install(pack, roots[0])
    )


# -------------------------------------------------------------------------------------------- ONNX sessions
_lock = threading.Lock()
_sessions: dict[tuple, object] = {}


def open_session(path: Path, providers: list[str]):
    """A cached onnxruntime.InferenceSession; a corrupt or unreadable file raises IdentityModelError."""
    path = Path(path).resolve()
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns, tuple(providers))
    with _lock:
        if key not in _sessions:
            ort = _onnxruntime()
            log.info("FaceLab: ArcFace runs on %s (%s)", onnxruntime_distribution() or "onnxruntime", providers[0])
            try:
                _sessions[key] = ort.InferenceSession(str(path), providers=list(providers))
            except Exception as exc:
                raise IdentityModelError(
                    f"FaceLab: ONNX Runtime could not load {path} ({type(exc).__name__}: {str(exc)[:300]}). The file is "
                    "corrupt, incomplete or not an ONNX model: delete it and extract the model pack again."
                ) from exc
            log.info("FaceLab: loaded %s with %s", path, providers)
        return _sessions[key]


@dataclass(frozen=True)
class Interface:
    input_shape: tuple
    output_shape: tuple

    @property
    def is_arcface(self) -> bool:
        ins, outs = self.input_shape, self.output_shape
        return len(ins) == 4 and tuple(ins[1:]) == ARCFACE_INPUT and len(outs) == 2 and outs[1] == ARCFACE_DIM

    @property
    def fixed_batch(self) -> int | None:
        """The batch size the model insists on, or None when it takes any batch."""
        return self.input_shape[0] if isinstance(self.input_shape[0], int) else None


def interface_of(session) -> Interface:
    inputs, outputs = session.get_inputs(), session.get_outputs()
    return Interface(tuple(inputs[0].shape) if inputs else (), tuple(outputs[0].shape) if len(outputs) == 1 else ())


def _interface_text(it: Interface) -> str:
    return f"input {list(it.input_shape)} -> output {list(it.output_shape)}"


def find_recognition_model(pack: str, providers: list[str]) -> tuple[Path, object]:
    """(path, session) of the pack's ArcFace recognition model, identified by its interface."""
    folder = diagnose_pack(pack)
    files = _onnx_files(folder)
    known = KNOWN_RECOGNITION_FILES.get(pack)
    files.sort(key=lambda p: p.name != known)  # the usual file first: usually no other model needs opening
    seen = []
    for path in files:
        session = open_session(path, providers)  # corrupt files raise here, naming the file
        it = interface_of(session)
        if it.is_arcface:
            return path, session
        seen.append(f"{path.name}: {_interface_text(it)}")
    raise IdentityModelError(
        f"FaceLab: no face recognition model in {folder}/. An ArcFace recognition model takes [N,3,112,112] and "
        f"outputs [N,512] (antelopev2: glintr100.onnx, buffalo_l: w600k_r50.onnx); found only: {'; '.join(seen)}. "
        f"The pack is incomplete: extract {RELEASE_URL.format(pack=pack)} again. {LICENCE_NOTE}"
    )


def open_recognition_file(path: str | Path, providers: list[str]) -> object:
    """Session of a recognition model given by path (the loader's typed override); checks its interface."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise IdentityModelError(
            f"FaceLab: recognition model file {path} does not exist. Give the full path of an ArcFace .onnx file."
        )
    session = open_session(path, providers)
    it = interface_of(session)
    if not it.is_arcface:
        raise IdentityModelError(
            f"FaceLab: {path} is not an ArcFace recognition model ({_interface_text(it)}); expected input "
            "[N,3,112,112] and output [N,512] (e.g. glintr100.onnx or w600k_r50.onnx)."
        )
    return session
