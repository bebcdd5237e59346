"""Geometry shared by the layers that slide a kh × kw window over an image (no padding).

The sliding-window generator and the max-pool both read an ih × iw image of C channels (NHWC,
one pixel per stream position) and visit the output pixels in row-major order. The window is
kh × kw with strides (sh, sw): oh = (ih − kh) // sh + 1, ow = (iw − kw) // sw + 1.

`kernel` and `stride` take an int (square) or a pair (height, width). A record keeps the
canonical form — an int when both are equal, else the pair — so a square record (and its JSON,
and an IR saved with int kernels) reads as before; `kernel_hw` and `stride_hw` are always the
pairs, for code that handles rectangular windows.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from xnorflow.compile.layers.base import Layer, LayerError


def _pair(value: Any, what: str, name: str) -> tuple[int, int]:
    """int or (h, w) → (h, w), positive ints."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    try:
        out = tuple(int(v) for v in pair)
    except (TypeError, ValueError):
        out = ()
    if len(out) != 2 or any(v != p for v, p in zip(out, pair, strict=True)) or min(out) < 1:
        raise LayerError(f"layer {name!r}: {what} {value!r} is not a positive int or an "
                         "(height, width) pair of them")
    return out  # type: ignore[return-value]


def _canonical(pair: tuple[int, int]) -> int | tuple[int, int]:
    return pair[0] if pair[0] == pair[1] else pair


@dataclasses.dataclass(frozen=True, eq=False)
class WindowLayer(Layer):
    """A kh × kw window with strides (sh, sw) over an ``ifm_dim`` image of ``channels``
    channels. ``kernel``/``stride``: an int (square) or (height, width)."""

    ifm_dim: tuple[int, int] = (1, 1)
    channels: int = 1
    kernel: int | tuple[int, int] = 1
    stride: int | tuple[int, int] = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "ifm_dim", _pair(self.ifm_dim, "ifm_dim", self.name))
        object.__setattr__(self, "kernel", _canonical(_pair(self.kernel, "kernel", self.name)))
        object.__setattr__(self, "stride", _canonical(_pair(self.stride, "stride", self.name)))
        if min(self.ofm_dim) < 1:
            raise LayerError(
                f"layer {self.name!r}: kernel {self.kernel_hw} larger than input {self.ifm_dim}"
            )

    @property
    def kernel_hw(self) -> tuple[int, int]:
        """(kh, kw)."""
        k = self.kernel
        return k if isinstance(k, tuple) else (k, k)

    @property
    def stride_hw(self) -> tuple[int, int]:
        """(sh, sw)."""
        s = self.stride
        return s if isinstance(s, tuple) else (s, s)

    @property
    def ofm_dim(self) -> tuple[int, int]:
        (ih, iw), (kh, kw), (sh, sw) = self.ifm_dim, self.kernel_hw, self.stride_hw
        return ((ih - kh) // sh + 1, (iw - kw) // sw + 1)

    @property
    def in_shape(self) -> tuple[int, int]:
        return (self.ifm_dim[0] * self.ifm_dim[1], self.channels)

    def window_taps(self, x: np.ndarray) -> list[np.ndarray]:
        """For each tap (ky, kx) in row-major order, the (N, oh, ow, C) values it sees."""
        n = x.shape[0]
        (ih, iw), (oh, ow) = self.ifm_dim, self.ofm_dim
        (kh, kw), (sh, sw) = self.kernel_hw, self.stride_hw
        img = x.reshape(n, ih, iw, self.channels)
        return [img[:, ky : ky + sh * (oh - 1) + 1 : sh, kx : kx + sw * (ow - 1) + 1 : sw, :]
                for ky in range(kh) for kx in range(kw)]

    def window_params(self) -> dict[str, int]:
        """The geometry as the RTL templates' parameters."""
        (kh, kw), (sh, sw) = self.kernel_hw, self.stride_hw
        return {"IFM_H": self.ifm_dim[0], "IFM_W": self.ifm_dim[1], "CHANNELS": self.channels,
                "KERNEL_H": kh, "KERNEL_W": kw, "STRIDE_H": sh, "STRIDE_W": sw}

    def window_config(self) -> str:
        """The geometry as lines of an HLS config struct."""
        (kh, kw), (sh, sw) = self.kernel_hw, self.stride_hw
        values = {"ifm_h": self.ifm_dim[0], "ifm_w": self.ifm_dim[1], "channels": self.channels,
                  "kernel_h": kh, "kernel_w": kw, "stride_h": sh, "stride_w": sw}
        return "".join(f"    static const unsigned {k} = {v};\n" for k, v in values.items())
