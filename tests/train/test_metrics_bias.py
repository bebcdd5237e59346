"""Diagnostics (FF, C2I, CAM/SDAM, saturation), random bias init and the recipes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from xnorflow.train.bias_init import random_bias_init
from xnorflow.train.errors import UserError
from xnorflow.train.metrics import (
    FlipCounter,
    SaturationMonitor,
    c2i_ratio,
    cam_sdam,
    flip_fraction,
    weight_signs,
)
from xnorflow.train.models import TensorNorm, get_model, preactivation_norms
from xnorflow.train.recipes import phases


def test_ff_and_c2i_hand_example():
    init = [torch.tensor([True, True, False, False]), torch.tensor([True, False])]
    step1 = [torch.tensor([False, True, False, False]), torch.tensor([True, False])]
    step2 = [torch.tensor([True, True, False, True]), torch.tensor([False, False])]
    # 6 weights; step 1 flips 1, step 2 flips 3 (w0 back, w3, v0)
    assert flip_fraction(init, step1) == pytest.approx(1 / 6)
    assert flip_fraction(step1, step2) == pytest.approx(3 / 6)
    # final vs initial: w3 and v0 differ → C2I = 1 − 2/6
    assert c2i_ratio(init, step2) == pytest.approx(1 - 2 / 6)
    assert c2i_ratio(init, init) == 1.0


def test_flip_counter_averages_steps():
    net = get_model("mlp:4", (1, 2, 2), 2)
    fc = FlipCounter(net)
    layer = net.fc_features[0]
    n = sum(s.numel() for s in weight_signs(net))
    fc.before_step()
    with torch.no_grad():
        layer.weight[0, 0] = -layer.weight[0, 0] - 0.1 * torch.sign(layer.weight[0, 0])
    assert fc.after_step() == pytest.approx(1 / n)
    fc.before_step()
    assert fc.after_step() == 0.0
    assert fc.mean == pytest.approx(0.5 / n)


def test_cam_sdam_hand_example():
    net = get_model("mlp:2", (1, 1, 2), 2)
    with torch.no_grad():
        net.fc_features[0].weight.copy_(torch.tensor([[0.5, -0.5], [1.0, 0.0]]))  # 0.5, 0.5
        net.fc_features[3].weight.copy_(torch.tensor([[0.2, 0.2], [-1.0, 1.0]]))  # 0.2, 1.0
    cam, sdam = cam_sdam(net)
    vals = torch.tensor([0.5, 0.5, 0.2, 1.0])
    assert cam == pytest.approx(float(vals.mean()))
    assert sdam == pytest.approx(float(vals.std(unbiased=False)))


def test_saturation_counts_inputs_of_binary_acts():
    net = get_model("mlp:4,4", (1, 1, 3), 2)
    mon = SaturationMonitor(net)
    assert len(mon.acts) == 2
    seen = []
    mon.acts[0].register_forward_pre_hook(lambda m, i: seen.append(i[0].detach().clone()))
    net.train()
    net(torch.rand(8, 1, 1, 3))
    expect = float((seen[0].abs() > 1).float().mean())
    assert mon.per_layer()[0] == pytest.approx(expect)
    assert 0.0 <= mon.mean() <= 1.0
    mon.reset()
    assert mon.per_layer() == [0.0, 0.0]
    mon.remove()


@pytest.mark.parametrize("lam", [0.5, 2.0])
def test_bias_init_uniform(lam):
    net = get_model("mlp:1500,1500", (1, 2, 2), 10)
    gen = torch.Generator().manual_seed(0)
    n = random_bias_init(net, lam, generator=gen)
    assert n == 3000
    b = torch.cat([bn.bias.detach() for bn in preactivation_norms(net)])
    assert b.min() >= -lam and b.max() <= lam
    assert b.mean().abs() < 0.05 * lam
    assert b.var().item() == pytest.approx(lam**2 / 3, rel=0.08)
    counts = torch.histc(b, bins=10, min=-lam, max=lam)
    assert counts.min() > 0.8 * len(b) / 10 and counts.max() < 1.2 * len(b) / 10
    # the last TensorNorm does not feed a binary activation: untouched
    tn = [m for m in net.modules() if isinstance(m, TensorNorm)][0]
    assert tn.bias.item() == 0.0


def test_bias_init_zero_and_targets():
    net = get_model("cnn:4,P,4/8", (1, 10, 10), 3)
    norms = preactivation_norms(net)
    assert len(norms) == 3 and all(isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d) for m in norms)
    random_bias_init(net, 1.0)
    random_bias_init(net, 0.0)
    assert all(torch.all(bn.bias == 0) for bn in norms)
    with pytest.raises(UserError):
        random_bias_init(net, -1.0)


def test_two_step_phases():
    one = phases("one-step", 5)
    assert len(one) == 1 and one[0].binary_weights and one[0].epochs == 5
    p = phases("two-step", 5)
    assert [(x.first_epoch, x.epochs, x.binary_weights) for x in p] == [(0, 2, False),
                                                                          (2, 3, True)]
    with pytest.raises(UserError):
        phases("two-step", 1)
    with pytest.raises(UserError):
        phases("three-step", 4)
