"""1–4-bit weights and activations: the quantizers' levels, the zoo against Brevitas' own
bnn_pynq models, QONNX export, the optimizers that can (and cannot) train them, diagnostics,
and a few training steps on MNIST."""

from __future__ import annotations

import json

import onnx
import pytest
import torch
from onnx import numpy_helper
from torch import nn

from xnorflow.train.api import new_config
from xnorflow.train.bias_init import random_bias_init
from xnorflow.train.errors import UserError
from xnorflow.train.export import check_qonnx, export_qonnx
from xnorflow.train.loop import TrainConfig
from xnorflow.train.metrics import flip_fraction, weight_signs
from xnorflow.train.models import (
    ZOO,
    build_mlp,
    get_model,
    hidden_activations,
    preactivation_norms,
    quant_weight_layers,
    resolve_bits,
    set_weight_quantization,
)
from xnorflow.train.optimizers import build_optimizer
from xnorflow.train.recipes import phases

from .test_models_export import _randomise


def test_resolve_bits():
    assert resolve_bits("tfc") == (1, 1)
    assert resolve_bits("tfc-2w2a") == (2, 2)
    assert resolve_bits("CNV-1w2a") == (1, 2)
    assert resolve_bits("mlp:8", 3, None) == (3, 1)
    assert resolve_bits("cnn:4/8", None, 4) == (1, 4)
    assert resolve_bits("tfc", 2, 2) == (2, 2)
    assert resolve_bits("sfc-2w2a", 2, 2) == (2, 2)
    with pytest.raises(UserError, match="--weight-bits 1 contradicts model 'tfc-2w2a'.*tfc-1w2a"):
        resolve_bits("tfc-2w2a", 1, None)
    with pytest.raises(UserError, match="--act-bits 1 contradicts"):
        resolve_bits("cnv-1w2a", None, 1)
    for bad in (0, 5, 8):
        with pytest.raises(UserError, match="--weight-bits must be one of 1, 2, 3, 4"):
            resolve_bits("mlp:8", bad, None)
    with pytest.raises(UserError, match="--act-bits must be one of"):
        get_model("tfc-2w5a", (1, 28, 28), 10)


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_levels_of_weights_and_activations(bits):
    n = 2 ** (bits - 1) - 1  # signed narrow range: integers in [-n, n], scale 1/n
    torch.manual_seed(bits)
    net = get_model("mlp:40,40", (1, 6, 6), 5, weight_bits=bits, act_bits=bits).eval()
    for layer in quant_weight_layers(net):
        qw = layer.quant_weight()
        ints = torch.round(qw.value / qw.scale)
        assert float(qw.bit_width) == bits and float(qw.scale) == pytest.approx(1 / n)
        assert ints.abs().max() <= n and len(ints.unique()) == 2 * n + 1
        torch.testing.assert_close(ints, torch.round(layer.weight.detach() * n))
    seen = []
    for act in hidden_activations(net):
        act.register_forward_hook(lambda m, i, o: seen.append(o.detach()))
    net(torch.rand(64, 1, 6, 6))
    for out in seen:
        levels = torch.round(out * n)
        torch.testing.assert_close(out, levels / n)
        assert levels.abs().max() <= n
    # the MLP input quantizer has the activations' width (bnn_pynq's FC)
    x = torch.linspace(0, 1, 36).reshape(1, 1, 6, 6)
    q = net.input_quant(2 * x.reshape(1, -1) - 1)
    assert set(torch.round(q * n).unique().tolist()) == set(range(-n, n + 1))


def _bnn_pynq(name: str):
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    model, _ = model_with_cfg(name, pretrained=False)
    return model


def _copy_from(theirs: nn.Module, ours: nn.Module) -> None:
    """Load bnn_pynq's parameters into ours, layer kind by layer kind, in order."""
    for kind in ("QuantLinear", "QuantConv2d", "BatchNorm1d", "BatchNorm2d", "TensorNorm"):
        src = [m for m in theirs.modules() if type(m).__name__ == kind]
        dst = [m for m in ours.modules() if type(m).__name__ == kind]
        assert len(src) == len(dst), kind
        for a, b in zip(src, dst, strict=True):
            b.load_state_dict(a.state_dict())


def _randomise_norms(net: nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if hasattr(m, "running_mean"):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) * 2 + 0.5)
                m.weight.copy_(torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.5)


@pytest.mark.parametrize(("ours", "theirs", "shape"), [
    ("tfc-2w2a", "tfc_2w2a", (1, 28, 28)),
    ("tfc-1w2a", "tfc_1w2a", (1, 28, 28)),
    ("sfc-2w2a", "sfc_2w2a", (1, 28, 28)),
    ("cnv-2w2a", "cnv_2w2a", (3, 32, 32)),
    ("cnv-1w2a", "cnv_1w2a", (3, 32, 32)),
])
def test_zoo_computes_what_bnn_pynq_computes(ours, theirs, shape):
    """Same layers, same quantizers: with bnn_pynq's (random) parameters loaded, our model's
    eval output equals Brevitas' own bnn_pynq model's."""
    torch.manual_seed(0)
    ref = _bnn_pynq(theirs)
    _randomise_norms(ref, 3)
    net = get_model(ours, shape, 10)
    _copy_from(ref, net)
    ref.eval()
    net.eval()
    x = torch.rand(3, *shape)
    with torch.no_grad():
        torch.testing.assert_close(net(x), ref(x), rtol=0, atol=1e-5)
    ref_bits = sorted({float(m.quant_weight().bit_width) for m in ref.modules()
                       if hasattr(m, "quant_weight")})
    assert ref_bits == [float(net.arch["weight_bits"])]


@pytest.mark.parametrize("name", sorted(ZOO))
def test_every_zoo_name_builds(name):
    shape = (3, 32, 32) if name.startswith("cnv") else (1, 28, 28)
    net = get_model(name, shape, 10)
    w, a = resolve_bits(name)
    assert (net.arch["weight_bits"], net.arch["act_bits"]) == (w, a)
    assert net.arch["in_bits"] == (8 if name.startswith("cnv") else a)
    assert net.arch["name"] == name
    assert len(hidden_activations(net)) == (8 if name.startswith("cnv") else 3)


EXPORT_CASES = [
    ("mlp:24,16", (1, 8, 8), 2, 2),
    ("mlp:24", (1, 8, 8), 4, 3),
    ("mlp:20,20", (1, 7, 9), 1, 2),
    ("cnn:6,P,10/12", (3, 14, 14), 3, 4),
    ("tfc-2w2a", (1, 28, 28), None, None),
]


@pytest.mark.parametrize(("name", "shape", "wbits", "abits"), EXPORT_CASES)
def test_multibit_qonnx_round_trip(name, shape, wbits, abits, tmp_path):
    torch.manual_seed(0)
    net = get_model(name, shape, 10, weight_bits=wbits, act_bits=abits)
    _randomise(net, 1)
    net.eval()
    path = export_qonnx(net, tmp_path / "m.onnx")
    model = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in model.graph.node
              if n.op_type == "Constant"}
    inits.update(consts)
    quant_bits = sorted(float(inits[n.input[3]]) for n in model.graph.node
                        if n.op_type == "Quant")
    w, a = net.arch["weight_bits"], net.arch["act_bits"]
    n_layers, n_acts = len(quant_weight_layers(net)), len(hidden_activations(net))
    expect = ([float(w)] * n_layers if w > 1 else []) + ([float(a)] * n_acts if a > 1 else []) \
        + ([float(net.arch["in_bits"])] if net.arch["in_bits"] > 1 else [])
    assert quant_bits == sorted(expect)  # one Quant per k-bit tensor, with its width
    n_bipolar = sum(n.op_type == "BipolarQuant" for n in model.graph.node)
    assert n_bipolar == (n_layers if w == 1 else 0) + (n_acts if a == 1 else 0) \
        + (net.arch["in_bits"] == 1)
    images = torch.randint(0, 256, (4, *shape)).float() / 255
    res = check_qonnx(net, path, images)
    assert res["ok"], res


@pytest.mark.parametrize("kind", ["filter", "bop"])
def test_binary_only_optimizers_refuse_multibit_weights(kind):
    net = get_model("mlp:8", (1, 4, 4), 3, weight_bits=2)
    with pytest.raises(UserError, match=f"--optimizer {kind} trains binary weights only.*"
                                        "--optimizer adam"):
        build_optimizer(net, kind, lr=1e-2, total_steps=5)
    given = {"model": "mlp:8", "optimizer": kind, "weight_bits": 3}
    with pytest.raises(UserError, match="3-bit levels"):
        new_config(given, 1, TrainConfig)
    with pytest.raises(UserError, match="binary weights only"):
        new_config({"model": "tfc-2w2a", "optimizer": kind, "recipe": "two-step"}, 2,
                   TrainConfig)
    # multi-bit activations with binary weights are fine for them
    build_optimizer(get_model("mlp:8", (1, 4, 4), 3, act_bits=2), kind, lr=1e-2)


def test_multibit_defaults_to_adam_and_records_bits():
    cfg = new_config({"model": "tfc-2w2a"}, 1, TrainConfig)
    assert (cfg.optimizer, cfg.weight_bits, cfg.act_bits) == ("adam", 2, 2)
    cfg = new_config({"model": "mlp:8", "act_bits": 3}, 1, TrainConfig)
    assert (cfg.optimizer, cfg.weight_bits, cfg.act_bits) == ("filter", 1, 3)
    cfg = new_config({}, 1, TrainConfig)
    assert (cfg.model, cfg.optimizer, cfg.weight_bits, cfg.act_bits) == ("tfc", "filter", 1, 1)


@pytest.mark.parametrize("kind", ["adam", "sgd"])
def test_latent_optimizers_train_multibit_weights(kind):
    torch.manual_seed(7)
    net = get_model("mlp:16", (1, 4, 4), 3, weight_bits=3, act_bits=2)
    opt = build_optimizer(net, kind, lr=0.5, weight_decay=0.0, total_steps=10)
    before = weight_signs(net)
    for _ in range(3):
        opt.zero_grad()
        net(torch.rand(8, 1, 4, 4))[:, 0].sum().backward()
        opt.step()
    w = net.fc_features[0].weight.detach()
    assert w.abs().max() <= 1.0  # clipped latent weights
    assert 0 < flip_fraction(before, weight_signs(net)) <= 1


def test_ff_counts_level_changes():
    net = build_mlp(2, [2], 2, weight_bits=2)  # levels {-1, 0, 1}: round(w)
    layer = net.fc_features[0]
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.2, 0.7], [-0.9, -0.3]]))
    before = weight_signs(net)
    assert before[0].tolist() == [[0, 1], [-1, 0]]
    with torch.no_grad():  # 0.2 → 0.4: same level 0; 0.7 → 0.45: 1 → 0; -0.3 → -0.6: 0 → -1
        layer.weight.copy_(torch.tensor([[0.4, 0.45], [-0.9, -0.6]]))
    n = sum(c.numel() for c in before)
    assert flip_fraction(before, weight_signs(net)) == pytest.approx(2 / n)


def test_bias_init_and_two_step_with_multibit():
    net = get_model("cnn:4p1,G/8", (1, 6, 6), 3, weight_bits=2, act_bits=2)
    assert len(preactivation_norms(net)) == 2
    random_bias_init(net, 1.5, generator=torch.Generator().manual_seed(0))
    assert all(bn.bias.abs().max() <= 1.5 and bn.bias.abs().max() > 0
               for bn in preactivation_norms(net))
    assert [p.name for p in phases("two-step", 4, weight_bits=2)] == \
        ["step1-real-weights", "step2-quantized-weights"]
    assert phases("two-step", 4)[1].name == "step2-binary-weights"
    x = torch.rand(4, 1, 6, 6)
    net.eval()
    y = net(x)
    set_weight_quantization(net, False)
    assert not torch.allclose(net(x), y)
    set_weight_quantization(net, True)
    torch.testing.assert_close(net(x), y)


def test_2w2a_trains_a_few_steps_on_mnist(shared_data):
    """TFC-2W2A with Adam: 40 steps of 100 MNIST test images take the held-out accuracy (1000
    other images) far above chance (measured 0.678 for seed 0; chance 0.1)."""
    import torch.nn.functional as F

    from xnorflow.train.data import load_dataset, to_model_input

    x, y = load_dataset("mnist", shared_data / "mnist", "test")
    x, y = to_model_input(x[:5000]), torch.from_numpy(y[:5000])
    torch.manual_seed(0)
    net = get_model("tfc-2w2a", (1, 28, 28), 10, dropout=0.0)
    opt = build_optimizer(net, "adam", lr=1e-2, total_steps=40)
    net.train()
    for step in range(40):
        i = slice(step * 100, step * 100 + 100)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x[i]), y[i]).backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        acc = float((net(x[4000:]).argmax(1) == y[4000:]).float().mean())
        loss = float(F.cross_entropy(net(x[4000:]), y[4000:]))
    assert acc > 0.5, (acc, loss)


def test_api_takes_the_bit_widths(tmp_path):
    import xnorflow

    with pytest.raises(UserError, match="--optimizer bop trains binary weights only"):
        xnorflow.train("mlp:8", "digits", optimizer="bop", weight_bits=2, epochs=1,
                       out=tmp_path / "bop")
    assert not (tmp_path / "bop").exists()
    run = xnorflow.train("mlp:16", "digits", weight_bits=4, act_bits=3, epochs=1,
                         batch_size=64, out=tmp_path / "ok")
    cfg = json.loads((run.out / "config.json").read_text())
    assert (cfg["optimizer"], cfg["weight_bits"], cfg["act_bits"]) == ("adam", 4, 3)
    assert run.onnx_check["ok"]


@pytest.mark.slow
def test_tfc_2w2a_on_mnist_cli(shared_data, tmp_path):
    """Two epochs of TFC-2W2A on all of MNIST through the CLI (adam, dropout 0): the 10-epoch
    benchmark run measured 93.54 % after its second epoch and 96.56 % after its tenth."""
    from typer.testing import CliRunner

    from xnorflow.cli import app

    out = tmp_path / "tfc2w2a"
    res = CliRunner().invoke(app, ["train", "--model", "tfc-2w2a", "--dataset", "mnist",
                                   "--data-dir", str(shared_data / "mnist"), "--dropout", "0",
                                   "--epochs", "2", "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    info = json.loads((out / "model.json").read_text())
    assert info["onnx_check"]["ok"] and info["weight_bits"] == 2
    assert info["test_acc"] >= 0.92, info["test_acc"]
