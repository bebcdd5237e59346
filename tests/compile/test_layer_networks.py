"""Random Brevitas networks with padding, strides, rectangular kernels and images, max-pools
with kernel != stride, global average pools and 1..4-bit weights and activations
(tests/compile/layer_nets.py) compile and agree with PyTorch along the whole chain
(PyTorch ≡ QONNX ≡ FINN HW graph ≡ IR); 10 in the default suite, 40 more under `slow`."""

from __future__ import annotations

import numpy as np
import pytest

from tests.compile.helpers import check_chain, check_drawn, compile_drawn, export, seed_params
from tests.compile.layer_nets import USER_FORMS, layer_net, user_form
from tests.nets import random_images
from xnorflow.compile.pipeline import compile_model

DEFAULT_SEEDS = list(range(10))
SLOW_SEEDS = list(range(10, 50))


@pytest.mark.parametrize("seed", seed_params(DEFAULT_SEEDS, SLOW_SEEDS))
def test_layer_network_chain(seed, tmp_path):
    model, drawn, result = compile_drawn(layer_net, seed, tmp_path)
    check_drawn(model, drawn, result, seed, with_qonnx=seed % 3 == 0)


def test_generator_covers_every_feature():
    """The default and slow seeds together draw every feature the layers issue asks for."""
    seen = {"pad": False, "stride2": False, "rect_kernel": False, "rect_image": False,
            "gap": False, "pool_k_ne_s": False, "unsigned": False, "w_bits": set(),
            "a_bits": set(), "in_bits": set()}
    for seed in DEFAULT_SEEDS + SLOW_SEEDS:
        _, shape, d = layer_net(seed)
        convs = [c for c in d.convs if not c.startswith("pool")]
        seen["pad"] |= any(not c.endswith("p0x0") for c in convs)
        seen["stride2"] |= any("s2" in c for c in convs)
        seen["rect_kernel"] |= any(c.split("k")[1].split("s")[0].split("x")[0]
                                   != c.split("k")[1].split("s")[0].split("x")[1] for c in convs)
        seen["rect_image"] |= shape[1] != shape[2]
        seen["gap"] |= d.head == "gap"
        seen["pool_k_ne_s"] |= any(c in ("pool3s2", "pool2s1", "pool3s1") for c in d.convs)
        seen["unsigned"] |= d.unsigned and d.a_bits > 1
        seen["w_bits"].add(d.w_bits)
        seen["a_bits"].add(d.a_bits)
        seen["in_bits"].add(d.in_bits)
    assert all(v for k, v in seen.items() if not isinstance(v, set)), seen
    assert seen["w_bits"] == {1, 2, 3, 4} and seen["a_bits"] == {1, 2, 3, 4}
    assert seen["in_bits"] == {1, 2, 8}


def test_padded_bipolar_conv_pads_zero_not_minus_one(tmp_path):
    """A 1-bit network with 'same' padding: PyTorch pads the ±1 map with 0. FINN alone would
    pad the bit 0 (= -1); xnorflow carries that activation as INT2 and pads a true 0."""
    import torch
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant
    from torch import nn

    from tests.compile.helpers import randomize

    class Centre(nn.Module):  # images in [0, 1] → [-1, 1], as the bnn_pynq models do
        def forward(self, x):
            return 2.0 * x - 1.0

    wq = {"weight_quant": CommonWeightQuant, "weight_bit_width": 1}

    def sign():
        return QuantIdentity(act_quant=CommonActQuant, bit_width=1, min_val=-1.0, max_val=1.0)

    model = nn.Sequential(
        Centre(), sign(),
        QuantConv2d(1, 6, 3, padding=1, bias=False, **wq), nn.BatchNorm2d(6), sign(),
        QuantConv2d(6, 6, 3, padding=1, bias=False, **wq), nn.BatchNorm2d(6), sign(),
        nn.Flatten(), QuantLinear(6 * 8 * 8, 4, bias=False, **wq))
    model = randomize(model, 3)
    path = export(model, (1, 8, 8), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    kinds = [layer.kind for layer in result.ir.layers]
    assert kinds.count("padding") == 2
    pads = [layer for layer in result.ir.layers if layer.kind == "padding"]
    assert all(p.in_dtype.name == "INT2" for p in pads)  # ternary, not bipolar bits
    figs = check_chain(model, result, random_images(result.ir, 16, seed=1))
    assert figs["distinct_outputs"] > 1
    with torch.no_grad():  # the border matters: padding with -1 would change the outputs
        x = torch.from_numpy(random_images(result.ir, 4, seed=2).astype(np.float32)) / 255
        zero_pad = model(x)
        minus_one = _with_minus_one_padding(model)(x)
    assert not torch.allclose(zero_pad, minus_one)


def _with_minus_one_padding(model):
    """The same network padding its binary convs with -1 (what FINN's XNOR lowering computes)."""
    import copy

    import torch
    from brevitas.nn import QuantConv2d
    from torch import nn

    class PadMinusOne(nn.Module):
        def __init__(self, conv):
            super().__init__()
            self.conv = conv
            self.pad = conv.padding
            conv.padding = (0, 0)

        def forward(self, x):
            ph, pw = self.pad
            return self.conv(torch.nn.functional.pad(x, (pw, pw, ph, ph), value=-1.0))

    m = copy.deepcopy(model)
    for i, layer in enumerate(m):
        if isinstance(layer, QuantConv2d) and i > 0:
            m[i] = PadMinusOne(layer)
    return m


@pytest.mark.parametrize("w_bits, act", [(2, "identity2"), (3, "relu3"), (4, "identity4")])
def test_default_brevitas_quantizers_multibit(tmp_path, w_bits, act):
    """Brevitas' default quantizers (float per-tensor scales, not bnn_pynq's constants):
    QuantLinear/QuantConv2d(weight_bit_width=k), QuantIdentity(bit_width=k), QuantReLU."""
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
    from torch import nn

    from tests.compile.helpers import randomize

    def act_layer():
        bits = int(act[-1])
        return QuantReLU(bit_width=bits) if act.startswith("relu") else \
            QuantIdentity(bit_width=bits)

    model = nn.Sequential(
        QuantIdentity(bit_width=8),
        QuantConv2d(2, 5, (3, 2), stride=(1, 2), padding=1, bias=False,
                    weight_bit_width=w_bits), nn.BatchNorm2d(5), act_layer(),
        nn.MaxPool2d(3, 2),
        nn.Flatten(), QuantLinear(5 * 3 * 2, 8, bias=False, weight_bit_width=w_bits),
        nn.BatchNorm1d(8), act_layer(),
        QuantLinear(8, 3, bias=False, weight_bit_width=w_bits))
    model = randomize(model, w_bits)
    path = export(model, (2, 7, 8), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, random_images(result.ir, 12, seed=w_bits))
    assert figs["distinct_outputs"] > 1
    mvaus = [layer for layer in result.ir.layers if layer.kind == "mvau"]
    assert all(m.weight_dtype.bits == w_bits or m.weight_dtype.bipolar for m in mvaus)


@pytest.mark.parametrize("form", USER_FORMS)
def test_user_forms_of_the_new_layers(tmp_path, form):
    model, shape = user_form(form)
    path = export(model, shape, tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, random_images(result.ir, 8, seed=0))
    assert figs["distinct_outputs"] > 1
