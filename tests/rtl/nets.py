"""Example networks for the RTL tests and benchmarks: TFC and CNV shapes with random parameters.

Random weights and thresholds drawn as compile/random_ir.py does (thresholds near the middle of
each accumulator's range, so output bits are not constant). Shapes follow FINN's bnn_pynq
TFC-1W1A (784-64-64-64-10) and CNV-1W1A (32x32x3, 6 convs, 2 pools, 3 FCs).
"""

from __future__ import annotations

import numpy as np

from xnorflow.compile.ir import DataflowIR
from xnorflow.compile.ir.datatypes import BIPOLAR, DataType
from xnorflow.compile.layers import Layer, MaxPool, SlidingWindow, Thresholding
from xnorflow.compile.random_ir import random_mvau

UINT8 = DataType.parse("UINT8")
INT8 = DataType.parse("INT8")
# FINN's end-to-end test folding of TFC: (PE, SIMD) of the four MVAUs
TFC_FOLDING = ((16, 49), (8, 8), (8, 8), (10, 8))
# FINN's end-to-end test folding of CNV: (PE, SIMD) of the nine MVAUs
CNV_FOLDING = ((16, 3), (32, 32), (16, 32), (16, 32), (4, 32), (1, 32), (1, 4), (1, 8), (5, 1))


def tfc_ir(seed: int = 0, folding=TFC_FOLDING, thr_pe: int = 49) -> DataflowIR:
    """Thresholding 784 UINT8 → BIPOLAR, then MVAU 784→64→64→64→10 (XNOR; last no activation)."""
    rng = np.random.default_rng(seed)
    thr = np.sort(rng.integers(1, 256, size=(784, 1)), axis=1)
    layers: list[Layer] = [Thresholding(name="thr_in", in_dtype=UINT8, out_dtype=BIPOLAR,
                                        pixels=1, channels=784, thresholds=thr, pe=thr_pe)]
    dims = [784, 64, 64, 64, 10]
    for i, (pe, simd) in enumerate(folding):
        mw, mh = dims[i], dims[i + 1]
        layers.append(random_mvau(rng, f"fc{i}", BIPOLAR, 1, mw, mh, pe, simd, i == 3))
    return DataflowIR(name=f"tfc_random_{seed}", input_shape=(1, 28, 28), input_layout="flat",
                      layers=layers, output_scale=np.ones(10), output_bias=np.zeros(10))


CNV_CONVS = (64, 64, "pool", 128, 128, "pool", 256, 256)
CNV_FCS = (512, 512, 10)
# a small CNV-like network for the tests: 14x14x3 → 3x3 convs 8, 8, pool, 16, 16 → FC 32, 10
SMALL_CONVS = (8, 8, "pool", 16, 16)
SMALL_FCS = (32, 10)
SMALL_FOLDING = ((4, 3), (4, 8), (8, 4), (4, 16), (4, 16), (2, 4))


def cnv_ir(seed: int = 0, dim: int = 32, convs=CNV_CONVS, fcs=CNV_FCS, folding=CNV_FOLDING,
           thr_pe: int = 3) -> DataflowIR:
    """CNV: Thresholding (3 ch, 255 steps → INT8), 3x3 convs (channel counts, "pool" = 2x2
    max-pool), then FCs; the last FC has no activation. `folding`: (PE, SIMD) per MVAU, reduced
    to divisors where a shape needs it. CNV itself is the default."""
    rng = np.random.default_rng(seed)
    thr = np.sort(rng.integers(0, 256, size=(3, 255)), axis=1)
    layers: list[Layer] = [Thresholding(name="thr_in", in_dtype=UINT8, out_dtype=INT8,
                                        pixels=dim * dim, channels=3, thresholds=thr,
                                        act_val=-128, pe=thr_pe)]
    ch, d, dtype, k = 3, dim, INT8, 0
    for item in convs:
        if item == "pool":
            pe = layers[-1].pe
            layers.append(MaxPool(name=f"pool{k}", in_dtype=BIPOLAR, out_dtype=BIPOLAR,
                                  ifm_dim=(d, d), channels=ch, kernel=2, stride=2, pe=pe))
            d //= 2
            continue
        och = item
        pe, simd = folding[k]
        pe, simd = min(pe, och), min(simd, ch)
        while och % pe:
            pe -= 1
        while (9 * ch) % simd or ch % simd:
            simd -= 1
        layers.append(SlidingWindow(name=f"swg{k}", in_dtype=dtype, out_dtype=dtype,
                                    ifm_dim=(d, d), channels=ch, kernel=3, stride=1, simd=simd))
        d -= 2
        layers.append(random_mvau(rng, f"conv{k}", dtype, d * d, 9 * ch, och, pe, simd, False))
        ch, dtype, k = och, BIPOLAR, k + 1
    mw = d * d * ch
    for i, item in enumerate(fcs):
        mh, last = item, i == len(fcs) - 1
        pe, simd = folding[k]
        while mh % pe:
            pe -= 1
        while mw % simd:
            simd -= 1
        layers.append(random_mvau(rng, f"fc{i}", BIPOLAR, 1, mw, mh, pe, simd, last))
        mw, k = mh, k + 1
    return DataflowIR(name=f"cnv_random_{seed}_{dim}", input_shape=(3, dim, dim),
                      input_layout="nhwc", layers=layers, output_scale=np.ones(fcs[-1]),
                      output_bias=np.zeros(fcs[-1]))


def small_cnv_ir(seed: int = 0) -> DataflowIR:
    return cnv_ir(seed, dim=14, convs=SMALL_CONVS, fcs=SMALL_FCS, folding=SMALL_FOLDING)
