"""Stream glue between layers: one IR pass whose plan both backends render.

At each boundary between consecutive layers the plan says whether a width converter is
needed (the producer's beat carries a different number of values than the consumer takes:
out_fold != in_fold) and how deep a FIFO goes in front of the consumer: what the consumer's
plugin asks for (`Layer.input_fifo_depth`) — an MVAU with NF > 1 row folds takes a vector's
SF beats in a burst and then none for (NF-1)·SF cycles; a padding layer takes no input while
it emits border rows. Elsewhere a stream needs no buffer beyond the consumer's own input
register (depth 0 in the RTL; the HLS top gives every stream depth 2, its smallest useful
depth).
"""

from __future__ import annotations

import dataclasses

from xnorflow.compile.ir.dataflow import DataflowIR
from xnorflow.compile.layers import Layer


@dataclasses.dataclass(frozen=True)
class Boundary:
    """The glue in front of layer `index` (> 0)."""

    index: int
    values: int  # values per frame crossing the boundary
    bits: int  # bits per value
    in_fold: int  # values per beat the producer sends
    out_fold: int  # values per beat the consumer takes
    fifo_depth: int  # entries of the FIFO in front of the consumer (0 = none)

    @property
    def converter(self) -> bool:
        return self.in_fold != self.out_fold


def fifo_depth(consumer: Layer) -> int:
    """Entries of the FIFO in front of `consumer` (0 = none); see the module doc."""
    return consumer.input_fifo_depth()


def plan_glue(ir: DataflowIR) -> list[Boundary]:
    """The boundaries between consecutive layers, in order (a chain: IRError otherwise)."""
    ir.require_chain("the stream glue pass")
    out = []
    for i in range(1, len(ir.layers)):
        prev, layer = ir.layers[i - 1], ir.layers[i]
        out.append(Boundary(index=i, values=int(layer.in_shape[0] * layer.in_shape[1]),
                            bits=layer.in_dtype.bits, in_fold=prev.out_fold,
                            out_fold=layer.in_fold, fifo_depth=fifo_depth(layer)))
    return out
