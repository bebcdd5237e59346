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


def layer_net(seed: int):
    """(model, input shape (C, H, W), Drawn) for one seed."""
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
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
    n_classes = int(rng.integers(2, 11))
    head = str(rng.choice(["flatten", "gap"]))
    if head == "gap":
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                   QuantLinear(ch, n_classes, bias=False, **wq)]
    else:
        layers += [nn.Flatten(), QuantLinear(ch * h * w, n_classes, bias=False, **wq)]
    model = nn.Sequential(*layers)
    drawn = Drawn(shape, in_bits, w_bits, a_bits, unsigned, drawn_convs, head)
    return randomize(model, seed), shape, drawn


_COMPILE_LOCK = threading.Lock()  # FINN keeps global state (environment, scratch dirs)


def _compiled_layer_net(seed: int):
    from tests.compile.helpers import compiled_ir

    with _COMPILE_LOCK:
        model, shape, _ = layer_net(seed)
        return compiled_ir(model, shape)


def _compiled_bnn_pynq(name: str):
    from tests.compile.helpers import bnn_pynq, compiled_ir

    with _COMPILE_LOCK:
        kw = {"target_fps": 2000} if name.startswith("cnv") else {}
        return compiled_ir(*bnn_pynq(name, 11), **kw)


# whole compiled networks for the RTL simulation and the HLS C-simulation (tests/rtl, tests/hls):
# Brevitas' multi-bit bnn_pynq models and random layer nets, at xnorflow's default folding
COMPILED_DEFAULT = {
    "bnn_tfc_2w2a": lambda: _compiled_bnn_pynq("tfc_2w2a"),
    **{f"layer_net_{s}": (lambda s=s: _compiled_layer_net(s)) for s in range(4)},
}
COMPILED_SLOW = {
    **{f"bnn_{n}": (lambda n=n: _compiled_bnn_pynq(n))
       for n in ("tfc_1w2a", "sfc_1w2a", "sfc_2w2a", "cnv_1w2a", "cnv_2w2a")},
    **{f"layer_net_{s}": (lambda s=s: _compiled_layer_net(s)) for s in range(4, 16)},
}
