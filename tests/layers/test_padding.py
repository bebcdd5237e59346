"""Padding: its random records (images 1-9 per axis, 0-3 pixels per side, asymmetric, SIMD
divisors, signed and unsigned types, zero or any pad value of the type; a max-pool's pad with
the type's minimum, bipolar included), its reference against loops, FINN's attribute order,
the ONNX Pad reading, the bipolar zero refusal, the JSON round trip, the RTL template (lint,
cocotb) and the HLS kernel in C-simulation."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest

from tests.layers.harness import check_lint, layer_tests, pick
from xnorflow.compile.errors import CompileError
from xnorflow.compile.ir.datatypes import BIPOLAR, DataType
from xnorflow.compile.layers import Layer, Padding
from xnorflow.compile.layers.base import LayerError, divisors

DTYPES = ["INT2", "INT4", "UINT3", "UINT8", "BINARY", "INT8"]


def padding(rng) -> Layer:
    h, w = int(rng.integers(1, 10)), int(rng.integers(1, 10))
    ch = int(rng.integers(1, 9))
    pad = tuple(int(v) for v in rng.integers(0, 4, size=4))
    dt = DataType.parse(str(rng.choice(DTYPES)))
    value = int(rng.integers(dt.min(), dt.max() + 1)) if rng.random() < 0.5 else 0
    return Padding(name="pad", in_dtype=dt, out_dtype=dt, ifm_dim=(h, w), channels=ch,
                   padding=pad, simd=pick(rng, divisors(ch)), value=value)


def pool_padding(rng) -> Layer:
    """A padded max-pool's input: 1 pixel on each side (ceil mode: one more bottom/right),
    padded with the type's minimum — −1 for bipolar bits, the most negative signed value."""
    h, w = int(rng.integers(2, 9)), int(rng.integers(2, 9))
    ch = int(rng.choice([1, 2, 5, 8]))
    top, left = int(rng.integers(0, 2)), int(rng.integers(0, 2))
    bottom, right = top + int(rng.integers(0, 2)), left + int(rng.integers(0, 2))
    dt = DataType.parse(str(rng.choice(["BIPOLAR", "INT2", "INT3", "INT8"])))
    return Padding(name="pad", in_dtype=dt, out_dtype=dt, ifm_dim=(h, w), channels=ch,
                   padding=(top, left, bottom, right), simd=pick(rng, divisors(ch)),
                   value=dt.value_min())


def conv_padding(rng) -> Layer:
    """A padded conv's input as the frontend sees it: pad 1 (or 2) on every side, INT2 (the
    re-typed bipolar activation) or the input quantizer's UINT8/INT8, wider images."""
    h, w = int(rng.integers(4, 13)), int(rng.integers(4, 13))
    ch = int(rng.choice([1, 3, 4, 16]))
    p = int(rng.integers(1, 3))
    dt = DataType.parse(str(rng.choice(["INT2", "UINT8", "INT8"])))
    return Padding(name="pad", in_dtype=dt, out_dtype=dt, ifm_dim=(h, w), channels=ch,
                   padding=(p, p, p, p), simd=pick(rng, divisors(ch)))


def tiny_padding(rng) -> Layer:
    """Degenerate geometry: 1-2 pixels per axis, some sides (or all) unpadded, 1-3 channels."""
    h, w, ch = int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 4))
    pad = tuple(int(v) * int(rng.integers(0, 2)) for v in rng.integers(0, 4, size=4))
    dt = DataType.parse(str(rng.choice(["BINARY", "INT2"])))
    return Padding(name="pad", in_dtype=dt, out_dtype=dt, ifm_dim=(h, w), channels=ch,
                   padding=pad, simd=pick(rng, divisors(ch)))


CASES = {"padding": padding, "padding_conv": conv_padding, "padding_tiny": tiny_padding,
         "padding_pool": pool_padding}


def naive(layer: Padding, x: np.ndarray) -> np.ndarray:
    (h, w), c = layer.ifm_dim, layer.channels
    top, left, bottom, right = layer.padding
    oh, ow = top + h + bottom, left + w + right
    out = np.full((x.shape[0], oh * ow, c), layer.stored_value, np.int64)
    for n in range(x.shape[0]):
        for oy in range(oh):
            for ox in range(ow):
                y, xx = oy - top, ox - left
                if 0 <= y < h and 0 <= xx < w:
                    for ch in range(c):
                        out[n, oy * ow + ox, ch] = x[n, y * w + xx, ch]
    return out


@pytest.mark.parametrize("seed", range(30))
def test_reference_matches_loops(seed):
    rng = np.random.default_rng(seed)
    layer = (conv_padding, padding, pool_padding)[seed % 3](rng)
    x = rng.integers(layer.in_dtype.min(), layer.in_dtype.max() + 1, (2, *layer.in_shape))
    out = layer.reference(x)
    assert out.shape == (2, *layer.out_shape)
    np.testing.assert_array_equal(out, naive(layer, x))
    (oh, ow) = layer.ofm_dim
    assert layer.exp_cycles() == oh * ow * layer.channels // layer.simd
    assert layer.allowed_folding() == {"SIMD": divisors(layer.channels)}


def test_asymmetric_order():
    """(top, left, bottom, right): 1 row above, 2 columns left, none below, 1 column right."""
    i4 = DataType.parse("INT4")
    pad = Padding(name="p", in_dtype=i4, out_dtype=i4, ifm_dim=(2, 2), channels=1,
                  padding=(1, 2, 0, 1))
    assert pad.ofm_dim == (3, 5) and pad.out_shape == (15, 1)
    x = np.array([1, 2, 3, 4]).reshape(1, 4, 1)
    assert pad.reference(x).reshape(3, 5).tolist() == [[0, 0, 0, 0, 0],
                                                       [0, 0, 1, 2, 0],
                                                       [0, 0, 3, 4, 0]]


def test_pad_values():
    """A bipolar −1 pads the bit 0, +1 the bit 1; a negative value its two's complement."""
    x = np.array([1, 0]).reshape(1, 2, 1)
    for value, bit in ((-1, 0), (1, 1)):
        pad = Padding(name="p", in_dtype=BIPOLAR, out_dtype=BIPOLAR, ifm_dim=(1, 2),
                      padding=(0, 1, 0, 0), value=value)
        assert pad.reference(x).reshape(-1).tolist() == [bit, 1, 0] and pad.pad_word == bit
    i4 = DataType.parse("INT4")
    pad = Padding(name="p", in_dtype=i4, out_dtype=i4, ifm_dim=(1, 1), padding=(0, 0, 0, 1),
                  value=-8)
    assert pad.reference(np.array([[[3]]])).reshape(-1).tolist() == [3, -8]
    assert pad.pad_word == 0b1000
    with pytest.raises(LayerError, match="pad value 8 is not a value of INT4"):
        dataclasses.replace(pad, value=8)
    with pytest.raises(LayerError, match="pad value 2 is not a value of BIPOLAR"):
        Padding(name="p", in_dtype=BIPOLAR, out_dtype=BIPOLAR, ifm_dim=(1, 1), value=2)


def test_rejects_bipolar_and_bad_records():
    with pytest.raises(LayerError, match="bipolar values cannot hold a zero pad"):
        Padding(name="p", in_dtype=BIPOLAR, out_dtype=BIPOLAR, ifm_dim=(3, 3), channels=2,
                padding=(1, 1, 1, 1))
    i2, i4 = DataType.parse("INT2"), DataType.parse("INT4")
    with pytest.raises(LayerError, match="keeps the datatype"):
        Padding(name="p", in_dtype=i2, out_dtype=i4, ifm_dim=(3, 3), padding=(1, 1, 1, 1))
    with pytest.raises(LayerError, match="padding"):
        Padding(name="p", in_dtype=i2, out_dtype=i2, ifm_dim=(3, 3), padding=(1, -1, 1, 1))
    with pytest.raises(LayerError, match="padding"):
        Padding(name="p", in_dtype=i2, out_dtype=i2, ifm_dim=(3, 3), padding=(1, 1))
    with pytest.raises(LayerError, match="SIMD=4 is not allowed"):
        Padding(name="p", in_dtype=i2, out_dtype=i2, ifm_dim=(3, 3), channels=6,
                padding=(1, 1, 1, 1)).with_folding(SIMD=4)


def test_json_round_trip():
    u3 = DataType.parse("UINT3")
    pad = Padding(name="p", in_dtype=u3, out_dtype=u3, ifm_dim=(5, 7), channels=6,
                  padding=(0, 2, 3, 1), simd=3)
    record, arrays = pad.to_json()
    assert record["padding"] == [0, 2, 3, 1] and record["derived"]["out_shape"] == [8 * 10, 6]
    assert "value" not in record  # a zero pad's record is as it was before pad values
    back = Layer.from_json(json.loads(json.dumps(record)), arrays)
    assert back.equals(pad) and back.to_json()[0] == record
    pad = dataclasses.replace(pad, value=5)
    back = Layer.from_json(json.loads(json.dumps(pad.to_json()[0])), {})
    assert back.value == 5 and back.equals(pad)


def test_read_onnx_pad():
    """PadPoolWithMinimum's ONNX Pad of an NHWC image → the layer with its value; onnxruntime's
    execution of the node agrees with the reference."""
    import onnx
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType as QDataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    pads = np.array([0, 1, 0, 0, 0, 2, 1, 0], np.int64)
    node = helper.make_node("Pad", ["x", "pads", "value"], ["y"], name="Pad_0",
                            mode="constant")
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6, 5, 2])],
        [helper.make_tensor("pads", TensorProto.INT64, [8], pads),
         helper.make_tensor("value", TensorProto.FLOAT, [], [-4.0])])
    model = ModelWrapper(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))
    onnx.checker.check_model(model.model)
    model.set_tensor_datatype("x", QDataType["INT3"])
    reader = SimpleNamespace(fail=_reader().fail, model=model, init=model.get_initializer)
    assert Padding.claims_finn(node)
    layer, nodes = Padding.read_finn(reader, node, None)
    assert nodes == [node] and layer.value == -4 and layer.in_dtype == DataType.parse("INT3")
    assert (layer.ifm_dim, layer.channels, layer.padding) == ((3, 4), 2, (1, 0, 2, 1))
    x = np.random.default_rng(0).integers(-4, 4, (1, *layer.in_shape))
    y = execute_onnx(model, {"x": x.reshape(1, 3, 4, 2).astype(np.float32)})["y"]
    np.testing.assert_array_equal(y.reshape(1, *layer.out_shape), layer.reference(x))
    model.set_initializer("value", np.float32(-5.0))  # not an INT3
    with pytest.raises(CompileError, match="pad value -5 is not a value of INT3"):
        Padding.read_finn(reader, node, None)


def _fmpadding(dtype: str, padding: list[int]):
    from onnx import helper

    return helper.make_node("FMPadding", ["x"], ["y"], name="FMPadding_0",
                            domain="finn.custom_op.fpgadataflow", ImgDim=[5, 6],
                            Padding=padding, NumChannels=4, SIMD=1, inputDataType=dtype,
                            numInputVectors=1)


def _reader():
    def fail(node, why):
        return CompileError(f"node {node.name!r} ({node.op_type}) {why}")
    return SimpleNamespace(fail=fail, source="test.onnx", init=lambda name: None)


def test_read_finn_padding_order():
    """FINN's Padding = [H_begin, W_begin, H_end, W_end] = our (top, left, bottom, right); its
    own execution (numpy pad) agrees with the reference."""
    node = _fmpadding("INT2", [1, 2, 3, 0])
    assert Padding.claims_finn(node)
    layer, nodes = Padding.read_finn(_reader(), node, None)
    assert nodes == [node]
    assert (layer.ifm_dim, layer.channels, layer.padding, layer.simd) == ((5, 6), 4,
                                                                          (1, 2, 3, 0), 1)
    assert layer.in_dtype == layer.out_dtype == DataType.parse("INT2")

    from qonnx.custom_op.registry import getCustomOp

    op = getCustomOp(node)
    assert tuple(op.get_normal_output_shape()) == (1, *layer.ofm_dim, 4)
    assert op.get_exp_cycles() == layer.exp_cycles()
    x = np.random.default_rng(0).integers(-2, 2, (1, *layer.in_shape))
    ctx = {"x": x.reshape(1, 5, 6, 4).astype(np.float32),
           "y": np.zeros((1, *layer.ofm_dim, 4), np.float32)}
    op.execute_node(ctx, None)
    np.testing.assert_array_equal(ctx["y"].reshape(1, *layer.out_shape), layer.reference(x))


def test_read_finn_rejects_bipolar():
    with pytest.raises(CompileError, match="cannot hold a zero pad"):
        Padding.read_finn(_reader(), _fmpadding("BINARY", [1, 1, 1, 1]), None)


def test_finn_estimate_variant():
    """The estimate asks FMPadding_rtl (FINN has no FMPadding_hls) at the IR's SIMD."""
    from xnorflow.compile.estimates import estimate_layer

    node = _fmpadding("INT4", [1, 1, 1, 1])
    layer = Padding.read_finn(_reader(), node, None)[0].with_folding(SIMD=2)
    est = estimate_layer(layer, [node], "xc7z020clg400-1")
    assert est["finn_ops"] == ["FMPadding_rtl"]
    assert est["lut"] >= 0 and est["bram18"] >= 0


@pytest.mark.sim
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_rtl_lint_clean(seed, tmp_path):
    """The template at random geometries, Verilator -Wall in a generated single-layer top."""
    case = conv_padding if seed == 1 else padding
    check_lint(case, "pad", 100 + seed, tmp_path)


# the RTL template under cocotb (more seeds under slow) and the HLS kernel, per case
test_rtl_template, test_rtl_template_more_seeds, test_hls_kernel = layer_tests(CASES)
