"""Random networks with average pools over part of the map, as LeNet-style and Caffe-ported
models write them (`nn.AvgPool2d(2)`, `F.avg_pool2d(x, 3, 2)`, `nn.AdaptiveAvgPool2d(n)` on a
map n divides; square and rectangular windows, zero padding): after 1-bit, signed or unsigned
multi-bit activations, read by a conv, a BatchNorm and activation, a flatten or hidden linear
layers, a max-pool or a global pool."""

from __future__ import annotations

import numpy as np

from tests.compile.helpers import randomize
from tests.compile.residual_nets import DrawnResidual

Drawn = DrawnResidual  # the same record: shape, bits, blocks, head


def avg_pool_net(seed: int):
    """(model, input shape (C, H, W), Drawn) for one seed."""
    import torch.nn.functional as F
    from brevitas.nn import QuantConv2d
    from torch import nn

    from tests.compile.layer_nets import _centre, classifier_head, draw_precision, input_quant

    class FunctionalAvgPool(nn.Module):
        def __init__(self, k, s, p) -> None:
            super().__init__()
            self.k, self.s, self.p = k, s, p

        def forward(self, x):
            return F.avg_pool2d(x, self.k, self.s, self.p)

    rng = np.random.default_rng(seed)
    c, h, w = int(rng.choice([1, 3])), int(rng.integers(8, 15)), int(rng.integers(8, 15))
    shape = (c, h, w)
    w_bits, a_bits, unsigned, wq, act = draw_precision(rng)
    layers: list[nn.Module] = [_centre(), input_quant()]
    blocks, ch = [], c
    for i in range(int(rng.integers(1, 3))):
        k = int(rng.choice([1, 3, 5])) if i == 0 else int(rng.choice([1, 3]))
        pad = k // 2 if rng.random() < 0.7 else 0
        oh, ow = h + 2 * pad - k + 1, w + 2 * pad - k + 1
        if min(oh, ow) < 4:
            break
        out = int(rng.integers(3, 11))
        layers += [QuantConv2d(ch, out, k, padding=pad, bias=bool(rng.random() < 0.3), **wq),
                   nn.BatchNorm2d(out), act()]
        h, w, ch = oh, ow, out
        pk, ps = [(2, 2), (3, 2), (2, 1), (3, 3), (3, 1)][int(rng.integers(0, 5))]
        (kh, kw), (sh, sw) = (pk, pk), (ps, ps)
        if rng.random() < 0.25:  # a rectangular window, e.g. (2, 1): rows only
            (kh, kw), (sh, sw) = ((pk, 1), (ps, 1)) if rng.random() < 0.5 else ((1, pk), (1, ps))
        how = str(rng.choice(["nn", "F", "adaptive"]))
        if how == "adaptive" and (h % 2 or w % 2):
            how = "nn"
        # zero padding, counted in the average (count_include_pad, PyTorch's default)
        ph, pw = (kh // 2, kw // 2) if rng.random() < 0.25 else (0, 0)
        if how == "adaptive":  # AdaptiveAvgPool2d((h/2, w/2)): 2×2 windows, stride 2
            (kh, kw), (sh, sw), (ph, pw) = (2, 2), (2, 2), (0, 0)
            layers.append(nn.AdaptiveAvgPool2d((h // 2, w // 2)))
        else:
            layers.append(nn.AvgPool2d((kh, kw), (sh, sw), (ph, pw)) if how == "nn"
                          else FunctionalAvgPool((kh, kw), (sh, sw), (ph, pw)))
        h, w = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
        blocks.append(f"{out}k{k}p{pad}-bn-act-avg{kh}x{kw}s{sh}x{sw}"
                      + (f"p{ph}x{pw}" if ph or pw else "") + how)
        if min(h, w) >= 4 and rng.random() < 0.3:
            layers.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
            blocks[-1] += "-max2"
    head = classifier_head(rng, layers, ch, h, w, wq, act,
                           heads=("flatten", "hidden", "gap", "bn_act"))
    model = nn.Sequential(*layers)
    return randomize(model, seed), shape, Drawn(shape, w_bits, a_bits, unsigned, blocks, head)
