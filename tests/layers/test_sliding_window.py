"""SlidingWindow: its random records (kernels 1-3, strides 1-2, rectangular images), its reference
against loops, the RTL template under cocotb and the HLS kernel in C-simulation."""

from __future__ import annotations

import numpy as np

from tests.layers.harness import layer_tests, pick
from xnorflow.compile.ir.datatypes import BIPOLAR, DataType
from xnorflow.compile.layers import Layer, SlidingWindow
from xnorflow.compile.layers.base import divisors


def sliding_window(rng) -> Layer:
    k = int(rng.integers(1, 4))
    h, w = int(rng.integers(k, 8)), int(rng.integers(k, 8))
    ch = int(rng.integers(1, 7))
    dt = DataType.parse(str(rng.choice(["BIPOLAR", "INT8", "UINT2"])))
    simd = pick(rng, divisors(ch))
    # stride 2 too: FINN's lowering here gives stride 1, the template takes any stride
    stride = int(rng.integers(1, 3))
    return SlidingWindow(name="swg", in_dtype=dt, out_dtype=dt, ifm_dim=(h, w), channels=ch,
                         kernel=k, stride=stride, simd=simd)


CASES = {"sliding_window": sliding_window}


def test_reference_matches_loops():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 2, (2, 7 * 6, 3))
    swg = SlidingWindow(name="s", in_dtype=BIPOLAR, out_dtype=BIPOLAR, ifm_dim=(7, 6),
                        channels=3, kernel=3, stride=1)
    out = swg.reference(x)
    img = x.reshape(2, 7, 6, 3)
    for oy in range(5):
        for ox in range(4):
            np.testing.assert_array_equal(
                out[:, oy * 4 + ox], img[:, oy : oy + 3, ox : ox + 3].reshape(2, -1)
            )


# the RTL template under cocotb (more seeds under slow) and the HLS kernel, per case
test_rtl_template, test_rtl_template_more_seeds, test_hls_kernel = layer_tests(CASES)
