"""Small IRs with random weights in the shapes of FINN's reference BNNs (for tests, benchmarks).

`tfc_ir`: TFC — Thresholding(784, UINT8 → BIPOLAR) → MVAU 784→64→64→64→10 (XNOR; the last
without activation). `cnv_ir`: a small CNV-like network — Thresholding(3 ch, UINT8 → UINT2) →
3×3 conv in first-layer mode (UINT2 × binary weights) → 3×3 XNOR conv → 2×2 max-pool → two
XNOR FC layers. Thresholds lie near the middle of each accumulator's range so outputs vary.
"""

from __future__ import annotations

import numpy as np

from xnorflow.compile.ir import DataflowIR
from xnorflow.compile.ir.datatypes import BIPOLAR, DataType
from xnorflow.compile.layers import MaxPool, SlidingWindow, Thresholding
from xnorflow.compile.random_ir import random_mvau

UINT8 = DataType.parse("UINT8")


def _finish(rng: np.random.Generator, ir: DataflowIR) -> DataflowIR:
    ir.validate()
    return ir


def tfc_ir(seed: int = 0, pe: int = 16, simd: int = 16) -> DataflowIR:
    rng = np.random.default_rng(seed)
    layers = [Thresholding(name="thr_in", in_dtype=UINT8, out_dtype=BIPOLAR, pixels=1,
                           channels=784, thresholds=rng.integers(64, 192, (784, 1)), pe=simd)]
    widths = [784, 64, 64, 64, 10]
    for i, (mw, mh) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        last = i == len(widths) - 2
        layers.append(
            random_mvau(rng, f"fc{i}", BIPOLAR, 1, mw, mh, 10 if last else pe, simd, last)
        )
    return _finish(rng, DataflowIR(
        name=f"tfc_random_{seed}", input_shape=(1, 28, 28), input_layout="flat", layers=layers,
        output_scale=rng.uniform(0.5, 2.0, 10), output_bias=rng.normal(0, 1, 10),
    ))


def cnv_ir(seed: int = 0) -> DataflowIR:
    rng = np.random.default_rng(seed)
    uint2 = DataType.parse("UINT2")
    layers = [
        Thresholding(name="thr_in", in_dtype=UINT8, out_dtype=uint2, pixels=64, channels=3,
                     thresholds=np.sort(rng.integers(0, 256, (3, 3)), axis=1), pe=3),
        SlidingWindow(name="swg0", in_dtype=uint2, out_dtype=uint2, ifm_dim=(8, 8), channels=3,
                      kernel=3, stride=1, simd=3),
        random_mvau(rng, "conv0", uint2, 36, 27, 16, pe=8, simd=3),
        SlidingWindow(name="swg1", in_dtype=BIPOLAR, out_dtype=BIPOLAR, ifm_dim=(6, 6),
                      channels=16, kernel=3, stride=1, simd=8),
        random_mvau(rng, "conv1", BIPOLAR, 16, 144, 16, pe=8, simd=16),
        MaxPool(name="pool0", in_dtype=BIPOLAR, out_dtype=BIPOLAR, ifm_dim=(4, 4), channels=16,
                kernel=2, stride=2, pe=8),
        random_mvau(rng, "fc0", BIPOLAR, 1, 64, 32, pe=8, simd=16),
        random_mvau(rng, "fc1", BIPOLAR, 1, 32, 10, pe=5, simd=8, last=True),
    ]
    return _finish(rng, DataflowIR(
        name=f"cnv_small_random_{seed}", input_shape=(3, 8, 8), input_layout="nhwc",
        layers=layers, output_scale=rng.uniform(0.5, 2.0, 10), output_bias=rng.normal(0, 1, 10),
    ))
