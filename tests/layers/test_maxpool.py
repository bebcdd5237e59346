"""MaxPool: its random records, its reference against loops, the RTL template under cocotb and the
HLS kernel in C-simulation."""

from __future__ import annotations

import numpy as np

from tests.layers.harness import layer_tests, pick
from xnorflow.compile.ir.datatypes import BIPOLAR, DataType
from xnorflow.compile.layers import Layer, MaxPool
from xnorflow.compile.layers.base import divisors


def maxpool(rng) -> Layer:
    k = int(rng.integers(2, 4))
    h, w = int(rng.integers(k, 10)), int(rng.integers(k, 10))
    ch = int(rng.integers(1, 9))
    dt = DataType.parse(str(rng.choice(["BIPOLAR", "INT4", "UINT3"])))
    return MaxPool(name="pool", in_dtype=dt, out_dtype=dt, ifm_dim=(h, w), channels=ch,
                   kernel=k, stride=k, pe=pick(rng, divisors(ch)))


CASES = {"maxpool": maxpool}


def test_reference_matches_loops():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 2, (2, 7 * 6, 3))
    img = x.reshape(2, 7, 6, 3)
    pool = MaxPool(name="p", in_dtype=BIPOLAR, out_dtype=BIPOLAR, ifm_dim=(7, 6), channels=3)
    got = pool.reference(x).reshape(2, 3, 3, 3)
    for oy in range(3):
        for ox in range(3):
            win = img[:, 2 * oy : 2 * oy + 2, 2 * ox : 2 * ox + 2].reshape(2, 4, 3)
            np.testing.assert_array_equal(got[:, oy, ox], win.max(axis=1))


# the RTL template under cocotb (more seeds under slow) and the HLS kernel, per case
test_rtl_template, test_rtl_template_more_seeds, test_hls_kernel = layer_tests(CASES)
