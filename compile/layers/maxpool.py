"""Max-pool on a stream (FINN's Pool with max, fed by its depthwise sliding window).

For bipolar bits max is OR (+1 wins). The compiler folds FINN's depthwise
ConvolutionInputGenerator + Pool pair into this one layer. No padding.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from xnorflow.compile.layers.base import LayerError, divisors
from xnorflow.compile.layers.window import WindowLayer


@dataclasses.dataclass(frozen=True, eq=False)
class MaxPool(WindowLayer):
    kind = "maxpool"

    kernel: int = 2
    stride: int = 2
    pe: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.in_dtype != self.out_dtype:
            raise LayerError(f"layer {self.name!r}: max-pool keeps the datatype")

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
        (oh, ow) = self.ofm_dim
        return np.maximum.reduce(self.window_taps(x)).reshape(x.shape[0], oh * ow, self.channels)
