"""SlidingWindow: its random records (rectangular images 5-12 per axis, rectangular kernels 1-5,
strides 1-3 per axis), its reference against loops and qonnx's Im2Col, FINN's attributes, the
JSON round trip, the RTL template (lint, cocotb) and the HLS kernel in C-simulation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.layers.harness import check_lint, layer_tests, pick
from xnorflow.compile.errors import CompileError
from xnorflow.compile.frontend.finn_attrs import finn_window
from xnorflow.compile.ir.datatypes import BIPOLAR, DataType
from xnorflow.compile.layers import Layer, SlidingWindow
from xnorflow.compile.layers.base import LayerError, divisors

DTYPES = ["BIPOLAR", "INT2", "INT4", "UINT3"]


def draw_geometry(rng, max_ch: int = 6) -> dict:
    """ifm_dim, channels, kernel (kh, kw) and stride (sh, sw) of a random window layer."""
    h, w = int(rng.integers(5, 13)), int(rng.integers(5, 13))
    kh, kw = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    return {"ifm_dim": (h, w), "channels": int(rng.integers(1, max_ch + 1)),
            "kernel": (kh, kw), "stride": (sh, sw)}


def sliding_window(rng) -> Layer:
    geo = draw_geometry(rng, max_ch=4)
    dt = DataType.parse(str(rng.choice(DTYPES)))
    return SlidingWindow(name="swg", in_dtype=dt, out_dtype=dt, simd=pick(rng, divisors(
        geo["channels"])), **geo)


CASES = {"sliding_window": sliding_window}


def naive(layer: SlidingWindow, x: np.ndarray) -> np.ndarray:
    (ih, iw), c = layer.ifm_dim, layer.channels
    (kh, kw), (sh, sw) = layer.kernel_hw, layer.stride_hw
    img = x.reshape(x.shape[0], ih, iw, c)
    rows = []
    for oy in range((ih - kh) // sh + 1):
        for ox in range((iw - kw) // sw + 1):
            rows.append([img[:, oy * sh + ky, ox * sw + kx, ch]
                         for ky in range(kh) for kx in range(kw) for ch in range(c)])
    return np.array(rows).transpose(2, 0, 1)  # (n, pixels, kh*kw*c)


@pytest.mark.parametrize("seed", range(40))
def test_reference_matches_loops(seed):
    rng = np.random.default_rng(seed)
    layer = sliding_window(rng)
    x = rng.integers(layer.in_dtype.min(), layer.in_dtype.max() + 1, (2, *layer.in_shape))
    out = layer.reference(x)
    assert out.shape == (2, *layer.out_shape)
    np.testing.assert_array_equal(out, naive(layer, x))
    reads = layer.in_shape[0] * layer.channels // layer.simd
    assert layer.exp_cycles() == max(reads, out.shape[1] * out.shape[2] // layer.simd)


def test_reference_matches_qonnx_im2col():
    """FINN lowers a conv to Im2Col + MatMul; its (ky, kx, c) order is the one we produce."""
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType as QDataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.util.basic import qonnx_make_model

    h, w, c, (kh, kw), (sh, sw) = 7, 9, 3, (2, 4), (3, 2)
    layer = SlidingWindow(name="s", in_dtype=DataType.parse("INT4"),
                          out_dtype=DataType.parse("INT4"), ifm_dim=(h, w), channels=c,
                          kernel=(kh, kw), stride=(sh, sw))
    (oh, ow) = layer.ofm_dim
    node = helper.make_node("Im2Col", ["x"], ["y"], domain="qonnx.custom_op.general",
                            stride=[sh, sw], kernel_size=[kh, kw],
                            input_shape=f"(1, {h}, {w}, {c})", pad_amount=[0, 0, 0, 0])
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, h, w, c])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, oh, ow, kh * kw * c])])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_tensor_datatype("x", QDataType["INT4"])
    x = np.random.default_rng(0).integers(-8, 8, (1, h * w, c))
    got = execute_onnx(model, {"x": x.reshape(1, h, w, c).astype(np.float32)})["y"]
    np.testing.assert_array_equal(layer.reference(x), got.reshape(1, oh * ow, -1))


def test_kernel_and_stride_forms():
    """ints and pairs; the record keeps an int when square (old IRs and their JSON unchanged)."""
    u2 = DataType.parse("UINT2")
    sq = SlidingWindow(name="a", in_dtype=u2, out_dtype=u2, ifm_dim=[6, 5], channels=2,
                       kernel=[3, 3], stride=(2, 2))
    assert (sq.kernel, sq.stride, sq.kernel_hw, sq.stride_hw) == (3, 2, (3, 3), (2, 2))
    assert sq.ifm_dim == (6, 5) and sq.ofm_dim == (2, 2)
    rect = SlidingWindow(name="b", in_dtype=u2, out_dtype=u2, ifm_dim=(6, 9), channels=2,
                         kernel=(1, 4), stride=[2, 3])
    assert (rect.kernel, rect.stride, rect.ofm_dim) == ((1, 4), (2, 3), (3, 2))
    assert rect.out_shape == (6, 8)
    for layer in (sq, rect):
        record, arrays = layer.to_json()
        back = Layer.from_json(json.loads(json.dumps(record)), arrays)
        assert back.equals(layer) and back.to_json()[0] == record
    assert sq.to_json()[0]["kernel"] == 3 and rect.to_json()[0]["kernel"] == [1, 4]
    old = {"kind": "sliding_window", "name": "old", "in_dtype": "BIPOLAR",
           "out_dtype": "BIPOLAR", "ifm_dim": [4, 4], "channels": 2, "kernel": 3, "stride": 1,
           "simd": 2}
    assert Layer.from_json(old, {}).equals(SlidingWindow(
        name="old", in_dtype=BIPOLAR, out_dtype=BIPOLAR, ifm_dim=(4, 4), channels=2,
        kernel=(3, 3), stride=1, simd=2))
    for bad in ({"kernel": (7, 1)}, {"kernel": (0, 1)}, {"stride": (1, 2, 3)},
                {"kernel": 1.5}):
        with pytest.raises(LayerError, match="'c'"):
            SlidingWindow(name="c", in_dtype=u2, out_dtype=u2, ifm_dim=(6, 6),
                          **{"kernel": 1, "stride": 1, **bad})


def _fail(node, why):
    return CompileError(f"{node.op_type} node {node.name!r} {why}")


def test_finn_window_reads_rectangular_geometry():
    from onnx import helper

    cig = helper.make_node("ConvolutionInputGenerator", ["a"], ["b"], name="CIG_0",
                           IFMDim=[7, 10], IFMChannels=3, ConvKernelDim=[2, 5], Stride=[1, 3],
                           Dilation=[1, 1])
    assert finn_window(cig, _fail) == ((7, 10), 3, (2, 5), (1, 3))
    im2col = helper.make_node("Im2Col", ["a"], ["b"], name="Im2Col_0",
                              input_shape="(1, 6, 8, 4)", kernel_size=[3, 2], stride=[2, 1])
    assert finn_window(im2col, _fail) == ((6, 8), 4, (3, 2), (2, 1))
    dil = helper.make_node("ConvolutionInputGenerator", ["a"], ["b"], name="CIG_1",
                           IFMDim=[7, 7], IFMChannels=3, ConvKernelDim=[3, 3], Stride=[1, 1],
                           Dilation=[2, 2])
    with pytest.raises(CompileError, match="'CIG_1'.*dilation"):
        finn_window(dil, _fail)


@pytest.mark.sim
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_rtl_lint_clean(seed, tmp_path):
    """The template at random geometries, Verilator -Wall in a generated single-layer top."""
    check_lint(sliding_window, "swg", 100 + seed, tmp_path)


# the RTL template under cocotb (more seeds under slow) and the HLS kernel, per case
test_rtl_template, test_rtl_template_more_seeds, test_hls_kernel = layer_tests(CASES)
