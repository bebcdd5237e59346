"""PyTorch ≡ QONNX ≡ FINN HW graph (python mode) ≡ IR reference, bit for bit, on FINN's
reference BNNs (brevitas_examples.bnn_pynq, random weights + BatchNorm statistics) and on a
model trained by `xnorflow train`."""

from __future__ import annotations

import numpy as np
import pytest

from tests.compile.helpers import bnn_pynq, check_chain, export
from tests.nets import random_images
from xnorflow.compile.pipeline import compile_model


def _compile_bnn(tmp_path_factory, name: str, seed: int = 0, **kw):
    model, shape = bnn_pynq(name, seed)
    folder = tmp_path_factory.mktemp(name)
    path = export(model, shape, folder / f"{name}.onnx")
    return model, compile_model(path, folder / "build", **kw)


@pytest.fixture(scope="module")
def tfc(tmp_path_factory):
    return _compile_bnn(tmp_path_factory, "tfc_1w1a")


def test_tfc_chain_bit_exact(tfc):
    model, result = tfc
    images = random_images(result.ir, 24, seed=1)
    figs = check_chain(model, result, images)
    assert figs["distinct_outputs"] > 1  # the random network is not constant
    kinds = [layer.kind for layer in result.ir.layers]
    assert kinds == ["thresholding", "mvau", "mvau", "mvau", "mvau"]
    assert [layer.xnor for layer in result.ir.layers[1:]] == [True] * 4
    assert not result.ir.layers[-1].has_activation


def test_tfc_build_folder_complete(tfc):
    _, result = tfc
    for f in ("ir.json", "ir_arrays.npz", "report.json", "folding.json", "finn_hw.onnx"):
        assert (result.build / f).is_file(), f
    assert not list(result.build.parent.glob(".build.partial-*"))
    from xnorflow.compile.ir import DataflowIR

    loaded = DataflowIR.load(result.build)
    assert loaded.equals(result.ir)
    images = random_images(loaded, 8, seed=2)
    assert np.array_equal(loaded.run(images), result.ir.run(images))


@pytest.mark.parametrize("name", ["sfc_1w1a"])
def test_sfc_chain_bit_exact(tmp_path_factory, name):
    model, result = _compile_bnn(tmp_path_factory, name, seed=3)
    check_chain(model, result, random_images(result.ir, 12, seed=4))


# Brevitas' bnn_pynq models in every published precision (1W1A above): multi-bit activations
# (INT2 = {-1, 0, 1}) and ternary weights; the large ones under `slow`
MULTIBIT = ["tfc_1w2a", "tfc_2w2a", "sfc_1w2a", "sfc_2w2a",
            *(pytest.param(n, marks=pytest.mark.slow) for n in ("lfc_1w2a", "cnv_1w2a",
                                                               "cnv_2w2a"))]


@pytest.mark.parametrize("name", MULTIBIT)
def test_bnn_pynq_multibit_chain_bit_exact(tmp_path_factory, name):
    model, result = _compile_bnn(tmp_path_factory, name, seed=9,
                                 **({"target_fps": 1000} if name.startswith("cnv") else {}))
    figs = check_chain(model, result, random_images(result.ir, 6, seed=10))
    assert figs["distinct_outputs"] > 1
    mvaus = [layer for layer in result.ir.layers if layer.kind == "mvau"]
    w_bits, a_bits = int(name[-4]), int(name[-2])
    assert not any(m.xnor for m in mvaus)  # 2-bit activations: multiply-accumulate
    assert all(m.in_dtype.name == "INT2" for m in mvaus[1:])
    assert all(m.out_dtype.name == "INT2" for m in mvaus[:-1])
    assert {m.weight_dtype.name for m in mvaus} == ({"BIPOLAR"} if w_bits == 1 else {"INT2"})
    assert a_bits == 2


@pytest.mark.slow
def test_lfc_chain_bit_exact(tmp_path_factory):
    model, result = _compile_bnn(tmp_path_factory, "lfc_1w1a", seed=5)
    check_chain(model, result, random_images(result.ir, 8, seed=6))


@pytest.mark.slow
def test_cnv_chain_bit_exact(tmp_path_factory):
    model, result = _compile_bnn(tmp_path_factory, "cnv_1w1a", seed=7, target_fps=1000)
    ir = result.ir
    kinds = [layer.kind for layer in ir.layers]
    assert kinds.count("sliding_window") == 6 and kinds.count("maxpool") == 2
    assert kinds.count("mvau") == 9 and not ir.layers[2].xnor  # first conv: 8-bit × binary
    assert ir.layers[0].out_dtype.name == "INT8" and ir.input_layout == "nhwc"
    check_chain(model, result, random_images(ir, 3, seed=8))


def test_small_cnv_like_chain_bit_exact(tmp_path_factory):
    """A CNV-shaped network small enough for the default suite: 8-bit input, two 3x3 conv
    blocks with max-pool, spatial size > 1 at the flatten, two FC layers."""
    from tests.compile.helpers import randomize
    from xnorflow.train.models import build_cnn

    model = randomize(build_cnn((3, 14, 14), [8, 8, 16], [1], [16], 10, in_bits=8), seed=9)
    folder = tmp_path_factory.mktemp("cnvlike")
    path = export(model, (3, 14, 14), folder / "m.onnx")
    result = compile_model(path, folder / "build")
    kinds = [layer.kind for layer in result.ir.layers]
    assert kinds == ["thresholding", "sliding_window", "mvau", "sliding_window", "mvau",
                     "maxpool", "sliding_window", "mvau", "mvau", "mvau"]
    check_chain(model, result, random_images(result.ir, 6, seed=10))


TRAINED = {"mlp:32,16": None, "cnn:8,P/16": None, "cnn:8p1,P,16s2p1,G": 2,  # spec: bits
           "resnet:8,16/1": None, "resnet:8,8m/1": 2}


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A tiny MLP and CNN trained for one epoch by xnorflow.train on the built-in digits, a
    2W2A CNN with padding, a strided conv and a global average pool, and two residual networks
    (1W1A with a strided 1x1-conv shortcut; 2W2A with a max-pool shortcut)."""
    from xnorflow.train.loop import TrainConfig, run_training

    runs = {}
    for spec, bits in TRAINED.items():
        out = tmp_path_factory.mktemp("run")
        cfg = TrainConfig(model=spec, dataset="digits", epochs=1, check_images=4,
                          weight_bits=bits, act_bits=bits,
                          **({"optimizer": "adam"} if bits else {}))
        run_training(cfg, out, progress=False)
        runs[spec] = (cfg, out)
    return runs


@pytest.mark.parametrize("spec", list(TRAINED))
def test_trained_xnorflow_model_chain(trained_run, tmp_path, spec):
    import torch

    from xnorflow.train.data import load_dataset
    from xnorflow.train.loop import build_model_for
    from xnorflow.train.models import set_weight_binarization

    cfg, out = trained_run[spec]
    images, _ = load_dataset("digits", None, "test")
    model = build_model_for(cfg, tuple(images.shape[1:]), 10)
    state = torch.load(out / "best.pt", map_location="cpu", weights_only=False)["model"]
    model.load_state_dict(state)
    set_weight_binarization(model, True)
    model.eval()
    result = compile_model(out / "model.onnx", tmp_path / "build", target_fps=10000)
    assert result.ir.input_scale == pytest.approx(1 / 255)  # read from model.json
    figs = check_chain(model, result, images[:16])
    assert figs["labels_equal"] >= 15 / 16
    labels, _ = result.ir.predict(images)
    assert labels.shape == (len(images),)
    if spec.startswith("resnet"):  # the trained residual network in RTL and HLS too
        from typer.testing import CliRunner

        from xnorflow.cli import app

        build = str(tmp_path / "build")
        for cmd in (["simulate", build, "--dataset", "digits", "--n", "24",
                     "--backpressure", "50"],
                    ["csim", build, "--dataset", "digits", "--n", "24"]):
            res = CliRunner().invoke(app, cmd)
            assert res.exit_code == 0 and "0 mismatch" in res.output, res.output


@pytest.mark.slow
def test_tfc_dynamo_export_with_gemm(tmp_path):
    """Brevitas' default (dynamo) exporter writes Gemm instead of MatMul: same chain."""
    import warnings

    import onnx
    import torch
    from brevitas.export import export_qonnx

    from tests.compile.helpers import bnn_pynq

    model, shape = bnn_pynq("tfc_1w1a", 11)
    path = tmp_path / "tfc_dynamo.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_qonnx(model, torch.zeros(1, *shape), str(path))
    assert "Gemm" in {n.op_type for n in onnx.load(str(path)).graph.node}
    result = compile_model(path, tmp_path / "build", backends=False)
    check_chain(model, result, random_images(result.ir, 8, seed=12))


def test_layers_with_float_bias(tmp_path):
    """Linear/conv biases (before BatchNorm, and on the last layer) end in the thresholds and
    in the output bias."""
    import torch
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
    from brevitas.quant import SignedBinaryActPerTensorConst as Act
    from brevitas.quant import SignedBinaryWeightPerTensorConst as W

    from tests.compile.helpers import randomize

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.q0 = QuantIdentity(act_quant=Act)
            self.conv = QuantConv2d(1, 4, 3, bias=True, weight_quant=W)
            self.bn0 = torch.nn.BatchNorm2d(4)
            self.q1 = QuantIdentity(act_quant=Act)
            self.fc = QuantLinear(4 * 4 * 4, 12, bias=True, weight_quant=W)
            self.bn1 = torch.nn.BatchNorm1d(12)
            self.q2 = QuantIdentity(act_quant=Act)
            self.out = QuantLinear(12, 5, bias=True, weight_quant=W)

        def forward(self, x):
            x = self.q1(self.bn0(self.conv(self.q0(2 * x - 1))))
            x = self.q2(self.bn1(self.fc(x.reshape(x.shape[0], -1))))
            return self.out(x)

    model = randomize(Net(), seed=13)
    with torch.no_grad():
        for m in (model.conv, model.fc, model.out):
            m.bias.copy_(torch.randn(m.bias.shape) * 2)
    path = export(model, (1, 6, 6), tmp_path / "bias.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    check_chain(model, result, random_images(result.ir, 16, seed=14))
    assert np.unique(result.ir.output_bias).size > 1  # the last layer's per-class bias
