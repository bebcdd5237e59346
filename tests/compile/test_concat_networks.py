"""Concatenations (`torch.cat` along the channels) compile to the concat_streams join and
agree with PyTorch along the chain (tests/compile/concat_nets.py); the DenseNet and Inception
blocks also in RTL and HLS (tests/compile/layer_nets.COMPILED_DEFAULT). Joins the hardware
cannot compute in integers are refused with the fix."""

from __future__ import annotations

import pytest
import torch

from tests.compile.concat_nets import concat_net, concat_random_net
from tests.compile.helpers import check_chain, check_drawn, compile_drawn, export, seed_params
from tests.nets import random_images
from xnorflow.compile.errors import CompileError
from xnorflow.compile.pipeline import compile_model

DEFAULT = ["dense_block", "dense_block_1x1_binary", "inception_3way", "dense_preact_gap",
           "mlp_shared_quant", "mlp_repeated_tensor", "branches_flattened",
           "branches_pooled_requant", "squeezenet_fire"]
SLOW = ["dense_block_1x1_2bit", "mlp_requant_mixed"]
DEFAULT_SEEDS = [6, 11, 18]
SLOW_SEEDS = [s for s in range(70) if s not in DEFAULT_SEEDS]


def _compile(name: str, tmp_path):
    model, shape = concat_net(name)
    path = export(model, shape, tmp_path / "m.onnx")
    return model, compile_model(path, tmp_path / "build", backends=False)


@pytest.mark.parametrize("name", DEFAULT + [pytest.param(n, marks=pytest.mark.slow)
                                            for n in SLOW])
def test_concat_network_chain(name, tmp_path):
    model, result = _compile(name, tmp_path)
    joins = [x for x in result.ir.layers if x.kind == "concat_streams"]
    assert joins and all(x.out_shape[1] == x.channels + x.b_channels for x in joins)
    figs = check_chain(model, result, random_images(result.ir, 16, seed=2))
    assert figs["distinct_outputs"] > 1


@pytest.mark.parametrize("seed", seed_params(DEFAULT_SEEDS, SLOW_SEEDS))
def test_random_concat_network_chain(seed, tmp_path):
    model, drawn, result = compile_drawn(concat_random_net, seed, tmp_path)
    check_drawn(model, drawn, result, seed, with_qonnx=seed % 3 == 0)
    joins = sum(x.kind == "concat_streams" for x in result.ir.layers)
    want = sum(1 if not b.startswith("inception") else 2 for b in drawn.blocks
               if b != "pool2")  # an inception block of three branches: two joins
    assert joins <= want and joins >= len([b for b in drawn.blocks if b != "pool2"]), \
        (drawn, joins)


def test_random_generator_covers_the_forms():
    """The seeds draw every join form, a join followed by BatchNorm + activation, a pool
    between joins, 1-bit, signed and unsigned multi-bit activations and every head."""
    seen_blocks, seen_bits, heads = set(), set(), set()
    for seed in DEFAULT_SEEDS + SLOW_SEEDS:
        _, _, drawn = concat_random_net(seed)
        seen_blocks |= {b.split(" then")[0] for b in drawn.blocks}
        seen_blocks |= {"then bn_act" for b in drawn.blocks if "then" in b}
        seen_bits.add((drawn.a_bits > 1, drawn.unsigned))
        heads.add(drawn.head)
    assert seen_blocks == {"dense k1", "dense k3", "preact", "inception", "then bn_act",
                           "pool2"}, seen_blocks
    assert seen_bits == {(False, False), (True, False), (True, True)}
    assert heads == {"flatten", "hidden", "gap"}


def test_dense_block_joins_in_order(tmp_path):
    """Each join appends the new 4 channels to what came before: 8+4, 12+4, 16+4."""
    _, result = _compile("dense_block", tmp_path)
    joins = [(x.channels, x.b_channels) for x in result.ir.layers if x.kind == "concat_streams"]
    assert joins == [(8, 4), (12, 4), (16, 4)]
    forks = [x for x in result.ir.layers if x.kind == "duplicate_streams"]
    assert len(forks) == 3  # each block's input goes to its conv and to its join


def test_binary_joins_keep_xnor(tmp_path):
    """A binary DenseNet block of 1x1 convs: nothing after the joins needs ±1 as values, so
    the joins carry bits and every layer after one XNORs (a join of bits read by a padded
    conv carries INT2 values instead: dense_block)."""
    _, result = _compile("dense_block_1x1_binary", tmp_path)
    layers = result.ir.layers
    joins = [x for x in layers if x.kind == "concat_streams"]
    assert joins and all(x.out_dtype.bipolar for x in joins)
    mvaus = [x for x in layers if x.kind == "mvau"]
    assert [x.xnor for x in mvaus] == [False] + [True] * (len(mvaus) - 1)
    (tmp_path / "padded").mkdir()
    _, padded = _compile("dense_block", tmp_path / "padded")
    assert all(x.out_dtype.name == "INT2" for x in padded.ir.layers
               if x.kind == "concat_streams")


def test_three_way_concat_and_fork(tmp_path):
    """cat((a, b, x)): two two-way joins in order; x forks three ways as two two-way forks."""
    _, result = _compile("inception_3way", tmp_path)
    joins = [(x.channels, x.b_channels) for x in result.ir.layers if x.kind == "concat_streams"]
    assert joins == [(4, 6), (10, 8)]
    assert sum(x.kind == "duplicate_streams" for x in result.ir.layers) == 2


def test_mixed_types_widen_to_one(tmp_path):
    """A 2-bit and a 3-bit activation joined: both reach the join as UINT3."""
    _, result = _compile("mlp_requant_mixed", tmp_path)
    (join,) = [x for x in result.ir.layers if x.kind == "concat_streams"]
    assert join.in_dtype.name == join.b_dtype.name == join.out_dtype.name == "UINT3"


def test_different_scales_into_a_layer_are_named(tmp_path):
    """Two activations of different scales joined and multiplied by one integer layer: the
    error says to re-quantize the join or share the quantizer; no build is left."""
    model, shape = concat_net("mlp_different_scales")
    path = export(model, shape, tmp_path / "m.onnx")
    with pytest.raises(CompileError, match="different scales") as err:
        compile_model(path, tmp_path / "build", backends=False)
    assert "QuantIdentity" in str(err.value) and "act_quant=" in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_spatial_concat_is_named(tmp_path):
    """A concatenation along the height is not a channel join: named, nothing built."""
    from brevitas.nn import QuantIdentity, QuantLinear
    from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst
    from torch import nn

    class Stack(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = QuantIdentity(act_quant=SignedBinaryActPerTensorConst)
            self.b = QuantIdentity(act_quant=SignedBinaryActPerTensorConst)
            self.fc = QuantLinear(2 * 8 * 8, 4, weight_quant=SignedBinaryWeightPerTensorConst,
                                  bias=False)

        def forward(self, x):
            return self.fc(torch.cat([self.a(x), self.b(x)], dim=2).flatten(1))

    path = export(Stack(), (1, 8, 8), tmp_path / "m.onnx")
    with pytest.raises(CompileError, match="along the channels"):
        compile_model(path, tmp_path / "build", backends=False)


def test_negative_batchnorm_after_a_join_before_a_max_pool(tmp_path):
    """Pre-activation DenseNet ending in BatchNorm (some scales < 0) → act → max-pool: the
    sign cannot move into the joined layers' weights, nor past the max; the thresholding
    layer after the join compares −x on those channels."""
    model, shape = concat_net("dense_preact_maxpool")
    assert (model.head[0].weight < 0).any()
    path = export(model, shape, tmp_path / "m.onnx")
    result = compile_model(path, tmp_path / "build", backends=False)
    figs = check_chain(model, result, random_images(result.ir, 16, seed=2))
    assert figs["distinct_outputs"] > 1
    negated = [x.negated for x in result.ir.layers if x.kind == "thresholding" and x.negated]
    assert negated, [x.kind for x in result.ir.layers]


def test_unsigned_activation_joined_with_signed_values_is_named(tmp_path):
    """QuantReLU's activation joined with a conv's raw (signed) output: the join needs a
    signed type that FINN's thresholds cannot give an unsigned activation; named, with the
    fix."""
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
    from torch import nn

    from tests.compile.helpers import randomize

    class Join(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q = QuantIdentity(bit_width=8)
            self.stem = nn.Sequential(QuantConv2d(1, 4, 3, padding=1, weight_bit_width=2,
                                                  bias=False), nn.BatchNorm2d(4),
                                      QuantReLU(bit_width=2))
            self.f = nn.Sequential(nn.BatchNorm2d(4), QuantReLU(bit_width=2),
                                   QuantConv2d(4, 2, 3, padding=1, weight_bit_width=2,
                                               bias=False))
            self.head = nn.Sequential(nn.BatchNorm2d(6), QuantReLU(bit_width=2))
            self.fc = QuantLinear(6, 4, weight_bit_width=2, bias=False)

        def forward(self, x):
            x = self.stem(self.q(x))
            x = torch.cat([x, self.f(x)], 1)
            return self.fc(self.head(x).mean((2, 3)))

    path = export(randomize(Join(), 1), (1, 6, 6), tmp_path / "m.onnx")
    with pytest.raises(CompileError, match="unsigned activation") as err:
        compile_model(path, tmp_path / "build", backends=False)
    assert "QuantIdentity" in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]
