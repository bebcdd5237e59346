"""Stream glue between layers: one IR pass whose plan both backends render.

On each edge of the graph between two layers (a producer's output, a fork's output k, into
a consumer's input port) the plan says whether a width converter is needed (the producer's
beat carries a different number of values than the consumer takes: out_fold != in_fold) and
how deep a FIFO goes in front of the consumer:
- what the consumer's plugin asks for (`Layer.input_fifo_depth`) — an MVAU with NF > 1 row
  folds takes a vector's SF beats in a burst and then none for (NF-1)·SF cycles; a padding
  layer takes no input while it emits border rows;
- on the inputs of a join (add_streams, concat_streams), the skew between its two branches:
  a fork gives every beat to both branches, and the join takes a beat of each together, so
  the branch that holds fewer beats (the shortcut) needs a FIFO holding what the other branch
  holds at most
  (`Layer.lag_pixels` summed from the fork, plus the FIFOs on that branch). Without it the
  shortcut fills, the fork stops, and the branch starves: a deadlock. A concatenation takes
  a pixel's beats of one input, then of the other: each input's FIFO also holds the other's
  beats of a pixel (`Layer.join_fifo_beats`), so that neither producer waits.
Elsewhere a stream needs no buffer beyond the consumer's own input register (depth 0 in the
RTL; the HLS top gives every stream depth 2, its smallest useful depth).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from xnorflow.compile.ir.dataflow import GRAPH_INPUT, DataflowIR
from xnorflow.compile.layers import Layer

SKEW_MARGIN = 4  # beats on top of the computed skew (the join's and the fork's own registers)


@dataclasses.dataclass(frozen=True)
class Boundary:
    """The glue on the edge from layer `src` (output `src_port`) into layer `index`'s input
    `port`."""

    index: int
    values: int  # values per frame crossing the boundary
    bits: int  # bits per value
    in_fold: int  # values per beat the producer sends
    out_fold: int  # values per beat the consumer takes
    fifo_depth: int  # entries of the FIFO in front of the consumer (0 = none)
    port: int = 0
    src: int = -1
    src_port: int = 0

    @property
    def converter(self) -> bool:
        return self.in_fold != self.out_fold


def _edge_pixels(layer: Layer, port: int, depth: int) -> float:
    """A FIFO of `depth` beats in front of `layer`'s input `port`, in pixels of that input."""
    return depth * layer.in_fold / layer.input_shapes[port][1]


def _branch_lag(ir: DataflowIR, names: dict[str, int], index: int, port: int,
                depths: dict) -> float:
    """The pixels of layer `index`'s frame that the path into its input `port` may hold, from
    the fork it starts at (or the model's input)."""
    per = ir.layers[index].in_shape[0]
    lag, src = 0.0, ir.sources(index)[port]
    cur, cur_port = index, port
    while src != GRAPH_INPUT:
        j = names[src]
        lag += _edge_pixels(ir.layers[cur], cur_port, depths.get((cur, cur_port), 0)) \
            * per / ir.layers[cur].in_shape[0]
        layer = ir.layers[j]
        if type(layer).n_consumers > 1:
            break
        lag += layer.lag_pixels() * per / layer.in_shape[0]
        cur, cur_port, src = j, 0, ir.sources(j)[0]  # a join on the path: along its input 0
    return lag


def _skew_depths(ir: DataflowIR, names: dict[str, int], index: int,
                 depths: dict) -> dict[int, int]:
    """Extra FIFO entries on the inputs of join `index` (port → beats)."""
    layer = ir.layers[index]
    lags = [_branch_lag(ir, names, index, p, depths) for p in range(type(layer).n_inputs)]
    out = {}
    for p, lag in enumerate(lags):
        if lag < max(lags):
            beats = (max(lags) - lag) * layer.input_shapes[p][1] / layer.in_fold
            out[p] = math.ceil(beats) + SKEW_MARGIN
    return out


def plan_glue(ir: DataflowIR) -> list[Boundary]:
    """The glue on every edge between two layers, in the order of (consumer, port)."""
    out: list[Boundary] = []
    names = {x.name: i for i, x in enumerate(ir.layers)}
    consumers = ir.consumers()
    depths: dict[tuple[int, int], int] = {}
    for i, layer in enumerate(ir.layers):
        skew = _skew_depths(ir, names, i, depths) if type(layer).n_inputs > 1 else {}
        for port, src in enumerate(ir.sources(i)):
            if src == GRAPH_INPUT:
                continue
            depth = max(layer.input_fifo_depth(),
                        skew.get(port, 0) + layer.join_fifo_beats(port))
            depths[(i, port)] = depth
            j = names[src]
            out.append(Boundary(index=i, values=int(np.prod(layer.input_shapes[port])),
                                bits=layer.input_dtypes[port].bits,
                                in_fold=ir.layers[j].out_fold, out_fold=layer.in_fold,
                                fifo_depth=depth, port=port, src=j,
                                src_port=consumers[src].index((i, port))))
    return out
