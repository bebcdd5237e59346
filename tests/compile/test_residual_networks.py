"""Residual networks (tests/compile/residual_nets.py: identity blocks of one or two convs,
downsampling blocks with a strided 1x1 conv or a max-pool on the shortcut, 1..2-bit weights,
1..3-bit activations, signed and unsigned) compile to forks and joins and agree with PyTorch
along the whole chain (PyTorch ≡ QONNX ≡ FINN HW graph ≡ IR); the glue sizes every shortcut
FIFO to its branch; the forms the hardware cannot add are refused with a clear error."""

from __future__ import annotations

import pytest

from tests.compile.helpers import check_drawn, compile_drawn, export, seed_params
from tests.compile.residual_nets import residual_net
from xnorflow.compile.errors import CompileError
from xnorflow.compile.ir.glue import plan_glue
from xnorflow.compile.pipeline import compile_model

DEFAULT_SEEDS = [0, 1, 3, 5]
SLOW_SEEDS = [2, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]


@pytest.mark.parametrize("seed", seed_params(DEFAULT_SEEDS, SLOW_SEEDS))
def test_residual_network_chain(seed, tmp_path):
    model, drawn, result = compile_drawn(residual_net, seed, tmp_path)
    ir = result.ir
    kinds = [layer.kind for layer in ir.layers]
    assert kinds.count("duplicate_streams") == kinds.count("add_streams") == len(drawn.blocks)
    check_drawn(model, drawn, result, seed, with_qonnx=seed % 2 == 0)
    # every join's shorter path gets a FIFO for the skew (the RTL tests run them)
    plan = plan_glue(ir)
    for i, layer in enumerate(ir.layers):
        if layer.kind == "add_streams":
            depths = [g.fifo_depth for g in plan if g.index == i]
            assert len(depths) == 2 and max(depths) > 0, f"seed {seed}: {layer.name} {depths}"


def test_generator_covers_every_block_form():
    drawn = [residual_net(s)[2] for s in DEFAULT_SEEDS + SLOW_SEEDS]
    blocks = " ".join(b for d in drawn for b in d.blocks)
    for form in ("id1", "id2", "conv_down", "pool_down"):
        assert form in blocks, form
    assert {d.a_bits for d in drawn} == {1, 2, 3} and {d.w_bits for d in drawn} == {1, 2}
    assert any(d.unsigned for d in drawn) and {d.head for d in drawn} == {"flatten", "gap"}


def _float_join_net():
    """Bi-Real's form y = act(bn(conv(x)) + x): the branch's BatchNorm output (float) is added
    to the shortcut before any quantizer."""
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant
    from torch import nn

    from tests.compile.helpers import randomize
    from tests.compile.layer_nets import _centre

    wq = {"weight_quant": CommonWeightQuant, "weight_bit_width": 1}

    class FloatJoin(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(
                _centre(), QuantIdentity(act_quant=CommonActQuant, bit_width=8, min_val=-1.0,
                                         max_val=1.0 - 2.0**-7),
                QuantConv2d(1, 4, 3, padding=1, bias=False, **wq), nn.BatchNorm2d(4),
                QuantIdentity(act_quant=CommonActQuant, bit_width=2, min_val=-1.0, max_val=1.0))
            self.conv = QuantConv2d(4, 4, 3, padding=1, bias=False, **wq)
            self.bn = nn.BatchNorm2d(4)
            self.act = QuantIdentity(act_quant=CommonActQuant, bit_width=2, min_val=-1.0,
                                     max_val=1.0)
            self.fc = QuantLinear(4 * 6 * 6, 3, bias=False, **wq)

        def forward(self, x):
            x = self.stem(x)
            x = self.act(self.bn(self.conv(x)) + x)
            return self.fc(x.flatten(1))

    return randomize(FloatJoin(), 0)


def test_float_join_is_refused_with_the_fix(tmp_path):
    path = export(_float_join_net(), (1, 6, 6), tmp_path / "m.onnx")
    with pytest.raises(CompileError, match="residual join that adds a float tensor.*quantize the "
                                           "branch before the add"):
        compile_model(path, tmp_path / "build", backends=False)
    assert not (tmp_path / "build").exists()


def test_residual_network_from_the_cli(tmp_path):
    """`xnorflow compile` on a residual model: the build holds the fork and join in its IR,
    report and both backends' tops; `xnorflow compile` on the float join fails, naming it."""
    import json

    from typer.testing import CliRunner

    from xnorflow.cli import app

    model, shape, _ = residual_net(3)
    path = export(model, shape, tmp_path / "res.onnx")
    res = CliRunner().invoke(app, ["compile", str(path), "--out", str(tmp_path / "build")])
    assert res.exit_code == 0, res.output
    build = tmp_path / "build"
    kinds = [rec["kind"] for rec in json.loads((build / "ir.json").read_text())["layers"]]
    assert kinds.count("duplicate_streams") == kinds.count("add_streams") == 2
    top = (build / "rtl" / "xnorflow_top.sv").read_text()
    assert "duplicate_streams #(" in top and ".s1_axis_tdata(" in top
    hls_top = (build / "hls" / "xnorflow_top.cpp").read_text()
    assert "xnorflow::duplicate_streams<" in hls_top and "xnorflow::add_streams<" in hls_top
    bad = export(_float_join_net(), (1, 6, 6), tmp_path / "float_join.onnx")
    res = CliRunner().invoke(app, ["compile", str(bad), "--out", str(tmp_path / "bad")])
    assert res.exit_code != 0 and "quantize the branch before the add" in res.output
    assert not (tmp_path / "bad").exists()


def _resnet_stem_net(stem_pool: str):
    """A small binary ResNet as users write one after torchvision's: a 7x7/2 stem (4-bit
    weights) → BN → act → `stem_pool` → an identity block whose shortcut reads the pool's
    output → a downsampling block (strided 1x1 shortcut) → global average pool → linear with
    bias."""
    import torch
    import torch.nn.functional as F
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant
    from torch import nn

    from tests.compile.helpers import randomize

    wq = {"weight_quant": CommonWeightQuant, "weight_bit_width": 1}

    def act():
        return QuantIdentity(act_quant=CommonActQuant, bit_width=1, min_val=-1.0, max_val=1.0)

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.branch = nn.Sequential(
                QuantConv2d(cin, cout, 3, stride=stride, padding=1, bias=False, **wq),
                nn.BatchNorm2d(cout), act(),
                QuantConv2d(cout, cout, 3, padding=1, bias=False, **wq), nn.BatchNorm2d(cout),
                act())
            self.shortcut = None if stride == 1 and cin == cout else nn.Sequential(
                QuantConv2d(cin, cout, 1, stride=stride, bias=False, **wq),
                nn.BatchNorm2d(cout), act())
            self.out = act()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            shortcut = x if self.shortcut is None else self.shortcut(x)
            return self.out(self.branch(x) + shortcut)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q = QuantIdentity(act_quant=CommonActQuant, bit_width=8, min_val=-1.0,
                                   max_val=1 - 2**-7)
            self.stem = nn.Sequential(
                QuantConv2d(3, 8, 7, stride=2, padding=3, bias=False,
                            weight_quant=CommonWeightQuant, weight_bit_width=4),
                nn.BatchNorm2d(8), act(), eval(stem_pool, {"nn": nn}))
            self.layer1, self.layer2 = Block(8, 8, 1), Block(8, 16, 2)
            self.fc = QuantLinear(16, 10, bias=True, **wq)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.layer2(self.layer1(self.stem(self.q(x))))
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1))

    return randomize(Net(), 1)


@pytest.mark.parametrize("stem_pool", ["nn.MaxPool2d(3, 2, padding=1)", "nn.MaxPool2d(2)"])
def test_resnet_stem_pool_feeds_the_first_shortcut(tmp_path, stem_pool):
    """The stem's max-pool output forks into the first block and its identity shortcut (FINN's
    MakeMaxPoolNHWC rewired only the first consumer and gave the shortcut the pool's input;
    compile/frontend/pool_passes.py ForkedMaxPoolNHWC)."""
    from tests.compile.helpers import check_chain
    from tests.nets import random_images

    model = _resnet_stem_net(stem_pool)
    path = export(model, (3, 32, 32), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, random_images(result.ir, 8, seed=1), with_qonnx=False)
    assert figs["distinct_outputs"] > 1
    kinds = [layer.kind for layer in result.ir.layers]
    pool = kinds.index("maxpool")
    assert kinds[pool + 1] == "duplicate_streams"


def _preactivation_net(then: str):
    """PreAct-ResNet's block: x + conv(act(bn(x))), the branch and the shortcut quantized by
    one quantizer, then BatchNorm → act (BatchNorms of either sign after the fork and the
    join, where no layer before can take a negative scale) → a global pool or a max-pool."""
    import torch
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
    from torch import nn

    from tests.compile.helpers import randomize

    class PreAct(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q = QuantIdentity(bit_width=8)
            self.stem = QuantConv2d(1, 8, 3, padding=1, weight_bit_width=2, bias=False)
            self.shared = QuantIdentity(bit_width=4, return_quant_tensor=True)
            self.branch = nn.Sequential(
                nn.BatchNorm2d(8), QuantReLU(bit_width=2),
                QuantConv2d(8, 8, 3, padding=1, weight_bit_width=2, bias=False))
            self.head = nn.Sequential(nn.BatchNorm2d(8), QuantReLU(bit_width=2))
            self.then = then
            self.fc = QuantLinear(8 if then == "gap" else 8 * 4 * 4, 10, weight_bit_width=2,
                                  bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.shared(self.stem(self.q(x)))
            x = self.head(x + self.shared(self.branch(x)))
            x = x.mean((2, 3)) if self.then == "gap" else nn.functional.max_pool2d(x, 2)
            return self.fc(x.flatten(1))

    return randomize(PreAct(), 1)


@pytest.mark.parametrize("then", ["gap", "maxpool"])
def test_preactivation_block_with_negative_batchnorm_scales(tmp_path, then):
    from tests.compile.helpers import check_chain
    from tests.nets import random_images

    model = _preactivation_net(then)
    assert (model.branch[0].weight < 0).any() and (model.head[0].weight < 0).any()
    path = export(model, (1, 8, 8), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, random_images(result.ir, 16, seed=1))
    assert figs["distinct_outputs"] > 1
    thresholds = [x for x in result.ir.layers if x.kind == "thresholding"][1:]
    assert len(thresholds) == 2 and all(x.negated for x in thresholds)


def test_three_branches_summed(tmp_path):
    """y = x + q(f(x)) + q(g(x)): a 3-way fork and two joins in a chain; the second join sums
    the first's narrow type (NarrowJoinSums), which the thresholds after it read."""
    import torch
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
    from torch import nn

    from tests.compile.helpers import check_chain, randomize
    from tests.nets import random_images

    class ThreeWay(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q = QuantIdentity(bit_width=8)
            self.stem = nn.Sequential(QuantConv2d(1, 8, 3, padding=1, weight_bit_width=2,
                                                  bias=False), nn.BatchNorm2d(8))
            self.shared = QuantIdentity(bit_width=3, return_quant_tensor=True)
            self.f = nn.Sequential(QuantConv2d(8, 8, 3, padding=1, weight_bit_width=2,
                                               bias=False), nn.BatchNorm2d(8))
            self.g = nn.Sequential(QuantConv2d(8, 8, 1, weight_bit_width=2, bias=False),
                                   nn.BatchNorm2d(8))
            self.act = QuantReLU(bit_width=2)
            self.fc = QuantLinear(8, 10, weight_bit_width=2, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.shared(self.stem(self.q(x)))
            y = x + self.shared(self.f(x)) + self.shared(self.g(x))
            return self.fc(self.act(y).mean((2, 3)))

    model = randomize(ThreeWay(), 1)
    path = export(model, (1, 8, 8), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    assert check_chain(model, result, random_images(result.ir, 16, seed=2))[
        "distinct_outputs"] > 1
    joins = [x for x in result.ir.layers if x.kind == "add_streams"]
    assert len(joins) == 2 and joins[1].out_dtype.bits <= 6

