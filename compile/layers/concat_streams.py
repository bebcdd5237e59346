"""Stream join by concatenation (FINN's StreamingConcat): out = [a, b] along the channels, as
a DenseNet block appends its new features to its input (`torch.cat([x, f(x)], dim=1)`).

Input 0 (`a`, `channels` per pixel) and input 1 (`b`, `b_channels`) have the same pixels and
may differ in type; the output type holds the values of both (FINN's choice: two BIPOLAR
inputs give INT2, so a bit b becomes the value 2b − 1 on the output). For each pixel the
layer passes input 0's channels, then input 1's, SIMD values a beat, one beat per cycle.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from xnorflow.compile.frontend.finn_attrs import ir_dtype, node_attrs
from xnorflow.compile.hls import common as hls
from xnorflow.compile.ir.datatypes import DataType
from xnorflow.compile.layers.add_streams import value_range
from xnorflow.compile.layers.base import Layer, LayerError, SimdFolded, divisors
from xnorflow.compile.layers.stream_fork_join import finn_frame
from xnorflow.compile.rtl import common as rtl


@dataclasses.dataclass(frozen=True, eq=False)
class ConcatStreams(SimdFolded, Layer):
    kind = "concat_streams"
    finn_ops = {"StreamingConcat": "hls"}
    n_inputs = 2

    pixels: int = 1
    channels: int = 1  # input 0's channels
    b_channels: int = 1  # input 1's channels
    b_dtype: DataType = None  # input 1's type (input 0's is in_dtype)
    simd: int = 1  # values per beat on every stream

    def __post_init__(self) -> None:
        if self.b_dtype is None:
            object.__setattr__(self, "b_dtype", self.in_dtype)
        if min(self.pixels, self.channels, self.b_channels) < 1:
            raise LayerError(f"layer {self.name!r} (concat_streams): pixels and channels must "
                             f"be >= 1, got {self.pixels}, {self.channels}, {self.b_channels}")
        out = self.out_dtype
        if out.bipolar and not (self.in_dtype.bipolar and self.b_dtype.bipolar):
            raise LayerError(f"layer {self.name!r}: a BIPOLAR output takes BIPOLAR inputs, got "
                             f"{self.in_dtype} and {self.b_dtype}")
        lo = min(value_range(self.in_dtype)[0], value_range(self.b_dtype)[0])
        hi = max(value_range(self.in_dtype)[1], value_range(self.b_dtype)[1])
        if not out.bipolar and (out.min() > lo or out.max() < hi):
            raise LayerError(f"layer {self.name!r}: output type {out} cannot hold the values "
                             f"of {self.in_dtype} and {self.b_dtype} ({lo} .. {hi})")

    # --- shape and stream interface ----------------------------------------------------
    @property
    def in_shape(self) -> tuple[int, int]:
        return (self.pixels, self.channels)

    @property
    def input_shapes(self) -> tuple[tuple[int, int], ...]:
        return ((self.pixels, self.channels), (self.pixels, self.b_channels))

    @property
    def out_shape(self) -> tuple[int, int]:
        return (self.pixels, self.channels + self.b_channels)

    @property
    def input_dtypes(self) -> tuple[DataType, ...]:
        return (self.in_dtype, self.b_dtype)

    @property
    def input_widths(self) -> tuple[int, ...]:
        return tuple(self.simd * dt.bits for dt in self.input_dtypes)

    def exp_cycles(self) -> int:
        return self.pixels * (self.channels + self.b_channels) // self.simd

    def allowed_folding(self) -> dict[str, list[int]]:
        return {"SIMD": divisors(math.gcd(self.channels, self.b_channels))}

    def lag_pixels(self) -> float:
        # a pixel of input 0 is taken while input 1's waits, plus the output FIFO's beats
        return 1.0 + 2 * self.simd / (self.channels + self.b_channels)

    def join_fifo_beats(self, port: int) -> int:
        return (self.b_channels if port == 0 else self.channels) // self.simd

    # --- reference -----------------------------------------------------------------------
    def reference(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        parts = []
        for x, shape, dt in zip((a, b), self.input_shapes, self.input_dtypes, strict=True):
            x = np.asarray(x)
            if x.ndim != 3 or tuple(x.shape[1:]) != shape:
                raise LayerError(f"layer {self.name!r}: input shape {x.shape[1:]} != "
                                 f"expected {shape}")
            x = x.astype(np.int64, copy=False)
            parts.append(x if self.out_dtype.bipolar else dt.decode(x).astype(np.int64))
        return np.concatenate(parts, axis=2)

    # --- FINN ----------------------------------------------------------------------------
    @classmethod
    def read_finn(cls, reader, node, nxt):
        a = node_attrs(node)
        chans = [int(c) for c in a["ChannelsPerStream"]]
        if len(chans) != cls.n_inputs:
            raise reader.fail(node, f"concatenates {len(chans)} tensors; the concat layer "
                              "joins two (torch.cat of more is read as a chain of two-way "
                              "concatenations)")
        da, db = (ir_dtype(t.decode() if isinstance(t, bytes) else t)
                  for t in a["inputDataTypes"])
        out = ir_dtype(reader.model.get_tensor_datatype(node.output[0]).name)
        pixels, _ = finn_frame(reader, node, list(reader.model.get_tensor_shape(node.output[0])))
        return cls(name=node.name, in_dtype=da, b_dtype=db, out_dtype=out, pixels=pixels,
                   channels=chans[0], b_channels=chans[1], simd=1), [node]

    # --- RTL and HLS ---------------------------------------------------------------------
    def _operand_params(self) -> dict[str, int]:
        a, b, o = self.in_dtype, self.b_dtype, self.out_dtype
        return {"SIMD": self.simd,
                "A_BEATS": self.channels // self.simd, "B_BEATS": self.b_channels // self.simd,
                "ABITS": a.bits, "A_SIGNED": int(a.signed), "A_BIPOLAR": int(a.bipolar),
                "BBITS": b.bits, "B_SIGNED": int(b.signed), "B_BIPOLAR": int(b.bipolar),
                "OBITS": o.bits, "O_BIPOLAR": int(o.bipolar)}

    def rtl_instance(self, ident, folder, options):
        return rtl.Instance("concat_streams", ident, self._operand_params(), self.in_width,
                            self.out_width)

    def hls_emit(self, name):
        a, b, o = self.in_dtype, self.b_dtype, self.out_dtype
        cfg = f"""struct {name}_config : xnorflow::concat_streams_config {{
    static const unsigned simd = {self.simd};
    static const unsigned pixels = {self.pixels};
    static const unsigned a_beats = {self.channels // self.simd};
    static const unsigned b_beats = {self.b_channels // self.simd};
    static const unsigned a_bits = {a.bits};
    static const unsigned b_bits = {b.bits};
    static const unsigned out_bits = {o.bits};
    static const bool a_bipolar = {str(a.bipolar).lower()};
    static const bool b_bipolar = {str(b.bipolar).lower()};
    static const bool out_bipolar = {str(o.bipolar).lower()};
    typedef {hls.c_type(a)} a_t;
    typedef {hls.c_type(b)} b_t;
    typedef {hls.c_type(o)} out_t;
}};
"""
        return cfg, f"xnorflow::concat_streams<{name}_config>({{i0}}, {{i1}}, {{o}});"
