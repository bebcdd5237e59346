"""Random single-layer IRs, one per template, for the template tests (seeded).

Each function draws a layer of its kind with random shape, folding, datatypes and parameters
and wraps it in a one-layer DataflowIR, so compile/rtl/codegen.py makes a top holding just that
template (plus its output FIFO) with byte-padded stream ports.
"""

from __future__ import annotations

import numpy as np

from xnorflow.compile.ir import DataflowIR
from xnorflow.compile.ir.datatypes import BIPOLAR, DataType, smallest_type
from xnorflow.compile.layers import MVAU, LabelSelect, Layer, MaxPool, SlidingWindow, Thresholding
from xnorflow.compile.layers.base import divisors


def _pick(rng, values):
    return int(rng.choice(values))


def thresholding(rng) -> Layer:
    ch = int(rng.integers(1, 25))
    in_dt = DataType.parse(str(rng.choice(["UINT8", "INT4", "UINT3", "INT8"])))
    out_bits = int(rng.choice([1, 2, 3]))  # < 8 thresholds: compare mode
    n_thr = 1 if out_bits == 1 else int(rng.integers(1, (1 << out_bits)))
    # thresholds partly outside the input range, to cover the clipping
    thr = np.sort(rng.integers(in_dt.min() - 3, in_dt.max() + 4, size=(ch, n_thr)), axis=1)
    if out_bits == 1:
        out_dt, act = BIPOLAR, 0
    else:
        act = int(rng.integers(-(1 << (out_bits - 1)), 1))
        out_dt = smallest_type(act, act + n_thr)
    return Thresholding(name="thr", in_dtype=in_dt, out_dtype=out_dt,
                        pixels=int(rng.integers(1, 5)), channels=ch, thresholds=thr,
                        act_val=act, pe=_pick(rng, divisors(ch)))


def thresholding_table(rng) -> Layer:
    """Many thresholds on a narrow input (as CNV's input quantizer): the RTL's table mode."""
    ch = int(rng.integers(1, 7))
    in_dt = DataType.parse(str(rng.choice(["UINT8", "INT6"])))
    thr = np.sort(rng.integers(in_dt.min(), in_dt.max() + 2, size=(ch, 255)), axis=1)
    return Thresholding(name="thr", in_dtype=in_dt, out_dtype=DataType.parse("INT8"),
                        pixels=int(rng.integers(1, 4)), channels=ch, thresholds=thr,
                        act_val=-128, pe=_pick(rng, divisors(ch)))


def _mvau(rng, in_dt) -> Layer:
    mw, mh = int(rng.integers(2, 70)), int(rng.integers(1, 20))
    w = rng.integers(0, 2, size=(mh, mw), dtype=np.uint8)
    layer = MVAU(name="mvau", in_dtype=in_dt, out_dtype=BIPOLAR, pixels=int(rng.integers(1, 4)),
                 mw=mw, mh=mh, weights=w, pe=_pick(rng, divisors(mh)),
                 simd=_pick(rng, divisors(mw)))
    lo, hi = layer.acc_range()
    mode = rng.integers(0, 3)
    if mode == 0:  # no activation: the accumulator leaves
        return MVAU(**{**_fields(layer), "out_dtype": layer.acc_dtype()})
    n_thr = 1 if mode == 1 else 3
    spread = max(2, (hi - lo) // 4)
    mid = (lo + hi) // 2
    thr = np.sort(rng.integers(mid - spread, mid + spread + 1, size=(mh, n_thr)), axis=1)
    out_dt = BIPOLAR if n_thr == 1 else DataType.parse("INT3")
    act = 0 if n_thr == 1 else -2
    return MVAU(**{**_fields(layer), "thresholds": thr, "out_dtype": out_dt, "act_val": act})


def _fields(layer) -> dict:
    import dataclasses

    return {f.name: getattr(layer, f.name) for f in dataclasses.fields(layer)}


def mvau_xnor(rng) -> Layer:
    return _mvau(rng, BIPOLAR)


def mvau_int(rng) -> Layer:
    return _mvau(rng, DataType.parse(str(rng.choice(["INT8", "UINT4", "INT2"]))))


def sliding_window(rng) -> Layer:
    k = int(rng.integers(1, 4))
    h, w = int(rng.integers(k, 8)), int(rng.integers(k, 8))
    ch = int(rng.integers(1, 7))
    dt = DataType.parse(str(rng.choice(["BIPOLAR", "INT8", "UINT2"])))
    simd = _pick(rng, divisors(ch))
    # stride 2 too: FINN's lowering here gives stride 1, the template takes any stride
    stride = int(rng.integers(1, 3))
    return SlidingWindow(name="swg", in_dtype=dt, out_dtype=dt, ifm_dim=(h, w), channels=ch,
                         kernel=k, stride=stride, simd=simd)


def maxpool(rng) -> Layer:
    k = int(rng.integers(2, 4))
    h, w = int(rng.integers(k, 10)), int(rng.integers(k, 10))
    ch = int(rng.integers(1, 9))
    dt = DataType.parse(str(rng.choice(["BIPOLAR", "INT4", "UINT3"])))
    return MaxPool(name="pool", in_dtype=dt, out_dtype=dt, ifm_dim=(h, w), channels=ch,
                   kernel=k, stride=k, pe=_pick(rng, divisors(ch)))


def label_select(rng) -> Layer:
    labels = int(rng.integers(2, 17))
    dt = DataType.parse(str(rng.choice(["INT8", "UINT7", "INT12"])))
    return LabelSelect(name="top1", in_dtype=dt, out_dtype=DataType.parse("UINT8"),
                       labels=labels, pe=_pick(rng, divisors(labels)))


KINDS = {
    "thresholding": thresholding, "thresholding_table": thresholding_table,
    "mvau_xnor": mvau_xnor, "mvau_int": mvau_int,
    "sliding_window": sliding_window, "maxpool": maxpool, "label_select": label_select,
}


def single_layer_ir(kind: str, seed: int) -> DataflowIR:
    layer = KINDS[kind](np.random.default_rng(seed))
    n_values = int(np.prod(layer.in_shape))
    return DataflowIR(name=f"{kind}_{seed}", input_shape=(n_values,), input_layout="flat",
                      layers=[layer], output_scale=np.ones(1), output_bias=np.zeros(1),
                      input_dtype=layer.in_dtype)


def random_input(layer: Layer, n: int, seed: int) -> np.ndarray:
    """(n, pixels, channels) stored values of the layer's input type."""
    rng = np.random.default_rng(seed)
    dt = layer.in_dtype
    return rng.integers(dt.min(), dt.max() + 1, size=(n, *layer.in_shape))
