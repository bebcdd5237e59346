"""Padding of an image on a stream: FINN's FMPadding (zeros, before a convolution), or an
ONNX Pad with the type's minimum (before a padded max-pool, compile/frontend/padding_passes.py
`PadPoolWithMinimum`).

Input: an H × W image of C channels (NHWC, SIMD values per beat). Output: the
(top + H + bottom) × (left + W + right) image, NHWC, SIMD values per beat, the padded pixels
holding ``value`` (a represented value: −1 or +1 for BIPOLAR) in every channel. ``padding`` is
(top, left, bottom, right) — the order of FINN's ``Padding`` attribute, [H_begin, W_begin,
H_end, W_end].

The datatype does not change and must hold the value: BIPOLAR values cannot hold 0 (bit 0
means −1, so FINN's zero bits would pad with −1 where PyTorch pads with 0). The frontend
re-types bipolar activations before a zero padding as INT2 {−1, +1}, whose zero is exact; a
max-pool pads bipolar values with −1, the bit 0.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from xnorflow.compile.frontend.finn_attrs import (
    ir_dtype,
    is_depthwise_window,
    node_attrs,
    pad_spec,
)
from xnorflow.compile.hls import common as hls
from xnorflow.compile.layers.base import Layer, LayerError, SimdFolded, divisors
from xnorflow.compile.rtl import common as rtl

BIPOLAR_PAD = ("bipolar values cannot hold a zero pad (bit 0 means -1); re-type the bipolar "
               "activation as INT2 {-1, +1} before padding (the frontend does so)")


def _ints(value, n: int, what: str, name: str, least: int) -> tuple[int, ...]:
    """A list/tuple of n ints >= least, else a LayerError naming the layer."""
    try:
        out = tuple(int(v) for v in value)
        ok = len(out) == n and all(o == v for o, v in zip(out, value, strict=True))
    except (TypeError, ValueError):
        out, ok = (), False
    if not ok or min(out) < least:
        raise LayerError(f"layer {name!r}: {what} {value!r} is not {n} ints >= {least}")
    return out


MAX_INPUT_FIFO = 4096  # beats; a deeper border run (large images) stalls the producer


@dataclasses.dataclass(frozen=True, eq=False)
class Padding(SimdFolded, Layer):
    kind = "padding"
    finn_ops = {"FMPadding": "rtl"}  # FINN has no FMPadding_hls (FMPadding_Pixel is another op)

    ifm_dim: tuple[int, int] = (1, 1)  # (H, W)
    channels: int = 1
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)  # (top, left, bottom, right)
    simd: int = 1
    value: int = dataclasses.field(default=0, metadata={"omit_default": True})  # represented

    def __post_init__(self) -> None:
        object.__setattr__(self, "ifm_dim", _ints(self.ifm_dim, 2, "ifm_dim", self.name, 1))
        object.__setattr__(self, "padding", _ints(self.padding, 4, "padding (top, left, "
                                                  "bottom, right)", self.name, 0))
        if self.channels < 1:
            raise LayerError(f"layer {self.name!r}: channels must be >= 1")
        if self.in_dtype != self.out_dtype:
            raise LayerError(f"layer {self.name!r}: padding keeps the datatype "
                             f"({self.in_dtype} in, {self.out_dtype} out)")
        dt = self.in_dtype
        if dt.bipolar and self.value == 0:
            raise LayerError(f"layer {self.name!r}: {BIPOLAR_PAD}")
        if not (self.value in (-1, 1) if dt.bipolar else dt.min() <= self.value <= dt.max()):
            raise LayerError(f"layer {self.name!r}: pad value {self.value} is not a value of "
                             f"{dt}")

    @property
    def stored_value(self) -> int:
        """The pad value as the stream stores it (bipolar −1 → 0, +1 → 1)."""
        return (self.value + 1) // 2 if self.in_dtype.bipolar else self.value

    @property
    def pad_word(self) -> int:
        """The stored pad value's bits (a negative value in two's complement)."""
        return self.stored_value & ((1 << self.in_dtype.bits) - 1)

    @property
    def ofm_dim(self) -> tuple[int, int]:
        """(top + H + bottom, left + W + right)."""
        (h, w), (top, left, bottom, right) = self.ifm_dim, self.padding
        return (top + h + bottom, left + w + right)

    @property
    def in_shape(self) -> tuple[int, int]:
        return (self.ifm_dim[0] * self.ifm_dim[1], self.channels)

    @property
    def out_shape(self) -> tuple[int, int]:
        return (self.ofm_dim[0] * self.ofm_dim[1], self.channels)

    def allowed_folding(self) -> dict[str, list[int]]:
        return {"SIMD": divisors(self.channels)}

    def exp_cycles(self) -> int:
        """One output beat per cycle: the padded frame's beats."""
        return self.out_shape[0] * self.channels // self.simd

    def input_fifo_depth(self) -> int:
        """The longest run of border beats (the bottom rows of one frame, the top rows of the
        next and the side pads between) takes no input: a FIFO of that many input beats (at
        most MAX_INPUT_FIFO) keeps the producer running through it."""
        (_, w_out), (top, left, bottom, right) = self.ofm_dim, self.padding
        run = ((top + bottom) * w_out + left + right) * (self.channels // self.simd)
        return min(MAX_INPUT_FIFO, run) if run > 0 else 0

    def reference(self, x: np.ndarray) -> np.ndarray:
        x = self.check_input(x)
        (h, w), (top, left, bottom, right) = self.ifm_dim, self.padding
        img = x.reshape(x.shape[0], h, w, self.channels)
        out = np.pad(img, ((0, 0), (top, bottom), (left, right), (0, 0)),
                     constant_values=self.stored_value)
        return out.reshape(x.shape[0], *self.out_shape)

    # --- FINN ----------------------------------------------------------------------------
    @classmethod
    def claims_finn(cls, node, nxt=None) -> bool:
        return node.op_type in cls.finn_ops or node.op_type == "Pad"

    @classmethod
    def read_finn(cls, reader, node, nxt):
        if node.op_type == "Pad":
            return cls._read_pad(reader, node), [node]
        a = node_attrs(node)
        dt = ir_dtype(a["inputDataType"])
        value = 0
        if dt.bipolar and nxt is not None and is_depthwise_window(nxt):
            value = -1  # a max-pool's pad: the bit 0, −1, is the minimum it needs
        elif dt.bipolar:
            raise reader.fail(node, f"pads {a['inputDataType']} (bipolar) values: {BIPOLAR_PAD}")
        ifm, pad = list(a["ImgDim"]), list(a.get("Padding", [1, 1, 1, 1]))
        if len(ifm) != 2 or len(pad) != 4:
            raise reader.fail(node, f"has ImgDim {ifm} and Padding {pad}; expected [H, W] and "
                              "[top, left, bottom, right]")
        # FINN's Padding is [H_begin, W_begin, H_end, W_end]: our (top, left, bottom, right)
        return cls(name=node.name, in_dtype=dt, out_dtype=dt, ifm_dim=tuple(ifm),
                   channels=int(a["NumChannels"]), padding=tuple(pad), simd=1,
                   value=value), [node]

    @classmethod
    def _read_pad(cls, reader, node) -> Padding:
        """An ONNX Pad of an NHWC image by a constant (PadPoolWithMinimum's)."""
        shape = reader.model.get_tensor_shape(node.input[0])
        pads, value, mode = pad_spec(reader.model, node)
        if (mode != "constant" or value is None or shape is None or len(shape) != 4
                or pads is None or len(pads) != 8 or any(pads[i] for i in (0, 3, 4, 7))
                or min(pads) < 0):
            raise reader.fail(node, f"pads {pads} ({mode}, value {value}) an input of shape "
                              f"{shape}; only a constant padding of the height and width of an "
                              "NHWC image is built")
        dt = ir_dtype(reader.model.get_tensor_datatype(node.input[0]).name)
        if value != round(value):
            raise reader.fail(node, f"pads with {value}, not an integer of {dt}")
        try:
            return cls(name=node.name, in_dtype=dt, out_dtype=dt, ifm_dim=tuple(shape[1:3]),
                       channels=int(shape[3]), padding=(pads[1], pads[2], pads[5], pads[6]),
                       simd=1, value=int(value))
        except LayerError as err:
            raise reader.fail(node, str(err)) from err

    # --- RTL and HLS ---------------------------------------------------------------------
    def rtl_instance(self, ident, folder, options):
        (h, w), (top, left, bottom, right) = self.ifm_dim, self.padding
        params = {"IFM_H": h, "IFM_W": w, "CHANNELS": self.channels, "SIMD": self.simd,
                  "BITS": self.in_dtype.bits, "PAD_TOP": top, "PAD_LEFT": left,
                  "PAD_BOTTOM": bottom, "PAD_RIGHT": right}
        if self.value:
            params["PAD_VALUE"] = self.pad_word
        return rtl.Instance("padding", ident, params, self.in_width, self.out_width)

    def hls_emit(self, name):
        (h, w), (top, left, bottom, right) = self.ifm_dim, self.padding
        cfg = f"""struct {name}_config : xnorflow::padding_config {{
    static const unsigned ifm_h = {h};
    static const unsigned ifm_w = {w};
    static const unsigned channels = {self.channels};
    static const unsigned pad_top = {top};
    static const unsigned pad_left = {left};
    static const unsigned pad_bottom = {bottom};
    static const unsigned pad_right = {right};
    static const unsigned simd = {self.simd};
    static const unsigned bits = {self.in_dtype.bits};
    static const unsigned pad_word = {self.pad_word};
    typedef {hls.c_type(self.in_dtype)} in_t;
}};
"""
        return cfg, f"xnorflow::padding<{name}_config>({{i}}, {{o}});"
