"""Sliding-window generator (FINN's ConvolutionInputGenerator): im2col on a stream.

Input: an ih × iw image of C channels (NHWC). Output: for each output pixel (oy, ox), in
row-major order, the kh × kw window's kh·kw·C values in (ky, kx, c) order — the column order
FINN's LowerConvsToMatMul gives the weight matrix (and qonnx's Im2Col), so an MVAU with
mw = kh·kw·C follows directly. Strides (sh, sw); no padding (a padding layer goes before it).
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
from xnorflow.compile.layers.base import SimdFolded, divisors
from xnorflow.compile.layers.window import WindowLayer
from xnorflow.compile.rtl import common as rtl


@dataclasses.dataclass(frozen=True, eq=False)
class SlidingWindow(SimdFolded, WindowLayer):
    kind = "sliding_window"
    finn_ops = {"ConvolutionInputGenerator": "rtl"}

    simd: int = 1

    @property
    def out_shape(self) -> tuple[int, int]:
        (oh, ow), (kh, kw) = self.ofm_dim, self.kernel_hw
        return (oh * ow, kh * kw * self.channels)

    def allowed_folding(self) -> dict[str, list[int]]:
        return {"SIMD": divisors(self.channels)}

    def exp_cycles(self) -> int:
        """Reading the frame and writing the windows overlap: the larger of the two."""
        reads = self.in_shape[0] * self.channels // self.simd
        writes = self.out_shape[0] * self.out_shape[1] // self.simd
        return max(reads, writes)

    def lag_pixels(self) -> float:
        """Two frame banks: the next frame goes in while the last one's windows go out."""
        return 2.0 * self.in_shape[0] + 4

    def reference(self, x: np.ndarray) -> np.ndarray:
        x = self.check_input(x)
        return np.stack(self.window_taps(x), axis=3).reshape(x.shape[0], *self.out_shape)

    # --- FINN ----------------------------------------------------------------------------
    @classmethod
    def claims_finn(cls, node, nxt=None) -> bool:
        return node.op_type == "ConvolutionInputGenerator" and not is_depthwise_window(node)

    @classmethod
    def read_finn(cls, reader, node, nxt):
        ifm, ch, k, s = finn_window(node, reader.fail)
        dt = ir_dtype(node_attrs(node)["inputDataType"])
        return cls(name=node.name, in_dtype=dt, out_dtype=dt, ifm_dim=ifm, channels=ch,
                   kernel=k, stride=s, simd=1), [node]

    # --- RTL and HLS ---------------------------------------------------------------------
    def rtl_instance(self, ident, folder, options):
        params = {**self.window_params(), "SIMD": self.simd, "BITS": self.in_dtype.bits}
        return rtl.Instance("sliding_window", ident, params, self.in_width, self.out_width)

    def hls_emit(self, name):
        cfg = f"""struct {name}_config : xnorflow::sliding_window_config {{
{self.window_config()}    static const unsigned simd = {self.simd};
    static const unsigned bits = {self.in_dtype.bits};
}};
"""
        return cfg, f"xnorflow::sliding_window<{name}_config>({{i}}, {{o}});"
