"""The stream contract: how images become the accelerator's input beats and its output beats
become labels — one module for the compiler, the host runtime and the board's driver.

It depends on numpy only: `xnorflow compile` copies it into BUILD/driver/ as stream.py for a
board that has no xnorflow installed, so the board runs the very code the tests run.

Beats. A frame's values (row-major NHWC, see compile/layers/base.py) are cut into beats of
`per_beat` values; value i of a beat sits at bits [i*bits, (i+1)*bits) of tdata (element 0 in
the least significant bits), two's complement for signed types. A beat is padded with zero
bits to whole bytes and sent little-endian: byte 0 of a beat holds tdata[7:0]. The RTL top, the
HLS top, the simulator's testbench and the PYNQ DMA buffers all use this.

TLAST. The host marks the last beat of each packet of frames (a DMA transfer); the
accelerator raises m_axis_tlast on the last beat of the output frame of each input frame whose
last beat had s_axis_tlast.

The spec. `RuntimeSpec` (runtime.json) is the interface of one design: input shape and
layout, value widths and signedness, values per beat (folds) in and out, the output affine.
compile/interface.py derives it from the IR.

Input conversion (documented contract, also written into runtime.json):
- uint8 images pass straight through (they are the accelerator's UINT8 input).
- Other integer images are accepted if every value lies in the input type's range.
- Float images are the model's float input (training feeds uint8 · input_scale, 1/255 by
  default: PyTorch's ToTensor convention): value = clip(round_half_even(x · float_scale), 0,
  max) with float_scale = 1 / the IR's input_scale (`xnorflow compile` records it),
  255 when absent. A float image made as uint8 · input_scale maps back to the same uint8.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np


# --- beats ------------------------------------------------------------------------------------
def beat_bytes(bits: int, per_beat: int) -> int:
    return -(-bits * per_beat // 8)


def pack_beats(values: np.ndarray, bits: int, per_beat: int) -> np.ndarray:
    """(N, n_values) ints → (N, n_values // per_beat, beat_bytes) uint8."""
    values = np.asarray(values, dtype=np.int64)
    n, count = values.shape
    if count % per_beat:
        raise ValueError(f"{count} values per frame do not fill beats of {per_beat}")
    beats = count // per_beat
    if bits in (8, 16, 32, 64):
        # whole-byte values fill whole-byte beats: a beat is its values' little-endian bytes in
        # order (the general path below gives the same bytes, ~50x slower: the board's hot path)
        raw = values.astype(np.dtype(f"<u{bits // 8}"))  # two's complement wrap, as the mask
        return np.ascontiguousarray(raw).view(np.uint8).reshape(n, beats, per_beat * bits // 8)
    raw = (values & ((1 << bits) - 1)).astype(np.uint64)
    # bit matrix (N, beats, per_beat*bits), element-major, LSB first within each element
    shifts = np.arange(bits, dtype=np.uint64)
    bitmat = ((raw[..., None] >> shifts) & np.uint64(1)).astype(np.uint8)
    bitmat = bitmat.reshape(n, beats, per_beat * bits)
    nbytes = beat_bytes(bits, per_beat)
    padded = np.zeros((n, beats, nbytes * 8), dtype=np.uint8)
    padded[..., : per_beat * bits] = bitmat
    return np.packbits(padded, axis=-1, bitorder="little")


def unpack_beats(data: np.ndarray, bits: int, per_beat: int, signed: bool) -> np.ndarray:
    """(N, beats, beat_bytes) uint8 → (N, beats * per_beat) int64; the inverse of pack_beats."""
    data = np.asarray(data, dtype=np.uint8)
    n, beats, _ = data.shape
    bitmat = np.unpackbits(data, axis=-1, bitorder="little")[..., : per_beat * bits]
    bitmat = bitmat.reshape(n, beats * per_beat, bits).astype(np.int64)
    values = (bitmat << np.arange(bits, dtype=np.int64)).sum(axis=-1)
    if signed:
        values = np.where(values >= (1 << (bits - 1)), values - (1 << bits), values)
    return values


def beats_to_ints(data: np.ndarray) -> list[int]:
    """(beats, beat_bytes) uint8 → Python ints (tdata values), for testbenches."""
    return [int.from_bytes(bytes(b), "little") for b in np.asarray(data, dtype=np.uint8)]


def ints_to_beats(words: list[int], nbytes: int) -> np.ndarray:
    return np.array([list(w.to_bytes(nbytes, "little")) for w in words], dtype=np.uint8).reshape(
        len(words), nbytes
    )


# --- the interface of one design, images → beats → labels -------------------------------
RUNTIME_VERSION = 1


class HostInputError(ValueError):
    """The images given to the accelerator have the wrong shape, dtype or value range."""


class RuntimeSpecError(ValueError):
    """runtime.json is missing, malformed, or describes a different model."""


@dataclasses.dataclass(frozen=True)
class RuntimeSpec:
    """What the host must know about the accelerator's streams (runtime.json)."""

    model: str
    fingerprint: str  # hash of the IR: ties a bitstream / bundle to the model it was made from
    input_shape: tuple[int, ...]  # PyTorch order: (C, H, W) or (features,)
    input_layout: str  # "nhwc" or "flat"
    in_bits: int  # bits per input value
    in_signed: bool
    in_min: int
    in_max: int
    in_fold: int  # values per input beat
    out_bits: int
    out_signed: bool
    out_fold: int
    n_out: int  # integer values per output frame
    output_scale: tuple[float, ...]  # 1 or n_out values
    output_bias: tuple[float, ...]
    output_is_label: bool = False  # the last layer is a LabelSelect: the output is the label
    output_function: str = ""  # "softmax" / "log_softmax": the model's last op, on the host
    float_scale: float = 255.0
    dma_name: str = "axi_dma_0"  # the AXI DMA instance in the block design
    ip_name: str = ""  # the accelerator IP instance (only needed for ip_control)
    ip_control: str = "none"  # "none" (free-running stream IP) or "ap_ctrl_hs" (start it)
    clock_mhz: float = 100.0
    # bytes per beat in DMA memory: the DMA's stream width (BUILD/hls/bd.json), which may be
    # wider than the packed beat (AXI DMA streams are 8..1024 bits, powers of two); 0 = packed
    dma_in_beat_bytes: int = 0
    dma_out_beat_bytes: int = 0

    # --- derived sizes -----------------------------------------------------------------
    @property
    def frame_shape(self) -> tuple[int, int]:
        if self.input_layout == "flat":
            return (1, int(np.prod(self.input_shape)))
        c, h, w = self.input_shape
        return (h * w, c)

    @property
    def in_values(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def in_beats(self) -> int:
        return self.in_values // self.in_fold

    @property
    def in_beat_bytes(self) -> int:
        return beat_bytes(self.in_bits, self.in_fold)

    @property
    def in_frame_bytes(self) -> int:
        return self.in_beats * self.in_beat_bytes

    @property
    def out_beats(self) -> int:
        return self.n_out // self.out_fold

    @property
    def out_beat_bytes(self) -> int:
        return beat_bytes(self.out_bits, self.out_fold)

    @property
    def out_frame_bytes(self) -> int:
        return self.out_beats * self.out_beat_bytes

    @property
    def dma_in_frame_bytes(self) -> int:
        return self.in_beats * max(self.in_beat_bytes, self.dma_in_beat_bytes)

    @property
    def dma_out_frame_bytes(self) -> int:
        return self.out_beats * max(self.out_beat_bytes, self.dma_out_beat_bytes)

    # --- files -------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        doc = dataclasses.asdict(self)
        doc["input_shape"] = list(self.input_shape)
        doc["output_scale"] = list(self.output_scale)
        doc["output_bias"] = list(self.output_bias)
        doc["version"] = RUNTIME_VERSION
        doc["derived"] = {
            "in_beats": self.in_beats, "in_beat_bytes": self.in_beat_bytes,
            "in_frame_bytes": self.in_frame_bytes, "out_beats": self.out_beats,
            "out_beat_bytes": self.out_beat_bytes, "out_frame_bytes": self.out_frame_bytes,
            "dma_in_frame_bytes": self.dma_in_frame_bytes,
            "dma_out_frame_bytes": self.dma_out_frame_bytes,
        }
        doc["input_conversion"] = (
            "uint8 images pass straight; float images in [0, 1] become "
            f"clip(round_half_even(x * {self.float_scale}), {self.in_min}, {self.in_max})"
        )
        return doc

    @staticmethod
    def from_json(doc: dict[str, Any], where: str = "runtime.json") -> RuntimeSpec:
        if doc.get("version") != RUNTIME_VERSION:
            raise RuntimeSpecError(
                f"{where}: runtime version {doc.get('version')}, this driver reads "
                f"{RUNTIME_VERSION}; re-create the bundle with `xnorflow compile`"
            )
        names = {f.name for f in dataclasses.fields(RuntimeSpec)}
        try:
            kwargs = {k: v for k, v in doc.items() if k in names}
            kwargs["input_shape"] = tuple(int(v) for v in kwargs["input_shape"])
            kwargs["output_scale"] = tuple(float(v) for v in kwargs["output_scale"])
            kwargs["output_bias"] = tuple(float(v) for v in kwargs["output_bias"])
            return RuntimeSpec(**kwargs)
        except (KeyError, TypeError, ValueError) as err:
            raise RuntimeSpecError(f"{where}: malformed runtime description ({err})") from err

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1))

    @staticmethod
    def load(path: Path) -> RuntimeSpec:
        path = Path(path)
        if not path.is_file():
            raise RuntimeSpecError(f"{path} not found: is this a driver bundle made by xnorflow?")
        try:
            doc = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise RuntimeSpecError(f"{path}: not valid JSON ({err})") from err
        return RuntimeSpec.from_json(doc, str(path))


# --- images → input beats ---------------------------------------------------------------
def as_images(x: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """A batch of 1-D signals (N, C, L) for a model compiled from one (input_shape (C, 1, L):
    images of height 1) → (N, C, 1, L); anything else unchanged."""
    if len(input_shape) == 3 and input_shape[1] == 1 and x.ndim == 3 \
            and x.shape[1:] == (input_shape[0], input_shape[2]):
        return x.reshape(x.shape[0], *input_shape)
    return x


def quantize_images(spec: RuntimeSpec, images: Any) -> np.ndarray:
    """Check a batch of images and convert it to the accelerator's integer input values.

    (N, *input_shape) or one image (*input_shape) → (N, *input_shape) int64; a model compiled
    from 1-D signals also takes them as (N, C, L) or (C, L). Raises HostInputError naming the
    problem.
    """
    x = np.asarray(images)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.integer)
                                 or np.issubdtype(x.dtype, np.floating)
                                 or x.dtype == np.bool_):
        raise HostInputError(
            f"images of dtype {x.dtype} given; pass uint8 pixels or floats in [0, 1]"
        )
    if as_images(x[None], spec.input_shape).shape[1:] == spec.input_shape:
        x = x[None]  # one image (or one 1-D signal)
    x = as_images(x, spec.input_shape)
    if x.ndim != len(spec.input_shape) + 1 or x.shape[1:] != spec.input_shape:
        raise HostInputError(
            f"images of shape {tuple(x.shape)} given; model {spec.model!r} takes a batch "
            f"(N, {', '.join(map(str, spec.input_shape))}) or one image {spec.input_shape}"
        )
    if np.issubdtype(x.dtype, np.floating):
        if not np.all(np.isfinite(x)):
            raise HostInputError("images contain NaN or infinite values")
        q = np.rint(x.astype(np.float64) * spec.float_scale)
        return np.clip(q, spec.in_min, spec.in_max).astype(np.int64)
    q = x.astype(np.int64)
    if q.size and (q.min() < spec.in_min or q.max() > spec.in_max):
        raise HostInputError(
            f"integer images with values in [{q.min()}, {q.max()}] given; the accelerator's "
            f"input takes [{spec.in_min}, {spec.in_max}] (uint8 pixels)"
        )
    return q


def images_to_frames(spec: RuntimeSpec, values: np.ndarray) -> np.ndarray:
    """(N, *input_shape) → (N, pixels·channels) in stream order (NHWC or flat C, H, W)."""
    n = values.shape[0]
    if spec.input_layout == "flat":
        return values.reshape(n, spec.in_values)
    return values.transpose(0, 2, 3, 1).reshape(n, spec.in_values)


def pack_input(spec: RuntimeSpec, images: Any) -> np.ndarray:
    """Images → (N, in_beats, in_beat_bytes) uint8: exactly the accelerator's input stream."""
    frames = images_to_frames(spec, quantize_images(spec, images))
    return pack_beats(frames, spec.in_bits, spec.in_fold)


def check_input_beats(spec: RuntimeSpec, beats: np.ndarray) -> np.ndarray:
    beats = np.asarray(beats)
    want = (spec.in_beats, spec.in_beat_bytes)
    if beats.dtype != np.uint8 or beats.ndim != 3 or beats.shape[1:] != want:
        raise HostInputError(
            f"input beats of shape {beats.shape} {beats.dtype} given; expected (N, {want[0]}, "
            f"{want[1]}) uint8"
        )
    return beats


# --- output beats → scores → labels ------------------------------------------------------
def unpack_output(spec: RuntimeSpec, beats: np.ndarray) -> np.ndarray:
    """(N, out_beats, out_beat_bytes) uint8 → (N, n_out) int64 scores."""
    beats = np.asarray(beats, dtype=np.uint8)
    if beats.ndim == 2:  # a flat DMA buffer (N, out_frame_bytes)
        beats = beats.reshape(beats.shape[0], spec.out_beats, spec.out_beat_bytes)
    if beats.shape[1:] != (spec.out_beats, spec.out_beat_bytes):
        raise RuntimeSpecError(
            f"output of shape {beats.shape} received; the accelerator of {spec.model!r} sends "
            f"(N, {spec.out_beats}, {spec.out_beat_bytes})"
        )
    return unpack_beats(beats, spec.out_bits, spec.out_fold, spec.out_signed)


OUTPUT_FUNCTIONS = ("", "softmax", "log_softmax")  # a model's final (Log)Softmax, on the host


def output_function(name: str, logits: np.ndarray) -> np.ndarray:
    """The model's final Softmax or LogSoftmax over the classes (axis 1), applied on the host
    to the accelerator's logits: monotone, so the labels are the logits' argmax either way."""
    if not name:
        return logits
    if name not in OUTPUT_FUNCTIONS:
        raise RuntimeSpecError(f"unknown output function {name!r}; known: softmax, log_softmax")
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return shifted - log_sum if name == "log_softmax" else np.exp(shifted - log_sum)


def logits(spec: RuntimeSpec, scores: np.ndarray) -> np.ndarray:
    """The final scalar affine: scores · output_scale + output_bias (per class), then the
    model's final (Log)Softmax if it has one."""
    scale = np.asarray(spec.output_scale, dtype=np.float64)
    bias = np.asarray(spec.output_bias, dtype=np.float64)
    return output_function(spec.output_function, scores.astype(np.float64) * scale + bias)


def labels(spec: RuntimeSpec, scores: np.ndarray) -> np.ndarray:
    """Class labels: argmax of the logits (ties to the lowest index), or the label itself."""
    if spec.output_is_label:
        return scores[:, 0].astype(np.int64)
    return np.argmax(logits(spec, scores), axis=1).astype(np.int64)


# --- DMA memory layout: beats padded to the DMA's stream width -------------------------------
def beats_to_dma(spec: RuntimeSpec, beats: np.ndarray) -> np.ndarray:
    """(N, in_beats, in_beat_bytes) → (N, dma_in_frame_bytes): each beat zero-padded to the
    DMA's stream width (a no-op copy when the widths agree)."""
    n = beats.shape[0]
    width = max(spec.in_beat_bytes, spec.dma_in_beat_bytes)
    if width == spec.in_beat_bytes:
        return beats.reshape(n, spec.dma_in_frame_bytes)
    out = np.zeros((n, spec.in_beats, width), dtype=np.uint8)
    out[..., : spec.in_beat_bytes] = beats
    return out.reshape(n, spec.dma_in_frame_bytes)


def dma_to_beats(spec: RuntimeSpec, data: np.ndarray) -> np.ndarray:
    """(N, dma_out_frame_bytes) received bytes → (N, out_beats, out_beat_bytes)."""
    n = data.shape[0]
    width = max(spec.out_beat_bytes, spec.dma_out_beat_bytes)
    return data.reshape(n, spec.out_beats, width)[..., : spec.out_beat_bytes]
