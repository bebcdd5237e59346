"""LabelSelect: its random records, its reference (argmax, ties to the lowest index), the RTL
template under cocotb and the HLS kernel in C-simulation."""

from __future__ import annotations

import numpy as np

from tests.layers.harness import layer_tests, pick
from xnorflow.compile.ir.datatypes import DataType
from xnorflow.compile.layers import LabelSelect, Layer
from xnorflow.compile.layers.base import divisors


def label_select(rng) -> Layer:
    labels = int(rng.integers(2, 17))
    dt = DataType.parse(str(rng.choice(["INT8", "UINT7", "INT12"])))
    return LabelSelect(name="top1", in_dtype=dt, out_dtype=DataType.parse("UINT8"),
                       labels=labels, pe=pick(rng, divisors(labels)))


CASES = {"label_select": label_select}


def test_reference_is_the_first_argmax():
    layer = label_select(np.random.default_rng(5))
    x = np.zeros((3, 1, layer.labels), np.int64)
    x[0, 0, -1] = 5
    x[1, 0, [0, 1]] = 7  # a tie goes to the lowest index
    np.testing.assert_array_equal(layer.reference(x).reshape(-1), [layer.labels - 1, 0, 0])


# the RTL template under cocotb (more seeds under slow) and the HLS kernel, per case
test_rtl_template, test_rtl_template_more_seeds, test_hls_kernel = layer_tests(CASES)
