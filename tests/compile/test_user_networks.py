"""Networks written the ways users write them (tests/compile/user_nets.py) compile and agree
with PyTorch along the whole chain: 10 in the default suite, 70 more under `slow`; a few
hand-written forms (channels-last flatten, an H/W swap that cannot be streamed) explicitly."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.compile.helpers import check_chain, export, randomize, seed_params
from tests.compile.user_nets import FLATTENS, user_net
from tests.nets import random_images
from xnorflow.compile.errors import CompileError
from xnorflow.compile.pipeline import compile_model

DEFAULT_SEEDS = list(range(10))
SLOW_SEEDS = list(range(10, 80))


def _check_user_net(seed: int, tmp_path) -> None:
    model, shape, style = user_net(seed)
    path = export(model, shape, tmp_path / "m.onnx")
    try:
        result = compile_model(path, tmp_path / "build", backends=False)
    except CompileError as err:
        raise AssertionError(f"seed {seed} ({style}): {err}") from err
    # integers bit for bit, labels equal up to ties (check_chain asserts both)
    check_chain(model, result, random_images(result.ir, 8, seed=seed), with_qonnx=seed % 4 == 0)


@pytest.mark.parametrize("seed", seed_params(DEFAULT_SEEDS, SLOW_SEEDS))
def test_user_network_chain(seed, tmp_path):
    _check_user_net(seed, tmp_path)


def test_generator_covers_every_style():
    """The seeds above draw every value of every style field (so the slow run covers them)."""
    seen: dict[str, set] = {}
    for seed in DEFAULT_SEEDS + SLOW_SEEDS:
        _, shape, style = user_net(seed)
        for key, value in dataclasses.asdict(style).items():
            seen.setdefault(key, set()).add(value)
        seen.setdefault("rank", set()).add(len(shape))
    assert seen["kind"] == {"mlp", "cnn"}
    assert seen["container"] == {"sequential", "forward"}
    assert seen["flatten"] == set(FLATTENS)
    for key in ("flatten_first", "extra_flatten", "bias", "affine_input"):
        assert seen[key] == {True, False}, key
    assert seen["quant_family"] == {"brevitas", "bnn_pynq"}
    assert seen["act_module"] == {"QuantIdentity", "QuantHardTanh"}
    assert seen["in_bits"] == {1, 8}
    assert seen["head"] == {"none", "bn", "tensornorm"}
    assert seen["rank"] == {1, 3}


def _mlp(reorder):
    """An everyday MLP on 3x5x4 images whose forward starts with `reorder(x)`."""
    import torch
    from brevitas.nn import QuantIdentity, QuantLinear
    from brevitas.quant import Int8ActPerTensorFloat, SignedBinaryWeightPerTensorConst
    from torch import nn

    from xnorflow.train.quantizers import BinaryActQuant

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q = QuantIdentity(act_quant=Int8ActPerTensorFloat)
            self.fc1 = QuantLinear(60, 24, bias=True, weight_quant=SignedBinaryWeightPerTensorConst)
            self.bn = nn.BatchNorm1d(24)
            self.act = QuantIdentity(act_quant=BinaryActQuant)
            self.fc2 = QuantLinear(24, 7, bias=False,
                                   weight_quant=SignedBinaryWeightPerTensorConst)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.q(reorder(x))
            return self.fc2(self.act(self.bn(self.fc1(x))))

    return randomize(Net(), 3)


def test_channels_last_flatten_streams_nhwc(tmp_path):
    model = _mlp(lambda x: x.permute(0, 2, 3, 1).reshape(x.shape[0], -1))
    path = export(model, (3, 5, 4), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    assert result.ir.input_layout == "nhwc"
    check_chain(model, result, random_images(result.ir, 16, seed=1))


def test_flatten_first_streams_flat(tmp_path):
    model = _mlp(lambda x: x.flatten(1))
    path = export(model, (3, 5, 4), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    assert result.ir.input_layout == "flat"
    figs = check_chain(model, result, random_images(result.ir, 16, seed=2))
    assert figs["distinct_outputs"] > 1


def test_unstreamable_reorder_is_named(tmp_path):
    """H and W swapped before the flatten: neither order the host streams; the error names
    the nodes and says what to do."""
    model = _mlp(lambda x: x.transpose(2, 3).flatten(1))
    path = export(model, (3, 5, 4), tmp_path / "m.onnx")
    with pytest.raises(CompileError) as err:
        compile_model(path, tmp_path / "build", backends=False)
    msg = str(err.value)
    assert "Transpose" in msg and "neither C,H,W nor H,W,C" in msg
    assert "before the first hardware layer" in msg
    assert not (tmp_path / "build").exists()


@pytest.mark.parametrize(("reorder", "op", "why"), [
    (lambda x: (x * x).flatten(1), "Mul", "combines two computed tensors"),
    (lambda x: (x.flatten(1) + 1.0).sqrt(), "Sqrt", "applies a non-linear function"),
])
def test_non_affine_input_maths_is_named(tmp_path, reorder, op, why):
    path = export(_mlp(reorder), (3, 5, 4), tmp_path / "m.onnx")
    with pytest.raises(CompileError, match=rf"node '[^']+' \({op}\) {why}"):
        compile_model(path, tmp_path / "build", backends=False)


@pytest.mark.sim
def test_user_mlp_in_simulation(tmp_path):
    """A Flatten-first MLP of Brevitas' own quantizers through RTL in Verilator."""
    from xnorflow.host.accelerator import Accelerator

    model = _mlp(lambda x: x.flatten(1))
    path = export(model, (3, 5, 4), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build")
    images = random_images(result.ir, 40, seed=5)
    with Accelerator.open(result.build, backend="sim") as acc:
        labels, scores = acc.predict(images)
    ref_labels, ref_scores = result.ir.predict(images)
    np.testing.assert_array_equal(scores, ref_scores)
    np.testing.assert_array_equal(labels, ref_labels)
