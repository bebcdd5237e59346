"""Binary neural networks in the form FINN lowers, and a builder for any width/depth.

Every hidden block is: quantized layer without bias → BatchNorm → binary activation
(QuantIdentity with a 1-bit bipolar quantizer). The network starts with ``2x − 1`` and an input
quantizer (1 bit for the MLPs, 8 bit Q1.7 for the CNNs, as in ``brevitas_examples.bnn_pynq``)
and ends with a binary-weight linear layer without bias followed by a scalar TensorNorm.
Convolutions are 3x3 without padding, max-pool 2x2, as in CNV.

The model's input is a float tensor in [0, 1]: the uint8 image divided by 255 (see
:mod:`xnorflow.train.data`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence

import torch
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
from torch import nn

from .errors import UserError
from .quantizers import BinaryActQuant, BinaryWeightQuant, Int8InputQuant

__all__ = [
    "BinaryNet",
    "TensorNorm",
    "ZOO",
    "binary_activations",
    "binary_weight_layers",
    "build_cnn",
    "build_mlp",
    "get_model",
    "preactivation_norms",
    "set_weight_binarization",
]

_BINARY_ACT_FLAG = "_xnorflow_binary_act"


class TensorNorm(nn.Module):
    """Batch normalisation with one scalar mean/variance/scale/shift for the whole tensor.

    The last layer of bnn_pynq's models: it rescales the integer popcount logits without
    per-class parameters, which FINN folds into a scalar Mul/Add after the last MVAU.
    """

    def __init__(self, eps: float = 1e-4, momentum: float = 0.1) -> None:
        super().__init__()
        self.eps = eps
        self.momentum = momentum
        self.weight = nn.Parameter(torch.ones(1))
        self.bias = nn.Parameter(torch.zeros(1))
        self.register_buffer("running_mean", torch.zeros(1))
        self.register_buffer("running_var", torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            mean = x.mean()
            var = x.var(unbiased=False)
            with torch.no_grad():
                n = x.numel()
                unbiased = var * n / max(n - 1, 1)
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                self.running_var.mul_(1 - self.momentum).add_(self.momentum * unbiased)
            return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias
        return (x - self.running_mean) / torch.sqrt(self.running_var + self.eps) * self.weight \
            + self.bias


def _binary_act() -> QuantIdentity:
    act = QuantIdentity(act_quant=BinaryActQuant)
    setattr(act, _BINARY_ACT_FLAG, True)
    return act


def _input_quant(bits: int) -> QuantIdentity:
    if bits == 1:
        return QuantIdentity(act_quant=BinaryActQuant)
    if bits == 8:
        return QuantIdentity(act_quant=Int8InputQuant)
    raise UserError(f"input bits must be 1 or 8, got {bits}")


class BinaryNet(nn.Module):
    """``x ↦ fc(flatten(conv(q_in(2x − 1))))`` with binary weights and activations.

    ``in_shape`` is (C, H, W) of one image; ``arch`` records how it was built (for config.json).
    """

    def __init__(self, in_shape: Sequence[int], input_quant: nn.Module, conv: nn.Sequential,
                 fc: nn.Sequential, arch: dict) -> None:
        super().__init__()
        self.in_shape = tuple(int(s) for s in in_shape)
        self.input_quant = input_quant
        self.conv_features = conv
        self.fc_features = fc
        self.arch = arch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(self.conv_features) == 0:
            x = x.reshape(x.shape[0], -1)
        x = 2.0 * x - 1.0
        x = self.input_quant(x)
        if len(self.conv_features) > 0:
            x = self.conv_features(x)
            x = x.reshape(x.shape[0], -1)
        return self.fc_features(x)


def _linear(n_in: int, n_out: int) -> QuantLinear:
    return QuantLinear(n_in, n_out, bias=False, weight_quant=BinaryWeightQuant)


def _init_latent(model: nn.Module) -> None:
    # bnn_pynq's init: latent weights uniform in [-1, 1].
    for m in binary_weight_layers(model):
        nn.init.uniform_(m.weight, -1.0, 1.0)


def _fc_stack(n_in: int, hidden: Sequence[int], n_classes: int, dropout: float,
              eps: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    for width in hidden:
        layers += [_linear(n_in, width), nn.BatchNorm1d(width, eps=eps), _binary_act()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        n_in = width
    layers += [_linear(n_in, n_classes), TensorNorm()]
    return nn.Sequential(*layers)


def build_mlp(in_shape: int | Sequence[int], hidden: Sequence[int], n_classes: int,
              in_bits: int = 1, dropout: float = 0.0, bn_eps: float = 1e-5) -> BinaryNet:
    """A binary MLP: flatten → 2x−1 → input quantizer → [linear → BN → sign] × len(hidden) →
    linear → TensorNorm. ``in_shape`` is an int (features) or the image shape (C, H, W)."""
    shape = (int(in_shape),) if isinstance(in_shape, int) else tuple(int(s) for s in in_shape)
    if not hidden or any(int(h) <= 0 for h in hidden):
        raise UserError(f"an MLP needs at least one positive hidden width, got {list(hidden)}")
    n_in = math.prod(shape)
    fc = _fc_stack(n_in, [int(h) for h in hidden], n_classes, dropout, bn_eps)
    arch = {"kind": "mlp", "hidden": [int(h) for h in hidden], "in_bits": in_bits,
            "dropout": dropout}
    net = BinaryNet(shape, _input_quant(in_bits), nn.Sequential(), fc, arch)
    _init_latent(net)
    return net


def build_cnn(in_shape: Sequence[int], conv_channels: Sequence[int],
              pool_after: Sequence[int] | Sequence[bool], fc_hidden: Sequence[int],
              n_classes: int, in_bits: int = 8, kernel_size: int = 3, dropout: float = 0.0,
              bn_eps: float = 1e-4) -> BinaryNet:
    """A binary CNN: 2x−1 → input quantizer → [conv k×k (no padding) → BN → sign (→ maxpool 2)]
    per entry of ``conv_channels`` → flatten → binary MLP head → TensorNorm.

    ``pool_after`` lists the indices of the conv layers followed by a 2x2 max-pool (or is one
    bool per conv layer). Raises :class:`UserError` if the image is too small for the stack.
    """
    c, h, w = (int(s) for s in in_shape)
    channels = [int(ch) for ch in conv_channels]
    if pool_after and isinstance(list(pool_after)[0], bool):
        pools = {i for i, p in enumerate(pool_after) if p}
    else:
        pools = {int(i) for i in pool_after}
    layers: list[nn.Module] = []
    for i, out_ch in enumerate(channels):
        h, w = h - kernel_size + 1, w - kernel_size + 1
        if h < 1 or w < 1:
            raise UserError(f"input {tuple(in_shape)} is too small: conv layer {i} "
                            f"({kernel_size}x{kernel_size}, no padding) has no output pixels")
        layers += [QuantConv2d(c, out_ch, kernel_size, bias=False, weight_quant=BinaryWeightQuant),
                   nn.BatchNorm2d(out_ch, eps=bn_eps), _binary_act()]
        c = out_ch
        if i in pools:
            if h < 2 or w < 2:
                raise UserError(f"input {tuple(in_shape)} is too small: max-pool after conv "
                                f"layer {i} gets a {h}x{w} map")
            layers.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
    fc = _fc_stack(c * h * w, [int(f) for f in fc_hidden], n_classes, dropout, bn_eps)
    arch = {"kind": "cnn", "conv_channels": channels, "pool_after": sorted(pools),
            "fc_hidden": [int(f) for f in fc_hidden], "in_bits": in_bits,
            "kernel_size": kernel_size, "dropout": dropout}
    net = BinaryNet((int(s) for s in in_shape), _input_quant(in_bits), nn.Sequential(*layers),
                    fc, arch)
    _init_latent(net)
    return net


# FINN's reference BNNs (brevitas_examples.bnn_pynq), 1-bit weights and activations.
ZOO: dict[str, str] = {
    "tfc": "MLP 3x64, 1-bit input, dropout 0.2 (TFC-1W1A)",
    "sfc": "MLP 3x256, 1-bit input, dropout 0.2 (SFC-1W1A)",
    "lfc": "MLP 3x1024, 1-bit input, dropout 0.2 (LFC-1W1A)",
    "cnv": "CNN 64,64,P,128,128,P,256,256 + FC 512,512, 8-bit input (CNV-1W1A)",
}

_SPEC_HELP = ("tfc | sfc | lfc | cnv | mlp:W1,W2,... (hidden widths, 1-bit input) | "
              "cnn:C1,C2,P,C3,...[/F1,F2] (3x3 convs, P = 2x2 max-pool, /F = FC hidden widths, "
              "8-bit input)")


def get_model(name: str, in_shape: Sequence[int], n_classes: int,
              dropout: float | None = None) -> BinaryNet:
    """Build a model by name: ``tfc``, ``sfc``, ``lfc``, ``cnv`` or a builder spec.

    ``dropout`` is the rate of the dropout in front of every FC layer of the MLP head (a
    training choice: it is not part of the exported graph); ``None`` takes the model's default,
    bnn_pynq's 0.2 for tfc/sfc/lfc and 0 for the rest.

    Specs: ``mlp:64,64`` (hidden widths); ``cnn:16,P,32,P/64`` (conv channels, ``P`` a 2x2
    max-pool after the previous conv, and after ``/`` the FC hidden widths; default none).
    """
    key = name.strip().lower()
    if dropout is not None and not 0.0 <= dropout < 1.0:
        raise UserError(f"--dropout must be in [0, 1), got {dropout}")
    if key in ("tfc", "sfc", "lfc"):
        width = {"tfc": 64, "sfc": 256, "lfc": 1024}[key]
        net = build_mlp(in_shape, [width] * 3, n_classes, in_bits=1,
                        dropout=0.2 if dropout is None else dropout)
    elif key == "cnv":
        net = build_cnn(in_shape, [64, 64, 128, 128, 256, 256], [1, 3], [512, 512], n_classes,
                        in_bits=8, dropout=dropout or 0.0)
    elif key.startswith("mlp:"):
        net = build_mlp(in_shape, _ints(key[4:], name), n_classes, in_bits=1,
                        dropout=dropout or 0.0)
    elif key.startswith("cnn:"):
        conv_part, _, fc_part = key[4:].partition("/")
        channels: list[int] = []
        pools: list[int] = []
        for tok in filter(None, (t.strip() for t in conv_part.split(","))):
            if tok == "p":
                if not channels:
                    raise UserError(f"model spec {name!r}: 'P' must follow a conv layer")
                pools.append(len(channels) - 1)
            else:
                channels.extend(_ints(tok, name))
        if not channels:
            raise UserError(f"model spec {name!r} has no conv layer")
        net = build_cnn(in_shape, channels, pools, _ints(fc_part, name) if fc_part else [],
                        n_classes, in_bits=8, dropout=dropout or 0.0)
    else:
        raise UserError(f"unknown model {name!r}; choose {_SPEC_HELP}")
    net.arch["name"] = key
    return net


def _ints(text: str, spec: str) -> list[int]:
    if not re.fullmatch(r"\s*\d+(\s*,\s*\d+)*\s*", text):
        raise UserError(f"model spec {spec!r}: expected comma-separated widths, got {text!r}")
    return [int(t) for t in text.split(",")]


def binary_weight_layers(model: nn.Module) -> list[nn.Module]:
    """The QuantLinear/QuantConv2d layers whose weights are binarised."""
    return [m for m in model.modules() if isinstance(m, QuantLinear | QuantConv2d)]


def binary_activations(model: nn.Module) -> list[QuantIdentity]:
    """The hidden sign activations (not the input quantizer)."""
    return [m for m in model.modules() if getattr(m, _BINARY_ACT_FLAG, False)]


def preactivation_norms(model: nn.Module) -> list[nn.Module]:
    """The BatchNorms whose output feeds a binary activation (their bias is the pre-activation
    shift that random bias initialisation draws)."""
    found: list[nn.Module] = []
    for seq in _sequentials(model):
        mods = list(seq)
        for a, b in zip(mods, mods[1:], strict=False):
            if isinstance(a, nn.BatchNorm1d | nn.BatchNorm2d) and getattr(b, _BINARY_ACT_FLAG,
                                                                          False):
                found.append(a)
    return found


def _sequentials(model: nn.Module) -> Iterator[nn.Sequential]:
    return (m for m in model.modules() if isinstance(m, nn.Sequential))


def set_weight_binarization(model: nn.Module, enabled: bool) -> None:
    """Switch the weight quantizers on (binary weights) or off (real weights, two-step step 1)."""
    for m in binary_weight_layers(model):
        m.weight_quant.disable_quant = not enabled
