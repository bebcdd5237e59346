"""MaxPool: its random records (rectangular images 5-12 per axis, rectangular kernels 1-5,
strides 1-3 per axis: overlapping, tiling and gapped windows; BIPOLAR and signed/unsigned
ints), its reference against loops, the RTL template (lint, cocotb) and the HLS kernel in
C-simulation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.layers.harness import check_lint, layer_tests, pick
from tests.layers.test_sliding_window import DTYPES, draw_geometry
from xnorflow.compile.ir.datatypes import BIPOLAR, DataType
from xnorflow.compile.layers import Layer, MaxPool
from xnorflow.compile.layers.base import divisors


def maxpool(rng) -> Layer:
    geo = draw_geometry(rng, max_ch=8)
    dt = DataType.parse(str(rng.choice(DTYPES)))
    return MaxPool(name="pool", in_dtype=dt, out_dtype=dt, pe=pick(rng, divisors(geo["channels"])),
                   **geo)


def finn_pool(rng) -> Layer:
    """nn.MaxPool2d(3, 2) as FINN lowers it: 3×3 windows, stride 2 (overlapping)."""
    h, w = int(rng.integers(5, 13)), int(rng.integers(5, 13))
    ch = int(rng.integers(1, 9))
    return MaxPool(name="pool", in_dtype=BIPOLAR, out_dtype=BIPOLAR, ifm_dim=(h, w),
                   channels=ch, kernel=3, stride=2, pe=pick(rng, divisors(ch)))


CASES = {"maxpool": maxpool}


def naive(layer: MaxPool, x: np.ndarray) -> np.ndarray:
    (ih, iw), c = layer.ifm_dim, layer.channels
    (kh, kw), (sh, sw) = layer.kernel_hw, layer.stride_hw
    img = x.reshape(x.shape[0], ih, iw, c)
    out = np.zeros((x.shape[0], *layer.ofm_dim, c), np.int64)
    for oy in range((ih - kh) // sh + 1):
        for ox in range((iw - kw) // sw + 1):
            for ch in range(c):
                for n in range(x.shape[0]):
                    out[n, oy, ox, ch] = max(img[n, oy * sh + ky, ox * sw + kx, ch]
                                             for ky in range(kh) for kx in range(kw))
    return out.reshape(x.shape[0], -1, c)


@pytest.mark.parametrize("seed", range(30))
def test_reference_matches_loops(seed):
    rng = np.random.default_rng(seed)
    layer = maxpool(rng) if seed % 3 else finn_pool(rng)
    x = rng.integers(layer.in_dtype.min(), layer.in_dtype.max() + 1, (2, *layer.in_shape))
    np.testing.assert_array_equal(layer.reference(x), naive(layer, x))
    assert layer.exp_cycles() == layer.in_shape[0] * layer.channels // layer.pe


def test_bipolar_max_is_or():
    pool = MaxPool(name="p", in_dtype=BIPOLAR, out_dtype=BIPOLAR, ifm_dim=(3, 4), channels=1,
                   kernel=(1, 2), stride=(1, 2))
    x = np.array([[0, 0, 1, 0], [0, 1, 1, 1], [0, 0, 0, 0]]).reshape(1, 12, 1)
    assert pool.reference(x).ravel().tolist() == [0, 1, 1, 1, 0, 0]


def test_json_round_trip():
    i4 = DataType.parse("INT4")
    for kernel, stride in ((3, 2), ((2, 3), (1, 2)), ((2, 2), 2)):
        pool = MaxPool(name="p", in_dtype=i4, out_dtype=i4, ifm_dim=(7, 9), channels=4,
                       kernel=kernel, stride=stride, pe=2)
        record, arrays = pool.to_json()
        back = Layer.from_json(json.loads(json.dumps(record)), arrays)
        assert back.equals(pool) and back.to_json()[0] == record
    assert MaxPool(name="d", in_dtype=i4, out_dtype=i4, ifm_dim=(4, 4)).kernel_hw == (2, 2)


@pytest.mark.sim
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_rtl_lint_clean(seed, tmp_path):
    """The template at random geometries, Verilator -Wall in a generated single-layer top."""
    case = finn_pool if seed == 1 else maxpool
    check_lint(case, "pool", 100 + seed, tmp_path)


# the RTL template under cocotb (more seeds under slow) and the HLS kernel, per case
test_rtl_template, test_rtl_template_more_seeds, test_hls_kernel = layer_tests(CASES)
