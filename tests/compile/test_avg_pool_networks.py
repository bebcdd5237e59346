"""Networks with average pools over part of the map (tests/compile/avg_pool_nets.py) compile
and agree with PyTorch along the whole chain: the pool is an exact window sum in hardware
(compile/layers/sum_pool.py) and its 1/k² goes into the next layer's thresholds or the
output scale (compile/frontend/finn_passes.py AveragePoolAsSum)."""

from __future__ import annotations

import pytest

from tests.compile.avg_pool_nets import avg_pool_net
from tests.compile.helpers import (
    check_chain,
    check_drawn,
    compile_drawn,
    export,
    randomize,
    seed_params,
)
from tests.nets import random_images
from xnorflow.compile.errors import CompileError
from xnorflow.compile.pipeline import compile_model

DEFAULT_SEEDS = [2, 4, 12, 24]
SLOW_SEEDS = [s for s in range(0, 60) if s not in DEFAULT_SEEDS]


@pytest.mark.parametrize("seed", seed_params(DEFAULT_SEEDS, SLOW_SEEDS))
def test_avg_pool_network_chain(seed, tmp_path):
    model, drawn, result = compile_drawn(avg_pool_net, seed, tmp_path)
    check_drawn(model, drawn, result, seed, with_qonnx=seed % 3 == 0)
    kinds = [layer.kind for layer in result.ir.layers]
    assert kinds.count("sum_pool") == len(drawn.blocks), (drawn, kinds)


def test_generator_covers_the_cases():
    """The seeds draw nn.AvgPool2d, F.avg_pool2d and nn.AdaptiveAvgPool2d((h/2, w/2)); tiling,
    overlapping, rectangular and zero-padded windows; 1-bit, signed and unsigned multi-bit
    activations; every head; a max-pool after the average pool."""
    seen = {"how": set(), "windows": set(), "bits": set(), "unsigned": set(), "heads": set(),
            "max_after": False, "padded": False}
    for seed in DEFAULT_SEEDS + SLOW_SEEDS:
        _, _, d = avg_pool_net(seed)
        for block in d.blocks:
            pool = block.split("avg")[1].split("-")[0]  # e.g. 3x1s2x1nn, 3x3s2x2p1x1F
            seen["how"].add(pool.lstrip("0123456789xsp"))
            geometry = pool.rstrip("nFadptive").replace("s", "x").replace("p", "x").split("x")
            kh, kw, sh, sw = (int(v) for v in geometry[:4])
            seen["padded"] |= len(geometry) > 4
            seen["windows"].add("overlap" if kh > sh or kw > sw else "tile")
            seen["windows"] |= {"rectangular"} if kh != kw else set()
            seen["max_after"] |= block.endswith("max2")
        seen["bits"].add(d.a_bits)
        seen["unsigned"].add(d.unsigned)
        seen["heads"].add(d.head)
    assert seen["how"] == {"nn", "F", "adaptive"}, seen
    assert seen["windows"] == {"overlap", "tile", "rectangular"} and seen["max_after"], seen
    assert seen["padded"]
    assert seen["bits"] == {1, 2, 3} and seen["unsigned"] == {True, False}
    assert seen["heads"] == {"flatten", "hidden", "gap", "bn_act"}


def _lenet(pool, before_act: bool = False):
    """LeNet-5's shape in binary: conv → BN → act → pool → conv → BN → act → pool → linear
    (`before_act`: conv → pool → BN → act, the pool on the conv's sums)."""
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant
    from torch import nn

    wq = {"weight_quant": CommonWeightQuant, "weight_bit_width": 1}

    def act():
        return QuantIdentity(act_quant=CommonActQuant, bit_width=1, min_val=-1.0, max_val=1.0)

    import torch

    first = [pool(), nn.BatchNorm2d(6), act()] if before_act else [nn.BatchNorm2d(6), act(),
                                                                   pool()]
    features = nn.Sequential(
        QuantIdentity(act_quant=CommonActQuant, bit_width=8, min_val=-1.0, max_val=1 - 2**-7),
        QuantConv2d(1, 6, 5, padding=2, bias=False, **wq), *first,
        QuantConv2d(6, 8, 5, bias=False, **wq), nn.BatchNorm2d(8), act(), pool(), nn.Flatten())
    n = features.eval()(torch.zeros(1, 1, 28, 28)).shape[1]
    return nn.Sequential(*features, QuantLinear(n, 10, bias=False, **wq))


def test_binary_lenet(tmp_path):
    """LeNet-5 with nn.AvgPool2d(2) on 28 × 28 MNIST-sized images, bit-exact."""
    from torch import nn

    model = randomize(_lenet(lambda: nn.AvgPool2d(2)), 7)
    path = export(model, (1, 28, 28), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, random_images(result.ir, 16, seed=7))
    assert figs["distinct_outputs"] > 1
    assert [layer.kind for layer in result.ir.layers].count("sum_pool") == 2


@pytest.mark.parametrize(("pool", "needles"), [
    ("nn.AvgPool2d(3, 2, padding=1, count_include_pad=False)",
     ["count_include_pad 0", "padding counts in the average"]),
    ("nn.AvgPool2d(2, ceil_mode=True)", ["ceil_mode 1", "without ceil mode"])])
def test_unsupported_average_pools_are_named(tmp_path, pool, needles):
    from torch import nn

    model = randomize(_lenet(lambda: eval(pool, {"nn": nn})), 7)
    path = export(model, (1, 28, 28), tmp_path / "m.onnx")
    with pytest.raises(CompileError) as err:
        compile_model(path, tmp_path / "build", backends=False)
    for needle in needles:
        assert needle in str(err.value), (needle, str(err.value))
    assert not (tmp_path / "build").exists()


@pytest.mark.parametrize(("act_bits", "trunc_bits", "mode"), [
    (2, 8, "FLOOR"), (8, 8, "FLOOR"), (4, 4, "FLOOR"), (4, 4, "ROUND"), (3, 2, "ROUND")])
def test_brevitas_trunc_avg_pool(tmp_path, act_bits, trunc_bits, mode):
    """Brevitas' own TruncAvgPool2d (AveragePool → Trunc): with 2-bit activations an 8-bit
    Trunc keeps every bit of the sums and goes; otherwise it quantizes the window sums
    (floor or round half to even, as MobileNet-v1's 4-bit final pool) and becomes a
    thresholding layer on them — bit-exact either way."""
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU, TruncAvgPool2d
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant
    from torch import nn

    wq = {"weight_quant": CommonWeightQuant, "weight_bit_width": 1}
    model = randomize(nn.Sequential(
        QuantIdentity(act_quant=CommonActQuant, bit_width=8, min_val=-1.0, max_val=1 - 2**-7,
                      return_quant_tensor=True),
        QuantConv2d(3, 6, 3, padding=1, bias=False, **wq), nn.BatchNorm2d(6),
        QuantReLU(bit_width=act_bits, return_quant_tensor=True),
        TruncAvgPool2d(2, bit_width=trunc_bits, float_to_int_impl_type=mode),
        QuantConv2d(6, 4, 3, bias=False, **wq), nn.BatchNorm2d(4),
        QuantIdentity(act_quant=CommonActQuant, bit_width=1, min_val=-1.0, max_val=1.0),
        nn.Flatten(), QuantLinear(4 * 2 * 2, 3, bias=False, **wq)), 1)
    path = export(model, (3, 8, 8), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, random_images(result.ir, 64, seed=1))
    assert figs["distinct_outputs"] > 4
    kinds = [layer.kind for layer in result.ir.layers]
    pool = kinds.index("sum_pool")
    assert (kinds[pool + 1] == "thresholding") == (act_bits != 2)


def test_residual_block_with_an_average_pool_shortcut(tmp_path):
    """A downsampling residual block whose shortcut is AvgPool2d(2) → 1x1 conv → BN → act (Bi-Real
    Net's shortcut, quantized before the join): the pool sits on one branch of the fork."""
    import torch
    import torch.nn.functional as F
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant
    from torch import nn

    wq = {"weight_quant": CommonWeightQuant, "weight_bit_width": 1}

    def act(bits=1):
        return QuantIdentity(act_quant=CommonActQuant, bit_width=bits, min_val=-1.0, max_val=1.0)

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q = QuantIdentity(act_quant=CommonActQuant, bit_width=8, min_val=-1.0,
                                   max_val=1 - 2**-7)
            self.stem = nn.Sequential(QuantConv2d(3, 8, 3, padding=1, bias=False, **wq),
                                      nn.BatchNorm2d(8), act())
            self.branch = nn.Sequential(QuantConv2d(8, 16, 3, stride=2, padding=1, bias=False,
                                                    **wq), nn.BatchNorm2d(16), act())
            self.shortcut = nn.Sequential(nn.AvgPool2d(2), QuantConv2d(8, 16, 1, bias=False,
                                                                       **wq),
                                          nn.BatchNorm2d(16), act())
            self.out = act(2)
            self.fc = QuantLinear(16, 4, bias=False, **wq)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.stem(self.q(x))
            y = self.out(self.branch(x) + self.shortcut(x))
            return self.fc(F.adaptive_avg_pool2d(y, 1).flatten(1))

    model = randomize(Block(), 2)
    path = export(model, (3, 6, 6), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, random_images(result.ir, 16, seed=2))
    assert figs["distinct_outputs"] > 1
    kinds = [layer.kind for layer in result.ir.layers]
    assert "sum_pool" in kinds and "add_streams" in kinds and "duplicate_streams" in kinds


@pytest.mark.parametrize(("pool", "out"), [("nn.AvgPool1d(2)", 8), ("nn.AvgPool1d(3, 2)", 7)])
def test_avg_pool_1d(tmp_path, pool, out):
    """A 1-D network's AvgPool1d: a 1 × k window once compiled as images of height 1."""
    from brevitas.nn import QuantConv1d, QuantIdentity, QuantLinear
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant
    from torch import nn

    wq = {"weight_quant": CommonWeightQuant, "weight_bit_width": 1}
    model = randomize(nn.Sequential(
        QuantIdentity(act_quant=CommonActQuant, bit_width=8, min_val=-1.0, max_val=1 - 2**-7),
        QuantConv1d(2, 4, 3, padding=1, bias=False, **wq), nn.BatchNorm1d(4),
        QuantIdentity(act_quant=CommonActQuant, bit_width=2, min_val=-1.0, max_val=1.0),
        eval(pool, {"nn": nn}), nn.Flatten(), QuantLinear(4 * out, 3, bias=False, **wq)), 1)
    path = export(model, (2, 16), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, random_images(result.ir, 16, seed=1))
    assert figs["distinct_outputs"] > 1
    pools = [layer for layer in result.ir.layers if layer.kind == "sum_pool"]
    assert len(pools) == 1 and pools[0].kernel_hw[0] == 1


@pytest.mark.parametrize("bits", [1, 2])
def test_padded_avg_pool(tmp_path, bits):
    """nn.AvgPool2d(3, 2, padding=1) (count_include_pad: zeros count in the average) after
    1-bit and 2-bit activations: the window pads zeros (a bipolar activation is carried as
    INT2 for it)."""
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant
    from torch import nn

    wq = {"weight_quant": CommonWeightQuant, "weight_bit_width": 1}
    model = randomize(nn.Sequential(
        QuantIdentity(act_quant=CommonActQuant, bit_width=8, min_val=-1.0, max_val=1 - 2**-7),
        QuantConv2d(3, 6, 3, padding=1, bias=False, **wq), nn.BatchNorm2d(6),
        QuantIdentity(act_quant=CommonActQuant, bit_width=bits, min_val=-1.0, max_val=1.0),
        nn.AvgPool2d(3, 2, padding=1), nn.BatchNorm2d(6),
        QuantIdentity(act_quant=CommonActQuant, bit_width=2, min_val=-1.0, max_val=1.0),
        nn.Flatten(), QuantLinear(6 * 4 * 4, 3, bias=False, **wq)), 3 * bits)
    path = export(model, (3, 7, 8), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, random_images(result.ir, 16, seed=bits))
    assert figs["distinct_outputs"] > 1
    kinds = [layer.kind for layer in result.ir.layers]
    assert kinds[kinds.index("sum_pool") - 1] == "padding"


@pytest.mark.parametrize(("w_bits", "a_bits", "k", "stride", "pool", "pad", "bias"), [
    (1, 1, 3, 1, (2, 2), 1, False), (2, 2, 3, 2, (2, 1), 0, True), (1, 2, 1, 1, (3, 2), 0, False),
    (1, 1, 3, 1, ((2, 1), (2, 1)), 1, False)])
def test_pool_before_the_activation(tmp_path, w_bits, a_bits, k, stride, pool, pad, bias):
    """Conv → AvgPool → BatchNorm → act (the pool on the conv's sums, as BinaryNet pools):
    the pool folds into the convolution — a kernel k + s(p − 1) wide with integer weights, at
    stride s·sp — exactly."""
    import torch
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant
    from torch import nn

    wq = {"weight_quant": CommonWeightQuant, "weight_bit_width": w_bits}

    def act():
        return QuantIdentity(act_quant=CommonActQuant, bit_width=a_bits, min_val=-1.0,
                             max_val=1.0)

    features = nn.Sequential(
        QuantIdentity(act_quant=CommonActQuant, bit_width=8, min_val=-1.0, max_val=1 - 2**-7),
        QuantConv2d(3, 6, 3, padding=1, bias=False, **wq), nn.BatchNorm2d(6), act(),
        QuantConv2d(6, 5, k, stride=stride, padding=pad, bias=bias, **wq), nn.AvgPool2d(*pool),
        nn.BatchNorm2d(5), act(), nn.Flatten())
    n = features.eval()(torch.zeros(1, 3, 11, 10)).shape[1]
    model = randomize(nn.Sequential(*features, QuantLinear(n, 4, bias=False, **wq)), 3)
    path = export(model, (3, 11, 10), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    check_chain(model, result, random_images(result.ir, 16, seed=3))
    kinds = [layer.kind for layer in result.ir.layers]
    assert "sum_pool" not in kinds  # folded into the convolution
    kh, kw = pool[0] if isinstance(pool[0], tuple) else (pool[0], pool[0])
    windows = [layer for layer in result.ir.layers if layer.kind == "sliding_window"]
    assert windows[1].kernel_hw == (k + stride * (kh - 1), k + stride * (kw - 1))


def test_lenet_pooling_before_the_activation(tmp_path):
    """LeNet-5 with Conv → AvgPool2d(2) → BatchNorm → act in its first block."""
    from torch import nn

    model = randomize(_lenet(lambda: nn.AvgPool2d(2), before_act=True), 7)
    path = export(model, (1, 28, 28), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, random_images(result.ir, 16, seed=7))
    assert figs["distinct_outputs"] > 1


def _reduced(reduce, channels_in: int = 1, one_d: bool = False):
    """conv → BN → 2-bit ReLU → `reduce` (a lambda on the activations) → flatten → linear."""
    import torch
    from brevitas.nn import QuantConv1d, QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
    from torch import nn

    class Reduced(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            conv = QuantConv1d if one_d else QuantConv2d
            self.q = QuantIdentity(bit_width=8)
            self.conv = conv(channels_in, 6, 3, weight_bit_width=2, bias=False)
            self.bn = (nn.BatchNorm1d if one_d else nn.BatchNorm2d)(6)
            self.act = QuantReLU(bit_width=2)
            features = reduce(torch.zeros((1, 6, 14) if one_d else (1, 6, 6, 6)))
            self.fc = QuantLinear(features.flatten(1).shape[1], 5, weight_bit_width=2, bias=True)

        def forward(self, x):
            return self.fc(torch.flatten(reduce(self.act(self.bn(self.conv(self.q(x))))), 1))

    return randomize(Reduced(), 3)


@pytest.mark.parametrize(("reduce", "kind"), [
    ("x.sum((2, 3))", "global_acc_pool"), ("torch.sum(x, dim=[-1, -2], keepdim=True)",
                                           "global_acc_pool"),
    ("x.mean(2)", "sum_pool"), ("x.sum(2)", "sum_pool"), ("x.mean(3, keepdim=True)", "sum_pool"),
    ("x.sum(-1)", "1d")])
def test_sums_and_means_over_some_axes(tmp_path, reduce, kind):
    """`x.sum(...)` (ReduceSum: a mean times its size) and a mean over the height or the width
    only (an AveragePool over that whole axis, as a spectrogram's frequency axis is averaged),
    then flattened into the classifier."""
    import torch

    one_d = kind == "1d"
    model = _reduced(lambda x: eval(reduce, {"torch": torch, "x": x}), 2 if one_d else 1, one_d)
    path = export(model, (2, 16) if one_d else (1, 8, 8), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, random_images(result.ir, 16, seed=2))
    assert figs["distinct_outputs"] > 4
    kinds = [layer.kind for layer in result.ir.layers]
    assert ("global_acc_pool" if one_d else kind) in kinds


def test_mean_over_the_channels_is_named(tmp_path):
    model = _reduced(lambda x: x.mean(1))
    path = export(model, (1, 8, 8), tmp_path / "m.onnx")
    with pytest.raises(CompileError, match=r"averages over axes \[1\] of a \[1, 6, 6, 6\] "
                                           "tensor.*not over the channels"):
        compile_model(path, tmp_path / "build", backends=False)
    assert not (tmp_path / "build").exists()

