"""Sliding-window generator (FINN's ConvolutionInputGenerator): im2col on a stream.

Input: an ih × iw image of C channels (NHWC). Output: for each output pixel (oy, ox), in
row-major order, the window's k·k·C values in (ky, kx, c) order — the column order FINN's
LowerConvsToMatMul gives the weight matrix, so an MVAU with mw = k·k·C follows directly.
No padding (CNV needs none).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from xnorflow.compile.layers.base import divisors
from xnorflow.compile.layers.window import WindowLayer


@dataclasses.dataclass(frozen=True, eq=False)
class SlidingWindow(WindowLayer):
    kind = "sliding_window"

    simd: int = 1

    @property
    def out_shape(self) -> tuple[int, int]:
        return (self.ofm_dim[0] * self.ofm_dim[1], self.kernel * self.kernel * self.channels)

    @property
    def in_fold(self) -> int:
        return self.simd

    @property
    def out_fold(self) -> int:
        return self.simd

    def folding(self) -> dict[str, int]:
        return {"SIMD": self.simd}

    def allowed_folding(self) -> dict[str, list[int]]:
        return {"SIMD": divisors(self.channels)}

    def exp_cycles(self) -> int:
        """Reading the frame and writing the windows overlap: the larger of the two."""
        reads = self.in_shape[0] * self.channels // self.simd
        writes = self.out_shape[0] * self.out_shape[1] // self.simd
        return max(reads, writes)

    def reference(self, x: np.ndarray) -> np.ndarray:
        x = self.check_input(x)
        n, (oh, ow), k = x.shape[0], self.ofm_dim, self.kernel
        return np.stack(self.window_taps(x), axis=3).reshape(n, oh * ow, k * k * self.channels)
