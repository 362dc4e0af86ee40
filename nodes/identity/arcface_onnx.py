"""ArcFace face embeddings with ONNX Runtime, preprocessing exactly as insightface's ArcFaceONNX.

insightface (model_zoo/arcface_onnx.py) aligns the face to the 112x112 template, then calls
cv2.dnn.blobFromImages(bgr_crop, 1/std, (112, 112), (mean,)*3, swapRB=True): the BGR crop is swapped
back to RGB, so the network sees RGB planes, NCHW, (pixel - mean) / std. mean = std = 127.5, except
for models converted from MXNet whose graph starts with its own subtract/multiply nodes (node names
'Sub...'/'_minus...' and 'Mul...'/'_mul...' among the first 8): those take raw 0..255 pixels.
Our images are RGB already, so no channel swap happens here.
"""

from __future__ import annotations

import logging
import mmap
from pathlib import Path

import numpy as np

from ..face import detection
from .alignment import align_face, five_points_from_mesh
from .model_loading import interface_of

log = logging.getLogger("FaceLab")


# --- minimal protobuf wire-format reading, to see the first graph node names without the `onnx` package
def _varint(buf, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(buf, start: int, end: int):
    """Yield (field number, wire type, value or (start, end) slice) of one protobuf message."""
    pos = start
    while pos < end:
        tag, pos = _varint(buf, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = None, pos + 8
        elif wire == 5:
            value, pos = None, pos + 4
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = (pos, pos + length), pos + length
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield field, wire, value


_MODEL_GRAPH, _GRAPH_NODE, _NODE_NAME = 7, 1, 3  # ModelProto.graph, GraphProto.node, NodeProto.name


def first_node_names(path: str | Path, count: int = 8) -> list[str]:
    """Names of the first `count` nodes of an ONNX model's graph (reads only the bytes it needs)."""
    names: list[str] = []
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        for field, wire, value in _fields(buf, 0, len(buf)):
            if field != _MODEL_GRAPH or wire != 2:
                continue
            for gfield, gwire, gvalue in _fields(buf, *value):
                if gfield != _GRAPH_NODE or gwire != 2:
                    continue
                name = ""
                for nfield, nwire, nvalue in _fields(buf, *gvalue):
                    if nfield == _NODE_NAME and nwire == 2:
                        name = bytes(buf[nvalue[0] : nvalue[1]]).decode("utf-8", "replace")
                names.append(name)
                if len(names) >= count:
                    return names
            return names
    return names


def input_normalisation(path: str | Path) -> tuple[float, float]:
    """(mean, std) the model expects, decided as insightface decides it (see the module docstring)."""
    try:
        names = first_node_names(path)
    except (ValueError, IndexError, OSError) as exc:  # unreadable header: the standard models use 127.5
        log.warning("FaceLab: could not read the graph of %s (%s); assuming input (x-127.5)/127.5", path, exc)
        return 127.5, 127.5
    has_sub = any(n.startswith(("Sub", "_minus")) for n in names)
    has_mul = any(n.startswith(("Mul", "_mul")) for n in names)
    return (0.0, 1.0) if has_sub and has_mul else (127.5, 127.5)


class ArcFaceEmbedder:
    """Embeds faces given by MediaPipe mesh landmarks with an insightface ArcFace ONNX model."""

    backend = "arcface"
    dim = 512

    def __init__(self, session, path: str | Path, name: str, providers: list[str]):
        self.session = session
        self.path = Path(path)
        self.name = name
        self.providers = list(providers)
        self.mean, self.std = input_normalisation(self.path)
        it = interface_of(session)
        self.fixed_batch = it.fixed_batch
        self.input_name = session.get_inputs()[0].name
        self.output_name = session.get_outputs()[0].name

    def describe(self) -> str:
        return f"ArcFace {self.name} ({', '.join(self.providers)})"

    def detect(self, rgb: np.ndarray, max_faces: int = 10) -> list[dict]:
        """Faces with MediaPipe mesh landmarks (needed for the 5-point alignment), left to right. Mode 'auto'
        retries with the small-face search when the standard pass finds nothing."""
        return detection.detect(rgb, max_faces=max_faces, mode="full_range", order="left_to_right")["frames"][0]

    def preprocess(self, rgb: np.ndarray, faces: list[dict]) -> np.ndarray:
        """NCHW float32 network input for the faces (each needs 'landmarks_xy')."""
        chips = []
        for i, face in enumerate(faces):
            if face.get("landmarks_xy") is None:
                raise ValueError(
                    f"FaceLab: face {i} has no landmarks; the ArcFace backend aligns faces by their MediaPipe landmarks "
                    "(connect FACE_LANDMARKS or let the node detect faces)"
                )
            chips.append(align_face(rgb, five_points_from_mesh(face["landmarks_xy"])))
        if not chips:
            return np.zeros((0, 3, 112, 112), dtype=np.float32)
        blob = (np.stack(chips) - np.float32(self.mean)) / np.float32(self.std)
        return np.ascontiguousarray(blob.transpose(0, 3, 1, 2), dtype=np.float32)

    def embed(self, rgb: np.ndarray, faces: list[dict]) -> np.ndarray:
        """Raw (unnormalised) [n, 512] embeddings of the faces of an RGB uint8 image."""
        blob = self.preprocess(rgb, faces)
        if len(blob) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        step = self.fixed_batch or len(blob)
        outs = [
            self.session.run([self.output_name], {self.input_name: blob[i : i + step]})[0]
            for i in range(0, len(blob), step)
        ]
        return np.concatenate(outs).astype(np.float32)
