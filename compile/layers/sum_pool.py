"""Sum-pool on a stream: an average pool over part of the map (`nn.AvgPool2d(2)`,
`F.avg_pool2d(x, 3, 2)`, `nn.AvgPool1d(4)`), as FINN's Pool with AccPool, fed by its
depthwise sliding window.

The frontend (compile/frontend/pool_passes.py `AveragePoolAsSum`) writes the average as the
window's integer sum, wide enough that nothing is truncated, followed by 1/(kh·kw), which
streamlining moves into the next layer's thresholds or the output scale. The sum is exact, so
the layer is bit-exact like every other. Same geometry, folding and templates as the max-pool
(pool.sv / pool.hpp with SUM = 1); the output type holds kh·kw times the input's range.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from xnorflow.compile.layers.base import LayerError
from xnorflow.compile.layers.maxpool import MaxPool


@dataclasses.dataclass(frozen=True, eq=False)
class SumPool(MaxPool):
    kind = "sum_pool"
    finn_name = "Pool"
    rtl_template = "pool.sv"
    hls_template = "pool.hpp"
    finn_function = "AccPool"

    def check_types(self) -> None:
        dt, out = self.in_dtype, self.out_dtype
        if dt.bipolar or out.bipolar:
            raise LayerError(f"layer {self.name!r}: a sum-pool adds values, not bipolar bits "
                             "(the frontend re-types a bipolar activation as INT2 first)")
        n = self.kernel_hw[0] * self.kernel_hw[1]
        if out.min() > dt.min() * n or out.max() < dt.max() * n or out.bits < dt.bits:
            raise LayerError(f"layer {self.name!r}: {out} cannot hold the sum of {n} {dt} "
                             "values")

    def reference(self, x: np.ndarray) -> np.ndarray:
        x = self.check_input(x)
        (oh, ow) = self.ofm_dim
        return np.add.reduce(self.window_taps(x)).reshape(x.shape[0], oh * ow, self.channels)
