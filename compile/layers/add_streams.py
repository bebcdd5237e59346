"""Stream join (FINN's ElementwiseAdd of two streams, its AddStreams): out = a + b, value by
value, as a residual block adds its branch to its shortcut.

Input 0 (`a`) and input 1 (`b`) have the same frame (pixels × channels) and may differ in
type; a BIPOLAR input's bit b is the value 2b − 1. The output type holds every sum: the
smallest one (a wider one when FINN's graph says so). One beat of each input per cycle.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from xnorflow.compile.frontend.finn_attrs import ir_dtype, node_attrs
from xnorflow.compile.hls import common as hls
from xnorflow.compile.ir.datatypes import DataType, smallest_type
from xnorflow.compile.layers.base import LayerError
from xnorflow.compile.layers.stream_fork_join import PixelStreamLayer, finn_frame
from xnorflow.compile.rtl import common as rtl


def value_range(dt: DataType) -> tuple[int, int]:
    """The values (not the stored bits) a type holds: BIPOLAR is −1 .. +1."""
    return int(dt.decode(dt.min())), int(dt.decode(dt.max()))


def sum_type(a: DataType, b: DataType) -> DataType:
    """The smallest type holding a + b for every value of a and b."""
    (alo, ahi), (blo, bhi) = value_range(a), value_range(b)
    return smallest_type(alo + blo, ahi + bhi)


@dataclasses.dataclass(frozen=True, eq=False)
class AddStreams(PixelStreamLayer):
    kind = "add_streams"
    finn_ops = {"ElementwiseAdd": "hls"}
    n_inputs = 2

    b_dtype: DataType = None  # input 1's type (input 0's is in_dtype)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.b_dtype is None:
            object.__setattr__(self, "b_dtype", self.in_dtype)
        need = sum_type(self.in_dtype, self.b_dtype)
        lo, hi = need.min(), need.max()
        if self.out_dtype.bipolar or self.out_dtype.min() > lo or self.out_dtype.max() < hi:
            raise LayerError(
                f"layer {self.name!r}: output type {self.out_dtype} cannot hold the sums of "
                f"{self.in_dtype} and {self.b_dtype} values; use {need} or wider")

    @property
    def input_dtypes(self) -> tuple[DataType, ...]:
        return (self.in_dtype, self.b_dtype)

    @property
    def input_widths(self) -> tuple[int, ...]:
        return tuple(self.pe * dt.bits for dt in self.input_dtypes)

    def reference(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = self.check_input(a), self.check_input(b)
        return self.in_dtype.decode(a) + self.b_dtype.decode(b)

    # --- FINN ----------------------------------------------------------------------------
    @classmethod
    def claims_finn(cls, node, nxt=None) -> bool:
        if node.op_type != "ElementwiseAdd":
            return False
        a = node_attrs(node)
        return a.get("lhs_style", "input") == "input" and a.get("rhs_style", "input") == "input"

    @classmethod
    def read_finn(cls, reader, node, nxt):
        a = node_attrs(node)
        if list(a["lhs_shape"]) != list(a["rhs_shape"]):
            raise reader.fail(node, f"adds tensors of shapes {list(a['lhs_shape'])} and "
                              f"{list(a['rhs_shape'])}; a residual join adds two tensors of "
                              "the same shape (no broadcasting)")
        da, db = ir_dtype(a["lhs_dtype"]), ir_dtype(a["rhs_dtype"])
        pixels, channels = finn_frame(reader, node, list(a["out_shape"]))
        out = sum_type(da, db)
        return cls(name=node.name, in_dtype=da, b_dtype=db, out_dtype=out, pixels=pixels,
                   channels=channels, pe=1), [node]

    # --- RTL and HLS ---------------------------------------------------------------------
    def rtl_instance(self, ident, folder, options):
        a, b = self.in_dtype, self.b_dtype
        params = {"PE": self.pe,
                  "ABITS": a.bits, "A_SIGNED": int(a.signed), "A_BIPOLAR": int(a.bipolar),
                  "BBITS": b.bits, "B_SIGNED": int(b.signed), "B_BIPOLAR": int(b.bipolar),
                  "OBITS": self.out_dtype.bits}
        return rtl.Instance("add_streams", ident, params, self.in_width, self.out_width)

    def hls_emit(self, name):
        a, b = self.in_dtype, self.b_dtype
        cfg = f"""struct {name}_config : xnorflow::add_streams_config {{
    static const unsigned pe = {self.pe};
    static const unsigned beats = {self.exp_cycles()};
    static const unsigned a_bits = {a.bits};
    static const unsigned b_bits = {b.bits};
    static const unsigned out_bits = {self.out_dtype.bits};
    static const bool a_bipolar = {str(a.bipolar).lower()};
    static const bool b_bipolar = {str(b.bipolar).lower()};
    typedef {hls.c_type(a)} a_t;
    typedef {hls.c_type(b)} b_t;
    typedef {hls.c_type(self.out_dtype)} out_t;
}};
"""
        return cfg, f"xnorflow::add_streams<{name}_config>({{i0}}, {{i1}}, {{o}});"
