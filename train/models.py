"""Quantized neural networks in the form FINN lowers, and a builder for any width/depth.

Every hidden block is: quantized layer without bias → BatchNorm → quantized activation
(QuantIdentity). The network starts with ``2x − 1`` and an input quantizer (1 bit for the MLPs,
8 bit Q1.7 for the CNNs, as in ``brevitas_examples.bnn_pynq``) and ends with a quantized linear
layer without bias followed by a scalar TensorNorm.

Bit widths: weights and hidden activations have 1 to 4 bits (default 1W1A, a BNN). One bit is
the bipolar ±1 of :mod:`.quantizers` (BipolarQuant in QONNX); k = 2..4 bits are bnn_pynq's
signed narrow-range integers scaled into [−1, 1] (a Quant node). As in bnn_pynq's FC models,
an MLP's input quantizer has the activations' bit width (1W2A/2W2A MLPs take a 2-bit input);
CNNs keep the 8-bit input.

Convolutions are k×k (default 3x3, no padding, stride 1, as in CNV) with optional zero
padding and stride; max-pool 2x2; an optional global average pool ends the conv stage.

Residual networks (:func:`build_resnet`, ``resnet:...``) keep that form inside each
:class:`ResidualBlock`: ``y = act_out(branch(x) + shortcut(x))`` where ``x`` and both summands
are outputs of hidden activations of the same bits and constant scale, so the add is one of
two integer streams (FINN's DuplicateStreams + AddStreams).

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
from .quantizers import (
    BinaryActQuant,
    BinaryWeightQuant,
    Int8InputQuant,
    IntActQuant,
    IntWeightQuant,
)

__all__ = [
    "BITS",
    "BinaryNet",
    "ResidualBlock",
    "TensorNorm",
    "ZOO",
    "binary_activations",
    "binary_weight_layers",
    "build_cnn",
    "build_mlp",
    "build_resnet",
    "get_model",
    "hidden_activations",
    "preactivation_norms",
    "quant_weight_layers",
    "resolve_bits",
    "set_weight_binarization",
    "set_weight_quantization",
    "weight_bits_of",
    "weight_codes",
]

BITS = (1, 2, 3, 4)  # the weight and activation bit widths the models support
_HIDDEN_ACT_FLAG = "_xnorflow_hidden_act"  # marks the hidden activations (not the input quantizer)
_WEIGHT_BITS_ATTR = "_xnorflow_weight_bits"


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
        if x.dtype != torch.float32:  # bfloat16 logits under autocast: statistics in float32
            x = x.float()
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


def _check_bits(what: str, bits: int) -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or bits not in BITS:
        raise UserError(f"--{what}-bits must be one of {', '.join(map(str, BITS))}, got {bits!r}")
    return bits


def _hidden_act(bits: int = 1) -> QuantIdentity:
    """The activation after each hidden BatchNorm: sign (1 bit) or k-bit hard-tanh levels."""
    if bits == 1:
        act = QuantIdentity(act_quant=BinaryActQuant)
    else:
        act = QuantIdentity(act_quant=IntActQuant, bit_width=bits)
    setattr(act, _HIDDEN_ACT_FLAG, True)
    return act


def _input_quant(bits: int) -> QuantIdentity:
    if bits == 1:
        return QuantIdentity(act_quant=BinaryActQuant)
    if bits == 8:
        return QuantIdentity(act_quant=Int8InputQuant)
    if bits in BITS:  # bnn_pynq's FC input at 2 bits: CommonActQuant in [-1, 1]
        return QuantIdentity(act_quant=IntActQuant, bit_width=bits)
    raise UserError(f"input bits must be 1..4 or 8, got {bits}")


class BinaryNet(nn.Module):
    """``x ↦ fc(flatten(conv(q_in(2x − 1))))`` with quantized weights and activations (binary
    by default; ``arch["weight_bits"]``/``arch["act_bits"]`` say how many bits).

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


def _weight_quant(bits: int) -> dict:
    if bits == 1:
        return {"weight_quant": BinaryWeightQuant}
    return {"weight_quant": IntWeightQuant, "weight_bit_width": bits}


def _linear(n_in: int, n_out: int, bits: int = 1) -> QuantLinear:
    layer = QuantLinear(n_in, n_out, bias=False, **_weight_quant(bits))
    setattr(layer, _WEIGHT_BITS_ATTR, bits)
    return layer


def _conv(c_in: int, c_out: int, kernel: int, stride: int, padding: int,
          bits: int = 1) -> QuantConv2d:
    layer = QuantConv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False,
                        **_weight_quant(bits))
    setattr(layer, _WEIGHT_BITS_ATTR, bits)
    return layer


def _init_latent(model: nn.Module) -> None:
    # bnn_pynq's init: latent weights uniform in [-1, 1] (for every bit width).
    for m in quant_weight_layers(model):
        nn.init.uniform_(m.weight, -1.0, 1.0)


def _fc_stack(n_in: int, hidden: Sequence[int], n_classes: int, dropout: float,
              eps: float, weight_bits: int = 1, act_bits: int = 1) -> nn.Sequential:
    layers: list[nn.Module] = []
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    for width in hidden:
        layers += [_linear(n_in, width, weight_bits), nn.BatchNorm1d(width, eps=eps),
                   _hidden_act(act_bits)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        n_in = width
    layers += [_linear(n_in, n_classes, weight_bits), TensorNorm()]
    return nn.Sequential(*layers)


def build_mlp(in_shape: int | Sequence[int], hidden: Sequence[int], n_classes: int,
              in_bits: int | None = None, dropout: float = 0.0, bn_eps: float = 1e-5, *,
              weight_bits: int = 1, act_bits: int = 1) -> BinaryNet:
    """A quantized MLP: flatten → 2x−1 → input quantizer → [linear → BN → act] × len(hidden) →
    linear → TensorNorm. ``in_shape`` is an int (features) or the image shape (C, H, W).

    ``weight_bits``/``act_bits`` (1..4) set every linear layer's weights and every hidden
    activation; ``in_bits`` defaults to ``act_bits`` (bnn_pynq's FC models: 1 for 1W1A, 2 for
    1W2A and 2W2A).
    """
    _check_bits("weight", weight_bits)
    _check_bits("act", act_bits)
    in_bits = act_bits if in_bits is None else in_bits
    shape = (int(in_shape),) if isinstance(in_shape, int) else tuple(int(s) for s in in_shape)
    if not hidden or any(int(h) <= 0 for h in hidden):
        raise UserError(f"an MLP needs at least one positive hidden width, got {list(hidden)}")
    n_in = math.prod(shape)
    fc = _fc_stack(n_in, [int(h) for h in hidden], n_classes, dropout, bn_eps, weight_bits,
                   act_bits)
    arch = {"kind": "mlp", "hidden": [int(h) for h in hidden], "in_bits": in_bits,
            "dropout": dropout, "weight_bits": weight_bits, "act_bits": act_bits}
    net = BinaryNet(shape, _input_quant(in_bits), nn.Sequential(), fc, arch)
    _init_latent(net)
    return net


def _per_layer(name: str, value: int | Sequence[int], n: int,
               unit: str = "conv layers") -> list[int]:
    values = [int(value)] * n if isinstance(value, int) else [int(v) for v in value]
    if len(values) != n:
        raise UserError(f"{name}: {len(values)} values for {n} {unit}")
    return values


def build_cnn(in_shape: Sequence[int], conv_channels: Sequence[int],
              pool_after: Sequence[int] | Sequence[bool], fc_hidden: Sequence[int],
              n_classes: int, in_bits: int = 8, kernel_size: int | Sequence[int] = 3,
              dropout: float = 0.0, bn_eps: float = 1e-4, *,
              stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
              global_pool: bool = False, weight_bits: int = 1, act_bits: int = 1) -> BinaryNet:
    """A quantized CNN: 2x−1 → input quantizer → [conv k×k → BN → act (→ maxpool 2)] per entry
    of ``conv_channels`` (→ global average pool) → flatten → MLP head → TensorNorm.

    ``pool_after`` lists the indices of the conv layers followed by a 2x2 max-pool (or is one
    bool per conv layer). ``kernel_size``, ``stride`` and ``padding`` (zero padding, as
    nn.Conv2d's) are one int for every conv layer or one per layer; defaults 3, 1, 0 (CNV).
    ``global_pool`` averages each channel over the last map (nn.AdaptiveAvgPool2d(1), a
    GlobalAveragePool in ONNX) before the head. ``weight_bits``/``act_bits`` (1..4) set every
    layer's weights and hidden activations; the input stays ``in_bits`` (8). Raises
    :class:`UserError` if the image is too small for the stack.
    """
    _check_bits("weight", weight_bits)
    _check_bits("act", act_bits)
    c, h, w = (int(s) for s in in_shape)
    channels = [int(ch) for ch in conv_channels]
    kernels = _per_layer("kernel_size", kernel_size, len(channels))
    strides = _per_layer("stride", stride, len(channels))
    pads = _per_layer("padding", padding, len(channels))
    if pool_after and isinstance(list(pool_after)[0], bool):
        pools = {i for i, p in enumerate(pool_after) if p}
    else:
        pools = {int(i) for i in pool_after}
    layers: list[nn.Module] = []
    for i, out_ch in enumerate(channels):
        k, st, pad = kernels[i], strides[i], pads[i]
        if out_ch < 1 or k < 1 or st < 1 or not 0 <= pad < k:
            raise UserError(f"conv layer {i}: need channels, kernel and stride >= 1 and "
                            f"0 <= padding < kernel, got {out_ch} channels, kernel {k}, stride "
                            f"{st}, padding {pad}")
        h, w = (h + 2 * pad - k) // st + 1, (w + 2 * pad - k) // st + 1
        if h < 1 or w < 1:
            raise UserError(f"input {tuple(in_shape)} is too small: conv layer {i} "
                            f"({k}x{k}, stride {st}, padding {pad}) has no output pixels")
        layers += _conv_bn_act(c, out_ch, k, st, pad, bn_eps, weight_bits, act_bits)
        c = out_ch
        if i in pools:
            if h < 2 or w < 2:
                raise UserError(f"input {tuple(in_shape)} is too small: max-pool after conv "
                                f"layer {i} gets a {h}x{w} map")
            layers.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
    if global_pool and not channels:
        raise UserError("a global average pool needs a conv layer before it")
    uniform = len(set(kernels)) <= 1
    arch = {"kind": "cnn", "conv_channels": channels, "pool_after": sorted(pools),
            "fc_hidden": [int(f) for f in fc_hidden], "in_bits": in_bits,
            "kernel_size": kernels[0] if uniform and kernels else kernels,
            "stride": strides, "padding": pads, "global_pool": bool(global_pool),
            "dropout": dropout, "weight_bits": weight_bits, "act_bits": act_bits}
    if not channels:
        arch["kernel_size"] = int(kernel_size) if isinstance(kernel_size, int) else kernels
    return _conv_net(in_shape, in_bits, layers, (c, h, w), global_pool, fc_hidden, n_classes,
                     dropout, bn_eps, arch)


def _conv_bn_act(c_in: int, c_out: int, kernel: int, stride: int, padding: int, eps: float,
                 weight_bits: int, act_bits: int) -> list[nn.Module]:
    """A hidden conv block: quantized conv without bias → BatchNorm → hidden activation."""
    return [_conv(c_in, c_out, kernel, stride, padding, weight_bits),
            nn.BatchNorm2d(c_out, eps=eps), _hidden_act(act_bits)]


def _conv_net(in_shape: Sequence[int], in_bits: int, layers: list[nn.Module],
              chw: tuple[int, int, int], global_pool: bool, fc_hidden: Sequence[int],
              n_classes: int, dropout: float, eps: float, arch: dict) -> BinaryNet:
    """The conv network ``layers`` (ending in a ``chw`` map) with its optional global average
    pool, the MLP head and TensorNorm, latent weights initialised."""
    c, h, w = chw
    layers = list(layers)
    if global_pool:
        layers.append(nn.AdaptiveAvgPool2d(1))
        h = w = 1
    fc = _fc_stack(c * h * w, [int(f) for f in fc_hidden], n_classes, dropout, eps,
                   arch["weight_bits"], arch["act_bits"])
    net = BinaryNet((int(s) for s in in_shape), _input_quant(in_bits), nn.Sequential(*layers),
                    fc, arch)
    _init_latent(net)
    return net


class ResidualBlock(nn.Module):
    """``y = act_out(branch(x) + shortcut(x))``: a residual block on a quantized input.

    ``x`` is the output of a hidden activation (the stem's or the previous block's
    ``act_out``). ``branch`` is an nn.Sequential of one or two [QuantConv2d k×k, padding k//2,
    no bias → BatchNorm2d → hidden activation]; the first conv carries the block's stride.
    ``shortcut`` is nn.Identity (same shape), an nn.Sequential [QuantConv2d 1×1 with the
    block's stride → BatchNorm2d → hidden activation] (downsampling and/or more channels), or
    nn.MaxPool2d(2) (downsampling with the same channels). ``act_out`` and every hidden
    activation have the model's activation bits, so both summands, and ``x``, are levels of one
    constant scale (±1 for 1 bit: the sum is in {−2, 0, 2}); the add is a plain float add (an
    ONNX Add of two computed tensors; ``x`` has two consumers).
    """

    def __init__(self, branch: nn.Sequential, shortcut: nn.Module,
                 act_out: QuantIdentity) -> None:
        super().__init__()
        self.branch = branch
        self.shortcut = shortcut
        self.act_out = act_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act_out(self.branch(x) + self.shortcut(x))


def build_resnet(in_shape: Sequence[int], stages: Sequence[int], blocks: int | Sequence[int],
                 n_classes: int, fc_hidden: Sequence[int] = (), *,
                 kernel_size: int | Sequence[int] = 3, stride: int | Sequence[int] | None = None,
                 convs: int | Sequence[int] = 2, pool_shortcut: bool | Sequence[bool] = False,
                 global_pool: bool = False, in_bits: int = 8, stem_weight_bits: int | None = None,
                 dropout: float = 0.0, bn_eps: float = 1e-4, weight_bits: int = 1,
                 act_bits: int = 1) -> BinaryNet:
    """A quantized residual network: 2x−1 → input quantizer → stem [conv 3×3, padding 1 →
    BN → act] with ``stages[0]`` channels → per stage, ``blocks`` :class:`ResidualBlock` s
    (→ global average pool) → flatten → MLP head → TensorNorm.

    Per stage (one value for all, or one per stage): ``blocks`` (>= 1), ``kernel_size`` (odd;
    padding k//2 keeps the map size), ``stride`` (1 or 2; default 1 for the first stage and 2
    for the others), ``convs`` (1 or 2 convs in each block's branch; 2 = the basic block),
    ``pool_shortcut``. Only a stage's first block changes the map: its first conv has the
    stage's stride, and its shortcut is identity when stride and channels stay, a 2x2 max-pool
    when ``pool_shortcut`` (stride 2, same channels, even map), else a 1×1 conv with the stride
    → BN → act. ``stem_weight_bits`` (default ``weight_bits``) sets the stem conv's weights;
    bnn_pynq keeps the first layer at the model's width and so does the default (filter and
    Bop need every layer at 1 bit). Raises :class:`UserError` for a bad option or an image
    too small for the stages.
    """
    _check_bits("weight", weight_bits)
    _check_bits("act", act_bits)
    stem_bits = weight_bits if stem_weight_bits is None else stem_weight_bits
    _check_bits("weight", stem_bits)
    widths = [int(s) for s in stages]
    n = len(widths)
    if n == 0:
        raise UserError("a resnet needs at least one stage")
    counts = _per_layer("blocks", blocks, n, "stages")
    kernels = _per_layer("kernel_size", kernel_size, n, "stages")
    strides = _per_layer("stride", [1] + [2] * (n - 1) if stride is None else stride, n,
                         "stages")
    depths = _per_layer("convs", convs, n, "stages")
    pools = [bool(p) for p in (pool_shortcut if isinstance(pool_shortcut, Sequence)
                               else [pool_shortcut] * n)]
    if len(pools) != n:
        raise UserError(f"pool_shortcut: {len(pools)} values for {n} stages")
    for i, (ch, nb) in enumerate(zip(widths, counts, strict=True)):
        if ch < 1 or nb < 1:
            raise UserError(f"stage {i} ({ch} channels): needs channels >= 1 and blocks >= 1, "
                            f"got {ch} channels, {nb} blocks")
    c, h, w = (int(s) for s in in_shape)
    layers = _conv_bn_act(c, widths[0], 3, 1, 1, bn_eps, stem_bits, act_bits)
    c = widths[0]
    for i in range(n):
        ch, k, st, nb, nc = widths[i], kernels[i], strides[i], counts[i], depths[i]
        what = f"stage {i} ({ch} channels)"
        if k < 1 or k % 2 == 0:
            raise UserError(f"{what}: the kernel must be odd (padding k//2 keeps the map), "
                            f"got {k}")
        if st not in (1, 2):
            raise UserError(f"{what}: stride must be 1 or 2, got {st}")
        if nc not in (1, 2):
            raise UserError(f"{what}: a block's branch holds 1 or 2 convs, got {nc}")
        if st == 2 and (h < 2 or w < 2):
            raise UserError(f"input {tuple(in_shape)} is too small: {what} downsamples a "
                            f"{h}x{w} map")
        if pools[i]:
            if st != 2 or ch != c:
                raise UserError(f"{what}: a max-pool shortcut needs stride 2 and the same "
                                f"channels as the stage's input ({c}); use the 1x1 conv "
                                "shortcut (no 'm') otherwise")
            if h % 2 or w % 2:
                raise UserError(f"{what}: a max-pool shortcut needs an even map, got {h}x{w} "
                                f"(the stride-2 conv gives {(h - 1) // 2 + 1}x"
                                f"{(w - 1) // 2 + 1}, the pool {h // 2}x{w // 2}); use the "
                                "1x1 conv shortcut (no 'm')")
        for b in range(nb):
            s_b, c_in = (st, c) if b == 0 else (1, ch)
            branch: list[nn.Module] = []
            for j in range(nc):
                branch += _conv_bn_act(c_in if j == 0 else ch, ch, k, s_b if j == 0 else 1,
                                       k // 2, bn_eps, weight_bits, act_bits)
            if s_b == 1 and c_in == ch:
                shortcut: nn.Module = nn.Identity()
            elif pools[i]:
                shortcut = nn.MaxPool2d(2)
            else:
                shortcut = nn.Sequential(*_conv_bn_act(c_in, ch, 1, s_b, 0, bn_eps,
                                                       weight_bits, act_bits))
            layers.append(ResidualBlock(nn.Sequential(*branch), shortcut,
                                        _hidden_act(act_bits)))
        c = ch
        if st == 2:
            h, w = (h - 1) // 2 + 1, (w - 1) // 2 + 1
    arch = {"kind": "resnet", "stages": widths, "blocks": counts, "kernel_size": kernels,
            "stride": strides, "convs": depths, "pool_shortcut": pools,
            "global_pool": bool(global_pool), "fc_hidden": [int(f) for f in fc_hidden],
            "in_bits": in_bits, "stem_weight_bits": stem_bits, "dropout": dropout,
            "weight_bits": weight_bits, "act_bits": act_bits}
    return _conv_net(in_shape, in_bits, layers, (c, h, w), global_pool, fc_hidden, n_classes,
                     dropout, bn_eps, arch)


# FINN's reference networks (brevitas_examples.bnn_pynq): the name alone is 1W1A; "-XwYa" sets
# X weight bits and Y activation bits (1..4). The entries listed are the ones bnn_pynq defines.
_ZOO_BASE = {
    "tfc": "MLP 3x64, dropout 0.2",
    "sfc": "MLP 3x256, dropout 0.2",
    "lfc": "MLP 3x1024, dropout 0.2",
    "cnv": "CNN 64,64,P,128,128,P,256,256 + FC 512,512, 8-bit input",
}
_BNN_PYNQ_BITS = {"tfc": ("1w1a", "1w2a", "2w2a"), "sfc": ("1w1a", "1w2a", "2w2a"),
                  "lfc": ("1w1a", "1w2a"), "cnv": ("1w1a", "1w2a", "2w2a")}


def _zoo_entry(base: str, bits: str) -> tuple[str, str]:
    name = base if bits == "1w1a" else f"{base}-{bits}"
    w, a = int(bits[0]), int(bits[2])
    inp = "" if base == "cnv" else f", {a}-bit input"
    return name, f"{_ZOO_BASE[base]}{inp} ({base.upper()}-{w}W{a}A)"


ZOO: dict[str, str] = dict(_zoo_entry(b, bits) for b, all_bits in _BNN_PYNQ_BITS.items()
                           for bits in all_bits)

SPEC_HELP = (
    "tfc | sfc | lfc | cnv (bnn_pynq's BNNs; NAME-XwYa for X-bit weights and Y-bit "
    "activations, e.g. tfc-2w2a, cnv-1w2a) | mlp:W1,W2,... (hidden widths) | "
    "cnn:C1,C2,P,C3,...,G/F1,F2 (conv layers by output channels: C = 3x3, no padding, stride "
    "1; suffixes kK, sS, pP set kernel, stride and zero padding, e.g. 64p1, 64s2, 64k5p2; "
    "P = 2x2 max-pool; G = global average pool, last; after '/' the FC hidden widths) | "
    "resnet:W1,W2,..,G/B/F1,F2 (a 3x3 stem conv, then stages of residual blocks by width, B "
    "blocks each (or B1,B2,.. per stage); each later stage starts with a stride-2 block with "
    "a 1x1 conv shortcut; stage suffixes kK (odd kernel, default 3), sS (stride 1|2), cC "
    "(1|2 convs per block, default 2), m (2x2 max-pool shortcut, same width); G = global "
    "average pool; after a second '/' the FC hidden widths)")
_SPEC_HELP = SPEC_HELP
_ZOO_RE = re.compile(r"(tfc|sfc|lfc|cnv)(?:-(\d+)w(\d+)a)?")
_CONV_RE = re.compile(r"(\d+)((?:[ksp]\d+)*)")
_STAGE_RE = re.compile(r"(\d+)((?:[ksc]\d+|m)*)")


def resolve_bits(name: str, weight_bits: int | None = None,
                 act_bits: int | None = None) -> tuple[int, int]:
    """The (weight, activation) bit widths of model ``name`` with the flags given (None = the
    model's own: the ``-XwYa`` suffix of a zoo name, else 1). A flag that contradicts the
    name's suffix, or a width outside 1..4, is a :class:`UserError`."""
    key = name.strip().lower()
    m = _ZOO_RE.fullmatch(key)
    own = (int(m.group(2)), int(m.group(3))) if m and m.group(2) else None
    out = []
    for what, flag, i in (("weight", weight_bits, 0), ("act", act_bits, 1)):
        if flag is not None:
            _check_bits(what, flag)
            if own is not None and own[i] != flag:
                raise UserError(f"--{what}-bits {flag} contradicts model {name!r} "
                                f"({own[i]}-bit {'weights' if i == 0 else 'activations'}); "
                                f"drop the flag or name the model {m.group(1)}-"
                                f"{flag if i == 0 else own[0]}w{own[1] if i == 0 else flag}a")
            out.append(flag)
        else:
            out.append(_check_bits(what, own[i]) if own else 1)
    return out[0], out[1]


def get_model(name: str, in_shape: Sequence[int], n_classes: int,
              dropout: float | None = None, weight_bits: int | None = None,
              act_bits: int | None = None) -> BinaryNet:
    """Build a model by name: a zoo name (:data:`ZOO`, ``tfc``, ``cnv-2w2a``, ...) or a builder
    spec (``mlp:...``, ``cnn:...``; see :data:`SPEC_HELP`).

    ``dropout`` is the rate of the dropout in front of every FC layer of the MLP head (a
    training choice: it is not part of the exported graph); ``None`` takes the model's default,
    bnn_pynq's 0.2 for tfc/sfc/lfc and 0 for the rest. ``weight_bits``/``act_bits`` (1..4):
    None takes the model's own (:func:`resolve_bits`). Zoo MLPs take an input of the
    activations' bit width, as bnn_pynq's; ``mlp:`` specs too; CNNs an 8-bit input.

    Specs: ``mlp:64,64`` (hidden widths); ``cnn:16p1,P,32s2p1,G/64``: conv layers by output
    channels with optional kernel (``k5``), stride (``s2``) and zero padding (``p1``) suffixes
    (default 3x3, stride 1, no padding), ``P`` a 2x2 max-pool after the previous conv, ``G``
    a global average pool (the last item of the conv part), and after ``/`` the FC hidden
    widths (default none). ``resnet:16,32m,64,G/2/64``: a 3x3 stem conv with 16 channels, then
    stages of residual blocks (:func:`build_resnet`) of these widths with 2 blocks each (or
    ``/1,2,2`` per stage); stage suffixes ``kK`` (odd kernel), ``sS`` (stride 1 or 2 of the
    stage's first block; default 1 for the first stage, 2 for the others), ``cC`` (1 or 2
    convs per branch, default 2), ``m`` (max-pool shortcut instead of the 1x1 conv); ``G`` a
    global average pool; after a second ``/`` the FC hidden widths.
    """
    key = name.strip().lower()
    if dropout is not None and not 0.0 <= dropout < 1.0:
        raise UserError(f"--dropout must be in [0, 1), got {dropout}")
    wbits, abits = resolve_bits(name, weight_bits, act_bits)
    bits = {"weight_bits": wbits, "act_bits": abits}
    zoo = _ZOO_RE.fullmatch(key)
    if zoo and zoo.group(1) in ("tfc", "sfc", "lfc"):
        width = {"tfc": 64, "sfc": 256, "lfc": 1024}[zoo.group(1)]
        net = build_mlp(in_shape, [width] * 3, n_classes, in_bits=abits,
                        dropout=0.2 if dropout is None else dropout, **bits)
    elif zoo:
        net = build_cnn(in_shape, [64, 64, 128, 128, 256, 256], [1, 3], [512, 512], n_classes,
                        in_bits=8, dropout=dropout or 0.0, **bits)
    elif key.startswith("mlp:"):
        net = build_mlp(in_shape, _ints(key[4:], name), n_classes, dropout=dropout or 0.0,
                        **bits)
    elif key.startswith("cnn:"):
        net = _build_cnn_spec(name, key[4:], in_shape, n_classes, dropout or 0.0, bits)
    elif key.startswith("resnet:"):
        net = _build_resnet_spec(name, key[7:], in_shape, n_classes, dropout or 0.0, bits)
    else:
        raise UserError(f"unknown model {name!r}; choose {SPEC_HELP}")
    net.arch["name"] = key
    return net


def _build_cnn_spec(name: str, spec: str, in_shape: Sequence[int], n_classes: int,
                    dropout: float, bits: dict) -> BinaryNet:
    conv_part, _, fc_part = spec.partition("/")
    channels: list[int] = []
    conv: dict[str, list[int]] = {"k": [], "s": [], "p": []}
    pools: list[int] = []
    global_pool = False
    for tok in filter(None, (t.strip() for t in conv_part.split(","))):
        if global_pool:
            raise UserError(f"model spec {name!r}: 'G' (global average pool) must be the last "
                            "item before '/'")
        if tok == "p":
            if not channels:
                raise UserError(f"model spec {name!r}: 'P' must follow a conv layer")
            if pools and pools[-1] == len(channels) - 1:
                raise UserError(f"model spec {name!r}: 'P' twice after conv layer "
                                f"{len(channels) - 1}; one 2x2 max-pool follows a conv layer")
            pools.append(len(channels) - 1)
        elif tok == "g":
            if not channels:
                raise UserError(f"model spec {name!r}: 'G' must follow a conv layer")
            global_pool = True
        else:
            m = _CONV_RE.fullmatch(tok)
            opts = re.findall(r"([ksp])(\d+)", m.group(2)) if m else []
            letters = [k for k, _ in opts]
            if not m or len(set(letters)) != len(letters):
                raise UserError(f"model spec {name!r}: bad conv item {tok!r}; expected "
                                "channels with optional kK, sS, pP (e.g. 64, 64s2, 64k5p2), "
                                "P or G")
            given = {k: int(v) for k, v in opts}
            channels.append(int(m.group(1)))
            for k, default in (("k", 3), ("s", 1), ("p", 0)):
                conv[k].append(given.get(k, default))
    if not channels:
        raise UserError(f"model spec {name!r} has no conv layer")
    return build_cnn(in_shape, channels, pools, _ints(fc_part, name) if fc_part else [],
                     n_classes, in_bits=8, kernel_size=conv["k"], dropout=dropout,
                     stride=conv["s"], padding=conv["p"], global_pool=global_pool, **bits)


def _build_resnet_spec(name: str, spec: str, in_shape: Sequence[int], n_classes: int,
                       dropout: float, bits: dict) -> BinaryNet:
    parts = spec.split("/")
    if len(parts) not in (2, 3) or not parts[1].strip():
        raise UserError(f"model spec {name!r}: expected resnet:W1,W2,...[,G]/B[/F1,F2,...] "
                        "(stage widths, blocks per stage, FC hidden widths), e.g. "
                        "resnet:16,32,64,G/2")
    widths: list[int] = []
    opts: dict[str, list[int]] = {"k": [], "s": [], "c": [], "m": []}
    global_pool = False
    for tok in filter(None, (t.strip() for t in parts[0].split(","))):
        if global_pool:
            raise UserError(f"model spec {name!r}: 'G' (global average pool) must be the last "
                            "item before '/'")
        if tok == "g":
            if not widths:
                raise UserError(f"model spec {name!r}: 'G' must follow a stage")
            global_pool = True
            continue
        m = _STAGE_RE.fullmatch(tok)
        found = re.findall(r"([ksc])(\d+)|(m)", m.group(2)) if m else []
        letters = [k or flag for k, _, flag in found]
        if not m or len(set(letters)) != len(letters):
            raise UserError(f"model spec {name!r}: bad stage {tok!r}; expected a width with "
                            "optional kK, sS, cC, m (e.g. 32, 32s1, 64k5c1, 32m), or G")
        given = {k: int(v) for k, v, flag in found if k}
        opts["m"].append(int("m" in letters))
        opts["k"].append(given.get("k", 3))
        opts["s"].append(given.get("s", 1 if not widths else 2))
        opts["c"].append(given.get("c", 2))
        widths.append(int(m.group(1)))
    if not widths:
        raise UserError(f"model spec {name!r} has no stage")
    blocks = _ints(parts[1], name)
    if len(blocks) not in (1, len(widths)):
        raise UserError(f"model spec {name!r}: {len(blocks)} block counts for {len(widths)} "
                        "stages; give one for all or one per stage")
    fc = _ints(parts[2], name) if len(parts) == 3 else []
    return build_resnet(in_shape, widths, blocks * len(widths) if len(blocks) == 1 else blocks,
                        n_classes, fc, kernel_size=opts["k"], stride=opts["s"],
                        convs=opts["c"], pool_shortcut=[bool(p) for p in opts["m"]],
                        global_pool=global_pool, in_bits=8, dropout=dropout, **bits)


def _ints(text: str, spec: str) -> list[int]:
    if not re.fullmatch(r"\s*\d+(\s*,\s*\d+)*\s*", text):
        raise UserError(f"model spec {spec!r}: expected comma-separated widths, got {text!r}")
    return [int(t) for t in text.split(",")]


def quant_weight_layers(model: nn.Module) -> list[nn.Module]:
    """The QuantLinear/QuantConv2d layers (their weights are quantized: binary or k-bit)."""
    return [m for m in model.modules() if isinstance(m, QuantLinear | QuantConv2d)]


binary_weight_layers = quant_weight_layers  # the name from 1-bit-only days


def weight_bits_of(layer: nn.Module) -> int:
    """The weight bit width of a QuantLinear/QuantConv2d built here (1 for other layers)."""
    return int(getattr(layer, _WEIGHT_BITS_ATTR, 1))


def weight_codes(model: nn.Module) -> list[torch.Tensor]:
    """The quantized weight of every layer as the integer level it takes, from the latent
    weights: 1 bit → a bool tensor (True = +1, sign(0) = +1); k bits →
    round(clamp(w, −1, 1)·n) with n = 2^(k−1)−1 (int8), as :class:`~.quantizers.IntWeightQuant`
    computes it. Two snapshots differ exactly where a weight moved to another level."""
    out = []
    for m in quant_weight_layers(model):
        w = m.weight.detach()
        bits = weight_bits_of(m)
        if bits == 1:
            out.append(w >= 0)
        else:
            n = 2 ** (bits - 1) - 1
            out.append(torch.round(w.clamp(-1.0, 1.0) * n).to(torch.int8))
    return out


def hidden_activations(model: nn.Module) -> list[QuantIdentity]:
    """The hidden quantized activations (sign or k-bit; not the input quantizer)."""
    return [m for m in model.modules() if getattr(m, _HIDDEN_ACT_FLAG, False)]


binary_activations = hidden_activations  # the name from 1-bit-only days


def preactivation_norms(model: nn.Module) -> list[nn.Module]:
    """The BatchNorms whose output feeds a hidden activation (their bias is the pre-activation
    shift that random bias initialisation draws)."""
    found: list[nn.Module] = []
    for seq in _sequentials(model):
        mods = list(seq)
        for a, b in zip(mods, mods[1:], strict=False):
            if isinstance(a, nn.BatchNorm1d | nn.BatchNorm2d) and getattr(b, _HIDDEN_ACT_FLAG,
                                                                          False):
                found.append(a)
    return found


def _sequentials(model: nn.Module) -> Iterator[nn.Sequential]:
    return (m for m in model.modules() if isinstance(m, nn.Sequential))


def set_weight_quantization(model: nn.Module, enabled: bool) -> None:
    """Switch the weight quantizers on (binary/k-bit weights) or off (real weights, two-step
    step 1)."""
    for m in quant_weight_layers(model):
        m.weight_quant.disable_quant = not enabled


set_weight_binarization = set_weight_quantization  # the name from 1-bit-only days
