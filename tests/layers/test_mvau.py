"""MVAU: its random records (XNOR and first-layer mode, with and without activation), its reference
against the dot product, the RTL template under cocotb and the HLS kernel in C-simulation."""

from __future__ import annotations

import numpy as np
import pytest

from tests.layers.harness import fields, layer_tests, pick
from xnorflow.compile.ir.datatypes import BIPOLAR, DataType, smallest_type
from xnorflow.compile.layers import MVAU, Layer
from xnorflow.compile.layers.base import divisors


def _mvau(rng, in_dt, w_dt=BIPOLAR) -> Layer:
    mw, mh = int(rng.integers(2, 70)), int(rng.integers(1, 20))
    w = rng.integers(w_dt.min(), w_dt.max() + 1, size=(mh, mw))
    layer = MVAU(name="mvau", in_dtype=in_dt, out_dtype=BIPOLAR, pixels=int(rng.integers(1, 4)),
                 mw=mw, mh=mh, weights=w, pe=pick(rng, divisors(mh)),
                 simd=pick(rng, divisors(mw)), weight_dtype=w_dt)
    lo, hi = layer.acc_range()
    mode = rng.integers(0, 3)
    if mode == 0:  # no activation: the accumulator leaves
        return MVAU(**{**fields(layer), "out_dtype": layer.acc_dtype()})
    n_thr = 1 if mode == 1 else 3
    spread = max(2, (hi - lo) // 4)
    mid = (lo + hi) // 2
    thr = np.sort(rng.integers(mid - spread, mid + spread + 1, size=(mh, n_thr)), axis=1)
    out_dt = BIPOLAR if n_thr == 1 else DataType.parse("INT3")
    act = 0 if n_thr == 1 else -2
    return MVAU(**{**fields(layer), "thresholds": thr, "out_dtype": out_dt, "act_val": act})


def mvau_xnor(rng) -> Layer:
    return _mvau(rng, BIPOLAR)


def mvau_int(rng) -> Layer:
    return _mvau(rng, DataType.parse(str(rng.choice(["INT8", "UINT4", "INT2"]))))


def mvau_multibit(rng) -> Layer:
    """Multi-bit weights (INT2..INT4) against multi-bit activations, signed or not."""
    w_dt = DataType.parse(f"INT{int(rng.integers(2, 5))}")
    return _mvau(rng, DataType.parse(str(rng.choice(["INT2", "UINT2", "INT4", "UINT3"]))), w_dt)


def mvau_extremes(rng) -> Layer:
    """Weights only at their type's minimum or maximum, narrow inputs (whose extremes the
    random data hits often), no activation: every product and sum at the edges of its width."""
    w_dt = DataType.parse(f"INT{int(rng.integers(2, 5))}")
    in_dt = DataType.parse(str(rng.choice(["INT2", "UINT2", "INT3"])))
    mw, mh = int(rng.integers(8, 70)), int(rng.integers(1, 9))
    w = rng.choice([w_dt.min(), w_dt.max()], size=(mh, mw))
    layer = MVAU(name="mvau", in_dtype=in_dt, out_dtype=BIPOLAR, pixels=2, mw=mw, mh=mh,
                 weights=w, pe=pick(rng, divisors(mh)), simd=pick(rng, divisors(mw)),
                 weight_dtype=w_dt)
    return MVAU(**{**fields(layer), "out_dtype": layer.acc_dtype()})


CASES = {"mvau_xnor": mvau_xnor, "mvau_int": mvau_int, "mvau_multibit": mvau_multibit,
         "mvau_extremes": mvau_extremes}


@pytest.mark.parametrize("mw", [1, 63, 64, 65, 300])
def test_xnor_popcount_is_the_bipolar_dot_product(mw):
    rng = np.random.default_rng(mw)
    w = rng.integers(0, 2, (9, mw), dtype=np.uint8)
    x = rng.integers(0, 2, (5, 4, mw))
    layer = MVAU(
        name="m",
        in_dtype=BIPOLAR,
        out_dtype=BIPOLAR,
        pixels=4,
        mw=mw,
        mh=9,
        weights=w,
        thresholds=None,
    )
    dot = (2 * x - 1) @ (2 * w.astype(np.int64) - 1).T
    np.testing.assert_array_equal(2 * layer.accumulate(x) - mw, dot)


def test_multibit_weights_are_the_integer_dot_product():
    rng = np.random.default_rng(3)
    int3, uint2 = DataType.parse("INT3"), DataType.parse("UINT2")
    w = rng.integers(-4, 4, (7, 40))
    x = rng.integers(0, 4, (2, 3, 40))
    layer = MVAU(name="m", in_dtype=uint2, out_dtype=BIPOLAR, pixels=3, mw=40, mh=7, weights=w,
                 weight_dtype=int3)
    np.testing.assert_array_equal(layer.accumulate(x), x @ w.T)
    lo, hi = layer.acc_range()
    assert (lo, hi) == (40 * 3 * -4, 40 * 3 * 3)
    assert layer.weight_bits() == 7 * 40 * 3


def test_weights_outside_their_type_are_rejected():
    with pytest.raises(ValueError, match="do not fit INT2"):
        MVAU(name="m", in_dtype=DataType.parse("INT2"), out_dtype=BIPOLAR, mw=2, mh=1,
             weights=np.array([[2, 0]]), weight_dtype=DataType.parse("INT2"))


def test_first_layer_mode_and_thresholds():
    rng = np.random.default_rng(1)
    int4 = DataType.parse("INT4")
    w = rng.integers(0, 2, (6, 27), dtype=np.uint8)
    x = rng.integers(-8, 8, (3, 5, 27))
    thr = np.sort(rng.integers(-20, 20, (6, 3)), axis=1)
    layer = MVAU(
        name="c",
        in_dtype=int4,
        out_dtype=DataType.parse("INT2"),
        pixels=5,
        mw=27,
        mh=6,
        weights=w,
        thresholds=thr,
        act_val=-1,
    )
    acc = x @ (2 * w.astype(np.int64) - 1).T
    expect = (acc[..., None] >= thr[None, None]).sum(-1) - 1
    np.testing.assert_array_equal(layer.reference(x), expect)
    assert layer.acc_dtype() == smallest_type(-27 * 8, 27 * 8)


# the RTL template under cocotb (more seeds under slow) and the HLS kernel, per case
test_rtl_template, test_rtl_template_more_seeds, test_hls_kernel = layer_tests(CASES)
