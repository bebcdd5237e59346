"""What the stream fork and join layers share: a frame of pixels × channels, PE values a beat.

A residual block forks its input stream (duplicate_streams) and joins the branch with the
shortcut (add_streams); both pass a frame pixel by pixel, PE channels per beat, one beat per
cycle, and hold at most a few beats (DEPTH entries per stream), so a fork or join adds no
lag of its own to a branch (compile/ir/glue.py sizes the shortcut FIFOs).
"""

from __future__ import annotations

import dataclasses

from xnorflow.compile.layers.base import Layer, LayerError, Pixelwise

STREAM_BUFFER = 2  # entries each fork output / the join's output holds (the templates' DEPTH)


@dataclasses.dataclass(frozen=True, eq=False)
class PixelStreamLayer(Pixelwise, Layer):
    """Base of the fork and join records: same shape in and out, PE channels per beat."""

    pixels: int = 1
    channels: int = 1
    pe: int = 1

    def __post_init__(self) -> None:
        if self.pixels < 1 or self.channels < 1:
            raise LayerError(f"layer {self.name!r} ({self.kind}): pixels and channels must be "
                             f">= 1, got {self.pixels} and {self.channels}")

    def exp_cycles(self) -> int:
        return self.pixels * self.channels // self.pe

    def finn_folding(self, node) -> dict[str, int]:
        return {"PE": self.pe}


def finn_frame(reader, node, shape: list[int]) -> tuple[int, int]:
    """(pixels, channels) of a FINN tensor shape [1, ..., C] (NHWC or N, C)."""
    shape = [int(v) for v in shape]
    if len(shape) < 2 or shape[0] != 1:
        raise reader.fail(node, f"has a tensor of shape {shape}; expected [1, ..., channels]")
    pixels = 1
    for v in shape[1:-1]:
        pixels *= v
    return pixels, shape[-1]
