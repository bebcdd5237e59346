"""Sliding-window generator (FINN's ConvolutionInputGenerator): im2col on a stream.

Input: an ih × iw image of C channels (NHWC). Output: for each output pixel (oy, ox), in
row-major order, the window's k·k·C values in (ky, kx, c) order — the column order FINN's
LowerConvsToMatMul gives the weight matrix, so an MVAU with mw = k·k·C follows directly.
No padding (CNV needs none).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from xnorflow.compile.layers.base import Layer, LayerError, divisors, window_ofm_dim


@dataclasses.dataclass(frozen=True, eq=False)
class SlidingWindow(Layer):
    kind = "sliding_window"

    ifm_dim: tuple[int, int] = (1, 1)
    channels: int = 1
    kernel: int = 1
    stride: int = 1
    simd: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "ifm_dim", tuple(int(v) for v in self.ifm_dim))
        if min(self.ofm_dim) < 1:
            raise LayerError(
                f"layer {self.name!r}: kernel {self.kernel} larger than input {self.ifm_dim}"
            )

    @property
    def ofm_dim(self) -> tuple[int, int]:
        return window_ofm_dim(self.ifm_dim, self.kernel, self.stride)

    @property
    def in_shape(self) -> tuple[int, int]:
        return (self.ifm_dim[0] * self.ifm_dim[1], self.channels)

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
        n = x.shape[0]
        (ih, iw), (oh, ow), k, s = self.ifm_dim, self.ofm_dim, self.kernel, self.stride
        img = x.reshape(n, ih, iw, self.channels)
        cols = [
            img[:, ky : ky + s * (oh - 1) + 1 : s, kx : kx + s * (ow - 1) + 1 : s, :]
            for ky in range(k)
            for kx in range(k)
        ]
        return np.stack(cols, axis=3).reshape(n, oh * ow, k * k * self.channels)
