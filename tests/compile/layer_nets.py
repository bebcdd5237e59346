"""Random Brevitas networks over the layer shapes FINN lowers beyond 2017's CNV: zero padding,
strides, rectangular images and kernels (1x1 to 5x5), max-pools with kernel != stride, global
average pooling, and weights and activations of 1 to 4 bits (signed, or unsigned via
QuantReLU), written as users write them (nn.Sequential, Brevitas' bnn_pynq quantizers).
"""

from __future__ import annotations

import dataclasses
import threading

import numpy as np

from tests.compile.helpers import randomize


@dataclasses.dataclass
class Drawn:
    """What a seed drew (printed when a check fails)."""

    shape: tuple[int, int, int]
    in_bits: int
    w_bits: int
    a_bits: int
    unsigned: bool
    convs: list[str]
    head: str

    def __str__(self) -> str:
        return " ".join(f"{k}={v}" for k, v in dataclasses.asdict(self).items())


def _centre():
    """x ↦ 2x − 1: images in [0, 1] to [-1, 1] before the input quantizer, as bnn_pynq does."""
    from torch import nn

    class Centre(nn.Module):
        def forward(self, x):
            return 2.0 * x - 1.0

    return Centre()


def _act(bits: int, unsigned: bool):
    from brevitas.nn import QuantIdentity, QuantReLU
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant

    if unsigned and bits > 1:
        return QuantReLU(bit_width=bits)
    return QuantIdentity(act_quant=CommonActQuant, bit_width=bits, min_val=-1.0, max_val=1.0)


def random_head(rng, layers: list, ch: int, h: int, w: int, wq: dict) -> str:
    """Append a classifier over a ch × h × w map to `layers`: a global average pool or a
    flatten, then a QuantLinear to 2..10 classes; returns which head."""
    from brevitas.nn import QuantLinear
    from torch import nn

    n_classes = int(rng.integers(2, 11))
    head = str(rng.choice(["flatten", "gap"]))
    if head == "gap":
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                   QuantLinear(ch, n_classes, bias=False, **wq)]
    else:
        layers += [nn.Flatten(), QuantLinear(ch * h * w, n_classes, bias=False, **wq)]
    return head


def draw_precision(rng, w_choices=(1, 1, 2), a_choices=(1, 1, 2, 3)):
    """(w_bits, a_bits, unsigned, weight quantizer kwargs, activation factory) as the pool and
    signal generators draw them: 1 bit twice as often, unsigned (QuantReLU) for 40 % of the
    multi-bit activations."""
    from brevitas.nn import QuantIdentity, QuantReLU
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant

    w_bits, a_bits = int(rng.choice(list(w_choices))), int(rng.choice(list(a_choices)))
    unsigned = a_bits > 1 and bool(rng.random() < 0.4)
    wq = {"weight_quant": CommonWeightQuant, "weight_bit_width": w_bits}

    def act():
        if unsigned:
            return QuantReLU(bit_width=a_bits)
        return QuantIdentity(act_quant=CommonActQuant, bit_width=a_bits, min_val=-1.0,
                             max_val=1.0)

    return w_bits, a_bits, unsigned, wq, act


def input_quant():
    """bnn_pynq's 8-bit input quantizer on [-1, 1)."""
    from brevitas.nn import QuantIdentity
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant

    return QuantIdentity(act_quant=CommonActQuant, bit_width=8, min_val=-1.0,
                         max_val=1.0 - 2.0**-7)


def classifier_head(rng, layers: list, ch: int, h: int, w: int, wq: dict, act,
                    heads=("flatten", "hidden", "gap"), max_width: int = 25) -> str:
    """Append a classifier over a ch × h × w map to `layers` — a flatten, hidden linear
    layers, a global average pool, or the map normalised and quantized again ("bn_act"),
    then a QuantLinear to 2..10 classes; returns which head."""
    from brevitas.nn import QuantLinear
    from torch import nn

    n_classes = int(rng.integers(2, 11))
    head = str(rng.choice(list(heads)))
    if head == "gap":
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                   QuantLinear(ch, n_classes, bias=False, **wq)]
    elif head == "hidden":
        width = int(rng.integers(4, max_width))
        layers += [nn.Flatten(), QuantLinear(ch * h * w, width, bias=False, **wq),
                   nn.BatchNorm1d(width), act(), QuantLinear(width, n_classes, bias=False, **wq)]
    elif head == "bn_act":
        layers += [nn.BatchNorm2d(ch), act(), nn.Flatten(),
                   QuantLinear(ch * h * w, n_classes, bias=False, **wq)]
    else:
        layers += [nn.Flatten(), QuantLinear(ch * h * w, n_classes, bias=False, **wq)]
    return head


def layer_net(seed: int):
    """(model, input shape (C, H, W), Drawn) for one seed."""
    from brevitas.nn import QuantConv2d, QuantIdentity
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant
    from torch import nn

    rng = np.random.default_rng(seed)
    c, h, w = int(rng.choice([1, 3])), int(rng.integers(6, 15)), int(rng.integers(6, 15))
    shape = (c, h, w)
    in_bits = int(rng.choice([1, 2, 8]))
    w_bits, a_bits = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    unsigned = bool(rng.random() < 0.3)
    wq = {"weight_quant": CommonWeightQuant, "weight_bit_width": w_bits}
    if in_bits == 8:
        first = QuantIdentity(act_quant=CommonActQuant, bit_width=8, min_val=-1.0,
                              max_val=1.0 - 2.0**-7)
    else:
        first = _act(in_bits, False)
    layers: list[nn.Module] = [_centre(), first]
    drawn_convs = []
    ch = c
    for _ in range(int(rng.integers(1, 4))):
        kh, kw = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        sh, sw = int(rng.choice([1, 2])), int(rng.choice([1, 2]))
        ph, pw = int(rng.integers(0, kh // 2 + 1)), int(rng.integers(0, kw // 2 + 1))
        oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
        if oh < 1 or ow < 1:
            break
        out = int(rng.integers(2, 11))
        layers += [QuantConv2d(ch, out, (kh, kw), stride=(sh, sw), padding=(ph, pw), bias=False,
                               **wq),
                   nn.BatchNorm2d(out), _act(a_bits, unsigned)]
        drawn_convs.append(f"{out}k{kh}x{kw}s{sh}x{sw}p{ph}x{pw}")
        ch, h, w = out, oh, ow
        if min(h, w) >= 3 and rng.random() < 0.4:
            pk, ps = [(2, 2), (3, 2), (2, 1), (3, 1)][int(rng.integers(0, 4))]
            layers.append(nn.MaxPool2d(pk, ps))
            drawn_convs.append(f"pool{pk}s{ps}")
            h, w = (h - pk) // ps + 1, (w - pk) // ps + 1
    head = random_head(rng, layers, ch, h, w, wq)
    model = nn.Sequential(*layers)
    drawn = Drawn(shape, in_bits, w_bits, a_bits, unsigned, drawn_convs, head)
    return randomize(model, seed), shape, drawn


_COMPILE_LOCK = threading.Lock()  # FINN keeps global state (environment, scratch dirs)


def _compiled(module: str, name: str, arg):
    """The IR of tests.compile.<module>.<name>(arg) — a generator returning (model, input
    shape, ...) — at xnorflow's default folding."""
    import importlib

    from tests.compile.helpers import compiled_ir

    make = getattr(importlib.import_module(f"tests.compile.{module}"), name)
    with _COMPILE_LOCK:
        model, shape = make(arg)[:2]
        return compiled_ir(model, shape)


def _compiled_bnn_pynq(name: str):
    from tests.compile.helpers import bnn_pynq, compiled_ir

    with _COMPILE_LOCK:
        kw = {"target_fps": 2000} if name.startswith("cnv") else {}
        return compiled_ir(*bnn_pynq(name, 11), **kw)


def _nets(module: str, name: str, args, prefix: str | None = None) -> dict:
    """{key: the compiled IR of module.name(arg), lazily} for each arg; key prefix_arg."""
    return {(f"{prefix}_{a}" if prefix else a): (lambda a=a: _compiled(module, name, a))
            for a in args}


# whole compiled networks for the RTL simulation and the HLS C-simulation (tests/rtl, tests/hls):
# Brevitas' multi-bit bnn_pynq models and random layer nets, at xnorflow's default folding
COMPILED_DEFAULT = {
    "bnn_tfc_2w2a": lambda: _compiled_bnn_pynq("tfc_2w2a"),
    **_nets("layer_nets", "layer_net", range(4), "layer_net"),
    **_nets("residual_nets", "residual_net", (0, 3), "residual_net"),
    **_nets("pool_first_nets", "pool_first_net", (2,), "pool_first_net"),
    **_nets("layer_nets", "user_form", ("all_conv_1bit", "depthwise_separable")),
    **_nets("signal_nets", "signal_net", (7,), "signal_net"),
    **_nets("padded_pool_nets", "padded_pool_net", (3, 24), "padded_pool_net"),
    **_nets("avg_pool_nets", "avg_pool_net", (2,), "avg_pool_net"),
    **_nets("concat_nets", "concat_net", ("dense_block", "dense_block_1x1_binary",
                                           "inception_3way", "dense_preact_gap",
                                           "dense_preact_maxpool", "branches_flattened")),
}
COMPILED_SLOW = {
    **{f"bnn_{n}": (lambda n=n: _compiled_bnn_pynq(n))
       for n in ("tfc_1w2a", "sfc_1w2a", "sfc_2w2a", "cnv_1w2a", "cnv_2w2a")},
    **_nets("layer_nets", "layer_net", range(4, 16), "layer_net"),
    **_nets("residual_nets", "residual_net", (1, 2, 4, 5, 6, 7, 8, 9), "residual_net"),
    **_nets("pool_first_nets", "pool_first_net", (4, 6, 12), "pool_first_net"),
    **_nets("layer_nets", "user_form", ("all_conv_2bit",)),
    **_nets("signal_nets", "signal_net", (1, 2, 11), "signal_net"),
    **_nets("padded_pool_nets", "padded_pool_net", (9, 13, 21), "padded_pool_net"),
    **_nets("avg_pool_nets", "avg_pool_net", (4, 12, 24), "avg_pool_net"),
    **_nets("concat_nets", "concat_net", ("dense_block_1x1_2bit", "mlp_shared_quant",
                                           "squeezenet_fire")),
}


USER_FORMS = ("conv_bias_3bit_pad", "stride2_hardtanh_no_bn", "float_relu_then_quant",
              "padding_same", "mlp_3bit_bias", "gap_mean", "gap_mean_negative_axes",
              "gap_adaptive", "gap_avg_pool2d", "all_conv_1bit", "all_conv_2bit",
              "depthwise_separable")


def user_form(name: str):
    """(model, input shape) of USER_FORMS' `name`: networks written the ways users write the
    new layers. Brevitas' default float-scaled quantizers, biases, no BatchNorm,
    QuantHardTanh, a float ReLU before the quantizer, padding="same", and the four ways to
    write a global average pool in `forward`."""
    import torch
    import torch.nn.functional as F  # noqa: N812
    from brevitas.nn import QuantConv2d, QuantHardTanh, QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import Uint8ActPerTensorFloat
    from brevitas_examples.bnn_pynq.models.common import CommonWeightQuant
    from torch import nn

    class GapNet(nn.Module):
        def __init__(self, how: str) -> None:
            super().__init__()
            self.how = how
            self.q = QuantIdentity(bit_width=8)
            self.conv = QuantConv2d(3, 8, 3, padding=1, bias=False, weight_bit_width=2)
            self.bn = nn.BatchNorm2d(8)
            self.act = QuantReLU(bit_width=2)
            self.fc = QuantLinear(8, 5, bias=True, weight_bit_width=2)

        def forward(self, x):
            x = self.act(self.bn(self.conv(self.q(x))))
            if self.how == "mean":
                x = x.mean(dim=(2, 3))
            elif self.how == "mean_negative_axes":
                x = torch.mean(x, dim=(-1, -2), keepdim=True).flatten(1)
            elif self.how == "adaptive":
                x = F.adaptive_avg_pool2d(x, 1).view(x.size(0), -1)
            else:
                x = F.avg_pool2d(x, x.shape[2:]).flatten(1)
            return self.fc(x)

    def q8():
        return QuantIdentity(bit_width=8)

    forms = {
        "conv_bias_3bit_pad": lambda: nn.Sequential(
            q8(), QuantConv2d(3, 6, 3, padding=1, bias=True, weight_bit_width=3),
            QuantReLU(bit_width=3), nn.Flatten(),
            QuantLinear(6 * 8 * 8, 4, bias=False, weight_bit_width=3)),
        "stride2_hardtanh_no_bn": lambda: nn.Sequential(
            q8(), QuantConv2d(3, 6, 3, stride=2, padding=1, bias=False, weight_bit_width=2),
            QuantHardTanh(bit_width=2, max_val=1.0, min_val=-1.0), nn.Flatten(),
            QuantLinear(6 * 4 * 4, 4, bias=False, weight_bit_width=2)),
        "float_relu_then_quant": lambda: nn.Sequential(
            q8(), QuantConv2d(3, 6, 3, padding=1, bias=False, weight_bit_width=2),
            nn.BatchNorm2d(6), nn.ReLU(),
            QuantIdentity(act_quant=Uint8ActPerTensorFloat, bit_width=2), nn.Flatten(),
            QuantLinear(6 * 8 * 8, 4, bias=False, weight_bit_width=2)),
        "padding_same": lambda: nn.Sequential(
            q8(), QuantConv2d(3, 6, 3, padding="same", bias=False, weight_bit_width=2),
            nn.BatchNorm2d(6), QuantIdentity(bit_width=2), nn.Flatten(),
            QuantLinear(6 * 8 * 8, 4, bias=False, weight_bit_width=2)),
        "mlp_3bit_bias": lambda: nn.Sequential(
            nn.Flatten(), q8(), QuantLinear(192, 32, bias=True, weight_bit_width=3),
            nn.BatchNorm1d(32), QuantReLU(bit_width=3),
            QuantLinear(32, 10, bias=True, weight_bit_width=3)),
        **{f"gap_{how}": (lambda how=how: GapNet(how))
           for how in ("mean", "mean_negative_axes", "adaptive", "avg_pool2d")},
        # all-convolutional: a 1x1 conv to the classes, then the global average pool
        **{f"all_conv_{bits}bit": (lambda bits=bits: nn.Sequential(
            _centre(), _act(1, False),
            QuantConv2d(3, 8, 3, bias=False, weight_quant=CommonWeightQuant,
                        weight_bit_width=bits),
            nn.BatchNorm2d(8), _act(bits, False),
            QuantConv2d(8, 5, 1, bias=False, weight_quant=CommonWeightQuant,
                        weight_bit_width=bits),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())) for bits in (1, 2)},
        # MobileNet's block: depthwise 3x3 (groups = channels), pointwise 1x1
        "depthwise_separable": lambda: nn.Sequential(
            _centre(), _act(8, False),
            QuantConv2d(3, 8, 3, padding=1, bias=False, weight_quant=CommonWeightQuant,
                        weight_bit_width=1), nn.BatchNorm2d(8), _act(1, False),
            QuantConv2d(8, 8, 3, stride=2, padding=1, groups=8, bias=False,
                        weight_quant=CommonWeightQuant, weight_bit_width=1),
            nn.BatchNorm2d(8), _act(1, False),
            QuantConv2d(8, 6, 1, bias=False, weight_quant=CommonWeightQuant,
                        weight_bit_width=1), nn.BatchNorm2d(6), _act(2, False), nn.Flatten(),
            QuantLinear(6 * 4 * 4, 4, bias=False, weight_quant=CommonWeightQuant,
                        weight_bit_width=1)),
    }
    assert tuple(forms) == USER_FORMS
    return randomize(forms[name](), 1), (3, 8, 8)
