"""Global accumulating pool (FINN's GlobalAccPool, from a global average pool).

Input: a frame of ``pixels`` × ``channels`` integers (NHWC, PE values per beat). Output: one
pixel of ``channels`` sums, out[c] = Σ_p x[p, c] — the average times ``pixels``; FINN leaves the
division (a Mul by 1/pixels) after this layer. The output type holds pixels·min .. pixels·max
of the input type: the smallest such type (FINN's GlobalAccPool.get_output_datatype gives the
same) or a wider one. BIPOLAR inputs are not summed (their bits are not their values); the
frontend re-types bipolar activations before a global pool as INT2 {−1, +1}.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from xnorflow.compile.frontend.finn_attrs import ir_dtype, node_attrs
from xnorflow.compile.hls import common as hls
from xnorflow.compile.ir.datatypes import DataType, smallest_type
from xnorflow.compile.layers.base import ChannelFolded, Layer, LayerError
from xnorflow.compile.rtl import common as rtl

BIPOLAR_SUM = ("sums bipolar values, whose stored bits are not their values; re-type the "
               "bipolar activation as INT2 {-1, +1} before the global pool (the frontend does so)")


def sum_type(in_dtype: DataType, pixels: int) -> DataType:
    """The smallest type holding the sum of `pixels` values of `in_dtype`."""
    return smallest_type(pixels * in_dtype.min(), pixels * in_dtype.max())


@dataclasses.dataclass(frozen=True, eq=False)
class GlobalAccPool(ChannelFolded, Layer):
    kind = "global_acc_pool"
    finn_ops = {"GlobalAccPool": "hls"}

    pixels: int = 1
    channels: int = 1
    pe: int = 1

    def __post_init__(self) -> None:
        if self.pixels < 1 or self.channels < 1:
            raise LayerError(f"layer {self.name!r}: pixels and channels must be >= 1")
        if self.in_dtype.bipolar:
            raise LayerError(f"layer {self.name!r}: {BIPOLAR_SUM}")
        lo, hi = self.pixels * self.in_dtype.min(), self.pixels * self.in_dtype.max()
        if self.out_dtype.bipolar or self.out_dtype.min() > lo or self.out_dtype.max() < hi:
            raise LayerError(
                f"layer {self.name!r}: output type {self.out_dtype} cannot hold the sums of "
                f"{self.pixels} {self.in_dtype} values ({lo} .. {hi}); use "
                f"{sum_type(self.in_dtype, self.pixels)} or wider")

    @property
    def in_shape(self) -> tuple[int, int]:
        return (self.pixels, self.channels)

    @property
    def out_shape(self) -> tuple[int, int]:
        return (1, self.channels)

    def exp_cycles(self) -> int:
        """One input beat per cycle; the sums leave with the last pixel's beats."""
        return self.pixels * self.channels // self.pe

    def lag_pixels(self) -> float:
        """The sums leave with the frame's last pixel."""
        return float(self.pixels + 4)

    def reference(self, x: np.ndarray) -> np.ndarray:
        return self.check_input(x).sum(axis=1, keepdims=True)

    # --- FINN ----------------------------------------------------------------------------
    @classmethod
    def read_finn(cls, reader, node, nxt):
        a = node_attrs(node)
        dt = ir_dtype(a["inputDataType"])
        before = reader.producer_layer(node.input[0])
        if before is not None and not dt.bipolar and not before.out_dtype.bipolar \
                and dt.min() <= before.out_dtype.min() and before.out_dtype.max() <= dt.max():
            # narrower, e.g. an MVAU without activation (an all-conv classifier): FINN left
            # its INT32 MatMul type here, the IR sized its accumulator
            dt = before.out_dtype
        if dt.bipolar:
            raise reader.fail(node, f"{BIPOLAR_SUM} (input {a['inputDataType']})")
        vecs = [int(v) for v in a.get("numInputVectors", [1])]
        if len(vecs) != 3 or vecs[0] != 1:
            raise reader.fail(node, f"has numInputVectors {vecs}; expected [1, H, W]")
        pixels = vecs[1] * vecs[2]
        out_dt = sum_type(dt, pixels)
        finn_dt = _tensor_dtype(reader, node.output[0])
        if (finn_dt is not None and not finn_dt.bipolar and finn_dt.bits > out_dt.bits
                and finn_dt.min() <= pixels * dt.min() and finn_dt.max() >= pixels * dt.max()):
            out_dt = finn_dt  # FINN's graph says wider: keep its stream type
        return cls(name=node.name, in_dtype=dt, out_dtype=out_dt, pixels=pixels,
                   channels=int(a["NumChannels"]), pe=1), [node]

    # --- RTL and HLS ---------------------------------------------------------------------
    def rtl_instance(self, ident, folder, options):
        params = {"PIXELS": self.pixels, "CHANNELS": self.channels, "PE": self.pe,
                  "IBITS": self.in_dtype.bits, "IN_SIGNED": int(self.in_dtype.signed),
                  "OBITS": self.out_dtype.bits}
        return rtl.Instance("global_acc_pool", ident, params, self.in_width, self.out_width)

    def hls_emit(self, name):
        cfg = f"""struct {name}_config : xnorflow::global_acc_pool_config {{
    static const unsigned pixels = {self.pixels};
    static const unsigned channels = {self.channels};
    static const unsigned pe = {self.pe};
    static const unsigned in_bits = {self.in_dtype.bits};
    static const unsigned out_bits = {self.out_dtype.bits};
    typedef {hls.c_type(self.in_dtype)} in_t;
    typedef {hls.c_type(self.out_dtype)} out_t;
}};
"""
        return cfg, f"xnorflow::global_acc_pool<{name}_config>({{i}}, {{o}});"


def _tensor_dtype(reader, tensor: str) -> DataType | None:
    """FINN's datatype annotation of `tensor`, if the reader's model has an integer one."""
    try:
        return ir_dtype(reader.model.get_tensor_datatype(tensor).name)
    except Exception:  # no model, no annotation, or a FLOAT32 tensor
        return None
