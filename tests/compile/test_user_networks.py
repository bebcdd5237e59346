"""Networks written the ways users write them (tests/compile/user_nets.py) compile and agree
with PyTorch along the whole chain: 10 in the default suite, 70 more under `slow`; a few
hand-written forms (channels-last flatten, an H/W swap that cannot be streamed) explicitly."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.compile.helpers import check_chain, export, randomize, seed_params, torch_logits
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
    assert seen["pool_first"] == {True, False} and seen["float_clamp"] == {True, False}
    assert seen["final"] == {"none", "softmax", "log_softmax"}
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


def _binary_mlp(hidden_act):
    """An MLP on 1x8x8 images whose hidden activation is `hidden_act()`."""
    from brevitas.nn import QuantIdentity, QuantLinear
    from brevitas.quant import Int8ActPerTensorFloat, SignedBinaryWeightPerTensorConst
    from torch import nn

    wq = {"weight_quant": SignedBinaryWeightPerTensorConst, "bias": False}
    return randomize(nn.Sequential(
        nn.Flatten(), QuantIdentity(act_quant=Int8ActPerTensorFloat), QuantLinear(64, 24, **wq),
        nn.BatchNorm1d(24), hidden_act(), QuantLinear(24, 7, **wq)), 4)


def test_compile_a_module(tmp_path):
    """xnorflow.compile(module, ..., input_shape=...) exports the module into the build, checked
    against PyTorch, and compiles it."""
    from brevitas.nn import QuantIdentity

    import xnorflow
    from xnorflow.train.quantizers import BinaryActQuant

    model = _binary_mlp(lambda: QuantIdentity(act_quant=BinaryActQuant))
    result = xnorflow.compile(model, tmp_path / "build", input_shape=(1, 8, 8), backends=False)
    assert (result.build / "model.onnx").is_file() and result.ir.name == "Sequential"
    figs = check_chain(model, result, random_images(result.ir, 16, seed=3))
    assert figs["distinct_outputs"] > 1


def test_non_binary_one_bit_quantizer_is_named(tmp_path):
    """Brevitas' signed integer quantizer at 1 bit is {−s, 0}, not ±s, yet exports as
    BipolarQuant: compiling the module says which one and what to use; no build is left."""
    from brevitas.nn import QuantIdentity

    import xnorflow

    model = _binary_mlp(lambda: QuantIdentity(bit_width=1))
    with pytest.raises(CompileError) as err:
        xnorflow.compile(model, tmp_path / "build", input_shape=(1, 8, 8), backends=False)
    msg = str(err.value)
    assert "module '4' (QuantIdentity)" in msg and "{−s, 0}" in msg and \
        "SignedBinaryActPerTensorConst" in msg
    assert list(tmp_path.iterdir()) == []


def _unsigned_one_bit_mlp():
    """Two hidden layers of QuantReLU(bit_width=1) activations ({0, s}), binary and 3-bit
    weights; BatchNorm statistics of random images (so that about half the units fire)."""
    import torch
    from brevitas.nn import QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import Int8ActPerTensorFloat, SignedBinaryWeightPerTensorConst
    from torch import nn

    wq = {"weight_quant": SignedBinaryWeightPerTensorConst, "bias": False}
    model = randomize(nn.Sequential(
        nn.Flatten(), QuantIdentity(act_quant=Int8ActPerTensorFloat), QuantLinear(64, 32, **wq),
        nn.BatchNorm1d(32, momentum=None), QuantReLU(bit_width=1, max_val=0.5,
                                                     scaling_impl_type="const"),
        QuantLinear(32, 16, weight_bit_width=3, bias=False), nn.BatchNorm1d(16, momentum=None),
        QuantReLU(bit_width=1, max_val=0.5, scaling_impl_type="const"),
        QuantLinear(16, 7, **wq)), 5)
    with torch.no_grad():  # the statistics of 256 images; then eval mode again
        for bn in (model[3], model[6]):
            bn.reset_running_stats()
        model.train()(torch.rand(256, 1, 8, 8, generator=torch.Generator().manual_seed(5)))
    return model.eval()


def test_unsigned_one_bit_activations_from_the_module(tmp_path):
    """QuantReLU(bit_width=1) ({0, s}): Brevitas would export it as BipolarQuant (±s);
    xnorflow.compile(module) exports it as the unsigned 1-bit Quant it is (FINN takes every
    1-bit quantizer for bipolar: it lowers as 2 bits with the first threshold only)."""
    import xnorflow

    model = _unsigned_one_bit_mlp()
    result = xnorflow.compile(model, tmp_path / "build", input_shape=(1, 8, 8), backends=False)
    hidden = [layer for layer in result.ir.layers if layer.kind == "mvau"][:2]
    assert [layer.out_dtype.name for layer in hidden] == ["UINT2", "UINT2"]
    assert all(np.asarray(layer.thresholds).shape[-1] == 1 for layer in hidden)
    figs = check_chain(model, result, random_images(result.ir, 64, seed=5))
    assert figs["distinct_outputs"] > 8


def test_unsigned_one_bit_activation_file_is_refused(tmp_path):
    """The same model exported by Brevitas itself reads ReLU → BipolarQuant (constant +s):
    the message says so and how to compile it."""
    path = export(_unsigned_one_bit_mlp(), (1, 8, 8), tmp_path / "m.onnx")
    with pytest.raises(CompileError, match=r"QuantReLU\(bit_width=1\).*xnorflow.compile\(module"):
        compile_model(path, tmp_path / "build", backends=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_one_bit_quant_nodes_in_a_file(tmp_path):
    """A QONNX file with the unsigned 1-bit Quant nodes (as xnorflow.compile(module) writes
    them) compiles from the file too; a signed 1-bit Quant ({−s, 0}), which FINN would take
    for ±s, is refused by name."""
    import onnx
    import torch
    from brevitas.export import export_qonnx

    from xnorflow.compile.frontend.from_torch import unsigned_one_bit_exported_as_quant

    model = _unsigned_one_bit_mlp()
    path = tmp_path / "m.onnx"
    with unsigned_one_bit_exported_as_quant():
        export_qonnx(model, torch.zeros(1, 1, 8, 8), str(path), dynamo=False)
    result = compile_model(path, tmp_path / "build", backends=False)
    assert check_chain(model, result, random_images(result.ir, 16, seed=6))["distinct_outputs"] > 4

    proto = onnx.load(str(path))
    quant = [n for n in proto.graph.node if n.op_type == "Quant"][1]  # the first hidden one
    next(a for a in quant.attribute if a.name == "signed").i = 1
    onnx.save(proto, str(tmp_path / "signed.onnx"))
    with pytest.raises(CompileError, match="'Quant_.' is a signed 1-bit Quant.*BipolarQuant"):
        compile_model(tmp_path / "signed.onnx", tmp_path / "build2", backends=False)
    assert not (tmp_path / "build2").exists()


def test_export_that_differs_from_pytorch_is_caught(tmp_path, monkeypatch):
    """Past the quantizer check, the export itself is executed and compared with PyTorch."""
    from brevitas.nn import QuantIdentity

    import xnorflow
    from xnorflow.compile.frontend import from_torch

    monkeypatch.setattr(from_torch, "check_binary_quantizers", lambda module: None)
    model = _binary_mlp(lambda: QuantIdentity(bit_width=1))
    with pytest.raises(CompileError, match="QONNX export of the module differs from PyTorch"):
        xnorflow.compile(model, tmp_path / "build", input_shape=(1, 8, 8), backends=False)
    assert list(tmp_path.iterdir()) == []


def test_input_shape_goes_with_a_module(tmp_path):
    from brevitas.nn import QuantIdentity
    from brevitas.quant import SignedBinaryActPerTensorConst

    import xnorflow

    model = _binary_mlp(lambda: QuantIdentity(act_quant=SignedBinaryActPerTensorConst))
    with pytest.raises(CompileError, match="needs input_shape"):
        xnorflow.compile(model, tmp_path / "build", backends=False)
    with pytest.raises(CompileError, match="without the batch dimension"):
        xnorflow.compile(model, tmp_path / "build", input_shape=(1, 1, 8, 8), backends=False)
    path = export(model, (1, 8, 8), tmp_path / "m.onnx")
    with pytest.raises(CompileError, match="an ONNX file has its own"):
        xnorflow.compile(path, tmp_path / "build", input_shape=(1, 8, 8), backends=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


@pytest.mark.parametrize(("max_val", "kind"), [(2.0, "mlp"), (0.5, "mlp"), (3.0, "cnn")])
def test_binary_activation_of_any_scale(tmp_path, max_val, kind):
    """A 1-bit activation of scale s ≠ 1 (±s): FINN converts only ±1; the scale moves out."""
    from brevitas.nn import QuantConv2d, QuantHardTanh, QuantIdentity, QuantLinear
    from brevitas.quant import Int8ActPerTensorFloat, SignedBinaryWeightPerTensorConst
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant
    from torch import nn

    def act():
        return QuantHardTanh(act_quant=CommonActQuant, bit_width=1, min_val=-max_val,
                             max_val=max_val)

    if kind == "mlp":
        model = _binary_mlp(act)
    else:  # scaled ±s through zero padding and a max-pool
        wq = {"weight_quant": SignedBinaryWeightPerTensorConst, "bias": False}
        model = randomize(nn.Sequential(
            QuantIdentity(act_quant=Int8ActPerTensorFloat), QuantConv2d(1, 6, 3, **wq),
            nn.BatchNorm2d(6), act(), nn.MaxPool2d(2), QuantConv2d(6, 6, 3, padding=1, **wq),
            nn.BatchNorm2d(6), act(), nn.Flatten(), QuantLinear(6 * 3 * 3, 5, **wq)), 7)
    path = export(model, (1, 8, 8), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, random_images(result.ir, 16, seed=4))
    assert figs["distinct_outputs"] > 1


@pytest.mark.parametrize("how", ["F.log_softmax", "nn.Softmax", "nn.LogSoftmax(-1)"])
def test_final_softmax_is_the_hosts(tmp_path, how):
    """A model ending in (Log)Softmax, as PyTorch's MNIST example does: the hardware computes
    the logits, the host applies the function; outputs equal PyTorch's, labels its argmax."""
    import torch
    import torch.nn.functional as F  # noqa: N812
    from torch import nn

    from xnorflow.host.accelerator import Accelerator

    base = _mlp(lambda x: x.flatten(1))

    class WithSoftmax(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base = base
            self.last = {"nn.Softmax": nn.Softmax(dim=1),
                         "nn.LogSoftmax(-1)": nn.LogSoftmax(dim=-1)}.get(how)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.base(x)
            return F.log_softmax(x, dim=1) if self.last is None else self.last(x)

    model = WithSoftmax().eval()
    path = export(model, (3, 5, 4), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build")
    expected = "softmax" if how == "nn.Softmax" else "log_softmax"
    assert result.ir.meta["output_function"] == expected
    images = random_images(result.ir, 16, seed=7)
    figs = check_chain(model, result, images)
    assert figs["distinct_outputs"] > 1
    with Accelerator.open(result.build, backend="reference") as acc:
        labels, scores = acc.predict(images)
        got = acc.logits(scores)
    ref = torch_logits(model, images, result.ir.input_scale)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(labels, np.argmax(got, axis=1))


def test_softmax_over_the_wrong_axis_is_named(tmp_path):
    """A Softmax over a feature map's channels (no flatten before it) is not a classifier's."""
    from brevitas.nn import QuantConv2d, QuantIdentity
    from brevitas.quant import Int8ActPerTensorFloat, SignedBinaryWeightPerTensorConst
    from torch import nn

    model = randomize(nn.Sequential(
        QuantIdentity(act_quant=Int8ActPerTensorFloat),
        QuantConv2d(3, 4, 3, bias=False, weight_quant=SignedBinaryWeightPerTensorConst),
        nn.Softmax(dim=1)), 1)
    path = export(model, (3, 6, 6), tmp_path / "m.onnx")
    with pytest.raises(CompileError, match=r"final Softmax .* over axis 1 of an output of shape"):
        compile_model(path, tmp_path / "build", backends=False)
    assert not (tmp_path / "build").exists()


def _clamped(clamp, quant):
    from torch import nn

    return lambda: nn.Sequential(clamp(), quant())


def _common_act(bits):
    from brevitas.nn import QuantIdentity
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant

    return lambda: QuantIdentity(act_quant=CommonActQuant, bit_width=bits, min_val=-1.0,
                                 max_val=1.0)


@pytest.mark.parametrize("form", ["hardtanh_binary", "hardtanh_2bit", "relu_quantrelu",
                                  "tight_hardtanh"])
def test_float_clamp_before_a_quantizer(tmp_path, form):
    """BinaryNet's nn.Hardtanh() before the binary quantizer, and nn.ReLU() before QuantReLU:
    the quantizer clamps as much, so the float clamp goes; a tighter clamp goes into the
    quantizer's thresholds (those outside it always or never pass)."""
    from brevitas.nn import QuantReLU
    from torch import nn

    act = {"hardtanh_binary": _clamped(nn.Hardtanh, _common_act(1)),
           "hardtanh_2bit": _clamped(nn.Hardtanh, _common_act(2)),
           "relu_quantrelu": _clamped(nn.ReLU, lambda: QuantReLU(bit_width=2)),
           "tight_hardtanh": _clamped(lambda: nn.Hardtanh(-0.6, 0.3), _common_act(2))}[form]
    model = _binary_mlp(act)
    path = export(model, (1, 8, 8), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, random_images(result.ir, 16, seed=8))
    assert figs["distinct_outputs"] > 1


@pytest.mark.parametrize(("form", "needle"), [
    ("clamp_before_a_pool", "QuantHardTanh(bit_width=k"),
    ("torch_sign", "SignedBinaryActPerTensorConst"),
])
def test_clamp_and_sign_that_stay_are_named(tmp_path, form, needle):
    """A float clamp no quantizer takes (one before a global pool, not a quantizer), and
    torch.sign: named, with what to write instead."""
    import torch
    from torch import nn

    class Sign(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sign(x)

    class ClampThenPool(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.clamp(x, -0.3, 0.3).mean((2, 3))

    if form == "torch_sign":
        path = export(_binary_mlp(Sign), (1, 8, 8), tmp_path / "m.onnx")
    else:
        from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear

        model = randomize(nn.Sequential(
            QuantIdentity(bit_width=8), QuantConv2d(1, 4, 3, weight_bit_width=2, bias=False),
            ClampThenPool(), QuantIdentity(bit_width=2),
            QuantLinear(4, 10, weight_bit_width=2, bias=False)), 1)
        path = export(model, (1, 8, 8), tmp_path / "m.onnx")
    with pytest.raises(CompileError) as err:
        compile_model(path, tmp_path / "build", backends=False)
    assert needle in str(err.value)
    assert not (tmp_path / "build").exists()


def _fixed_point_net(kind: str, seed: int):
    """Power-of-two scales throughout (Brevitas' FixedPoint quantizers, bnn_pynq's binary
    weights of scale 1), so PyTorch's float arithmetic is exact and rounding ties are real:
    "bn" puts an output quantizer on a conv before a BatchNorm and a binary activation, "relu"
    quantizes convs' outputs directly (QuantReLU, no BatchNorm), "mlp" the first as an MLP."""
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import (
        Int8ActPerTensorFixedPoint,
        SignedBinaryActPerTensorConst,
        Uint8ActPerTensorFixedPoint,
    )
    from brevitas_examples.bnn_pynq.models.common import CommonWeightQuant
    from torch import nn

    wq = {"weight_quant": CommonWeightQuant, "weight_bit_width": 1, "bias": False}
    out_q = {"output_quant": Int8ActPerTensorFixedPoint}
    first = QuantIdentity(act_quant=Int8ActPerTensorFixedPoint)

    def binary():
        return QuantIdentity(act_quant=SignedBinaryActPerTensorConst)

    def relu():
        return QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, bit_width=3)

    layers = {
        "mlp": [nn.Flatten(), first, QuantLinear(64, 24, **wq, **out_q), nn.BatchNorm1d(24),
                binary(), QuantLinear(24, 7, **wq)],
        "bn": [first, QuantConv2d(1, 8, 3, **wq, **out_q), nn.BatchNorm2d(8), binary(),
               QuantConv2d(8, 8, 3, **wq), nn.BatchNorm2d(8), binary(), nn.Flatten(),
               QuantLinear(8 * 4 * 4, 5, **wq)],
        "relu": [first, QuantConv2d(1, 8, 3, **wq), relu(), QuantConv2d(8, 8, 3, **wq), relu(),
                 nn.Flatten(), QuantLinear(8 * 4 * 4, 5, **wq)],
    }[kind]
    return randomize(nn.Sequential(*layers), seed)


@pytest.mark.parametrize("kind", ["mlp", "bn"])
def test_output_quantizer_before_batchnorm(tmp_path, kind):
    """QuantLinear/QuantConv2d(..., output_quant=...) → BatchNorm (negative scales too) →
    binary activation: FINN leaves the sign between two thresholdings; the second moves onto
    the first's integers and the sign into the next layer's weights."""
    from torch import nn

    model = _fixed_point_net(kind, 3)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert (bns[0].weight < 0).any()  # the case FINN leaves
    path = export(model, (1, 8, 8), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, random_images(result.ir, 64, seed=3))
    assert figs["distinct_outputs"] > 1


def test_rounding_ties_go_to_even(tmp_path, monkeypatch):
    """With exact (power-of-two) arithmetic a quantizer's input often lies exactly between
    two codes; PyTorch rounds half to even, FINN's thresholds half up. RoundTiesHalfEven makes
    the hardware agree on every image — and without it the same images differ."""
    from xnorflow.compile.frontend import finn_passes

    model = _fixed_point_net("relu", 0)
    path = export(model, (1, 8, 8), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    images = random_images(result.ir, 64, seed=0)
    check_chain(model, result, images)
    monkeypatch.setattr(finn_passes.RoundTiesHalfEven, "apply", lambda self, m: (m, False))
    half_up = compile_model(path, tmp_path / "half_up", backends=False)
    with pytest.raises(AssertionError, match="PyTorch ≠ IR integers"):
        check_chain(model, half_up, images)


@pytest.mark.parametrize(("seed", "flatten", "batch"), [
    (3, "view", 4), (3, "view", "dynamic"), (9, "permute", 5), (0, "reshape", "dynamic")])
def test_export_with_a_batch(tmp_path, seed, flatten, batch):
    """An export with the batch of a data loader, or a dynamic batch, compiles for one image
    at a time — also its `x.view(x.size(0), -1)`, which the tracer wrote as Reshape(4, -1) or
    as Shape → Gather → Concat."""
    import warnings

    import torch
    from brevitas.export import export_qonnx

    model, shape, style = user_net(seed)
    assert style.flatten == flatten
    kw = ({"input_names": ["x"], "output_names": ["y"],
           "dynamic_axes": {"x": {0: "batch"}, "y": {0: "batch"}}} if batch == "dynamic" else {})
    path = tmp_path / "batched.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_qonnx(model, torch.zeros(1 if batch == "dynamic" else batch, *shape), str(path),
                     dynamo=False, **kw)
    result = compile_model(path, tmp_path / "build", backends=False)
    assert result.ir.input_shape == shape
    check_chain(model, result, random_images(result.ir, 8, seed=seed))


@pytest.mark.parametrize(("pad", "sides", "kernel", "conv_pad"), [
    ("nn.ZeroPad2d(1)", 2, 3, 0),
    ("F.pad(x, (0, 1, 0, 1))", 1, 2, 0),              # TensorFlow's "same" for an even kernel
    ("nn.ZeroPad2d((1, 0, 1, 0))", 1, 3, 1),          # on top of the conv's own padding
    ("nn.ConstantPad1d(1, 0.0)", 2, 3, 0)])
def test_explicit_zero_padding_before_a_conv(tmp_path, pad, sides, kernel, conv_pad):
    """nn.ZeroPad2d / F.pad right before a convolution is that convolution's zero padding."""
    import torch
    import torch.nn.functional as F  # noqa: F401 (the F.pad case)
    from brevitas.nn import QuantConv1d, QuantConv2d, QuantIdentity, QuantLinear
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant
    from torch import nn

    wq = {"weight_quant": CommonWeightQuant, "weight_bit_width": 1}
    one_d = "1d" in pad
    side = 8 + sides + 2 * conv_pad - kernel + 1

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q = QuantIdentity(act_quant=CommonActQuant, bit_width=8, min_val=-1.0,
                                   max_val=1.0 - 2.0**-7)
            conv = QuantConv1d if one_d else QuantConv2d
            self.c1 = conv(2, 6, 3, padding=1, bias=False, **wq)
            self.bn = nn.BatchNorm1d(6) if one_d else nn.BatchNorm2d(6)
            self.a = QuantIdentity(act_quant=CommonActQuant, bit_width=1, min_val=-1.0,
                                   max_val=1.0)
            self.c2 = conv(6, 4, kernel, padding=conv_pad, bias=False, **wq)
            self.a2 = QuantIdentity(act_quant=CommonActQuant, bit_width=2, min_val=-1.0,
                                    max_val=1.0)
            self.fc = QuantLinear(4 * (side if one_d else side * side), 3, bias=False, **wq)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.a(self.bn(self.c1(self.q(x))))
            x = eval(pad, {"F": F, "nn": nn, "x": x}) if pad.startswith("F.") \
                else eval(pad, {"nn": nn})(x)
            return self.fc(self.a2(self.c2(x)).flatten(1))

    model = randomize(Net(), 4)
    path = export(model, (2, 8) if one_d else (2, 8, 8), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, random_images(result.ir, 16, seed=4))
    assert figs["distinct_outputs"] > 1
    assert [layer.kind for layer in result.ir.layers].count("padding") == 2


@pytest.mark.parametrize("how", ["x.amax((2, 3))", "nn.AdaptiveMaxPool2d(1)(x).flatten(1)",
                                 "F.max_pool2d(x, x.shape[2:]).flatten(1)",
                                 "torch.amax(x, dim=(-2, -1), keepdim=True).flatten(1)"])
def test_global_max_pool(tmp_path, how):
    """A global max-pool head, written four ways, is a max-pool over the whole map."""
    import torch
    import torch.nn.functional as F
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant
    from torch import nn

    wq = {"weight_quant": CommonWeightQuant, "weight_bit_width": 1}

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q = QuantIdentity(act_quant=CommonActQuant, bit_width=8, min_val=-1.0,
                                   max_val=1.0 - 2.0**-7)
            self.conv = QuantConv2d(3, 12, 3, bias=False, **wq)
            self.bn = nn.BatchNorm2d(12)
            self.act = QuantReLU(bit_width=3)
            self.fc = QuantLinear(12, 5, bias=False, **wq)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.act(self.bn(self.conv(self.q(x))))
            return self.fc(eval(how, {"x": x, "nn": nn, "F": F, "torch": torch}))

    model = randomize(Net(), 6)
    path = export(model, (3, 7, 6), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, random_images(result.ir, 16, seed=6))
    assert figs["distinct_outputs"] > 1
    pools = [layer for layer in result.ir.layers if layer.kind == "maxpool"]
    assert len(pools) == 1 and pools[0].kernel_hw == (5, 4) and pools[0].ofm_dim == (1, 1)


@pytest.mark.parametrize("wrap", ["nn.DataParallel", "torch.compile"])
def test_compile_a_wrapped_module(tmp_path, wrap):
    """The wrappers a training script leaves around a network (DataParallel, torch.compile)
    are taken off before the export; the build is named after the network."""
    import torch
    from torch import nn  # noqa: F401 (the wrapper above)

    model, shape, _ = user_net(3)
    wrapped = eval(wrap, {"nn": nn, "torch": torch})(model)
    result = compile_model(wrapped, tmp_path / "build", backends=False, input_shape=shape)
    assert result.ir.name == type(model).__name__
    check_chain(model, result, random_images(result.ir, 8, seed=3))


def _unquantized_input(form: str):
    """A BNN whose first layer reads the float image directly (no input quantizer), after an
    optional normalisation, as many Brevitas examples write it."""
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant
    from torch import nn

    wq = {"weight_quant": CommonWeightQuant, "weight_bit_width": 1}

    class Normalize(nn.Module):
        def __init__(self, offset: bool) -> None:
            super().__init__()
            self.offset = offset

        def forward(self, x):
            return (x - 0.1307) / 0.3081 if self.offset else x / 0.3081

    layers: list[nn.Module] = []
    if form.startswith("norm"):
        layers.append(Normalize(offset=not form.startswith("norm_scale")))
    act = QuantIdentity(act_quant=CommonActQuant, bit_width=1, min_val=-1.0, max_val=1.0)
    if form.endswith("mlp"):
        layers += [nn.Flatten(), QuantLinear(64, 16, bias=False, **wq), nn.BatchNorm1d(16), act,
                   QuantLinear(16, 4, bias=False, **wq)]
    else:
        pad = 1 if form.endswith("pad1") else 0
        side = 8 + 2 * pad - 2
        layers += [QuantConv2d(1, 8, 3, padding=pad, bias=False, **wq), nn.BatchNorm2d(8), act,
                   nn.Flatten(), QuantLinear(8 * side * side, 4, bias=False, **wq)]
    return randomize(nn.Sequential(*layers), 2)


@pytest.mark.parametrize("form", ["conv_pad1", "mlp", "norm_conv_pad0", "norm_mlp",
                                  "norm_scale_conv_pad1"])
def test_first_layer_without_an_input_quantizer(tmp_path, form):
    """A first layer on the float image (pixels · 1/255, normalised or not) multiplies the
    uint8 pixels themselves; the scale and offset go into the next thresholds."""
    model = _unquantized_input(form)
    path = export(model, (1, 8, 8), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, random_images(result.ir, 16, seed=2))
    assert figs["distinct_outputs"] > 1
    first = next(layer for layer in result.ir.layers if layer.kind == "mvau")
    assert first.in_dtype.name == "UINT8"


def test_normalised_input_before_a_padded_conv_is_named(tmp_path):
    """(x − mean) / std then a zero-padded conv: PyTorch pads with a value between pixels."""
    path = export(_unquantized_input("norm_conv_pad1"), (1, 8, 8), tmp_path / "m.onnx")
    with pytest.raises(CompileError, match="input normalisation") as err:
        compile_model(path, tmp_path / "build", backends=False)
    assert "QuantIdentity(bit_width=8)" in str(err.value)


@pytest.mark.parametrize(("w_bits", "a_bits", "pad", "stride"), [(1, 1, 1, 1), (1, 1, 0, 2),
                                                                 (2, 2, 1, 1), (1, 2, 1, 2)])
def test_depthwise_separable_block(tmp_path, w_bits, a_bits, pad, stride):
    """MobileNet's block — a depthwise 3x3 conv (groups = channels) then a pointwise 1x1 — is
    built as an ordinary layer with the depthwise conv's block-diagonal weights (zeros kept:
    C times the weights of a depthwise unit, exact)."""
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant
    from torch import nn

    wq = {"weight_quant": CommonWeightQuant, "weight_bit_width": w_bits}

    def act():
        return QuantIdentity(act_quant=CommonActQuant, bit_width=a_bits, min_val=-1.0,
                             max_val=1.0)

    side = (8 + 2 * pad - 3) // stride + 1
    model = randomize(nn.Sequential(
        QuantIdentity(act_quant=CommonActQuant, bit_width=8, min_val=-1.0, max_val=1 - 2**-7),
        QuantConv2d(3, 8, 3, padding=1, bias=False, **wq), nn.BatchNorm2d(8), act(),
        QuantConv2d(8, 8, 3, padding=pad, stride=stride, groups=8, bias=False, **wq),
        nn.BatchNorm2d(8), act(),
        QuantConv2d(8, 12, 1, bias=False, **wq), nn.BatchNorm2d(12), act(),
        nn.Flatten(), QuantLinear(12 * side * side, 4, bias=False, **wq)), 3)
    path = export(model, (3, 8, 8), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, random_images(result.ir, 16, seed=3))
    assert figs["distinct_outputs"] > 1
    dw = [layer for layer in result.ir.layers if layer.kind == "mvau"][1]
    assert dw.weights.shape == (8, 9 * 8)  # block-diagonal: each output reads its channel
    taps = np.asarray(dw.weights).reshape(8, 9, 8)
    assert all(np.count_nonzero(taps[c][:, [i for i in range(8) if i != c]]) == 0
               for c in range(8))


@pytest.mark.parametrize(("w_bits", "a_bits", "dilation", "pad", "one_d"), [
    (1, 1, 2, 2, False), (2, 2, 2, 0, False), (1, 2, (2, 3), (2, 3), False),
    (1, 1, 2, 2, True)])
def test_dilated_conv(tmp_path, w_bits, a_bits, dilation, pad, one_d):
    """A dilated convolution is its kernel spread out with zeros (dilation 2 on 3x3: 5x5),
    built by the sliding window and MVAU as they are; 2-D, per-axis, 1-D."""
    import torch
    from brevitas.nn import QuantConv1d, QuantConv2d, QuantIdentity, QuantLinear
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant
    from torch import nn

    wq = {"weight_quant": CommonWeightQuant, "weight_bit_width": w_bits}
    conv, bn = (QuantConv1d, nn.BatchNorm1d) if one_d else (QuantConv2d, nn.BatchNorm2d)

    def act():
        return QuantIdentity(act_quant=CommonActQuant, bit_width=a_bits, min_val=-1.0,
                             max_val=1.0)

    features = nn.Sequential(
        QuantIdentity(act_quant=CommonActQuant, bit_width=8, min_val=-1.0, max_val=1 - 2**-7),
        conv(3, 6, 3, padding=1, bias=False, **wq), bn(6), act(),
        conv(6, 6, 3, padding=pad, dilation=dilation, bias=False, **wq), bn(6), act(),
        nn.Flatten())
    shape = (3, 12) if one_d else (3, 10, 10)
    n = features.eval()(torch.zeros(1, *shape)).shape[1]
    model = randomize(nn.Sequential(*features, QuantLinear(n, 4, bias=False, **wq)), 4)
    path = export(model, shape, tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, random_images(result.ir, 16, seed=4))
    assert figs["distinct_outputs"] > 1
    d = dilation if isinstance(dilation, tuple) else (dilation, dilation)
    spread = (1, d[1] * 2 + 1) if one_d else (d[0] * 2 + 1, d[1] * 2 + 1)  # 3-tap kernels
    windows = [layer for layer in result.ir.layers if layer.kind == "sliding_window"]
    assert windows[1].kernel_hw == spread


@pytest.mark.parametrize(("groups", "out", "dilation"), [(2, 6, 1), (4, 8, 1), (2, 4, 2),
                                                          (8, 16, 1)])
def test_grouped_conv(tmp_path, groups, out, dilation):
    """Grouped convolutions (ResNeXt's, AlexNet's two groups; a depthwise multiplier of 2),
    dilated too: block-diagonal dense weights, exact."""
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant
    from torch import nn

    wq = {"weight_quant": CommonWeightQuant, "weight_bit_width": 1}

    def act():
        return QuantIdentity(act_quant=CommonActQuant, bit_width=1, min_val=-1.0, max_val=1.0)

    side = 8 - 2 * dilation
    model = randomize(nn.Sequential(
        QuantIdentity(act_quant=CommonActQuant, bit_width=8, min_val=-1.0, max_val=1 - 2**-7),
        QuantConv2d(3, 8, 3, padding=1, bias=False, **wq), nn.BatchNorm2d(8), act(),
        QuantConv2d(8, out, 3, groups=groups, dilation=dilation, bias=False, **wq),
        nn.BatchNorm2d(out), act(), nn.Flatten(),
        QuantLinear(out * side * side, 4, bias=False, **wq)), 5)
    path = export(model, (3, 8, 8), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, random_images(result.ir, 16, seed=5))
    assert figs["distinct_outputs"] > 1
    grouped = [layer for layer in result.ir.layers if layer.kind == "mvau"][1]
    k = 2 * dilation + 1
    w = np.asarray(grouped.weights).reshape(out, k * k, 8)
    per_in, per_out = 8 // groups, out // groups
    for o in range(out):  # each output reads only its group's input channels
        g = o // per_out
        others = [c for c in range(8) if c // per_in != g]
        assert np.count_nonzero(w[o][:, others]) == 0


@pytest.mark.parametrize("then", ["linear", "conv"])
def test_per_channel_activation_scale_into_a_layer_is_named(tmp_path, then):
    """An activation quantizer with per-channel scales feeding a linear/conv layer: the
    layer would need non-integer weights; the message names the quantizer setting."""
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
    from torch import nn

    act = QuantReLU(bit_width=2, per_channel_broadcastable_shape=(1, 8, 1, 1),
                    scaling_per_output_channel=True, scaling_stats_permute_dims=(1, 0, 2, 3))
    head = [nn.Flatten(), QuantLinear(8 * 6 * 6, 10, weight_bit_width=2, bias=False)]
    if then == "conv":
        head = [QuantConv2d(8, 8, 3, weight_bit_width=2, bias=False), nn.BatchNorm2d(8),
                QuantReLU(bit_width=2), nn.Flatten(),
                QuantLinear(8 * 4 * 4, 10, weight_bit_width=2, bias=False)]
    model = randomize(nn.Sequential(QuantIdentity(bit_width=8), QuantConv2d(
        1, 8, 3, weight_bit_width=2, bias=False), nn.BatchNorm2d(8), act, *head), 3)
    path = export(model, (1, 8, 8), tmp_path / "m.onnx")
    with pytest.raises(CompileError, match="scaling_per_output_channel=True"):
        compile_model(path, tmp_path / "build", backends=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


@pytest.mark.parametrize(("act", "quant"), [("nn.LeakyReLU(0.1)", "binary"),
                                            ("nn.LeakyReLU()", "int2"),
                                            ("nn.LeakyReLU(0.2)", "relu3"),
                                            ("nn.ReLU6()", "relu2"),
                                            ("nn.ReLU()", "int2"), ("nn.ReLU()", "int4")])
def test_float_activation_before_a_quantizer(tmp_path, act, quant):
    """A float LeakyReLU before an activation quantizer (its slope moves into the
    thresholds), or before QuantReLU (relu(leaky(x)) = relu(x)); a ReLU6 before a QuantReLU
    whose range lies inside [0, 6]; a ReLU before a signed quantizer (its codes ≥ 0 only;
    2-bit: {0, 1}, carried as UINT2)."""
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import SignedBinaryActPerTensorConst
    from torch import nn

    q = {"binary": lambda: QuantIdentity(act_quant=SignedBinaryActPerTensorConst),
         "int2": lambda: QuantIdentity(bit_width=2),
         "int4": lambda: QuantIdentity(bit_width=4),
         "relu3": lambda: QuantReLU(bit_width=3),
         "relu2": lambda: QuantReLU(bit_width=2, max_val=6.0)}[quant]
    model = randomize(nn.Sequential(
        QuantIdentity(bit_width=8), QuantConv2d(1, 4, 3, weight_bit_width=2, bias=False),
        nn.BatchNorm2d(4), eval(act), q(), nn.Flatten(),
        QuantLinear(4 * 6 * 6, 10, weight_bit_width=2, bias=False)), 3)
    path = export(model, (1, 8, 8), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    assert check_chain(model, result, random_images(result.ir, 16, seed=1))[
        "distinct_outputs"] > 1


def test_leaky_relu_without_a_quantizer_after_it_is_named(tmp_path):
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
    from torch import nn

    model = randomize(nn.Sequential(
        QuantIdentity(bit_width=8), QuantConv2d(1, 4, 3, weight_bit_width=2, bias=False),
        nn.BatchNorm2d(4), QuantIdentity(bit_width=2), nn.LeakyReLU(0.2), nn.Flatten(),
        QuantLinear(4 * 6 * 6, 10, weight_bit_width=2, bias=False)), 3)
    path = export(model, (1, 8, 8), tmp_path / "m.onnx")
    with pytest.raises(CompileError, match="LeakyReLU that no activation quantizer reads"):
        compile_model(path, tmp_path / "build", backends=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_flat_input_viewed_as_an_image(tmp_path):
    """A model of flat input (784 features) whose forward starts with x.view(-1, 1, 28, 28)
    (shown on 8x8) streams the features as they come."""
    import torch
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
    from brevitas.quant import SignedBinaryActPerTensorConst
    from torch import nn

    class FlatIn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q = QuantIdentity(bit_width=8)
            self.conv = QuantConv2d(1, 4, 3, weight_bit_width=2, bias=False)
            self.bn = nn.BatchNorm2d(4)
            self.act = QuantIdentity(act_quant=SignedBinaryActPerTensorConst)
            self.fc = QuantLinear(4 * 6 * 6, 10, weight_bit_width=2, bias=False)

        def forward(self, x):
            x = x.view(-1, 1, 8, 8)
            return self.fc(torch.flatten(self.act(self.bn(self.conv(self.q(x)))), 1))

    model = randomize(FlatIn(), 3)
    path = export(model, (64,), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    assert result.ir.input_layout == "flat" and result.ir.input_shape == (64,)
    assert check_chain(model, result, random_images(result.ir, 16, seed=1))[
        "distinct_outputs"] > 1


@pytest.mark.parametrize("bias", [False, True])
def test_weight_scale_within_float_noise_of_one_is_kept(tmp_path, bias):
    """A per-tensor weight scale of 0.999995 (a trained layer's max |w|) is a real factor:
    qonnx's RemoveIdentityOps would drop it as a Mul by ~1 and move the hidden quantizer's
    thresholds onto its exact ties. The first pixel alone drives the hidden layer here, swept
    through all 256 values, so every tie is met; with an Int32Bias the bias also travels as
    Div · Add · Mul around the accumulator."""
    import torch
    from brevitas.nn import QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import Int32Bias, Uint8ActPerTensorFixedPoint
    from torch import nn

    bias_kw = {"bias": True, "bias_quant": Int32Bias} if bias else {"bias": False}
    model = nn.Sequential(
        QuantIdentity(bit_width=8, return_quant_tensor=True), nn.Flatten(),
        QuantLinear(16, 4, weight_bit_width=2, **bias_kw),
        QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, bit_width=3, return_quant_tensor=True),
        QuantLinear(4, 3, weight_bit_width=2, **bias_kw)).eval()
    with torch.no_grad():
        first, last = model[2], model[4]
        first.weight.zero_()
        first.weight[:, 0] = torch.tensor([0.999995, 0.6, 0.999995, -0.999995])
        last.weight.copy_(torch.tensor([[1.0, 1, 1, 1], [1, -1, 1, 0], [0, 1, -1, 1]]))
        if bias:
            first.bias.copy_(torch.tensor([0.0, 0.03, -0.2, 0.5]))
            last.bias.copy_(torch.tensor([0.0, 0.1, -0.1]))
    path = export(model, (1, 4, 4), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    images = np.zeros((256, 1, 4, 4), np.uint8)
    images[:, 0, 0, 0] = np.arange(256)
    figs = check_chain(model, result, images, with_qonnx=False)
    assert figs["distinct_outputs"] > 4


QUANTIZER_FAMILIES = {  # (weight quantizer, activation quantizer) by Brevitas name
    "float_per_channel": ("Int8WeightPerChannelFloat", None),
    "fixed_point": ("Int8WeightPerTensorFixedPoint", "Int8ActPerTensorFixedPoint"),
    "decoupled_per_channel": ("Int8WeightPerChannelFloatDecoupled", None),
    "shifted_uint8": ("ShiftedUint8WeightPerChannelFloat", "ShiftedUint8ActPerTensorFloat"),
    "mse": ("Int8WeightPerChannelFloatMSE", "Int8ActPerTensorFloatMSE"),
    "ternary": ("SignedTernaryWeightPerTensorConst", "SignedTernaryActPerTensorConst"),
    "decoupled_4bit": ("Int4WeightPerTensorFloatDecoupled", None),
}


@pytest.mark.parametrize("family", [
    *("float_per_channel", "fixed_point", "shifted_uint8", "ternary"),
    *(pytest.param(f, marks=pytest.mark.slow) for f in ("decoupled_per_channel", "mse",
                                                        "decoupled_4bit"))])
def test_brevitas_quantizer_families(tmp_path, family):
    """Brevitas' other weight and activation quantizers (per-channel, power-of-two scales,
    decoupled, zero-point shifted — its weights become symmetric 5-bit ones —, MSE-initialised,
    ternary), 4-bit weights, the input quantizer given to the first layer (`input_quant=`).
    (The weight-normalised Int8WeightNormL2PerChannelFixedPoint exports a QONNX graph that
    differs from the module itself, which `xnorflow.compile(module)` reports.)"""
    import brevitas.quant as bq
    from brevitas.nn import QuantIdentity, QuantLinear
    from torch import nn

    w_name, a_name = QUANTIZER_FAMILIES[family]
    bits = 2 if family == "ternary" else 4
    wq = {"weight_quant": getattr(bq, w_name), "weight_bit_width": bits, "bias": False}
    aq = {"act_quant": getattr(bq, a_name)} if a_name else {}
    model = randomize(nn.Sequential(
        nn.Flatten(),
        QuantLinear(64, 32, input_quant=bq.Int8ActPerTensorFloat, **wq), nn.BatchNorm1d(32),
        QuantIdentity(bit_width=bits, **aq), QuantLinear(32, 10, **wq)), 2)
    path = export(model, (1, 8, 8), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    assert check_chain(model, result, random_images(result.ir, 16, seed=4))[
        "distinct_outputs"] > 1


def test_batchnorm_with_negative_scales_after_global_pool(tmp_path):
    """Global pool → flatten → BatchNorm1d (negative scales too) → quantizer: no layer before
    the pool can take the sign; the thresholding after it compares −x on those channels."""
    import torch
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
    from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst

    wq = {"weight_quant": SignedBinaryWeightPerTensorConst}
    model = randomize(torch.nn.Sequential(
        QuantIdentity(bit_width=8), QuantConv2d(3, 8, 3, padding=1, bias=False, **wq),
        torch.nn.BatchNorm2d(8), QuantIdentity(act_quant=SignedBinaryActPerTensorConst),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.BatchNorm1d(8),
        QuantIdentity(bit_width=4), QuantLinear(8, 4, bias=False, **wq)), 3)
    assert (model[6].weight < 0).any()
    path = export(model, (3, 8, 8), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    assert check_chain(model, result, random_images(result.ir, 16, seed=5))[
        "distinct_outputs"] > 1
    pool = [x.kind for x in result.ir.layers].index("global_acc_pool")
    assert result.ir.layers[pool + 1].kind == "thresholding" and \
        result.ir.layers[pool + 1].negated


MONOTONE_FORMS = {  # (activation, where: before the BatchNorm or after it, the quantizer)
    "prelu_channels": ("prelu", "after", "int2"), "prelu_scalar_bn": ("prelu1", "before", "int2"),
    "tanh_sign": ("nn.Tanh()", "after", "sign"), "tanh_int3_pool": ("nn.Tanh()", "pool", "int3"),
    "tanh_bn": ("nn.Tanh()", "before", "int2"), "sigmoid_quant_relu": ("nn.Sigmoid()", "after",
                                                                          "relu2"),
    "sigmoid_bn_sign": ("nn.Sigmoid()", "before", "sign"),
    "hardsigmoid_quant_relu": ("nn.Hardsigmoid()", "after", "relu2"),
    "elu_int3": ("nn.ELU()", "after", "int3"), "celu_int3": ("nn.CELU(0.5)", "after", "int3"),
    "softplus_quant_relu": ("nn.Softplus()", "after", "relu2"),
}


@pytest.mark.parametrize("form", list(MONOTONE_FORMS))
def test_monotone_float_activation_before_a_quantizer(tmp_path, form):
    """A float PReLU (per-channel slopes ≥ 0), Tanh, Sigmoid, Hardsigmoid, ELU, CELU or
    Softplus before an activation quantizer (through a BatchNorm, or a max-pool, or as the
    ReLU of a QuantReLU): a non-decreasing f, so [f(z) ≥ t] is [z ≥ f⁻¹(t)] and f goes into
    the thresholds — no layer of its own, bit-exact on 256 images."""
    import brevitas.quant as bq
    import torch
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
    from torch import nn

    act_text, where, quant = MONOTONE_FORMS[form]

    def act():
        if act_text.startswith("prelu"):
            prelu = nn.PReLU(1 if act_text == "prelu1" else 8)
            with torch.no_grad():
                prelu.weight.copy_(torch.linspace(0.05, 0.6, prelu.weight.numel()))
            return prelu
        return eval(act_text, {"nn": nn})

    q = {"sign": lambda: QuantIdentity(act_quant=bq.SignedBinaryActPerTensorConst),
         "int2": lambda: QuantIdentity(bit_width=2), "int3": lambda: QuantIdentity(bit_width=3),
         "relu2": lambda: QuantReLU(bit_width=2)}[quant]
    conv = QuantConv2d(1, 8, 3, weight_bit_width=2, bias=False)
    if where == "before":
        body = [conv, act(), nn.BatchNorm2d(8), q()]
    else:
        body = [conv, nn.BatchNorm2d(8), act(), *([nn.MaxPool2d(2)] if where == "pool" else []),
                q()]
    side = 3 if where == "pool" else 6
    model = randomize(nn.Sequential(QuantIdentity(bit_width=8), *body, nn.Flatten(),
                                    QuantLinear(8 * side * side, 10, weight_bit_width=2,
                                                bias=False)), 3)
    path = export(model, (1, 8, 8), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    assert check_chain(model, result, random_images(result.ir, 256, seed=3), with_qonnx=False)[
        "distinct_outputs"] > 16
    assert [x.kind for x in result.ir.layers] == \
        ["thresholding", "sliding_window", "mvau", *(["maxpool"] if where == "pool" else []),
         "mvau"]


@pytest.mark.parametrize(("act", "needle"), [
    ("neg_prelu", "decreases somewhere"), ("nn.SiLU()", "nn.SiLU / Swish"),
    ("nn.Tanh()", "no activation quantizer reads")])
def test_float_activation_no_thresholds_compute_is_named(tmp_path, act, needle):
    """A PReLU with a negative slope and SiLU are not monotone; a Tanh as the last op is read
    by no quantizer: each is refused by name, and nothing is built."""
    import torch
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
    from torch import nn

    if act == "neg_prelu":
        f = nn.PReLU(8)
        with torch.no_grad():
            f.weight.copy_(torch.linspace(-0.3, 0.6, 8))
    else:
        f = eval(act, {"nn": nn})
    last = act == "nn.Tanh()"
    body = [QuantIdentity(bit_width=8), QuantConv2d(1, 8, 3, weight_bit_width=2, bias=False),
            nn.BatchNorm2d(8)]
    body += [nn.Flatten(), QuantLinear(8 * 36, 10, weight_bit_width=2, bias=False), f] if last \
        else [f, QuantIdentity(bit_width=2), nn.Flatten(),
              QuantLinear(8 * 36, 10, weight_bit_width=2, bias=False)]
    path = export(randomize(nn.Sequential(*body), 3), (1, 8, 8), tmp_path / "m.onnx")
    with pytest.raises(CompileError, match=needle):
        compile_model(path, tmp_path / "build", backends=False)
    assert not (tmp_path / "build").exists()


@pytest.mark.parametrize("form", ["conv_relu_bn_sign", "linear_relu_bn_int2",
                                  "conv_bias_relu_bn_int3", "conv_relu_pool_bn_sign",
                                  "conv_bn_relu_pool_int3", "conv_hardtanh_bn_sign",
                                  "linear_clamp_bn_int2", "conv_leaky_bn_sign",
                                  "linear_leaky_bn_int2"])
def test_float_clamp_before_batchnorm_and_quantizer(tmp_path, form):
    """XNOR-Net's order, Conv → ReLU → (MaxPool →) BatchNorm → quantizer, the ReLU a float
    one: it goes into the thresholds (t ≤ 0 always passes, or never where the BatchNorm's
    scale is negative); so does a float Hardtanh, clamp or LeakyReLU there; a float ReLU
    before a max-pool and a signed quantizer."""
    import brevitas.quant as bq
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
    from torch import nn

    binary = {"weight_quant": bq.SignedBinaryWeightPerTensorConst, "bias": False}

    def sign():
        return QuantIdentity(act_quant=bq.SignedBinaryActPerTensorConst)

    q8 = QuantIdentity(bit_width=8)
    side = 3 if "pool" in form else 6
    head = [nn.Flatten(), QuantLinear(8 * side * side, 10, **binary)]
    layers = {
        "conv_relu_bn_sign": [QuantConv2d(1, 8, 3, **binary), nn.ReLU(), nn.BatchNorm2d(8),
                              sign()],
        "linear_relu_bn_int2": [nn.Flatten(), QuantLinear(64, 32, **binary), nn.ReLU(),
                                nn.BatchNorm1d(32), QuantIdentity(bit_width=2)],
        "conv_bias_relu_bn_int3": [QuantConv2d(1, 8, 3, weight_bit_width=2, bias=True),
                                   nn.ReLU(), nn.BatchNorm2d(8), QuantIdentity(bit_width=3)],
        "conv_relu_pool_bn_sign": [QuantConv2d(1, 8, 3, **binary), nn.ReLU(), nn.MaxPool2d(2),
                                   nn.BatchNorm2d(8), sign()],
        "conv_bn_relu_pool_int3": [QuantConv2d(1, 8, 3, weight_bit_width=2, bias=False),
                                   nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                                   QuantIdentity(bit_width=3)],
        "conv_hardtanh_bn_sign": [QuantConv2d(1, 8, 3, **binary), nn.Hardtanh(),
                                  nn.BatchNorm2d(8), sign()],
        "linear_clamp_bn_int2": [nn.Flatten(), QuantLinear(64, 32, **binary),
                                 nn.Hardtanh(-0.5, 2.0), nn.BatchNorm1d(32),
                                 QuantIdentity(bit_width=2)],
        "conv_leaky_bn_sign": [QuantConv2d(1, 8, 3, **binary), nn.LeakyReLU(0.1),
                               nn.BatchNorm2d(8), sign()],
        "linear_leaky_bn_int2": [nn.Flatten(), QuantLinear(64, 32, **binary),
                                 nn.LeakyReLU(0.2), nn.BatchNorm1d(32),
                                 QuantIdentity(bit_width=2)],
    }[form]
    if form.startswith("linear"):
        head = [QuantLinear(32, 10, weight_bit_width=2, bias=False)]
    model = randomize(nn.Sequential(q8, *layers, *head), 4)
    bn = next(m for m in model if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d))
    assert (bn.weight < 0).any() and (bn.weight > 0).any()
    path = export(model, (1, 8, 8), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    assert check_chain(model, result, random_images(result.ir, 16, seed=6))[
        "distinct_outputs"] > 1
    assert [x.kind for x in result.ir.layers].count("thresholding") == 1  # the input's
