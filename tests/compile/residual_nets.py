"""Random residual Brevitas networks, written the way the compiler lowers them: a block adds
its quantized branch (one or two binary/k-bit convs with BatchNorm and activations) to its
input, which is itself a quantizer's output, and quantizes the sum —
``y = act(act_b(bn(conv(x))) + shortcut(x))``; downsampling blocks take a strided branch and
a strided 1x1 conv (+ BN + act) or a 2x2 max-pool as the shortcut. Stems, heads (flatten or
global average pool) and bit widths (weights 1..2, activations 1..3, signed or unsigned) vary.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tests.compile.helpers import randomize
from tests.compile.layer_nets import Drawn, _act, _centre, random_head


@dataclasses.dataclass
class DrawnResidual:
    shape: tuple[int, int, int]
    w_bits: int
    a_bits: int
    unsigned: bool
    blocks: list[str]
    head: str

    __str__ = Drawn.__str__


def _modules():
    from brevitas.nn import QuantConv2d
    from torch import nn

    class Block(nn.Module):
        """y = out(branch(x) + shortcut(x)); branch and shortcut end in quantizers of the same
        bit width and constant scale as x's."""

        def __init__(self, branch: nn.Module, shortcut: nn.Module | None, out: nn.Module):
            super().__init__()
            self.branch, self.shortcut, self.out = branch, shortcut, out

        def forward(self, x):
            s = x if self.shortcut is None else self.shortcut(x)
            return self.out(self.branch(x) + s)

    return QuantConv2d, nn, Block


def residual_net(seed: int):
    """(model, input shape (C, H, W), DrawnResidual) for one seed."""
    from brevitas.nn import QuantIdentity
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant

    QuantConv2d, nn, Block = _modules()
    rng = np.random.default_rng(seed)
    c, h, w = int(rng.choice([1, 3])), int(rng.integers(5, 11)), int(rng.integers(5, 11))
    shape = (c, h, w)
    w_bits, a_bits = int(rng.integers(1, 3)), int(rng.integers(1, 4))
    unsigned = bool(a_bits > 1 and rng.random() < 0.3)
    wq = {"weight_quant": CommonWeightQuant, "weight_bit_width": w_bits}

    def act():
        return _act(a_bits, unsigned)

    def conv_bn_act(cin, cout, k, stride):
        return [QuantConv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False, **wq),
                nn.BatchNorm2d(cout), act()]

    ch = int(rng.integers(2, 9))
    layers = [_centre(), QuantIdentity(act_quant=CommonActQuant, bit_width=8, min_val=-1.0,
                                       max_val=1.0 - 2.0**-7),
              *conv_bn_act(c, ch, 3, 1)]
    drawn = []
    for _ in range(int(rng.integers(1, 3))):
        kind = str(rng.choice(["identity", "identity", "conv_down", "pool_down"]))
        if kind != "identity" and min(h, w) < 4:
            kind = "identity"
        k = int(rng.choice([1, 3]))
        depth = int(rng.integers(1, 3))
        if kind == "identity":
            branch = [*conv_bn_act(ch, ch, k, 1)]
            for _ in range(depth - 1):
                branch += conv_bn_act(ch, ch, 3, 1)
            layers.append(Block(nn.Sequential(*branch), None, act()))
            drawn.append(f"id{depth}k{k}x{ch}")
            continue
        out = ch if kind == "pool_down" else int(rng.integers(2, 9))
        branch = conv_bn_act(ch, out, 3, 2)
        for _ in range(depth - 1):
            branch += conv_bn_act(out, out, k, 1)
        if kind == "pool_down":
            if h % 2 or w % 2:  # the 2x2 pool and the strided conv must agree on the size
                branch[0] = QuantConv2d(ch, out, 2, stride=2, bias=False, **wq)
            shortcut = nn.MaxPool2d(2)
        else:
            shortcut = nn.Sequential(*conv_bn_act(ch, out, 1, 2))
        layers.append(Block(nn.Sequential(*branch), shortcut, act()))
        drawn.append(f"{kind}{depth}k{k}x{out}")
        ch = out
        if kind == "pool_down" and (h % 2 or w % 2):
            h, w = h // 2, w // 2
        else:
            h, w = (h - 1) // 2 + 1, (w - 1) // 2 + 1
    head = random_head(rng, layers, ch, h, w, wq)
    model = nn.Sequential(*layers)
    return randomize(model, seed), shape, DrawnResidual(shape, w_bits, a_bits, unsigned, drawn,
                                                        head)
