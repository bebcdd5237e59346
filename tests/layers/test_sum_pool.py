"""SumPool (a partial average pool's exact window sum): its random records (rectangular images
5-12 per axis, rectangular kernels 1-5, strides 1-3: overlapping, tiling and gapped windows;
signed and unsigned inputs, outputs of the narrowest type that holds the sum or wider), its
reference against loops, the type checks, FINN's claim by the Pool's Function, the RTL
template (lint, cocotb) and the HLS kernel in C-simulation."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from onnx import helper

from tests.layers.harness import check_lint, layer_tests, pick
from tests.layers.test_sliding_window import draw_geometry
from xnorflow.compile.errors import CompileError
from xnorflow.compile.ir.datatypes import BIPOLAR, DataType, smallest_type
from xnorflow.compile.layers import Layer, MaxPool, SumPool
from xnorflow.compile.layers.base import LayerError, divisors

IN_TYPES = ["INT2", "INT3", "UINT2", "UINT4", "BINARY", "INT8"]


def sum_type(dt: DataType, n: int, extra: int = 0) -> DataType:
    """The narrowest type holding n values of `dt`, widened by `extra` bits."""
    t = smallest_type(dt.min() * n, dt.max() * n)
    return DataType.parse(f"{'INT' if t.signed else 'UINT'}{t.bits + extra}")


def sum_pool(rng) -> Layer:
    geo = draw_geometry(rng, max_ch=8)
    dt = DataType.parse(str(rng.choice(IN_TYPES)))
    n = geo["kernel"][0] * geo["kernel"][1]
    return SumPool(name="pool", in_dtype=dt, out_dtype=sum_type(dt, n, int(rng.integers(0, 2))),
                   pe=pick(rng, divisors(geo["channels"])), **geo)


def avg_pool2d(rng) -> Layer:
    """nn.AvgPool2d(2) and (3, 2) as the frontend lowers them: INT2 or UINT2 activations."""
    h, w = int(rng.integers(4, 13)), int(rng.integers(4, 13))
    ch = int(rng.integers(1, 9))
    k, s = [(2, 2), (3, 2)][int(rng.integers(0, 2))]
    dt = DataType.parse(str(rng.choice(["INT2", "UINT2"])))
    return SumPool(name="pool", in_dtype=dt, out_dtype=sum_type(dt, k * k), ifm_dim=(h, w),
                   channels=ch, kernel=k, stride=s, pe=pick(rng, divisors(ch)))


CASES = {"sum_pool": sum_pool, "sum_pool_avg": avg_pool2d}


def naive(layer: SumPool, x: np.ndarray) -> np.ndarray:
    (ih, iw), c = layer.ifm_dim, layer.channels
    (kh, kw), (sh, sw) = layer.kernel_hw, layer.stride_hw
    img = x.reshape(x.shape[0], ih, iw, c)
    (oh, ow) = layer.ofm_dim
    out = np.zeros((x.shape[0], oh, ow, c), np.int64)
    for oy in range(oh):
        for ox in range(ow):
            for ky in range(kh):
                for kx in range(kw):
                    out[:, oy, ox, :] += img[:, oy * sh + ky, ox * sw + kx, :]
    return out.reshape(x.shape[0], -1, c)


@pytest.mark.parametrize("seed", range(30))
def test_reference_matches_loops(seed):
    rng = np.random.default_rng(seed)
    layer = sum_pool(rng) if seed % 3 else avg_pool2d(rng)
    dt = layer.in_dtype
    x = rng.integers(dt.min(), dt.max() + 1, (2, *layer.in_shape))
    out = layer.reference(x)
    np.testing.assert_array_equal(out, naive(layer, x))
    layer.out_dtype.check(out, "sum")  # the extreme sums fit the output type
    extreme = np.full((1, *layer.in_shape), dt.min())
    layer.out_dtype.check(layer.reference(extreme), "sum of minima")
    assert layer.exp_cycles() == layer.in_shape[0] * layer.channels // layer.pe


def test_types_must_hold_the_sum():
    i2 = DataType.parse("INT2")
    with pytest.raises(LayerError, match="INT5 cannot hold the sum of 9 INT2 values"):
        SumPool(name="p", in_dtype=i2, out_dtype=DataType.parse("INT5"), ifm_dim=(4, 4),
                kernel=3, stride=1)
    SumPool(name="p", in_dtype=i2, out_dtype=DataType.parse("INT6"), ifm_dim=(4, 4), kernel=3,
            stride=1)
    with pytest.raises(LayerError, match="not bipolar bits"):
        SumPool(name="p", in_dtype=BIPOLAR, out_dtype=DataType.parse("INT4"), ifm_dim=(4, 4))


def test_json_round_trip():
    u2, u4 = DataType.parse("UINT2"), DataType.parse("UINT4")
    pool = SumPool(name="p", in_dtype=u2, out_dtype=u4, ifm_dim=(6, 8), channels=4, kernel=2,
                   stride=2, pe=2)
    record, arrays = pool.to_json()
    assert record["kind"] == "sum_pool"
    back = Layer.from_json(json.loads(json.dumps(record)), arrays)
    assert isinstance(back, SumPool) and back.equals(pool) and back.to_json()[0] == record


def _finn_pair(function: str):
    window = helper.make_node(
        "ConvolutionInputGenerator", ["x"], ["w"], name="ConvolutionInputGenerator_0",
        domain="finn.custom_op.fpgadataflow", ConvKernelDim=[2, 2], IFMChannels=4,
        IFMDim=[6, 6], OFMDim=[3, 3], SIMD=4, Stride=[2, 2], Dilation=[1, 1],
        inputDataType="UINT2", outputDataType="UINT2", depthwise=1)
    pool = helper.make_node(
        "Pool", ["w"], ["y"], name="Pool_0", domain="finn.custom_op.fpgadataflow",
        InputDataType="UINT2", OutputDataType="UINT4" if function != "MaxPool" else "UINT2",
        Channels=4, PE=4, KernelSize=[2, 2], Function=function, OutImgDims=[3, 3],
        AccumBits=0, Size=0, BatchSize=1)
    return window, pool


def _reader():
    def fail(node, why):
        return CompileError(f"node {node.name!r} ({node.op_type}) {why}")
    return SimpleNamespace(fail=fail, source="test.onnx", init=lambda name: None)


def test_finn_claims_by_function():
    """A depthwise window before an AccPool Pool is a sum-pool, before a MaxPool one a
    max-pool; another Function (FINN's truncating QuantAvgPool) is named."""
    window, pool = _finn_pair("AccPool")
    assert SumPool.claims_finn(window, pool) and not MaxPool.claims_finn(window, pool)
    layer, nodes = SumPool.read_finn(_reader(), window, pool)
    assert nodes == [window, pool] and layer.out_dtype == DataType.parse("UINT4")
    assert (layer.ifm_dim, layer.kernel, layer.stride, layer.channels) == ((6, 6), 2, 2, 4)
    window, pool = _finn_pair("MaxPool")
    assert MaxPool.claims_finn(window, pool) and not SumPool.claims_finn(window, pool)
    assert MaxPool.claims_finn(window, None)  # to name a window without a pool
    window, pool = _finn_pair("QuantAvgPool")
    with pytest.raises(CompileError, match="is a QuantAvgPool pool"):
        MaxPool.read_finn(_reader(), window, pool)


def test_finn_execution_agrees():
    """FINN's own Python execution of Pool(AccPool) on the window's columns is the
    reference."""
    from qonnx.custom_op.registry import getCustomOp

    layer = avg_pool2d(np.random.default_rng(3))
    (kh, kw), (oh, ow), c = layer.kernel_hw, layer.ofm_dim, layer.channels
    _, pool = _finn_pair("AccPool")
    for a in pool.attribute:
        if a.name == "KernelSize":
            a.ints[:] = [kh, kw]
        elif a.name == "Channels" or a.name == "PE":
            a.i = c
    x = np.random.default_rng(4).integers(-2, 2, (1, *layer.in_shape))
    cols = np.stack(layer.window_taps(x), axis=3)  # (1, oh, ow, taps, C)
    ctx = {"w": cols.reshape(1, oh, ow, kh * kw * c).astype(np.float32),
           "y": np.zeros((1, oh, ow, c), np.float32)}
    getCustomOp(pool).execute_node(ctx, None)
    np.testing.assert_array_equal(ctx["y"].reshape(1, oh * ow, c), layer.reference(x))


@pytest.mark.sim
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rtl_lint_clean(seed, tmp_path):
    """The template in sum mode at random geometries, Verilator -Wall in a single-layer top."""
    check_lint(avg_pool2d if seed == 1 else sum_pool, "sum_pool", 100 + seed, tmp_path)


# the RTL template under cocotb (more seeds under slow) and the HLS kernel, per case
test_rtl_template, test_rtl_template_more_seeds, test_hls_kernel = layer_tests(CASES)
