"""Brevitas' own example networks (brevitas_examples.imagenet_classification), written by
people who are not us for FINN-style deployment, at reduced width and image size: MobileNet-v1
(depthwise-separable, per-channel activation scales, a truncating final pool), ProxylessNAS
(inverted residuals sharing one quantizer with their sums) and VGG (8-bit, with and without
BatchNorm). Each compiles and agrees with PyTorch bit for bit (docs/ir.md)."""

from __future__ import annotations

import pytest

from tests.compile.helpers import (
    blocky_images,
    calibrate_batchnorms,
    check_chain,
    export,
    randomize,
)
from xnorflow.compile.pipeline import compile_model


def _brevitas_mobilenet_v1(stages: int, side: int, bits: int = 4):
    """brevitas_examples' quant_mobilenet_v1 (depthwise-separable blocks, per-channel
    activation scales before each depthwise conv, 4-bit TruncAvgPool2d over the whole final
    map, Int32Bias classifier), at width 1/8 with its first `stages` stages, for side × side
    images."""
    from brevitas_examples.imagenet_classification.models.mobilenetv1 import MobileNet

    channels = [[32], [64], [128, 128], [256, 256], [512] * 6, [1024, 1024]][:stages]
    channels = [[c // 8 for c in stage] for stage in channels]
    stride = 2 ** (1 + sum(1 for i in range(2, stages)))  # the first conv and stages 2+
    model = randomize(MobileNet(
        channels=channels, first_stage_stride=False, round_average_pool=False,
        act_bit_width=bits, weight_bit_width=bits, last_layer_bit_width=bits,
        avg_pool_kernel_size=side // stride, num_classes=10), 0)
    return calibrate_batchnorms(model, blocky_images(64, side, seed=1))


@pytest.mark.parametrize(("stages", "side"), [
    (3, 32), pytest.param(6, 64, marks=pytest.mark.slow)])
def test_brevitas_mobilenet_v1(tmp_path, stages, side):
    """Brevitas' own 4-bit MobileNet-v1: the per-channel scales move past the depthwise convs
    (ChannelMulPastGroupedConv), the final 4-bit TruncAvgPool2d floors the global sums
    (TruncAsQuant) — bit-exact through every activation."""
    model = _brevitas_mobilenet_v1(stages, side)
    path = export(model, (3, side, side), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, blocky_images(16, side, seed=0), with_qonnx=False)
    assert figs["distinct_outputs"] > 4
    kinds = [layer.kind for layer in result.ir.layers]
    assert kinds[-3:] == ["global_acc_pool", "thresholding", "mvau"]


def _brevitas_proxylessnas(stages: int, side: int, rounding: str):
    """brevitas_examples' quant_proxylessnas_mobile14 (4-bit; inverted residual blocks whose
    pointwise output and residual sum share one signed quantizer, per-channel scales before
    the depthwise convs, a 4-bit TruncAvgPool2d over the final map), at width 1/8 with its
    first `stages` stages, for side × side images."""
    from brevitas.nn import TruncAvgPool2d
    from brevitas_examples.imagenet_classification.models.proxylessnas import ProxylessNAS

    def first(rows):
        return rows[:stages]

    net = ProxylessNAS(
        channels=first([[c // 8 for c in s] for s in ([24], [40] * 4, [56] * 4)]),
        init_block_channels=6, final_block_channels=32,
        residuals=first([[1], [1, 1, 0, 0], [1, 1, 1, 1]]),
        shortcuts=first([[0], [0, 1, 1, 1], [0, 1, 1, 1]]),
        kernel_sizes=first([[3], [5, 3, 3, 3], [7, 3, 5, 5]]),
        expansions=first([[1], [3, 3, 3, 3], [3, 3, 3, 3]]),
        bit_width=4, first_layer_weight_bit_width=8, depthwise_bit_width=4,
        hadamard_classifier=False, round_average_pool=rounding == "round", num_classes=10)
    net.final_pool = TruncAvgPool2d(kernel_size=side // 2 ** stages, stride=1, bit_width=4,
                                    float_to_int_impl_type=rounding)
    return calibrate_batchnorms(randomize(net, 0), blocky_images(64, side, seed=1))


@pytest.mark.parametrize(("stages", "side", "rounding"), [
    (2, 32, "floor"), pytest.param(2, 32, "round", marks=pytest.mark.slow),
    pytest.param(3, 64, "floor", marks=pytest.mark.slow)])
def test_brevitas_proxylessnas(tmp_path, stages, side, rounding):
    """Brevitas' own ProxylessNAS: residual sums re-quantized by the quantizer their branches
    share, depthwise convs after per-channel scales, the final pool's 4-bit floor or round
    (ties half to even on the global sums) — bit-exact. (3 stages had 1 code in ~10⁵ off
    while thresholds were folded in float32, docs/ir.md.)"""
    model = _brevitas_proxylessnas(stages, side, rounding)
    path = export(model, (3, side, side), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, blocky_images(16, side, seed=0), with_qonnx=False)
    assert figs["distinct_outputs"] > 4
    kinds = [layer.kind for layer in result.ir.layers]
    shortcuts = {2: 1, 3: 4}[stages]  # units with a residual body and a shortcut
    assert kinds.count("add_streams") == kinds.count("duplicate_streams") == shortcuts
    assert kinds[-3:] == ["global_acc_pool", "thresholding", "mvau"]

def _brevitas_vgg11(bits: int, batch_norm: bool, side: int = 32):
    """brevitas_examples' QuantVGG ('A', VGG-11) at width 1/16: 8 convs with 5 max-pools,
    per-channel weight scales, a TruncAvgPool2d over the final map and a two-layer classifier
    (resized for 32 channels)."""
    from brevitas.nn import QuantLinear, QuantReLU, TruncAvgPool2d
    from brevitas_examples.imagenet_classification.models import vgg
    from brevitas_examples.imagenet_classification.models.common import (
        CommonIntWeightPerChannelQuant,
        CommonIntWeightPerTensorQuant,
        CommonUintActQuant,
    )
    from torch import nn

    cfg = [c if c == "M" else c // 16 for c in vgg.cfgs["A"]]
    net = vgg.QuantVGG(cfg, batch_norm, bit_width=bits, num_classes=10)
    net.avgpool = TruncAvgPool2d(kernel_size=side // 32, stride=1, bit_width=bits)
    net.classifier = nn.Sequential(
        QuantLinear(32, 64, bias=True, weight_quant=CommonIntWeightPerChannelQuant,
                    weight_bit_width=bits),
        QuantReLU(act_quant=CommonUintActQuant, bit_width=bits), nn.Dropout(),
        QuantLinear(64, 10, bias=False, weight_quant=CommonIntWeightPerTensorQuant,
                    weight_bit_width=bits))
    net = randomize(net, 0)
    return calibrate_batchnorms(net, blocky_images(64, side, seed=1)) if batch_norm else net


@pytest.mark.parametrize(("bits", "batch_norm"), [
    (8, True), (4, True), pytest.param(4, False, marks=pytest.mark.slow)])
def test_brevitas_vgg11(tmp_path, bits, batch_norm):
    """8-bit activations after a BatchNorm have 255 steps per channel: folding the BatchNorm
    into thresholds in float32 put 3 of 8192 codes of the third layer on the wrong side of a
    step (a pre-activation 0.03 from it at 10⁵ was taken for a tie); in float64
    (`initializers_as`) every code agrees. (qonnx's own float32 execution of the 8-bit model
    differs from PyTorch's at such near-ties, so it is compared at 4 bits only.)"""
    model = _brevitas_vgg11(bits, batch_norm)
    path = export(model, (3, 32, 32), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, blocky_images(16, 32, seed=0), with_qonnx=bits < 8)
    assert figs["distinct_outputs"] > 8
    assert [layer.kind for layer in result.ir.layers].count("maxpool") == 5
