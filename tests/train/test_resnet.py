"""The residual model family (``resnet:...``): the spec grammar and its errors, the block form
the compiler lowers, shapes, training with every optimizer, bias init and the two-step recipe on
nested blocks, the QONNX export (Add + a tensor with two consumers) and its equivalence with
PyTorch, and a CLI run with resume."""

from __future__ import annotations

import json

import onnx
import pytest
import torch
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
from torch import nn
from typer.testing import CliRunner

from xnorflow.cli import app
from xnorflow.train.bias_init import random_bias_init
from xnorflow.train.errors import UserError
from xnorflow.train.export import check_qonnx, export_qonnx
from xnorflow.train.models import (
    ResidualBlock,
    build_resnet,
    get_model,
    hidden_activations,
    preactivation_norms,
    quant_weight_layers,
    set_weight_quantization,
    weight_bits_of,
)
from xnorflow.train.optimizers import build_optimizer

from .test_models_export import _randomise


def _blocks(net: nn.Module) -> list[ResidualBlock]:
    return [m for m in net.conv_features if isinstance(m, ResidualBlock)]


def _check_block_form(block: ResidualBlock, hidden: set[int], bits: int) -> None:
    """The binding form: branch = 1..2 × [QuantConv2d k×k, padding k//2, no bias → BN → hidden
    act]; shortcut = Identity | MaxPool2d(2) | [QuantConv2d 1×1 → BN → hidden act]; act_out a
    hidden act of the model's bits."""
    mods = list(block.branch)
    assert len(mods) in (3, 6)
    for conv, bn, act in zip(mods[0::3], mods[1::3], mods[2::3], strict=True):
        assert isinstance(conv, QuantConv2d) and conv.bias is None
        k = conv.kernel_size[0]
        assert conv.kernel_size == (k, k) and conv.padding == (k // 2, k // 2) and k % 2 == 1
        assert isinstance(bn, nn.BatchNorm2d) and id(act) in hidden
    assert all(c.stride == (1, 1) for c in mods[3::3])  # only the first conv strides
    sc = block.shortcut
    if isinstance(sc, nn.Sequential):
        conv, bn, act = sc
        assert isinstance(conv, QuantConv2d) and conv.kernel_size == (1, 1)
        assert conv.padding == (0, 0) and conv.bias is None
        assert conv.stride == mods[0].stride and conv.out_channels == mods[0].out_channels
        assert isinstance(bn, nn.BatchNorm2d) and id(act) in hidden
    else:
        assert isinstance(sc, nn.Identity | nn.MaxPool2d)
        if isinstance(sc, nn.MaxPool2d):
            assert sc.kernel_size == 2 and mods[0].stride == (2, 2)
        else:
            assert mods[0].stride == (1, 1) and mods[0].in_channels == mods[0].out_channels
    assert id(block.act_out) in hidden
    acts = [block.act_out] + [m for m in block.modules() if id(m) in hidden]
    for a in acts:  # one quantizer kind, bits and constant scale for every activation
        assert a.act_quant.is_quant_enabled
        assert int(a.act_quant.bit_width()) == bits
        scale = 1.0 if bits == 1 else 1 / (2 ** (bits - 1) - 1)
        assert float(a.act_quant.scale()) == pytest.approx(scale)


# ---------------------------------------------------------------- spec grammar and structure

def test_spec_builds_stages_and_records_arch():
    net = get_model("resnet:8,16,32,G/2/24", (3, 32, 32), 10)
    a = net.arch
    assert a["kind"] == "resnet" and a["name"] == "resnet:8,16,32,g/2/24"
    assert a["stages"] == [8, 16, 32] and a["blocks"] == [2, 2, 2]
    assert a["stride"] == [1, 2, 2] and a["convs"] == [2, 2, 2] and a["kernel_size"] == [3] * 3
    assert a["pool_shortcut"] == [False] * 3 and a["global_pool"] is True
    assert a["fc_hidden"] == [24] and a["in_bits"] == 8
    assert (a["weight_bits"], a["act_bits"], a["stem_weight_bits"]) == (1, 1, 1)
    # stem conv → BN → act, then the blocks, then the global pool
    stem = list(net.conv_features)[:3]
    assert isinstance(stem[0], QuantConv2d) and stem[0].kernel_size == (3, 3)
    assert stem[0].padding == (1, 1) and stem[0].out_channels == 8
    assert isinstance(stem[1], nn.BatchNorm2d) and isinstance(stem[2], QuantIdentity)
    assert isinstance(net.conv_features[-1], nn.AdaptiveAvgPool2d)
    blocks = _blocks(net)
    assert len(blocks) == 6
    shortcuts = [type(b.shortcut).__name__ for b in blocks]
    assert shortcuts == ["Identity", "Identity", "Sequential", "Identity", "Sequential",
                         "Identity"]
    assert [b.branch[0].stride[0] for b in blocks] == [1, 1, 2, 1, 2, 1]
    hidden = {id(m) for m in hidden_activations(net)}
    for b in blocks:
        _check_block_form(b, hidden, 1)
    fc0 = next(m for m in net.fc_features if isinstance(m, QuantLinear))
    assert fc0.in_features == 32


def test_stage_suffixes():
    net = get_model("resnet:8,8m,16s1k5c1/1,2,1", (3, 16, 16), 10, weight_bits=2, act_bits=2)
    a = net.arch
    assert a["blocks"] == [1, 2, 1] and a["stride"] == [1, 2, 1] and a["convs"] == [2, 2, 1]
    assert a["kernel_size"] == [3, 3, 5] and a["pool_shortcut"] == [False, True, False]
    assert a["global_pool"] is False
    blocks = _blocks(net)
    assert [type(b.shortcut).__name__ for b in blocks] == [
        "Identity", "MaxPool2d", "Identity", "Sequential"]
    assert blocks[3].shortcut[0].stride == (1, 1)  # more channels at stride 1: 1x1 conv
    assert len(blocks[3].branch) == 3 and blocks[3].branch[0].padding == (2, 2)
    hidden = {id(m) for m in hidden_activations(net)}
    for b in blocks:
        _check_block_form(b, hidden, 2)
    fc0 = next(m for m in net.fc_features if isinstance(m, QuantLinear))
    assert fc0.in_features == 16 * 8 * 8
    assert all(weight_bits_of(m) == 2 for m in quant_weight_layers(net))


def test_build_resnet_keywords_and_stem_bits():
    net = build_resnet((1, 10, 10), [4, 6], 1, 3, [5], stride=[1, 2], convs=1,
                       global_pool=True, stem_weight_bits=2)
    assert net.arch["stem_weight_bits"] == 2
    bits = [weight_bits_of(m) for m in quant_weight_layers(net)]
    assert bits[0] == 2 and set(bits[1:]) == {1}
    assert net(torch.rand(2, 1, 10, 10)).shape == (2, 3)
    with pytest.raises(UserError, match="trains binary weights only"):
        build_optimizer(net, "filter", lr=1e-3)  # a 2-bit stem rules filter/bop out
    with pytest.raises(UserError, match="blocks: 3 values for 2 stages"):
        build_resnet((1, 10, 10), [4, 6], [1, 1, 1], 3)


@pytest.mark.parametrize(("spec", "message"), [
    ("resnet:8,16", "expected resnet:W1,W2,...[,G]/B[/F1,F2,...]"),
    ("resnet:8/2/4/4", "expected resnet:W1,W2"),
    ("resnet:8,16/", "expected resnet:W1,W2"),
    ("resnet:/2", "has no stage"),
    ("resnet:G,8/2", "'G' must follow a stage"),
    ("resnet:8,G,16/2", "'G' (global average pool) must be the last"),
    ("resnet:8x2/2", "bad stage '8x2'"),
    ("resnet:8p1/2", "bad stage '8p1'"),
    ("resnet:8k3k5/2", "bad stage '8k3k5'"),
    ("resnet:8mm/2", "bad stage '8mm'"),
    ("resnet:8,16/1,2,3", "3 block counts for 2 stages"),
    ("resnet:8/a", "expected comma-separated widths"),
    ("resnet:8/0", "blocks >= 1"),
    ("resnet:0/1", "stage 0 (0 channels): needs channels >= 1"),
    ("resnet:8,0/1", "stage 1 (0 channels): needs channels >= 1"),
    ("resnet:8k4/1", "the kernel must be odd"),
    ("resnet:8,16s3/1", "stride must be 1 or 2"),
    ("resnet:8c3/1", "1 or 2 convs"),
    ("resnet:8,16m/1", "a max-pool shortcut needs stride 2 and the same channels"),
    ("resnet:8,8s1m/1", "a max-pool shortcut needs stride 2"),
    ("resnet:8,8,8,8m/1", "a max-pool shortcut needs an even map, got 3x3"),
    ("resnet:8,8,8,8,8,8/1", "too small: stage 5 (8 channels) downsamples a 1x1 map"),
    ("resnet:8/1/x", "expected comma-separated widths"),
])
def test_spec_errors(spec, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        get_model(spec, (1, 10, 10), 3)


def test_unknown_model_lists_resnet():
    with pytest.raises(UserError, match="resnet:W1,W2"):
        get_model("resnt:8/1", (1, 8, 8), 3)


# ---------------------------------------------------------------- shapes

# spec, image shape, each conv's output map (H, W) in module order (stem first), FC inputs
SHAPE_CASES = [
    # MNIST: 28 → 28 (stage 0) → 14 (stage 1, stride 2; its 1x1 shortcut too) → flatten
    ("resnet:4,8/1", (1, 28, 28), [(28, 28)] * 3 + [(14, 14)] * 3, 8 * 14 * 14),
    # MNIST, three stages: 28 → 14 → 7 with a max-pool shortcut on the even 14x14 map
    ("resnet:4,4m,8,G/1", (1, 28, 28),
     [(28, 28)] * 3 + [(14, 14)] * 2 + [(7, 7)] * 3, 8),
    # CIFAR: 32 → 32 → 16 → 8, one conv per branch, 2 blocks in the last stage
    ("resnet:4c1,8c1,16c1,G/1,1,2/12", (3, 32, 32),
     [(32, 32)] * 2 + [(16, 16)] * 2 + [(8, 8)] * 3, 16),
    # odd maps: 7 → 4 (the stride-2 conv and the 1x1 shortcut both give ceil(7/2))
    ("resnet:4,6k5/1", (2, 7, 9), [(7, 9)] * 3 + [(4, 5)] * 3, 6 * 4 * 5),
]


@pytest.mark.parametrize(("spec", "shape", "maps", "n_fc_in"), SHAPE_CASES)
def test_shapes(spec, shape, maps, n_fc_in):
    net = get_model(spec, shape, 10)
    convs = [m for m in net.conv_features.modules() if isinstance(m, QuantConv2d)]
    seen = {}
    hooks = [c.register_forward_hook(lambda m, i, o: seen.__setitem__(m, tuple(o.shape[2:])))
             for c in convs]
    assert net(torch.rand(2, *shape)).shape == (2, 10)
    for h in hooks:
        h.remove()
    assert [seen[c] for c in convs] == maps
    fc0 = next(m for m in net.fc_features if isinstance(m, QuantLinear))
    assert fc0.in_features == n_fc_in


@pytest.mark.parametrize("bits", [1, 2])
def test_block_computes_act_out_of_the_sum(bits):
    torch.manual_seed(0)
    net = get_model("resnet:4,6/1", (1, 8, 8), 3, weight_bits=bits, act_bits=bits)
    _randomise(net, 3)
    net.eval()
    inputs = {}
    for b in _blocks(net):
        b.register_forward_hook(lambda m, i, o: inputs.__setitem__(m, (i[0], o)))
    net(torch.rand(2, 1, 8, 8))
    n = 1 if bits == 1 else 2 ** (bits - 1) - 1
    for b, (x, y) in inputs.items():
        levels = x * n  # the block input is already quantized: integer levels
        assert torch.equal(levels, levels.round()) and levels.abs().max() <= n
        s = b.branch(x) + b.shortcut(x)
        torch.testing.assert_close(y, b.act_out(s))
        if bits == 1:
            assert set(s.unique().tolist()) <= {-2.0, 0.0, 2.0}
            assert torch.equal(y, torch.where(s >= 0, 1.0, -1.0))  # sign(0) = +1


# ---------------------------------------------------------------- what walks the model

def test_walkers_see_the_nested_layers():
    net = get_model("resnet:4,8,G/2/6", (1, 8, 8), 3)
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d)]
    # every BatchNorm (stem, branches, 1x1 shortcut, FC) feeds a hidden activation
    assert len(preactivation_norms(net)) == len(bns) == 1 + 2 * 2 + 3 + 2 + 1
    # the acts after each BN plus one act_out per block
    assert len(hidden_activations(net)) == len(bns) + 4
    assert len(quant_weight_layers(net)) == 1 + 4 + 3 + 2 + 2
    n = random_bias_init(net, 2.0, generator=torch.Generator().manual_seed(0))
    assert n == sum(bn.bias.numel() for bn in bns)
    assert all(0 < bn.bias.abs().max() <= 2.0 for bn in bns)
    x = torch.rand(4, 1, 8, 8)
    net.eval()
    y = net(x)
    set_weight_quantization(net, False)
    assert all(m.weight_quant.disable_quant for m in quant_weight_layers(net))
    assert not torch.allclose(net(x), y)
    set_weight_quantization(net, True)
    torch.testing.assert_close(net(x), y)


@pytest.mark.parametrize(("kind", "wbits"), [("adam", 1), ("filter", 1), ("bop", 1),
                                             ("adam", 2), ("sgd", 3)])
def test_optimizers_train_the_blocks(kind, wbits):
    torch.manual_seed(1)
    net = get_model("resnet:4,4m,6,G/1", (1, 8, 8), 3, weight_bits=wbits, act_bits=wbits)
    extra = {"tau": 1e-9, "gamma": 0.5} if kind == "bop" else {}
    opt = build_optimizer(net, kind, lr=0.05, total_steps=6, **extra)
    layers = quant_weight_layers(net)
    before = [m.weight.detach().clone() for m in layers]
    x, y = torch.rand(16, 1, 8, 8), torch.randint(0, 3, (16,))
    net.train()
    for _ in range(3):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        assert torch.isfinite(loss)
        opt.step()
    after = [m.weight.detach() for m in layers]
    # the shortcut-free branch convs of both blocks get gradients and move
    moved = [not torch.equal(a, b) for a, b in zip(after, before, strict=True)]
    assert all(moved), moved
    if kind in ("filter", "bop"):
        assert all(set(w.unique().tolist()) <= {-1.0, 1.0} for w in after)
    else:
        assert all(w.abs().max() <= 1.0 for w in after)


# ---------------------------------------------------------------- QONNX export

EXPORT_CASES = [
    ("resnet:4,8,G/1/8", (1, 12, 12), 1, 1),
    ("resnet:4,4m,6s1c1/2,1,1", (3, 8, 8), 1, 1),
    ("resnet:4,6k5,G/1", (3, 9, 7), 2, 2),
    ("resnet:4c1,6/1/5", (1, 10, 10), 3, 4),
]


@pytest.mark.parametrize(("spec", "shape", "wbits", "abits"), EXPORT_CASES)
def test_qonnx_export_has_the_residual_and_matches(spec, shape, wbits, abits, tmp_path):
    torch.manual_seed(0)
    net = get_model(spec, shape, 10, weight_bits=wbits, act_bits=abits)
    _randomise(net, 2)
    net.eval()
    path = export_qonnx(net, tmp_path / "m.onnx")
    graph = onnx.load(str(path)).graph
    made = {o: n for n in graph.node for o in n.output}  # tensor → producing node
    consumers: dict[str, list] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    act = "BipolarQuant" if abits == 1 else "Quant"
    # the Add of a block: the branch's last quantizer + the shortcut's quantizer, the block
    # input itself (identity) or its max-pool
    adds = [n for n in graph.node if n.op_type == "Add"
            and all(i in made and made[i].op_type in (act, "MaxPool") for i in n.input)]
    assert len(adds) == len(_blocks(net))
    for add in adds:
        # the Add's output goes to the block's act_out quantizer only
        assert [c.op_type for c in consumers[add.output[0]]] == [act]
    # every block's input (a quantizer output) feeds the branch conv and the shortcut
    forks = [t for t, cs in consumers.items() if len(cs) == 2 and t in made
             and made[t].op_type == act]
    assert len(forks) == len(_blocks(net))
    for t in forks:
        ops = sorted(c.op_type for c in consumers[t])
        assert ops in (["Add", "Conv"], ["Conv", "Conv"], ["Conv", "MaxPool"]), ops
    images = torch.randint(0, 256, (4, *shape)).float() / 255
    res = check_qonnx(net, path, images)
    assert res["ok"], res


# ---------------------------------------------------------------- CLI

runner = CliRunner()


def test_cli_trains_resumes_and_two_step(tmp_path):
    args = ["train", "--dataset", "digits", "--model", "resnet:4,8,G/1/16", "--batch-size",
            "100", "--no-progress"]
    part = tmp_path / "part"
    res = runner.invoke(app, [*args, "--epochs", "1", "--bias-init", "1", "--out", str(part)])
    assert res.exit_code == 0, res.output
    assert "labels equal True" in res.output
    info = json.loads((part / "model.json").read_text())
    assert info["arch"]["kind"] == "resnet" and info["arch"]["stages"] == [4, 8]
    assert info["onnx_check"]["ok"]
    cfg = json.loads((part / "config.json").read_text())
    assert cfg["model"] == "resnet:4,8,G/1/16" and cfg["optimizer"] == "filter"
    # the resumed run rebuilds the model from config.json and loads the checkpoint into it
    res = runner.invoke(app, ["train", "--resume", "--out", str(part), "--epochs", "2",
                              "--no-progress"])
    assert res.exit_code == 0, res.output
    assert len((part / "metrics.jsonl").read_text().splitlines()) == 2
    two = tmp_path / "two"
    res = runner.invoke(app, [*args, "--optimizer", "bop", "--recipe", "two-step", "--epochs",
                              "2", "--out", str(two)])
    assert res.exit_code == 0, res.output
    rows = [json.loads(r) for r in (two / "metrics.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in rows] == ["step1-real-weights", "step2-binary-weights"]
    res = runner.invoke(app, [*args, "--model", "resnet:4,8/1,2,3", "--epochs", "1",
                              "--out", str(tmp_path / "bad")])
    assert res.exit_code == 2 and "3 block counts for 2 stages" in res.output
