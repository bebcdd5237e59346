"""Random 1-D networks: QuantConv1d / MaxPool1d / BatchNorm1d on (C, L) signals (sensor data,
audio frames), written as users write them — padding and strides, pools before or after the
BatchNorm, a global average pool (`nn.AdaptiveAvgPool1d(1)` or `x.mean(-1)`) or a flatten
(also channels-last: `x.permute(0, 2, 1)`), 1-bit or multi-bit layers. The compiler runs
them as images of height 1 (compile/frontend/finn_passes.py Conv1dAs2d)."""

from __future__ import annotations

import numpy as np

from tests.compile.helpers import randomize
from tests.compile.residual_nets import DrawnResidual

Drawn = DrawnResidual  # the same record: shape, bits, blocks, head


def signal_net(seed: int):
    """(model, input shape (C, L), Drawn) for one seed."""
    import torch
    from brevitas.nn import QuantConv1d, QuantLinear
    from torch import nn

    from tests.compile.layer_nets import draw_precision, input_quant

    rng = np.random.default_rng(seed)
    c, length = int(rng.choice([1, 2, 6])), int(rng.integers(16, 49))
    w_bits, a_bits, unsigned, wq, act = draw_precision(rng)
    layers: list[nn.Module] = [input_quant()]
    blocks, ch, n = [], c, length
    for _ in range(int(rng.integers(1, 4))):
        k, s = int(rng.integers(1, 6)), int(rng.choice([1, 1, 2]))
        p = int(rng.integers(0, k // 2 + 1)) if a_bits == 1 or not blocks else 0
        out_n = (n + 2 * p - k) // s + 1
        if out_n < 2:
            break
        out = int(rng.integers(2, 13))
        layers.append(QuantConv1d(ch, out, k, stride=s, padding=p, bias=bool(rng.random() < 0.3),
                                  **wq))
        pool = out_n >= 4 and bool(rng.random() < 0.6)
        pool_first = pool and bool(rng.random() < 0.5)
        if pool_first:
            layers.append(nn.MaxPool1d(2))
        layers += [nn.BatchNorm1d(out), act()]
        if pool and not pool_first:
            layers.append(nn.MaxPool1d(2))
        n = out_n // 2 if pool else out_n
        blocks.append(f"{out}k{k}s{s}p{p}" + ("-pool-bn" if pool_first else "-bn")
                      + ("-pool" if pool and not pool_first else ""))
        ch = out
    n_classes = int(rng.integers(2, 11))
    head = str(rng.choice(["flatten", "channels_last", "gap", "mean"]))

    class Head(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            width = ch if head in ("gap", "mean") else ch * n
            self.fc = QuantLinear(width, n_classes, bias=False, **wq)
            self.pool = nn.AdaptiveAvgPool1d(1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if head == "gap":
                x = self.pool(x).flatten(1)
            elif head == "mean":
                x = x.mean(-1)
            elif head == "channels_last":
                x = x.permute(0, 2, 1).reshape(x.shape[0], -1)
            else:
                x = x.flatten(1)
            return self.fc(x)

    model = nn.Sequential(*layers, Head())
    shape = (c, length)
    return randomize(model, seed), shape, Drawn(shape, w_bits, a_bits, unsigned, blocks, head)
