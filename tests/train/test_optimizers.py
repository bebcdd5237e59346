"""The gradient filter, Bop and the latent baselines: update rules and what they see."""

from __future__ import annotations

import math

import pytest
import torch
from brevitas.nn import QuantLinear
from torch import nn

from xnorflow.train.models import get_model
from xnorflow.train.optimizers import (
    Bop,
    GradientFilter,
    build_optimizer,
    decay_factor,
    sign_pm1,
)
from xnorflow.train.quantizers import BinaryWeightQuant


def _filter_run(grads: torch.Tensor, alpha: float, gamma: float):
    p = nn.Parameter(torch.ones(grads.shape[1], dtype=torch.float64))
    opt = GradientFilter([p], alpha=alpha, gamma=gamma, alpha_decay="none")
    gs, thetas = [], []
    for grad in grads:
        p.grad = grad.clone()
        opt.step()
        gs.append(opt.state[p]["g"].clone())
        thetas.append(p.detach().clone())
    return torch.stack(gs), torch.stack(thetas)


def test_filter_equals_second_order_iir():
    """Two cascaded EMAs = g_i = αγ∇_i − (α+γ−2)g_{i−1} − (α−1)(γ−1)g_{i−2}."""
    torch.manual_seed(0)
    a, c = 0.05, 0.2
    grads = torch.randn(60, 7, dtype=torch.float64)
    gs, _ = _filter_run(grads, a, c)
    prev1 = torch.zeros(7, dtype=torch.float64)
    prev2 = torch.zeros(7, dtype=torch.float64)
    for i in range(len(grads)):
        g = a * c * grads[i] - (a + c - 2) * prev1 - (a - 1) * (c - 1) * prev2
        torch.testing.assert_close(gs[i], g, rtol=1e-12, atol=1e-14)
        prev2, prev1 = prev1, g


def test_filter_theta_is_minus_sign_g_and_flips_exactly_there():
    torch.manual_seed(1)
    grads = torch.randn(40, 50, dtype=torch.float64)
    gs, thetas = _filter_run(grads, 0.1, 0.3)
    assert torch.all(gs != 0)
    torch.testing.assert_close(thetas, -torch.sign(gs))
    flips = thetas[1:] != thetas[:-1]
    sign_changes = torch.sign(gs[1:]) != torch.sign(gs[:-1])
    assert torch.equal(flips, sign_changes)
    assert flips.any()


def test_filter_random_sign_where_g_is_zero():
    torch.manual_seed(2)
    p = nn.Parameter(torch.ones(4000))
    opt = GradientFilter([p], alpha=0.1, gamma=0.1, alpha_decay="none")
    seen = []
    for _ in range(3):
        p.grad = torch.zeros(4000)
        opt.step()
        assert torch.all(opt.state[p]["g"] == 0)
        assert set(p.detach().unique().tolist()) == {-1.0, 1.0}
        seen.append(p.detach().clone())
        assert abs(float(p.detach().mean())) < 0.06  # about half +1
    assert (seen[0] != seen[1]).float().mean() > 0.4  # drawn afresh each step


def test_filter_sets_pm1_and_keeps_it():
    torch.manual_seed(3)
    p = nn.Parameter(torch.rand(100) * 4 - 2)
    expect = sign_pm1(p.detach())
    opt = GradientFilter([p], alpha=0.01, gamma=0.1)
    assert torch.equal(p.detach(), expect)
    for _ in range(5):
        p.grad = torch.randn(100)
        opt.step()
        assert set(p.detach().unique().tolist()) <= {-1.0, 1.0}


@pytest.mark.parametrize("kind", ["cosine", "linear", "none"])
def test_alpha_decay(kind):
    T = 100
    expect = {"cosine": lambda t: 0.5 * (1 + math.cos(math.pi * t / T)),
              "linear": lambda t: 1 - t / T, "none": lambda t: 1.0}[kind]
    for t in (0, 1, 25, 50, 99, 100):
        assert decay_factor(kind, t, T) == pytest.approx(expect(t))
    p = nn.Parameter(torch.ones(3))
    opt = GradientFilter([p], alpha=0.01, gamma=0.1, alpha_decay=kind, total_steps=T)
    for t in range(50):
        assert opt.current_alpha() == pytest.approx(0.01 * expect(t))
        p.grad = torch.randn(3)
        opt.step()
    assert opt.current_alpha() == pytest.approx(0.01 * expect(50))


def test_filter_uses_decayed_alpha():
    """With α_t decayed to ~0 the filter state no longer moves."""
    p = nn.Parameter(torch.ones(5, dtype=torch.float64))
    opt = GradientFilter([p], alpha=0.5, gamma=0.5, alpha_decay="linear", total_steps=2)
    p.grad = torch.ones(5, dtype=torch.float64)
    opt.step()  # α_0 = 0.5: g = 0.5·0.5 = 0.25
    torch.testing.assert_close(opt.state[p]["g"], torch.full((5,), 0.25, dtype=torch.float64))
    opt.step()  # α_1 = 0.25: m = 0.75, g = 0.75·0.25 + 0.25·0.75
    torch.testing.assert_close(opt.state[p]["g"], torch.full((5,), 0.375, dtype=torch.float64))
    opt.step()  # α_2 = 0: g unchanged
    torch.testing.assert_close(opt.state[p]["g"], torch.full((5,), 0.375, dtype=torch.float64))


def test_bop_flip_rule():
    p = nn.Parameter(torch.tensor([1.0, 1.0, -1.0, -1.0, 1.0, -1.0]))
    opt = Bop([p], gamma=0.5, tau=0.1)
    # m = 0.5·grad: [0.5, -0.5, 0.5, -0.5, 0.05, -0.05]
    p.grad = torch.tensor([1.0, -1.0, 1.0, -1.0, 0.1, -0.1])
    opt.step()
    # flip where |m| > τ and sign(m) == sign(w): elements 0 (+,+) and 3 (−,−)
    assert p.detach().tolist() == [-1.0, 1.0, -1.0, 1.0, 1.0, -1.0]
    torch.testing.assert_close(opt.state[p]["m"], torch.tensor([0.5, -0.5, 0.5, -0.5, 0.05, -0.05]))


def test_gradient_is_wrt_binary_weight_without_clipping():
    """dL/dθ for y = sign(W)x, L = ½‖y − t‖² is (sign(W)x − t)xᵀ, also where |W| > 1."""
    torch.manual_seed(4)
    layer = QuantLinear(5, 3, bias=False, weight_quant=BinaryWeightQuant)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(3, 5) * 2)  # many |w| > 1: an htanh STE would zero them
    x, t = torch.randn(2, 5), torch.randn(2, 3)
    wb = sign_pm1(layer.weight.detach())
    torch.testing.assert_close(layer.quant_weight().value.detach(), wb)
    y = layer(x)
    torch.testing.assert_close(y.detach(), x @ wb.T)
    (0.5 * ((y - t) ** 2).sum()).backward()
    torch.testing.assert_close(layer.weight.grad, (x @ wb.T - t).T @ x)


def test_forward_uses_exactly_theta_with_filter():
    torch.manual_seed(5)
    net = get_model("mlp:8", (1, 4, 4), 3)
    opts = build_optimizer(net, "filter", lr=1e-2, alpha=0.5, gamma=0.5, total_steps=10)
    layer = net.fc_features[0]
    for _ in range(3):
        opts.zero_grad()
        net(torch.rand(6, 1, 4, 4)).sum().backward()
        opts.step()
        w = layer.weight.detach()
        assert set(w.unique().tolist()) <= {-1.0, 1.0}
        torch.testing.assert_close(layer.quant_weight().value.detach(), w)


def test_real_params_use_adam_and_latent_weights_are_clipped():
    torch.manual_seed(6)
    net = get_model("mlp:8", (1, 4, 4), 3)
    fil = build_optimizer(net, "filter", lr=1e-2, total_steps=10)
    assert type(fil.optimizers[1]) is torch.optim.Adam
    net2 = get_model("mlp:8", (1, 4, 4), 3)
    lat = build_optimizer(net2, "sgd", lr=10.0, weight_decay=0.0, total_steps=10)
    net2(torch.rand(6, 1, 4, 4))[:, 0].sum().backward()
    lat.step()
    w = net2.fc_features[0].weight.detach()
    assert w.abs().max() <= 1.0 and (w.abs() == 1.0).any()
