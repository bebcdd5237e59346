"""Random networks with padded and ceil-mode max-pools, as ResNet-style stems write them
(`nn.MaxPool2d(3, 2, padding=1)`) and as Caffe-ported models do (`ceil_mode=True`): PyTorch
pads a max-pool with −∞, which the hardware pads with the type's minimum — −1 for 1-bit
activations, −2^(k−1) for signed k-bit ones, 0 for QuantReLU's. Pools after the activation
(bnn_pynq's order) or before the BatchNorm (BinaryNet's); heads: flatten, hidden linear
layers, global average pool."""

from __future__ import annotations

import numpy as np

from tests.compile.helpers import randomize
from tests.compile.residual_nets import DrawnResidual

Drawn = DrawnResidual  # the same record: shape, bits, blocks, head


def _pool(rng, h: int, w: int, first: bool):
    """(kernel, stride, padding, ceil_mode) of a pool over h × w; the first of a network is
    padded or in ceil mode (a window PyTorch would drop is not drawn)."""
    from xnorflow.compile.frontend.padding_passes import ceil_mode_drops_window

    k, s = [(3, 2), (2, 2), (3, 1), (2, 1), (3, 3)][int(rng.integers(0, 5))]
    pad = int(rng.integers(0, k // 2 + 1))
    ceil = bool(rng.random() < 0.4)
    if first and not pad and not ceil:
        pad, ceil = (1, ceil) if k == 3 else (0, True)
    if ceil and any(ceil_mode_drops_window(n, k, s, pad, pad) for n in (h, w)):
        ceil = False
    return k, s, pad, ceil


def _pooled(n: int, k: int, s: int, pad: int, ceil: bool) -> int:
    span = n + 2 * pad - k
    return (-(-span // s) if ceil else span // s) + 1


def padded_pool_net(seed: int):
    """(model, input shape (C, H, W), Drawn) for one seed."""
    from brevitas.nn import QuantConv2d
    from torch import nn

    from tests.compile.layer_nets import _centre, classifier_head, draw_precision, input_quant

    rng = np.random.default_rng(seed)
    c, h, w = int(rng.choice([1, 3])), int(rng.integers(7, 15)), int(rng.integers(7, 15))
    shape = (c, h, w)
    w_bits, a_bits, unsigned, wq, act = draw_precision(rng)
    layers: list[nn.Module] = [_centre(), input_quant()]
    blocks, ch, pooled_before = [], c, False
    for i in range(int(rng.integers(1, 3))):
        k = int(rng.choice([1, 3])) if i else int(rng.choice([3, 5]))
        stride = int(rng.choice([1, 2])) if i == 0 and min(h, w) >= 10 else 1
        # a multi-bit activation pooled before its BatchNorm reaches the next conv unpadded
        pad = 0 if pooled_before and a_bits > 1 else k // 2
        oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
        if min(oh, ow) < 3:
            break
        out = int(rng.integers(3, 11))
        layers.append(QuantConv2d(ch, out, k, stride=stride, padding=pad, bias=False, **wq))
        h, w, ch = oh, ow, out
        pk, ps, pp, ceil = _pool(rng, h, w, first=i == 0)
        first = bool(rng.random() < 0.3)  # BinaryNet's Conv → MaxPool → BatchNorm → act
        pool = nn.MaxPool2d(pk, ps, padding=pp, ceil_mode=ceil)
        block = [pool, nn.BatchNorm2d(out), act()] if first else [nn.BatchNorm2d(out), act(),
                                                                  pool]
        layers += block
        h, w = _pooled(h, pk, ps, pp, ceil), _pooled(w, pk, ps, pp, ceil)
        blocks.append(f"{out}k{k}s{stride}p{pad}-" + ("pool-bn-act" if first else "bn-act-pool")
                      + f"{pk}s{ps}p{pp}" + ("ceil" if ceil else ""))
        pooled_before = first
    head = classifier_head(rng, layers, ch, h, w, wq, act)
    model = nn.Sequential(*layers)
    return randomize(model, seed), shape, Drawn(shape, w_bits, a_bits, unsigned, blocks, head)
