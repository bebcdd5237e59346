"""Brevitas BNNs written the ways PyTorch users write them, drawn at random from a seed.

Our own builders (train/models.py) always put `2x − 1` and the input quantizer in one place,
reshape with `x.reshape` and use our quantizers; users do not. Each network here picks a
*style* — how the model is written — and random shapes:

- container: ``nn.Sequential`` of modules, or a custom module whose ``forward`` does the
  reshapes (``x.view(x.size(0), -1)``, ``torch.flatten(x, 1)``, ``x.reshape(-1, n)``,
  ``x.flatten(1)``, ``x.permute(0, 2, 3, 1).reshape(...)``);
- where the flatten goes: before the input quantizer (``nn.Flatten()`` first, the everyday
  MLP) or after it; redundant flattens between layers;
- quantizers: Brevitas' presets (``SignedBinaryActPerTensorConst``,
  ``SignedBinaryWeightPerTensorConst``, ``Int8ActPerTensorFloat``), bnn_pynq's
  ``CommonActQuant``/``CommonWeightQuant``, ``QuantHardTanh`` or ``QuantIdentity``;
- ``bias=True`` or not on every QuantLinear/QuantConv2d; the classifier ending in nothing,
  BatchNorm1d or bnn_pynq's TensorNorm;
- the input mapped to [−1, 1] by ``2x − 1`` in forward, or quantized as it comes;
- BinaryNet's habits: max-pool before the BatchNorm (Conv → MaxPool → BN → act), a float
  ``nn.Hardtanh()`` before each quantizer; a final ``Softmax``/``LogSoftmax``.

Returned as (model in eval mode with random weights and BN statistics, input shape, style).
"""

from __future__ import annotations

import dataclasses

import numpy as np

FLATTENS = ("nn.Flatten", "view", "torch.flatten", "reshape", "tensor.flatten", "permute")


@dataclasses.dataclass
class Style:
    kind: str  # mlp | cnn
    container: str  # sequential | forward
    flatten: str  # one of FLATTENS
    flatten_first: bool  # MLP: flatten before the input quantizer
    extra_flatten: bool  # a redundant flatten between two FC layers
    quant_family: str  # brevitas | bnn_pynq
    act_module: str  # QuantIdentity | QuantHardTanh
    in_bits: int
    bias: bool
    head: str  # none | bn | tensornorm
    affine_input: bool  # 2x − 1 before the input quantizer
    pool_first: bool = False  # CNN: Conv → MaxPool → BatchNorm → act (BinaryNet's order)
    float_clamp: bool = False  # a float nn.Hardtanh() before each hidden quantizer
    final: str = "none"  # none | softmax | log_softmax: the model's last op

    def __str__(self) -> str:
        return " ".join(f"{k}={v}" for k, v in dataclasses.asdict(self).items())


def _quantizers(family: str, in_bits: int):
    from brevitas.quant import (
        Int8ActPerTensorFloat,
        SignedBinaryActPerTensorConst,
        SignedBinaryWeightPerTensorConst,
    )

    if family == "bnn_pynq":
        from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant

        act = {"act_quant": CommonActQuant, "bit_width": 1, "min_val": -1.0, "max_val": 1.0}
        weight = {"weight_quant": CommonWeightQuant, "weight_bit_width": 1}
        inp = act if in_bits == 1 else {"act_quant": CommonActQuant, "bit_width": 8,
                                        "min_val": -1.0, "max_val": 1.0 - 2.0**-7}
    else:
        act = {"act_quant": SignedBinaryActPerTensorConst}
        weight = {"weight_quant": SignedBinaryWeightPerTensorConst}
        inp = act if in_bits == 1 else {"act_quant": Int8ActPerTensorFloat}
    return inp, act, weight


class _Flatten:
    """The flatten a style asks for, as a module (Sequential) or a function (forward)."""

    def __init__(self, how: str, n: int) -> None:
        self.how, self.n = how, n

    def __call__(self, x):
        import torch

        if self.how == "view":
            return x.view(x.size(0), -1)
        if self.how == "torch.flatten":
            return torch.flatten(x, 1)
        if self.how == "reshape":
            return x.reshape(-1, self.n)
        if self.how == "tensor.flatten":
            return x.flatten(1)
        if self.how == "permute":  # channels last, then flatten (a TensorFlow habit)
            return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1) if x.dim() == 4 else x
        return torch.nn.Flatten()(x)


def _build(style: Style, shape: tuple[int, ...], convs: list[tuple[int, int, bool]],
           hidden: list[int], n_classes: int):
    """The model: `convs` = [(channels, kernel, pool after)], then FC `hidden`, then classes."""
    import torch
    from brevitas.nn import QuantConv2d, QuantHardTanh, QuantIdentity, QuantLinear
    from torch import nn

    from xnorflow.train.models import TensorNorm

    inp_q, act_q, weight_q = _quantizers(style.quant_family, style.in_bits)

    def quant(kw):
        if style.act_module == "QuantHardTanh":
            return QuantHardTanh(**{"min_val": -1.0, "max_val": 1.0, **kw})
        return QuantIdentity(**kw)

    def act(kw):
        return nn.Sequential(nn.Hardtanh(), quant(kw)) if style.float_clamp else quant(kw)

    c, h, w = shape if len(shape) == 3 else (shape[0], 1, 1)
    features: list[nn.Module] = []
    for out_ch, k, pool in convs:
        features.append(QuantConv2d(c, out_ch, k, bias=style.bias, **weight_q))
        if pool and style.pool_first:
            features += [nn.MaxPool2d(2), nn.BatchNorm2d(out_ch), act(act_q)]
        else:
            features += [nn.BatchNorm2d(out_ch), act(act_q)]
            if pool:
                features.append(nn.MaxPool2d(2))
        c, h, w = out_ch, (h - k + 1) // (2 if pool else 1), (w - k + 1) // (2 if pool else 1)
    n_in = c * h * w
    fc: list[nn.Module] = []
    for i, width in enumerate(hidden):
        fc += [QuantLinear(n_in, width, bias=style.bias, **weight_q), nn.BatchNorm1d(width),
               act(act_q)]
        if style.extra_flatten and i == 0:
            fc.append(nn.Flatten())
        n_in = width
    fc.append(QuantLinear(n_in, n_classes, bias=style.bias, **weight_q))
    if style.head == "bn":
        fc.append(nn.BatchNorm1d(n_classes))
    elif style.head == "tensornorm":
        fc.append(TensorNorm())
    if style.final == "softmax":
        fc.append(nn.Softmax(dim=1))
    elif style.final == "log_softmax":
        fc.append(nn.LogSoftmax(dim=1))
    flat = _Flatten(style.flatten, int(np.prod((c, h, w))) if convs else int(np.prod(shape)))
    in_quant = quant(inp_q)

    class Affine(nn.Module):
        def forward(self, x):
            return 2.0 * x - 1.0

    if style.container == "sequential":
        pre: list[nn.Module] = [Affine()] if style.affine_input else []
        if style.kind == "mlp" and style.flatten_first:
            mods = [nn.Flatten(), *pre, in_quant, *fc]
        elif style.kind == "mlp":
            mods = [*pre, in_quant, nn.Flatten(), *fc]
        else:
            mods = [*pre, in_quant, *features, nn.Flatten(), *fc]
        return nn.Sequential(*mods)

    class UserNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.quant_inp = in_quant
            self.features = nn.Sequential(*features)
            self.classifier = nn.Sequential(*fc)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if style.kind == "mlp" and style.flatten_first:
                x = flat(x)
            if style.affine_input:
                x = 2.0 * x - 1.0
            x = self.quant_inp(x)
            x = self.features(x)
            if style.kind == "cnn" or not style.flatten_first:
                x = flat(x)
            return self.classifier(x)

    return UserNet()


def user_net(seed: int):
    """(model, input shape (C, H, W) or (features,), Style) for `seed`: an MLP for even
    seeds, a CNN for odd ones."""
    from tests.compile.helpers import randomize

    rng = np.random.default_rng(seed)
    kind = "mlp" if seed % 2 == 0 else "cnn"
    in_bits = int(rng.choice([1, 8]))
    style = Style(
        kind=kind,
        container=str(rng.choice(["sequential", "forward"])),
        flatten=str(rng.choice(FLATTENS)),
        flatten_first=bool(rng.random() < 0.7),
        extra_flatten=bool(rng.random() < 0.3),
        quant_family=str(rng.choice(["brevitas", "bnn_pynq"])),
        act_module=str(rng.choice(["QuantIdentity", "QuantHardTanh"])),
        in_bits=in_bits,
        bias=bool(rng.random() < 0.5),
        head=str(rng.choice(["none", "bn", "tensornorm"])),
        # a 1-bit input quantizer of an image in [0, 1] would see only +1 without 2x − 1
        affine_input=bool(in_bits == 1 or rng.random() < 0.5),
    )
    n_classes = int(rng.integers(2, 11))
    if kind == "mlp":
        shape: tuple[int, ...] = (int(rng.integers(1, 3)), int(rng.integers(3, 9)),
                                  int(rng.integers(3, 9)))
        if rng.random() < 0.2:  # tabular features, not an image
            shape = (int(np.prod(shape)),)
        convs: list[tuple[int, int, bool]] = []
        hidden = [int(rng.integers(2, 49)) for _ in range(int(rng.integers(1, 4)))]
    else:
        k = int(rng.choice([1, 2, 3]))
        size = int(rng.integers(k + 3, 12))
        shape = (int(rng.integers(1, 4)), size, size)
        convs, dim = [], size
        for _ in range(int(rng.integers(1, 3))):
            if dim - k + 1 < 1:
                break
            dim -= k - 1
            pool = dim >= 2 and bool(rng.random() < 0.5)
            dim //= 2 if pool else 1
            convs.append((int(rng.integers(2, 17)), k, pool))
        hidden = [int(rng.integers(4, 33)) for _ in range(int(rng.integers(0, 3)))]
    # drawn last, so that the draws above stay what they were before these styles existed
    style.pool_first = kind == "cnn" and bool(rng.random() < 0.5)
    style.float_clamp = bool(rng.random() < 0.3)
    style.final = str(rng.choice(["none", "none", "softmax", "log_softmax"]))
    model = _build(style, shape, convs, hidden, n_classes)
    return randomize(model, seed), shape, style
