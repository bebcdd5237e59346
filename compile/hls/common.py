"""What the HLS emitters of the layers share: C++ types, literals and memory layouts.

Each layer plugin (compile/layers/) writes its config struct and parameter arrays with
`hls_emit(name)`, for its kernel (`hls_template`, hw_templates/hls/); the top
(compile/hls/codegen.py) wires the calls with streams.
"""

from __future__ import annotations

import numpy as np

from xnorflow.compile.ir.datatypes import DataType, smallest_type


def c_type(dtype: DataType) -> str:
    """The ap_int type holding one stored value of dtype (BIPOLAR: ap_uint<1>)."""
    return f"ap_int<{dtype.bits}>" if dtype.signed else f"ap_uint<{dtype.bits}>"


def signed_bits(lo: int, hi: int) -> int:
    """Bits of the narrowest two's-complement type holding [lo, hi]."""
    return smallest_type(min(int(lo), -1), int(hi)).bits


def int_literal(v: int) -> str:
    v = int(v)
    return f"{v}LL" if not -(2**31) <= v < 2**31 else str(v)


def nested(arr: np.ndarray, fmt) -> str:
    """A C initializer list for an n-d array, one innermost row per line."""
    if arr.ndim == 1:
        return "{" + ", ".join(fmt(v) for v in arr) + "}"
    inner = ",\n".join(nested(a, fmt) for a in arr)
    return "{\n" + inner + "}"


def interleave_thresholds(thresholds: np.ndarray, pe: int) -> np.ndarray:
    """(C, T) thresholds → (PE, C / PE, T): channel c goes to PE c % PE, fold c // PE."""
    c, t = thresholds.shape
    return thresholds.reshape(c // pe, pe, t).transpose(1, 0, 2)


def count_bits(n_thr: int, act_val: int) -> int:
    """Bits of the signed count of passed thresholds plus act_val."""
    return signed_bits(min(0, act_val), n_thr + max(0, act_val))
