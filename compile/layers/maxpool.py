"""Max-pool on a stream (FINN's Pool with max, fed by its depthwise sliding window).

Max over each kh × kw window with strides (sh, sw) — overlapping (kernel > stride), tiling
or with gaps (kernel < stride) — of any integer type; for bipolar bits max is OR (+1 wins).
The compiler folds FINN's depthwise ConvolutionInputGenerator + Pool pair into this one layer
(e.g. nn.MaxPool2d(3, 2)). No padding.
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

    kernel: int | tuple[int, int] = 2
    stride: int | tuple[int, int] = 2
    pe: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
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
    def claims_finn(cls, node) -> bool:
        return is_depthwise_window(node)

    @classmethod
    def read_finn(cls, reader, node, nxt):
        if nxt is None or nxt.op_type != "Pool":
            raise reader.fail(node, "is a depthwise window not followed by a Pool")
        a = node_attrs(nxt)
        if a.get("Function") != "MaxPool":
            raise reader.fail(nxt, f"is a {a.get('Function')} pool; only max-pool is supported")
        ifm, ch, k, s = finn_window(node, reader.fail)
        dt = ir_dtype(a["InputDataType"])
        return cls(name=nxt.name, in_dtype=dt, out_dtype=dt, ifm_dim=ifm, channels=ch,
                   kernel=k, stride=s, pe=1), [node, nxt]

    def finn_folding(self, node) -> dict[str, int]:
        if node.op_type == "ConvolutionInputGenerator":
            return {"SIMD": self.pe}  # the pool's window moves PE channels
        return dict(self.folding())

    # --- RTL and HLS ---------------------------------------------------------------------
    def rtl_instance(self, ident, folder, options):
        params = {**self.window_params(), "PE": self.pe, "BITS": self.in_dtype.bits,
                  "SIGNED": int(self.in_dtype.signed)}
        return rtl.Instance("maxpool", ident, params, self.in_width, self.out_width)

    def hls_emit(self, name):
        cfg = f"""struct {name}_config : xnorflow::maxpool_config {{
{self.window_config()}    static const unsigned pe = {self.pe};
    static const unsigned bits = {self.in_dtype.bits};
    typedef {hls.c_type(self.in_dtype)} in_t;
}};
"""
        return cfg, f"xnorflow::maxpool<{name}_config>({{i}}, {{o}});"
