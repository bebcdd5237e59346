"""Thresholding: its random records (compare mode; table mode as CNV's input quantizer), the RTL
template under cocotb and the HLS kernel in C-simulation."""

from __future__ import annotations

import dataclasses

import numpy as np

from tests.layers.harness import layer_tests, pick
from xnorflow.compile.ir.datatypes import BIPOLAR, DataType, smallest_type
from xnorflow.compile.layers import Layer, Thresholding
from xnorflow.compile.layers.base import divisors


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
                        act_val=act, pe=pick(rng, divisors(ch)))


def thresholding_table(rng) -> Layer:
    """Many thresholds on a narrow input (as CNV's input quantizer): the RTL's table mode."""
    ch = int(rng.integers(1, 7))
    in_dt = DataType.parse(str(rng.choice(["UINT8", "INT6"])))
    thr = np.sort(rng.integers(in_dt.min(), in_dt.max() + 2, size=(ch, 255)), axis=1)
    return Thresholding(name="thr", in_dtype=in_dt, out_dtype=DataType.parse("INT8"),
                        pixels=int(rng.integers(1, 4)), channels=ch, thresholds=thr,
                        act_val=-128, pe=pick(rng, divisors(ch)))


def thresholding_negated(rng) -> Layer:
    """Some channels compare −x (a negative BatchNorm scale after a fork or join), their
    thresholds drawn over the negated range; compare or table mode."""
    layer = thresholding(rng) if rng.random() < 0.7 else thresholding_table(rng)
    neg = rng.random(layer.channels) < 0.5
    neg[int(rng.integers(layer.channels))] = True
    lo, hi = layer.in_dtype.min(), layer.in_dtype.max()
    thr = layer.thresholds.copy()
    flipped = rng.integers(-hi - 3, -lo + 4, size=(int(neg.sum()), layer.n_thresholds))
    thr[neg] = np.sort(flipped, axis=1)
    return dataclasses.replace(layer, thresholds=thr, negated=tuple(np.flatnonzero(neg)))


CASES = {"thresholding": thresholding, "thresholding_table": thresholding_table,
         "thresholding_negated": thresholding_negated}


def test_reference_counts_thresholds():
    rng = np.random.default_rng(3)
    layer = thresholding(rng)
    x = rng.integers(layer.in_dtype.min(), layer.in_dtype.max() + 1, (4, *layer.in_shape))
    expect = (x[..., None] >= layer.thresholds[None, None]).sum(-1) + layer.act_val
    np.testing.assert_array_equal(layer.reference(x), expect)


def test_negated_channels_count_thresholds_of_minus_x():
    rng = np.random.default_rng(5)
    for _ in range(5):
        layer = thresholding_negated(rng)
        x = rng.integers(layer.in_dtype.min(), layer.in_dtype.max() + 1, (4, *layer.in_shape))
        sign = np.where(layer.negated_mask(), -1, 1)
        expect = ((sign * x)[..., None] >= layer.thresholds[None, None]).sum(-1) + layer.act_val
        np.testing.assert_array_equal(layer.reference(x), expect)
        # a negated channel's output falls as its input rises
        c = layer.negated[0]
        ramp = np.zeros((1, *layer.in_shape), np.int64)
        outs = []
        for v in range(layer.in_dtype.min(), layer.in_dtype.max() + 1):
            ramp[..., c] = v
            outs.append(int(layer.reference(ramp.copy())[0, 0, c]))
        assert np.all(np.diff(outs) <= 0)


# the RTL template under cocotb (more seeds under slow) and the HLS kernel, per case
test_rtl_template, test_rtl_template_more_seeds, test_hls_kernel = layer_tests(CASES)
