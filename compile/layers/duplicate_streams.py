"""Stream fork (FINN's DuplicateStreams): one stream to two, as a residual block's input goes
to its branch and to its shortcut.

out = x on both outputs. The IR names one stream after the layer, taken by exactly two
layers: output 0 goes to the first of them in the IR's list, output 1 to the second. Each
output holds its own few beats, so one may run ahead of the other; the input moves when
both have room. FINN forks a stream into N (N consumers); N > 2 is refused (a clear
error naming the node).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from xnorflow.compile.frontend.finn_attrs import ir_dtype, node_attrs
from xnorflow.compile.layers.base import LayerError
from xnorflow.compile.layers.stream_fork_join import STREAM_BUFFER, PixelStreamLayer
from xnorflow.compile.rtl import common as rtl


@dataclasses.dataclass(frozen=True, eq=False)
class DuplicateStreams(PixelStreamLayer):
    kind = "duplicate_streams"
    finn_ops = {"DuplicateStreams": "hls"}
    n_consumers = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.in_dtype != self.out_dtype:
            raise LayerError(f"layer {self.name!r}: a fork passes its input type on, got "
                             f"{self.in_dtype} in and {self.out_dtype} out")

    def reference(self, x: np.ndarray) -> np.ndarray:
        return self.check_input(x).copy()

    # --- FINN ----------------------------------------------------------------------------
    @classmethod
    def read_finn(cls, reader, node, nxt):
        a = node_attrs(node)
        if int(a.get("NumOutputStreams", 2)) != cls.n_consumers:
            raise reader.fail(node, f"forks a tensor to {a.get('NumOutputStreams')} layers; a "
                              "residual fork feeds two (the branch and the shortcut) — a "
                              "tensor used by more than two layers is not supported")
        dt = ir_dtype(a["inputDataType"])
        vecs = [int(v) for v in a.get("numInputVectors", [1])]
        pixels = int(np.prod(vecs))
        return cls(name=node.name, in_dtype=dt, out_dtype=dt, pixels=pixels,
                   channels=int(a["NumChannels"]), pe=1), [node]

    # --- RTL and HLS ---------------------------------------------------------------------
    def rtl_instance(self, ident, folder, options):
        params = {"WIDTH": self.in_width, "N_OUT": self.n_consumers, "DEPTH": STREAM_BUFFER}
        return rtl.Instance("duplicate_streams", ident, params, self.in_width, self.out_width)

    def hls_emit(self, name):
        cfg = f"""struct {name}_config : xnorflow::duplicate_streams_config {{
    static const unsigned width = {self.in_width};
    static const unsigned beats = {self.exp_cycles()};
}};
"""
        return cfg, f"xnorflow::duplicate_streams<{name}_config>({{i}}, {{o0}}, {{o1}});"
