"""Networks in BinaryNet's order, Conv → MaxPool → BatchNorm → activation
(tests/compile/pool_first_nets.py), compile and agree with PyTorch along the whole chain; the
activation moves before the pool (compile/frontend/finn_passes.py ThresholdIntegers), so
each conv's MVAU thresholds its own output and the pool compares activations — except a
multi-bit activation read through zero padding, which stays after the pool as a thresholding
layer comparing −x on the channels of negative BatchNorm scales."""

from __future__ import annotations

import pytest

from tests.compile.helpers import (
    check_chain,
    check_drawn,
    compile_drawn,
    export,
    randomize,
    seed_params,
)
from tests.compile.pool_first_nets import pool_first_net
from tests.nets import random_images
from xnorflow.compile.pipeline import compile_model

DEFAULT_SEEDS = [1, 2, 4, 6, 12, 16]
SLOW_SEEDS = [s for s in range(17, 60) if s not in DEFAULT_SEEDS]


@pytest.mark.parametrize("seed", seed_params(DEFAULT_SEEDS, SLOW_SEEDS))
def test_pool_first_network_chain(seed, tmp_path):
    model, drawn, result = compile_drawn(pool_first_net, seed, tmp_path)
    check_drawn(model, drawn, result, seed, with_qonnx=seed % 3 == 0)
    # the activations went into the MVAUs, but for those read through zero padding (after
    # the pool, as in PyTorch); the first Thresholding layer is the input's
    kinds = [layer.kind for layer in result.ir.layers]
    stay = [i for i, k in enumerate(kinds) if k == "thresholding"][1:]
    assert kinds[0] == "thresholding" and all(kinds[i - 1] == "maxpool" and
                                              kinds[i + 1] == "padding" for i in stay), \
        (drawn, kinds)


def test_generator_covers_the_cases():
    """The seeds draw pool-first blocks read by a padded conv (1-bit), an unpadded conv, a
    flatten, hidden linear layers and a global average pool; 1-bit and multi-bit activations,
    signed and unsigned, 1-bit and multi-bit weights."""
    seen = {"padded_next": False, "unpadded_next": False, "multibit_pooled": False,
            "unsigned": False, "signed_multibit": False, "heads": set(), "w_bits": set()}
    for seed in DEFAULT_SEEDS + SLOW_SEEDS:
        _, _, d = pool_first_net(seed)
        for prev, nxt in zip(d.blocks, d.blocks[1:], strict=False):
            if "pool" in prev:
                seen["padded_next"] |= "p0" not in nxt.split("-")[0]
                seen["unpadded_next"] |= "p0" in nxt.split("-")[0]
        pooled = any("pool" in b for b in d.blocks)
        seen["multibit_pooled"] |= pooled and d.a_bits > 1
        seen["unsigned"] |= pooled and d.unsigned
        seen["signed_multibit"] |= pooled and d.a_bits > 1 and not d.unsigned
        if "pool" in d.blocks[-1]:
            seen["heads"].add(d.head)
        seen["w_bits"].add(d.w_bits)
    assert all(v for k, v in seen.items() if isinstance(v, bool)), seen
    assert seen["heads"] == {"flatten", "hidden", "gap"} and seen["w_bits"] == {1, 2, 3}


def _binarynet(pad_after_pool: int, act_bits: int):
    """A small BinaryNet-style CNN: conv → pool → BN → act → conv(pad) → BN → act → linear."""
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import Int8ActPerTensorFloat
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant
    from torch import nn

    wq = {"weight_quant": CommonWeightQuant, "weight_bit_width": 1}

    def act():
        if act_bits > 1:
            return QuantReLU(bit_width=act_bits)
        return QuantIdentity(act_quant=CommonActQuant, bit_width=1, min_val=-1.0, max_val=1.0)

    side = 5 + 2 * pad_after_pool - 2
    return randomize(nn.Sequential(
        QuantIdentity(act_quant=Int8ActPerTensorFloat),
        QuantConv2d(3, 8, 3, bias=False, **wq), nn.MaxPool2d(2), nn.BatchNorm2d(8), act(),
        QuantConv2d(8, 8, 3, padding=pad_after_pool, bias=False, **wq), nn.BatchNorm2d(8),
        act(), nn.Flatten(), QuantLinear(8 * side * side, 4, bias=False, **wq)), 5)


def test_padded_multibit_after_pool(tmp_path):
    """A multi-bit activation after pool and BatchNorm, read through zero padding, cannot
    move before the pool (the pad would be a flipped value): it stays after the pool, its
    thresholds comparing −x on the channels of negative BatchNorm scales."""
    model = _binarynet(1, 2)
    assert (model[3].weight < 0).any()
    path = export(model, (3, 12, 12), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    assert check_chain(model, result, random_images(result.ir, 16, seed=3))[
        "distinct_outputs"] > 1
    kinds = [layer.kind for layer in result.ir.layers]
    after_pool = result.ir.layers[kinds.index("maxpool") + 1]
    assert after_pool.kind == "thresholding" and after_pool.negated


@pytest.mark.parametrize(("pad", "bits"), [(1, 1), (0, 2)])
def test_binarynet_order(tmp_path, pad, bits):
    model = _binarynet(pad, bits)
    path = export(model, (3, 12, 12), tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, random_images(result.ir, 16, seed=pad))
    assert figs["distinct_outputs"] > 1
