"""Random networks in BinaryNet's and XNOR-Net's order — Conv → MaxPool → BatchNorm →
activation — which many PyTorch BNN repositories use (bnn_pynq's CNV pools after the
activation instead). BatchNorm scales of both signs; 1-bit or multi-bit (signed or unsigned)
activations and weights; what reads a pooled block: a conv (zero-padded or not), a flatten
and linear layers, or a global average pool."""

from __future__ import annotations

import numpy as np

from tests.compile.helpers import randomize
from tests.compile.residual_nets import DrawnResidual

Drawn = DrawnResidual  # the same record: shape, bits, blocks, head


def pool_first_net(seed: int):
    """(model, input shape (C, H, W), Drawn) for one seed."""
    from brevitas.nn import QuantConv2d, QuantHardTanh, QuantIdentity, QuantReLU
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant
    from torch import nn

    from tests.compile.layer_nets import _centre, classifier_head, input_quant

    rng = np.random.default_rng(seed)
    c, h, w = int(rng.choice([1, 3])), int(rng.integers(8, 15)), int(rng.integers(8, 15))
    shape = (c, h, w)
    w_bits, a_bits = int(rng.choice([1, 1, 2, 3])), int(rng.choice([1, 1, 2, 4]))
    unsigned = a_bits > 1 and bool(rng.random() < 0.4)
    wq = {"weight_quant": CommonWeightQuant, "weight_bit_width": w_bits}

    def act():
        if unsigned:
            return QuantReLU(bit_width=a_bits)
        if rng.random() < 0.5:  # BinaryNet's Hardtanh, quantized
            return QuantHardTanh(act_quant=CommonActQuant, bit_width=a_bits, min_val=-1.0,
                                 max_val=1.0)
        return QuantIdentity(act_quant=CommonActQuant, bit_width=a_bits, min_val=-1.0,
                             max_val=1.0)

    layers: list[nn.Module] = [_centre(), input_quant()]
    blocks, ch = [], c
    for _ in range(int(rng.integers(1, 4))):
        k = int(rng.integers(1, 4))
        pad = int(rng.integers(0, k // 2 + 1))
        oh, ow = h + 2 * pad - k + 1, w + 2 * pad - k + 1
        pool = min(oh, ow) >= 4 and bool(rng.random() < 0.7)
        if oh < 2 or ow < 2:
            break
        out = int(rng.integers(2, 13))
        layers.append(QuantConv2d(ch, out, k, padding=pad, bias=bool(rng.random() < 0.3), **wq))
        h, w, ch = oh, ow, out
        if pool:
            pk, ps = [(2, 2), (3, 2), (2, 1)][int(rng.integers(0, 3))]
            layers.append(nn.MaxPool2d(pk, ps))
            h, w = (h - pk) // ps + 1, (w - pk) // ps + 1
        layers += [nn.BatchNorm2d(out), act()]
        blocks.append(f"{out}k{k}p{pad}" + ("-pool-bn-act" if pool else "-bn-act"))
    head = classifier_head(rng, layers, ch, h, w, wq, act, max_width=33)
    model = nn.Sequential(*layers)
    return randomize(model, seed), shape, Drawn(shape, w_bits, a_bits, unsigned, blocks, head)
