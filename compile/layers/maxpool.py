"""Max-pool on a stream (FINN's Pool with max, fed by its depthwise sliding window).

For bipolar bits max is OR (+1 wins). The compiler folds FINN's depthwise
ConvolutionInputGenerator + Pool pair into this one layer. No padding.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from xnorflow.compile.layers.base import Layer, LayerError, divisors, window_ofm_dim


@dataclasses.dataclass(frozen=True, eq=False)
class MaxPool(Layer):
    kind = "maxpool"

    ifm_dim: tuple[int, int] = (1, 1)
    channels: int = 1
    kernel: int = 2
    stride: int = 2
    pe: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "ifm_dim", tuple(int(v) for v in self.ifm_dim))
        if min(self.ofm_dim) < 1:
            raise LayerError(
                f"layer {self.name!r}: kernel {self.kernel} larger than input {self.ifm_dim}"
            )
        if self.in_dtype != self.out_dtype:
            raise LayerError(f"layer {self.name!r}: max-pool keeps the datatype")

    @property
    def ofm_dim(self) -> tuple[int, int]:
        return window_ofm_dim(self.ifm_dim, self.kernel, self.stride)

    @property
    def in_shape(self) -> tuple[int, int]:
        return (self.ifm_dim[0] * self.ifm_dim[1], self.channels)

    @property
    def out_shape(self) -> tuple[int, int]:
        return (self.ofm_dim[0] * self.ofm_dim[1], self.channels)

    @property
    def in_fold(self) -> int:
        return self.pe

    @property
    def out_fold(self) -> int:
        return self.pe

    def folding(self) -> dict[str, int]:
        return {"PE": self.pe}

    def allowed_folding(self) -> dict[str, list[int]]:
        return {"PE": divisors(self.channels)}

    def exp_cycles(self) -> int:
        return self.in_shape[0] * self.channels // self.pe

    def reference(self, x: np.ndarray) -> np.ndarray:
        x = self.check_input(x)
        n = x.shape[0]
        (ih, iw), (oh, ow), k, s = self.ifm_dim, self.ofm_dim, self.kernel, self.stride
        img = x.reshape(n, ih, iw, self.channels)
        out = None
        for ky in range(k):
            for kx in range(k):
                win = img[:, ky : ky + s * (oh - 1) + 1 : s, kx : kx + s * (ow - 1) + 1 : s, :]
                out = win if out is None else np.maximum(out, win)
        return out.reshape(n, oh * ow, self.channels)
