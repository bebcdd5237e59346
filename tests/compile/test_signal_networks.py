"""1-D networks (QuantConv1d, MaxPool1d, BatchNorm1d on (C, L) signals;
tests/compile/signal_nets.py) compile as images of height 1 and agree with PyTorch along the
whole chain; the host takes the signals as they are, (N, C, L)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.compile.helpers import check_drawn, compile_drawn, export, seed_params
from tests.compile.signal_nets import signal_net
from xnorflow.compile.errors import CompileError
from xnorflow.compile.pipeline import compile_model

DEFAULT_SEEDS = [1, 5, 8, 11]
SLOW_SEEDS = [s for s in range(40) if s not in DEFAULT_SEEDS]


@pytest.mark.parametrize("seed", seed_params(DEFAULT_SEEDS, SLOW_SEEDS))
def test_signal_network_chain(seed, tmp_path):
    model, drawn, result = compile_drawn(signal_net, seed, tmp_path)
    assert result.ir.input_shape == (drawn.shape[0], 1, drawn.shape[1])
    assert result.ir.meta["signal_shape"] == list(drawn.shape)
    check_drawn(model, drawn, result, seed, with_qonnx=seed % 2 == 1)


def test_generator_covers_the_cases():
    seen = {"head": set(), "pool_first": False, "pool_after": False, "stride2": False,
            "pad": False, "multibit": False, "unsigned": False}
    for seed in DEFAULT_SEEDS + SLOW_SEEDS:
        _, _, d = signal_net(seed)
        seen["head"].add(d.head)
        seen["pool_first"] |= any("-pool-bn" in b for b in d.blocks)
        seen["pool_after"] |= any(b.endswith("-bn-pool") for b in d.blocks)
        seen["stride2"] |= any("s2" in b for b in d.blocks)
        seen["pad"] |= any("p0" not in b for b in d.blocks)
        seen["multibit"] |= d.a_bits > 1 or d.w_bits > 1
        seen["unsigned"] |= d.unsigned
    assert seen.pop("head") == {"flatten", "channels_last", "gap", "mean"}
    assert all(seen.values()), seen


def test_host_takes_signals(tmp_path):
    """The reference backend takes (N, C, L) and one (C, L) signal, as the PyTorch model."""
    from tests.compile.helpers import torch_logits
    from xnorflow.host.accelerator import Accelerator

    model, shape, _ = signal_net(5)
    path = export(model, shape, tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build")
    signals = np.random.default_rng(0).integers(0, 256, (12, *shape)).astype(np.uint8)
    with Accelerator.open(result.build, backend="reference") as acc:
        labels, scores = acc.predict(signals)
        one, _ = acc.predict(signals[0])
        logits = acc.logits(scores)
    ref = torch_logits(model, signals, result.ir.input_scale)
    np.testing.assert_allclose(logits, ref, rtol=1e-4, atol=1e-4)
    assert one[0] == labels[0]


def test_signal_reshaped_to_three_dims_is_named(tmp_path):
    import torch
    from brevitas.nn import QuantConv1d, QuantIdentity, QuantLinear
    from brevitas.quant import Int8ActPerTensorFloat, SignedBinaryWeightPerTensorConst
    from torch import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q = QuantIdentity(act_quant=Int8ActPerTensorFloat)
            self.conv = QuantConv1d(2, 4, 3, bias=False,
                                    weight_quant=SignedBinaryWeightPerTensorConst)
            self.fc = QuantLinear(4 * 14, 3, bias=False,
                                  weight_quant=SignedBinaryWeightPerTensorConst)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.conv(self.q(x)).reshape(x.shape[0], 2, -1)
            return self.fc(x.flatten(1))

    path = export(Net().eval(), (2, 16), tmp_path / "m.onnx")
    with pytest.raises(CompileError, match="a Reshape of a 1-D signal"):
        compile_model(path, tmp_path / "build", backends=False)
    assert not (tmp_path / "build").exists()


def test_compile_a_signal_module(tmp_path):
    """xnorflow.compile(module, input_shape=(C, L)) for a 1-D module."""
    import xnorflow
    from tests.compile.helpers import check_chain
    from tests.nets import random_images

    model, shape, _ = signal_net(11)
    result = xnorflow.compile(model, tmp_path / "build", input_shape=shape, backends=False)
    check_chain(model, result, random_images(result.ir, 8, seed=1))
