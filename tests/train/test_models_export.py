"""The model zoo and builder: structure as bnn_pynq, shape errors, QONNX round trip."""

from __future__ import annotations

import pytest
import torch
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
from torch import nn

from xnorflow.train.errors import UserError
from xnorflow.train.export import check_qonnx, export_qonnx
from xnorflow.train.models import (
    TensorNorm,
    binary_activations,
    build_cnn,
    build_mlp,
    get_model,
    set_weight_binarization,
)

ZOO_CASES = [
    ("tfc", (1, 28, 28)),
    ("sfc", (1, 28, 28)),
    ("lfc", (1, 28, 28)),
    ("cnv", (3, 32, 32)),
    ("mlp:48,24", (1, 8, 8)),
    ("cnn:6,P,10,12/20", (3, 14, 14)),
]


def _randomise(net: nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d | TensorNorm):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 3)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) * 4 + 0.5)
                m.weight.copy_(torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(torch.randn(m.bias.shape, generator=g))


@pytest.mark.parametrize(("name", "shape"), ZOO_CASES)
def test_qonnx_round_trip_bit_exact(name, shape, tmp_path):
    torch.manual_seed(0)
    net = get_model(name, shape, 10)
    _randomise(net, 1)
    net.eval()
    path = export_qonnx(net, tmp_path / "m.onnx")
    images = torch.randint(0, 256, (3, *shape)).float() / 255
    res = check_qonnx(net, path, images)
    assert res["labels_equal"] and res["max_abs_diff"] <= 1e-4, res


def test_tfc_structure_matches_bnn_pynq():
    net = get_model("tfc", (1, 28, 28), 10)
    kinds = [type(m).__name__ for m in net.fc_features]
    assert kinds == ["Dropout"] + ["QuantLinear", "BatchNorm1d", "QuantIdentity", "Dropout"] * 3 \
        + ["QuantLinear", "TensorNorm"]
    assert [m.out_features for m in net.fc_features if isinstance(m, QuantLinear)] == \
        [64, 64, 64, 10]
    assert all(m.bias is None for m in net.modules() if isinstance(m, QuantLinear))
    assert isinstance(net.input_quant, QuantIdentity)
    assert len(binary_activations(net)) == 3
    x = torch.rand(2, 1, 28, 28)
    q = net.input_quant(2 * x.reshape(2, -1) - 1)
    assert set(q.unique().tolist()) <= {-1.0, 1.0}


def test_dropout_is_a_training_choice():
    assert [m.p for m in get_model("sfc", (1, 28, 28), 10).modules()
            if isinstance(m, nn.Dropout)] == [0.2] * 4  # bnn_pynq's default
    assert not any(isinstance(m, nn.Dropout)
                   for m in get_model("tfc", (1, 28, 28), 10, dropout=0.0).modules())
    drops = [m.p for m in get_model("mlp:8,8", (1, 4, 4), 3, dropout=0.1).modules()
             if isinstance(m, nn.Dropout)]
    assert drops == [0.1] * 3
    for bad in (-0.1, 1.0):
        with pytest.raises(UserError, match="--dropout"):
            get_model("tfc", (1, 28, 28), 10, dropout=bad)


def test_cnv_structure_matches_bnn_pynq():
    net = get_model("cnv", (3, 32, 32), 10)
    convs = [m for m in net.conv_features if isinstance(m, QuantConv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256]
    assert all(c.padding == (0, 0) and c.kernel_size == (3, 3) and c.bias is None for c in convs)
    assert sum(isinstance(m, nn.MaxPool2d) for m in net.conv_features) == 2
    fcs = [m for m in net.fc_features if isinstance(m, QuantLinear)]
    assert [(f.in_features, f.out_features) for f in fcs] == [(256, 512), (512, 512), (512, 10)]
    q = net.input_quant(torch.tensor([-1.0, 0.0, 0.5, 1.0]))
    assert q.tolist() == [-1.0, 0.0, 0.5, 127 / 128]


def test_builders_and_errors():
    mlp = build_mlp(30, [5, 7], 4)
    assert mlp(torch.rand(3, 30)).shape == (3, 4)
    cnn = build_cnn((2, 9, 9), [3, 4], [True, False], [6], 5)
    assert cnn(torch.rand(2, 2, 9, 9)).shape == (2, 5)
    with pytest.raises(UserError, match="too small"):
        get_model("cnv", (1, 8, 8), 10)
    for bad in ("resnet", "mlp:", "mlp:a,b", "cnn:P,4"):
        with pytest.raises(UserError):
            get_model(bad, (1, 28, 28), 10)


def test_weight_binarization_switch():
    torch.manual_seed(0)
    net = get_model("mlp:16", (1, 4, 4), 3).eval()
    x = torch.rand(5, 1, 4, 4)
    yb = net(x)
    set_weight_binarization(net, False)
    yr = net(x)
    set_weight_binarization(net, True)
    assert not torch.allclose(yb, yr)
    torch.testing.assert_close(net(x), yb)
