"""Thresholding: the multi-threshold activation (FINN's Thresholding / MultiThreshold).

out[p, c] = #{k : x[p, c] >= T[c, k]} + act_val. A BIPOLAR output has one threshold per
channel and act_val 0: the bit is (x >= T). The input quantizer of a network is one of these.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from xnorflow.compile.layers.base import Layer, LayerError, divisors


@dataclasses.dataclass(frozen=True, eq=False)
class Thresholding(Layer):
    kind = "thresholding"

    pixels: int = 1
    channels: int = 1
    thresholds: np.ndarray = None  # (channels, n_thresholds) int64, ascending per row
    act_val: int = 0
    pe: int = 1

    def __post_init__(self) -> None:
        t = np.asarray(self.thresholds, dtype=np.int64)
        if t.ndim != 2 or t.shape[0] != self.channels:
            raise LayerError(
                f"layer {self.name!r}: thresholds must be ({self.channels}, T), got {t.shape}"
            )
        if t.shape[1] > 1 and np.any(np.diff(t, axis=1) < 0):
            raise LayerError(f"layer {self.name!r}: thresholds must be ascending per channel")
        object.__setattr__(self, "thresholds", t)

    @property
    def in_shape(self) -> tuple[int, int]:
        return (self.pixels, self.channels)

    @property
    def out_shape(self) -> tuple[int, int]:
        return (self.pixels, self.channels)

    @property
    def in_fold(self) -> int:
        return self.pe

    @property
    def out_fold(self) -> int:
        return self.pe

    @property
    def n_thresholds(self) -> int:
        return int(self.thresholds.shape[1])

    def folding(self) -> dict[str, int]:
        return {"PE": self.pe}

    def allowed_folding(self) -> dict[str, list[int]]:
        return {"PE": divisors(self.channels)}

    def exp_cycles(self) -> int:
        return self.pixels * self.channels // self.pe

    def weight_bits(self) -> int:
        return int(self.thresholds.size) * self.threshold_bits()

    def threshold_bits(self) -> int:
        """Bits to store one threshold: enough for the input range plus one."""
        lo = min(int(self.thresholds.min()), self.in_dtype.min())
        hi = max(int(self.thresholds.max()), self.in_dtype.max() + 1)
        return max(int(-lo - 1).bit_length(), int(hi).bit_length()) + 1

    def reference(self, x: np.ndarray) -> np.ndarray:
        return threshold_counts(self.check_input(x), self.thresholds) + self.act_val


def threshold_counts(acc: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """#{k : acc[..., c] >= T[c, k]} for (..., C) accumulators and (C, T) thresholds."""
    if thresholds.shape[1] == 0:
        return np.zeros(acc.shape, dtype=np.int64)
    out = (acc >= thresholds[:, 0]).astype(np.int64)
    for k in range(1, thresholds.shape[1]):
        out += acc >= thresholds[:, k]
    return out
