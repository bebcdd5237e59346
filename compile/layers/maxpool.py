"""Max-pool on a stream (FINN's Pool with max, fed by its depthwise sliding window).

Max over each kh × kw window with strides (sh, sw) — overlapping (kernel > stride), tiling
or with gaps (kernel < stride) — of any integer type; for bipolar bits max is OR (+1 wins).
The compiler folds FINN's depthwise ConvolutionInputGenerator + Pool pair into this one layer
(e.g. nn.MaxPool2d(3, 2)). A padded pool is a Padding layer (with the type's minimum) before
it. The RTL and HLS templates (pool.sv, pool.hpp) also sum (compile/layers/sum_pool.py).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from xnorflow.compile.frontend.finn_attrs import (
    finn_window,
    ir_dtype,
    is_depthwise_window,
    node_attrs,
)
from xnorflow.compile.hls import common as hls
from xnorflow.compile.layers.base import ChannelFolded, LayerError
from xnorflow.compile.layers.window import WindowLayer
from xnorflow.compile.rtl import common as rtl


@dataclasses.dataclass(frozen=True, eq=False)
class MaxPool(ChannelFolded, WindowLayer):
    kind = "maxpool"
    finn_ops = {"ConvolutionInputGenerator": "rtl", "Pool": "hls"}
    finn_name = "Pool"
    rtl_template = "pool.sv"
    hls_template = "pool.hpp"
    finn_function = "MaxPool"  # FINN's Pool Function this kind reads

    kernel: int | tuple[int, int] = 2
    stride: int | tuple[int, int] = 2
    pe: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_types()

    def check_types(self) -> None:
        if self.in_dtype != self.out_dtype:
            raise LayerError(f"layer {self.name!r}: max-pool keeps the datatype")

    @property
    def out_shape(self) -> tuple[int, int]:
        return (self.ofm_dim[0] * self.ofm_dim[1], self.channels)

    def exp_cycles(self) -> int:
        return self.in_shape[0] * self.channels // self.pe

    def lag_pixels(self) -> float:
        """A window leaves on its last row: the rows of one window and a stride."""
        (kh, _), (sh, _) = self.kernel_hw, self.stride_hw
        return float((kh + sh) * self.ifm_dim[1] + 4)

    def reference(self, x: np.ndarray) -> np.ndarray:
        x = self.check_input(x)
        (oh, ow) = self.ofm_dim
        return np.maximum.reduce(self.window_taps(x)).reshape(x.shape[0], oh * ow, self.channels)

    # --- FINN: the depthwise window generator and the Pool after it ------------------------
    @classmethod
    def claims_finn(cls, node, nxt=None) -> bool:
        """A depthwise window and the Pool after it, by the Pool's Function (max-pool also
        claims a window without a Pool, to name it)."""
        function = node_attrs(nxt).get("Function") if nxt is not None else None
        others = {k.finn_function for k in cls.registry.values()
                  if issubclass(k, MaxPool) and k is not cls}
        return is_depthwise_window(node) and (function == cls.finn_function or (
            cls is MaxPool and function not in others))

    @classmethod
    def read_finn(cls, reader, node, nxt):
        if nxt is None or nxt.op_type != "Pool":
            raise reader.fail(node, "is a depthwise window not followed by a Pool")
        a = node_attrs(nxt)
        if a.get("Function") != cls.finn_function:
            raise reader.fail(nxt, f"is a {a.get('Function')} pool; only max-pool and average "
                              "pools (sums) are supported")
        ifm, ch, k, s = finn_window(node, reader.fail)
        return cls(name=nxt.name, in_dtype=ir_dtype(a["InputDataType"]),
                   out_dtype=ir_dtype(a["OutputDataType"]), ifm_dim=ifm, channels=ch,
                   kernel=k, stride=s, pe=1), [node, nxt]

    def finn_folding(self, node) -> dict[str, int]:
        if node.op_type == "ConvolutionInputGenerator":
            return {"SIMD": self.pe}  # the pool's window moves PE channels
        return dict(self.folding())

    # --- RTL and HLS ---------------------------------------------------------------------
    def rtl_instance(self, ident, folder, options):
        params = {**self.window_params(), "PE": self.pe, "BITS": self.in_dtype.bits,
                  "SIGNED": int(self.in_dtype.signed)}
        if self.finn_function != "MaxPool":
            params |= {"SUM": 1, "OUT_BITS": self.out_dtype.bits}
        return rtl.Instance("pool", ident, params, self.in_width, self.out_width)

    def hls_emit(self, name):
        total = "true" if self.finn_function != "MaxPool" else "false"
        cfg = f"""struct {name}_config : xnorflow::pool_config {{
{self.window_config()}    static const unsigned pe = {self.pe};
    static const unsigned bits = {self.in_dtype.bits};
    static const bool sum = {total};
    static const unsigned out_bits = {self.out_dtype.bits};
    typedef {hls.c_type(self.in_dtype)} in_t;
    typedef {hls.c_type(self.out_dtype)} out_t;
}};
"""
        return cfg, f"xnorflow::pool<{name}_config>({{i}}, {{o}});"
