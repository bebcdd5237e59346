"""LabelSelect: its random records, its reference (argmax, ties to the lowest index), the RTL
template under cocotb and the HLS kernel in C-simulation."""

from __future__ import annotations

import numpy as np
import pytest

from tests.layers.harness import check_hls, check_rtl, pick
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


@pytest.mark.sim
@pytest.mark.parametrize("name", sorted(CASES))
def test_rtl_template(name, rtl_cache):
    check_rtl(CASES[name], name, 1, rtl_cache)


@pytest.mark.slow
@pytest.mark.sim
@pytest.mark.parametrize("seed", [2, 3, 4])
@pytest.mark.parametrize("name", sorted(CASES))
def test_rtl_template_more_seeds(name, seed, rtl_cache):
    check_rtl(CASES[name], name, seed, rtl_cache)


@pytest.mark.sim
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("name", sorted(CASES))
def test_hls_kernel(name, seed, tmp_path):
    check_hls(CASES[name], name, seed, tmp_path)
