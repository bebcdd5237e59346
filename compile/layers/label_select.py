"""Label select (FINN's LabelSelect with k = 1): the index of the largest score.

Ties go to the lowest index, as numpy's and PyTorch's argmax do.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from xnorflow.compile.errors import CompileError
from xnorflow.compile.frontend.finn_attrs import ir_dtype, node_attrs
from xnorflow.compile.hls import common as hls
from xnorflow.compile.layers.base import Layer, divisors
from xnorflow.compile.rtl import common as rtl


@dataclasses.dataclass(frozen=True, eq=False)
class LabelSelect(Layer):
    kind = "label_select"
    finn_ops = {"LabelSelect": "hls"}

    labels: int = 2
    pe: int = 1

    @property
    def in_shape(self) -> tuple[int, int]:
        return (1, self.labels)

    @property
    def out_shape(self) -> tuple[int, int]:
        return (1, 1)

    @property
    def in_fold(self) -> int:
        return self.pe

    @property
    def out_fold(self) -> int:
        return 1

    def folding(self) -> dict[str, int]:
        return {"PE": self.pe}

    def allowed_folding(self) -> dict[str, list[int]]:
        return {"PE": divisors(self.labels)}

    def exp_cycles(self) -> int:
        return self.labels // self.pe

    def reference(self, x: np.ndarray) -> np.ndarray:
        x = self.check_input(x)
        return np.argmax(x[:, 0, :], axis=1).astype(np.int64).reshape(-1, 1, 1)

    # --- FINN ----------------------------------------------------------------------------
    @classmethod
    def read_finn(cls, reader, node, nxt):
        a = node_attrs(node)
        if int(a.get("K", 1)) != 1:
            raise reader.fail(node, "selects top-K with K > 1; only K = 1 (argmax) is supported")
        return cls(name=node.name, in_dtype=ir_dtype(a["inputDataType"]),
                   out_dtype=ir_dtype(a["outputDataType"]), labels=int(a["Labels"]),
                   pe=1), [node]

    # --- RTL and HLS ---------------------------------------------------------------------
    def rtl_instance(self, ident, folder, options):
        if (1 << self.out_dtype.bits) < self.labels or self.out_dtype.signed:
            raise rtl.RtlError(
                f"layer {self.name!r}: output type {self.out_dtype} cannot hold label indices "
                f"0..{self.labels - 1}; use UINT{max(1, (self.labels - 1).bit_length())} or "
                "wider")
        params = {
            "LABELS": self.labels, "PE": self.pe, "IBITS": self.in_dtype.bits,
            "IN_SIGNED": int(self.in_dtype.signed), "OBITS": self.out_dtype.bits,
        }
        return rtl.Instance("label_select", ident, params, self.in_width, self.out_width)

    def hls_emit(self, name):
        if self.out_dtype.max() < self.labels - 1:
            raise CompileError(f"layer {self.name!r}: output type {self.out_dtype} cannot hold "
                               f"label {self.labels - 1}")
        cfg = f"""struct {name}_config : xnorflow::label_select_config {{
    static const unsigned labels = {self.labels};
    static const unsigned pe = {self.pe};
    static const unsigned in_bits = {self.in_dtype.bits};
    static const unsigned out_bits = {self.out_dtype.bits};
    typedef {hls.c_type(self.in_dtype)} in_t;
}};
"""
        return cfg, f"xnorflow::label_select<{name}_config>({{i}}, {{o}});"
