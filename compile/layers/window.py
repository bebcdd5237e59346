"""Geometry shared by the layers that slide a k×k window over an image (no padding).

The sliding-window generator and the max-pool both read an ih × iw image of C channels (NHWC,
one pixel per stream position) and visit the output pixels in row-major order.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from xnorflow.compile.layers.base import Layer, LayerError


@dataclasses.dataclass(frozen=True, eq=False)
class WindowLayer(Layer):
    """A k×k window with a stride over an ``ifm_dim`` image of ``channels`` channels."""

    ifm_dim: tuple[int, int] = (1, 1)
    channels: int = 1
    kernel: int = 1
    stride: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "ifm_dim", tuple(int(v) for v in self.ifm_dim))
        if min(self.ofm_dim) < 1:
            raise LayerError(
                f"layer {self.name!r}: kernel {self.kernel} larger than input {self.ifm_dim}"
            )

    @property
    def ofm_dim(self) -> tuple[int, int]:
        (ih, iw), k, s = self.ifm_dim, self.kernel, self.stride
        return ((ih - k) // s + 1, (iw - k) // s + 1)

    @property
    def in_shape(self) -> tuple[int, int]:
        return (self.ifm_dim[0] * self.ifm_dim[1], self.channels)

    def window_taps(self, x: np.ndarray) -> list[np.ndarray]:
        """For each tap (ky, kx) in row-major order, the (N, oh, ow, C) values it sees."""
        n = x.shape[0]
        (ih, iw), (oh, ow), k, s = self.ifm_dim, self.ofm_dim, self.kernel, self.stride
        img = x.reshape(n, ih, iw, self.channels)
        return [img[:, ky : ky + s * (oh - 1) + 1 : s, kx : kx + s * (ow - 1) + 1 : s, :]
                for ky in range(k) for kx in range(k)]
