"""Networks with padded and ceil-mode max-pools (tests/compile/padded_pool_nets.py) compile and
agree with PyTorch along the whole chain: PyTorch pads a max-pool with −∞, the hardware with
the activation type's minimum (compile/frontend/padding_passes.py) — FINN's FMPadding for
bipolar bits (bit 0 is −1) and unsigned values (0), an ONNX Pad by −2^(k−1) for signed ones."""

from __future__ import annotations

import pytest

from tests.compile.helpers import (
    check_chain,
    check_drawn,
    compile_drawn,
    export,
    randomize,
    seed_params,
)
from tests.compile.padded_pool_nets import padded_pool_net
from tests.nets import random_images
from xnorflow.compile.errors import CompileError
from xnorflow.compile.frontend.padding_passes import ceil_mode_drops_window, ceil_mode_size
from xnorflow.compile.pipeline import compile_model

DEFAULT_SEEDS = [0, 3, 9, 17, 24]
SLOW_SEEDS = [s for s in range(1, 60) if s not in DEFAULT_SEEDS]


@pytest.mark.parametrize("seed", seed_params(DEFAULT_SEEDS, SLOW_SEEDS))
def test_padded_pool_network_chain(seed, tmp_path):
    model, drawn, result = compile_drawn(padded_pool_net, seed, tmp_path)
    check_drawn(model, drawn, result, seed, with_qonnx=seed % 3 == 0)
    layers = result.ir.layers
    for i, layer in enumerate(layers[:-1]):  # a pool's padding holds the type's minimum
        if layer.kind == "padding" and layers[i + 1].kind == "maxpool":
            assert layer.value == layer.in_dtype.value_min(), (drawn, layer)


def _pool_paddings(seed: int) -> list[tuple[str, int]]:
    """(type, value) of each padding in front of a max-pool in the compiled seed."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        _, _, result = compile_drawn(padded_pool_net, seed, Path(tmp))
    layers = result.ir.layers
    return [(layer.in_dtype.name, layer.value)
            for layer, nxt in zip(layers, layers[1:], strict=False)
            if layer.kind == "padding" and nxt.kind == "maxpool"]


def test_default_seeds_cover_the_pads():
    """The default seeds pad pools of bipolar bits (−1, FINN's FMPadding), signed INT2 (−2, an
    ONNX Pad), and pools in BinaryNet's order (before the BatchNorm) and in ceil mode."""
    pads = {p for seed in DEFAULT_SEEDS for p in _pool_paddings(seed)}
    assert ("BIPOLAR", -1) in pads and ("INT2", -2) in pads, pads
    blocks = [b for seed in DEFAULT_SEEDS for b in padded_pool_net(seed)[2].blocks]
    assert any("pool-bn-act" in b and "p1" in b.split("pool")[-1] for b in blocks)
    assert any(b.endswith("ceil") for b in blocks)


def test_generator_covers_the_cases():
    """The seeds draw padded and ceil-mode pools after 1-bit, signed and unsigned multi-bit
    activations, in both orders, with every head."""
    seen = {"bits": set(), "unsigned": set(), "order": set(), "ceil": False, "heads": set()}
    for seed in DEFAULT_SEEDS + SLOW_SEEDS:
        _, _, d = padded_pool_net(seed)
        seen["bits"].add(d.a_bits)
        seen["unsigned"].add(d.unsigned)
        seen["order"] |= {"pool-bn-act" in b for b in d.blocks}
        seen["ceil"] |= any(b.endswith("ceil") for b in d.blocks)
        seen["heads"].add(d.head)
    assert seen["bits"] == {1, 2, 3} and seen["unsigned"] == {True, False}
    assert seen["order"] == {True, False} and seen["ceil"]
    assert seen["heads"] == {"flatten", "hidden", "gap"}


def test_ceil_mode_sizes():
    """PyTorch's output sizes; a last window that would start in the end pad is dropped."""
    import torch

    for size, k, s, p in [(7, 2, 2, 0), (8, 3, 2, 1), (5, 2, 2, 1), (6, 3, 3, 1), (9, 3, 2, 0)]:
        out = torch.nn.MaxPool1d(k, s, padding=p, ceil_mode=True)(torch.zeros(1, 1, size))
        drops = ceil_mode_drops_window(size, k, s, p, p)
        assert out.shape[2] == ceil_mode_size(size, k, s, p, p) - drops, (size, k, s, p)
    assert ceil_mode_drops_window(5, 2, 2, 1, 1)


def _stem(pool, act_bits: int = 1):
    """A ResNet-like stem: conv → BN → act → `pool` → conv → BN → act → flatten → linear."""
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant
    from torch import nn

    wq = {"weight_quant": CommonWeightQuant, "weight_bit_width": 1}

    def act():
        return QuantIdentity(act_quant=CommonActQuant, bit_width=act_bits, min_val=-1.0,
                             max_val=1.0)

    return nn.Sequential(
        QuantIdentity(act_quant=CommonActQuant, bit_width=8, min_val=-1.0, max_val=1.0 - 2**-7),
        QuantConv2d(3, 8, 3, padding=1, bias=False, **wq), nn.BatchNorm2d(8), act(), pool,
        QuantConv2d(8, 8, 3, padding=1, bias=False, **wq), nn.BatchNorm2d(8), act(),
        nn.Flatten(), QuantLinear(8 * 9, 4, bias=False, **wq))


@pytest.mark.parametrize("bits", [1, 2])
def test_resnet_stem_pool(tmp_path, bits):
    """nn.MaxPool2d(3, 2, padding=1) on a 6 × 6 map: pads on every side, bit-exact."""
    from torch import nn

    model = randomize(_stem(nn.MaxPool2d(3, 2, padding=1), bits), 3)
    path = export(model, (3, 6, 6), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, random_images(result.ir, 16, seed=bits))
    assert figs["distinct_outputs"] > 1


def test_ceil_mode_that_drops_a_window_is_named(tmp_path):
    """5 × 5 → MaxPool2d(2, 2, padding=1, ceil_mode=True): PyTorch drops the window that would
    start in the end pad; the error says so and leaves no build."""
    from torch import nn

    model = randomize(_stem(nn.MaxPool2d(2, 2, padding=1, ceil_mode=True)), 3)
    path = export(model, (3, 5, 5), tmp_path / "m.onnx")
    with pytest.raises(CompileError, match="start its last window in the padding"):
        compile_model(path, tmp_path / "build", backends=False)
    assert not (tmp_path / "build").exists()


@pytest.mark.parametrize(("bits", "pool", "length", "out"), [
    (1, "MaxPool1d(3, 2, padding=1)", 16, 8), (2, "MaxPool1d(2, 2, ceil_mode=True)", 15, 8)])
def test_signal_pool(tmp_path, bits, pool, length, out):
    """1-D networks pool with padding and in ceil mode too (compiled as images of height 1)."""
    from brevitas.nn import QuantConv1d, QuantIdentity, QuantLinear
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant
    from torch import nn

    wq = {"weight_quant": CommonWeightQuant, "weight_bit_width": 1}
    model = randomize(nn.Sequential(
        QuantIdentity(act_quant=CommonActQuant, bit_width=8, min_val=-1.0, max_val=1 - 2**-7),
        QuantConv1d(2, 6, 3, padding=1, bias=False, **wq), nn.BatchNorm1d(6),
        QuantIdentity(act_quant=CommonActQuant, bit_width=bits, min_val=-1.0, max_val=1.0),
        eval(f"nn.{pool}"), nn.Flatten(), QuantLinear(6 * out, 4, bias=False, **wq)), 2)
    path = export(model, (2, length), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, random_images(result.ir, 16, seed=0))
    assert figs["distinct_outputs"] > 1
    pads = [layer.value for layer in result.ir.layers if layer.kind == "padding"]
    assert pads == [0, -1 if bits == 1 else -2]
