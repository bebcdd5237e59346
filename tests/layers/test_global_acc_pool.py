"""GlobalAccPool: its random records (1-64 pixels, 1-16 channels, PE divisors, signed and
unsigned types of 1-8 bits; a CNN head; tiny ones of 1-2 pixels), its reference against loops,
the output type against FINN's GlobalAccPool, the refusals, the JSON round trip, the RTL
template (lint, cocotb) and the HLS kernel in C-simulation."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from tests.layers.harness import check_lint, layer_tests, pick
from xnorflow.compile.errors import CompileError
from xnorflow.compile.ir.datatypes import BIPOLAR, DataType
from xnorflow.compile.layers import GlobalAccPool, Layer
from xnorflow.compile.layers.base import LayerError, divisors
from xnorflow.compile.layers.global_acc_pool import sum_type

DTYPES = ["INT2", "INT4", "UINT3", "UINT8", "BINARY", "INT8", "UINT1"]


def global_acc_pool(rng) -> Layer:
    pixels = int(rng.integers(1, 65))
    ch = int(rng.integers(1, 17))
    dt = DataType.parse(str(rng.choice(DTYPES)))
    return GlobalAccPool(name="gap", in_dtype=dt, out_dtype=sum_type(dt, pixels), pixels=pixels,
                         channels=ch, pe=pick(rng, divisors(ch)))


def cnn_head(rng) -> Layer:
    """A CNN's global average pool as the frontend sees it: an H×W map (2-8 per axis) of the
    re-typed bipolar activation INT2 {-1, +1}, or of a 2-4-bit activation; a wider output type
    than needed (as FINN's graph may say)."""
    h, w = int(rng.integers(2, 9)), int(rng.integers(2, 9))
    ch = int(rng.choice([4, 8, 10, 16]))
    dt = DataType.parse(str(rng.choice(["INT2", "UINT2", "INT4"])))
    need = sum_type(dt, h * w)
    out = DataType.parse(f"{'INT' if dt.signed else 'UINT'}{need.bits + int(rng.integers(0, 3))}")
    return GlobalAccPool(name="gap", in_dtype=dt, out_dtype=out, pixels=h * w, channels=ch,
                         pe=pick(rng, divisors(ch)))


def tiny_pool(rng) -> Layer:
    """Degenerate sizes: 1-2 pixels, 1-3 channels, 1-2-bit inputs (UINT1 over one pixel)."""
    pixels, ch = int(rng.integers(1, 3)), int(rng.integers(1, 4))
    dt = DataType.parse(str(rng.choice(["UINT1", "INT2", "BINARY"])))
    return GlobalAccPool(name="gap", in_dtype=dt, out_dtype=sum_type(dt, pixels), pixels=pixels,
                         channels=ch, pe=pick(rng, divisors(ch)))


CASES = {"global_acc_pool": global_acc_pool, "global_acc_pool_head": cnn_head,
         "global_acc_pool_tiny": tiny_pool}


def naive(layer: GlobalAccPool, x: np.ndarray) -> np.ndarray:
    out = np.zeros((x.shape[0], 1, layer.channels), np.int64)
    for n in range(x.shape[0]):
        for c in range(layer.channels):
            for p in range(layer.pixels):
                out[n, 0, c] += x[n, p, c]
    return out


@pytest.mark.parametrize("seed", range(30))
def test_reference_matches_loops(seed):
    rng = np.random.default_rng(seed)
    layer = global_acc_pool(rng) if seed % 3 else cnn_head(rng)
    x = rng.integers(layer.in_dtype.min(), layer.in_dtype.max() + 1, (3, *layer.in_shape))
    out = layer.reference(x)
    assert out.shape == (3, *layer.out_shape)
    np.testing.assert_array_equal(out, naive(layer, x))
    assert layer.exp_cycles() == layer.pixels * layer.channels // layer.pe
    # the extremes fit the output type
    for v in (layer.in_dtype.min(), layer.in_dtype.max()):
        layer.out_dtype.check(layer.reference(np.full((1, *layer.in_shape), v)), "extreme sum")


def test_sum_type():
    for dt, pixels, want in (("INT2", 49, "INT8"), ("INT2", 64, "INT8"), ("INT2", 65, "INT9"),
                             ("UINT1", 1, "UINT1"), ("UINT3", 9, "UINT6"), ("INT4", 1, "INT4"),
                             ("UINT8", 64, "UINT14")):
        assert sum_type(DataType.parse(dt), pixels) == DataType.parse(want), (dt, pixels)


def _node(dtype: str, h: int, w: int, ch: int = 8):
    from onnx import helper

    return helper.make_node("GlobalAccPool", ["x"], ["y"], name="GlobalAccPool_0",
                            domain="finn.custom_op.fpgadataflow", NumChannels=ch, PE=1,
                            inputDataType=dtype, numInputVectors=[1, h, w])


def _reader(out_dtype: str | None = None, before=None):
    """A stand-in for the FINN reader; `before`: the layer producing the pool's input."""
    def fail(node, why):
        return CompileError(f"node {node.name!r} ({node.op_type}) {why}")

    def get_tensor_datatype(name):
        from qonnx.core.datatype import DataType as QDataType
        return QDataType[out_dtype or "FLOAT32"]

    model = SimpleNamespace(get_tensor_datatype=get_tensor_datatype)
    return SimpleNamespace(fail=fail, source="test.onnx", init=lambda name: None, model=model,
                           producer_layer=lambda tensor: before)


def test_read_finn_takes_the_narrower_type_of_the_layer_before():
    """An MVAU without activation before the pool (an all-conv classifier): FINN leaves its
    MatMul's UINT32 on the pool's input; the IR sized the accumulator (UINT4)."""
    before = SimpleNamespace(out_dtype=DataType.parse("UINT4"))
    layer, _ = GlobalAccPool.read_finn(_reader(before=before), _node("UINT32", 3, 3), None)
    assert layer.in_dtype.name == "UINT4" and layer.out_dtype.name == "UINT8"
    wider = SimpleNamespace(out_dtype=DataType.parse("INT8"))  # not inside UINT32: FINN's type
    layer, _ = GlobalAccPool.read_finn(_reader(before=wider), _node("UINT32", 3, 3), None)
    assert layer.in_dtype.name == "UINT32"


@pytest.mark.parametrize("dtype,h,w", [("INT2", 7, 7), ("INT2", 8, 8), ("UINT2", 3, 5),
                                       ("INT4", 1, 1), ("UINT8", 4, 4), ("INT3", 2, 9)])
def test_output_type_agrees_with_finn(dtype, h, w):
    """Our smallest sum type equals FINN's GlobalAccPool.get_output_datatype; its own
    execution (a sum over H and W) agrees with the reference."""
    from qonnx.custom_op.registry import getCustomOp

    node = _node(dtype, h, w)
    op = getCustomOp(node)
    layer, nodes = GlobalAccPool.read_finn(_reader(), node, None)
    assert nodes == [node] and GlobalAccPool.claims_finn(node)
    assert (layer.pixels, layer.channels, layer.pe) == (h * w, 8, 1)
    assert layer.out_dtype.name == op.get_output_datatype().name.replace("BINARY", "UINT1")
    x = np.random.default_rng(1).integers(layer.in_dtype.min(), layer.in_dtype.max() + 1,
                                          (1, *layer.in_shape))
    ctx = {"x": x.reshape(1, h, w, 8).astype(np.float32), "y": np.zeros((1, 1, 1, 8), np.float32)}
    op.execute_node(ctx, None)
    np.testing.assert_array_equal(ctx["y"].reshape(1, 1, 8), layer.reference(x))


def test_read_finn_takes_a_wider_finn_type():
    node = _node("INT2", 4, 4)
    assert GlobalAccPool.read_finn(_reader("INT6"), node, None)[0].out_dtype.name == "INT6"
    # narrower (or a type that misses the range): ours
    assert GlobalAccPool.read_finn(_reader("INT4"), node, None)[0].out_dtype.name == "INT6"
    assert GlobalAccPool.read_finn(_reader("INT16"), node, None)[0].out_dtype.name == "INT16"
    assert GlobalAccPool.read_finn(_reader("UINT16"), node, None)[0].out_dtype.name == "INT6"


def test_read_finn_refusals():
    with pytest.raises(CompileError, match="re-type the bipolar activation as INT2"):
        GlobalAccPool.read_finn(_reader(), _node("BINARY", 4, 4), None)
    from onnx import helper
    flat = helper.make_node("GlobalAccPool", ["x"], ["y"], name="g", NumChannels=4, PE=1,
                            inputDataType="INT2", numInputVectors=[16])
    with pytest.raises(CompileError, match=r"expected \[1, H, W\]"):
        GlobalAccPool.read_finn(_reader(), flat, None)


def test_rejects_bad_records():
    i2, i4 = DataType.parse("INT2"), DataType.parse("INT4")
    with pytest.raises(LayerError, match="bipolar"):
        GlobalAccPool(name="g", in_dtype=BIPOLAR, out_dtype=i4, pixels=4, channels=2)
    with pytest.raises(LayerError, match="cannot hold the sums of 16 INT2 values .* use INT6"):
        GlobalAccPool(name="g", in_dtype=i2, out_dtype=i4, pixels=16, channels=2)
    with pytest.raises(LayerError, match="cannot hold"):  # unsigned cannot hold negative sums
        GlobalAccPool(name="g", in_dtype=i2, out_dtype=DataType.parse("UINT8"), pixels=4)
    with pytest.raises(LayerError, match="PE=3 is not allowed"):
        GlobalAccPool(name="g", in_dtype=i2, out_dtype=i4, pixels=4, channels=4).with_folding(PE=3)


def test_json_round_trip():
    i2 = DataType.parse("INT2")
    gap = GlobalAccPool(name="g", in_dtype=i2, out_dtype=sum_type(i2, 49), pixels=49,
                        channels=10, pe=5)
    record, arrays = gap.to_json()
    assert record["out_dtype"] == "INT8" and record["derived"]["out_shape"] == [1, 10]
    back = Layer.from_json(json.loads(json.dumps(record)), arrays)
    assert back.equals(gap) and back.to_json()[0] == record


def test_finn_estimate_variant():
    from xnorflow.compile.estimates import estimate_layer

    node = _node("INT2", 4, 4)
    layer = GlobalAccPool.read_finn(_reader(), node, None)[0].with_folding(PE=2)
    est = estimate_layer(layer, [node], "xc7z020clg400-1")
    assert est["finn_ops"] == ["GlobalAccPool_hls"]


@pytest.mark.sim
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_rtl_lint_clean(seed, tmp_path):
    """The template at random sizes, Verilator -Wall in a generated single-layer top."""
    case = cnn_head if seed == 1 else global_acc_pool
    check_lint(case, "gap", 100 + seed, tmp_path)


# the RTL template under cocotb (more seeds under slow) and the HLS kernel, per case
test_rtl_template, test_rtl_template_more_seeds, test_hls_kernel = layer_tests(CASES)
