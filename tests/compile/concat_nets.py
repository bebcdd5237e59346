"""Networks that concatenate feature maps (`torch.cat(..., dim=1)`), written as users write
them: a DenseNet block (each layer's output appended to its input; also in BinaryDenseNet's
pre-activation order, joining the convs' raw outputs), an Inception block (three
branches of one input joined, a 3-way fork and a 3-way concat), SqueezeNet's fire module
(BatchNorms of either sign before the join, a classifier conv with a bias before the global
pool), MLPs joining two hidden layers.

`concat_net(name)` → (model, input shape), weights and BatchNorms randomized (tests/compile/
helpers.randomize). The concatenated activations share a scale where the layer after the join
multiplies them (one quantizer module reused, or `act_quant=` of another), or a quantizer
re-quantizes the join; BatchNorm + activation after a join absorb the inputs' own scales.
"""

from __future__ import annotations

import numpy as np

from tests.compile.helpers import randomize

# randomize seeds (5 unless named here): outputs that vary over random images
SEEDS = {"inception_3way": 2, "mlp_repeated_tensor": 7, "branches_flattened": 2,
         "branches_pooled_requant": 2}
CONCAT_NETS = ("dense_block", "dense_block_1x1_2bit", "dense_block_1x1_binary",
               "inception_3way", "dense_preact_gap", "dense_preact_maxpool",
               "mlp_shared_quant", "mlp_requant_mixed", "mlp_repeated_tensor",
               "branches_flattened", "branches_pooled_requant", "mlp_different_scales",
               "squeezenet_fire")


def concat_net(name: str):
    import torch
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst
    from torch import nn

    binary = {"weight_quant": SignedBinaryWeightPerTensorConst, "bias": False}

    def sign():
        return QuantIdentity(act_quant=SignedBinaryActPerTensorConst)

    class DenseBlock(nn.Module):
        """stem conv → 3 layers of x = cat([x, act(bn(conv(x)))]) → max-pool → linear."""

        def __init__(self, kernel: int, bits: int) -> None:
            super().__init__()
            if bits == 1:
                act = sign
                wq = binary
            else:
                shared = QuantReLU(bit_width=bits)  # one quantizer for every joined map

                def act():
                    return shared
                wq = {"weight_bit_width": 2, "bias": False}
            self.q = QuantIdentity(bit_width=8)
            self.stem = nn.Sequential(QuantConv2d(3, 8, 3, padding=1, weight_bit_width=4,
                                                  bias=False), nn.BatchNorm2d(8), act())
            self.layers = nn.ModuleList()
            c = 8
            for _ in range(3):
                self.layers.append(nn.Sequential(
                    QuantConv2d(c, 4, kernel, padding=kernel // 2, **wq), nn.BatchNorm2d(4),
                    act()))
                c += 4
            self.pool = nn.MaxPool2d(2)
            self.fc = QuantLinear(c * 4 * 4, 10, **binary)

        def forward(self, x):
            x = self.stem(self.q(x))
            for layer in self.layers:
                x = torch.cat([x, layer(x)], dim=1)
            return self.fc(torch.flatten(self.pool(x), 1))

    class Inception(nn.Module):
        """cat([1x1 branch, 3x3 branch, the input]) → BatchNorm → act → global pool."""

        def __init__(self) -> None:
            super().__init__()
            self.q = QuantIdentity(bit_width=8)
            self.stem = nn.Sequential(QuantConv2d(3, 8, 3, padding=1, weight_bit_width=4,
                                                  bias=False), nn.BatchNorm2d(8),
                                      QuantReLU(bit_width=2))
            self.b1 = nn.Sequential(QuantConv2d(8, 4, 1, weight_bit_width=2, bias=False),
                                    nn.BatchNorm2d(4), QuantReLU(bit_width=2))
            self.b3 = nn.Sequential(QuantConv2d(8, 6, 3, padding=1, weight_bit_width=2,
                                                bias=False), nn.BatchNorm2d(6),
                                    QuantReLU(bit_width=3))
            self.bn = nn.BatchNorm2d(18)
            self.act = QuantReLU(bit_width=2)
            self.fc = QuantLinear(18, 10, weight_bit_width=2, bias=True)

        def forward(self, x):
            x = self.stem(self.q(x))
            x = torch.cat((self.b1(x), self.b3(x), x), 1)
            return self.fc(self.act(self.bn(x)).mean((2, 3)))

    class PreActivationDense(nn.Module):
        """BinaryDenseNet's order: x = cat([x, conv(act(bn(x)))]) (the conv's raw output
        joined), then BatchNorm → act → global average pool (or max-pool) → linear."""

        def __init__(self, pool: str) -> None:
            super().__init__()
            act = sign
            self.q = QuantIdentity(bit_width=8)
            self.stem = nn.Sequential(QuantConv2d(3, 8, 3, padding=1, weight_bit_width=4,
                                                  bias=False), nn.BatchNorm2d(8), act())
            self.layers = nn.ModuleList()
            c = 8
            for _ in range(2):
                self.layers.append(nn.Sequential(nn.BatchNorm2d(c), act(),
                                                 QuantConv2d(c, 4, 3, padding=1, **binary)))
                c += 4
            self.head = nn.Sequential(nn.BatchNorm2d(c), act())
            self.pool = pool
            self.fc = QuantLinear(c if pool == "avg" else c * 4 * 4, 10, **binary)

        def forward(self, x):
            x = self.stem(self.q(x))
            for layer in self.layers:
                x = torch.cat([x, layer(x)], dim=1)
            x = self.head(x)
            x = x.mean((2, 3)) if self.pool == "avg" else nn.functional.max_pool2d(x, 2)
            return self.fc(x.flatten(1))

    class JoinedMLP(nn.Module):
        """h1 = act1(fc1(x)); h2 = act2(fc2(h1)); fc3(cat([h1, h2]))."""

        def __init__(self, form: str) -> None:
            super().__init__()
            self.q = QuantIdentity(bit_width=8)
            self.fc1 = nn.Sequential(QuantLinear(64, 32, weight_bit_width=2, bias=False),
                                     nn.BatchNorm1d(32))
            self.act1 = QuantReLU(bit_width=2)
            self.fc2 = nn.Sequential(QuantLinear(32, 16, weight_bit_width=2, bias=False),
                                     nn.BatchNorm1d(16))
            if form == "shared":
                self.act2 = QuantReLU(act_quant=self.act1.act_quant)
            else:  # a 3-bit activation, its own scale
                self.act2 = QuantReLU(bit_width=3)
            self.join = QuantIdentity(bit_width=4) if form == "requant" else nn.Identity()
            self.fc3 = QuantLinear(48, 10, weight_bit_width=2, bias=False)

        def forward(self, x):
            h1 = self.act1(self.fc1(self.q(x.flatten(1))))
            h2 = self.act2(self.fc2(h1))
            return self.fc3(self.join(torch.cat([h1, h2], dim=1)))

    class RepeatedJoin(nn.Module):
        """fc(cat((h, g(h), h))): one tensor joined twice (qonnx's cleanup would lose it)."""

        def __init__(self) -> None:
            super().__init__()
            self.q = QuantIdentity(bit_width=8)
            self.f = nn.Sequential(QuantLinear(64, 16, **binary), nn.BatchNorm1d(16), sign())
            self.g = nn.Sequential(QuantLinear(16, 8, **binary), nn.BatchNorm1d(8), sign())
            self.fc = QuantLinear(40, 10, **binary)

        def forward(self, x):
            h = self.f(self.q(x.view(x.size(0), -1)))
            return self.fc(torch.cat((h, self.g(h), h), dim=-1))

    class TwoBranches(nn.Module):
        """A 3x3 and a 1x1 branch of one map, each flattened (or globally pooled and joined,
        then quantized again: maps of different sizes average with different scales), one
        linear layer over the join."""

        def __init__(self, how: str) -> None:
            super().__init__()
            self.how = how
            act = sign
            self.q = QuantIdentity(bit_width=8)
            self.stem = nn.Sequential(QuantConv2d(1, 4, 3, padding=1, weight_bit_width=4,
                                                  bias=False), nn.BatchNorm2d(4), act())
            self.a = nn.Sequential(QuantConv2d(4, 6, 3, **binary), nn.BatchNorm2d(6), act())
            self.b = nn.Sequential(QuantConv2d(4, 5, 1, **binary), nn.BatchNorm2d(5), act())
            self.join = QuantIdentity(bit_width=8) if how == "gap" else nn.Identity()
            self.fc = QuantLinear(11 if how == "gap" else 6 * 6 * 6 + 5 * 8 * 8, 10, **binary)

        def forward(self, x):
            x = self.stem(self.q(x))
            a, b = self.a(x), self.b(x)
            if self.how == "gap":
                return self.fc(self.join(torch.cat([a.mean((2, 3)), b.mean((2, 3))], 1)))
            return self.fc(torch.cat([a.flatten(1), b.flatten(1)], 1))

    class Fire(nn.Module):
        """SqueezeNet: squeeze 1x1 → cat([bn(expand 1x1), bn(expand 3x3)]) → act, then a 1x1
        conv with a bias to the classes and the global average pool."""

        def __init__(self) -> None:
            super().__init__()
            self.q = QuantIdentity(bit_width=8)
            self.stem = nn.Sequential(QuantConv2d(3, 16, 3, stride=2, weight_bit_width=2,
                                                  bias=False), nn.BatchNorm2d(16),
                                      QuantReLU(bit_width=2))
            self.squeeze = nn.Sequential(QuantConv2d(16, 8, 1, weight_bit_width=2, bias=False),
                                         nn.BatchNorm2d(8), QuantReLU(bit_width=2))
            self.e1 = nn.Sequential(QuantConv2d(8, 8, 1, weight_bit_width=2, bias=False),
                                    nn.BatchNorm2d(8))
            self.e3 = nn.Sequential(QuantConv2d(8, 8, 3, padding=1, weight_bit_width=2,
                                                bias=False), nn.BatchNorm2d(8))
            self.act = QuantReLU(bit_width=2)
            self.classifier = QuantConv2d(16, 10, 1, weight_bit_width=2, bias=True)

        def forward(self, x):
            x = self.squeeze(self.stem(self.q(x)))
            x = self.act(torch.cat([self.e1(x), self.e3(x)], 1))
            return torch.flatten(nn.functional.adaptive_avg_pool2d(self.classifier(x), 1), 1)

    make = {
        "dense_block": (lambda: DenseBlock(3, 1), (3, 8, 8)),
        "dense_block_1x1_2bit": (lambda: DenseBlock(1, 2), (3, 8, 8)),
        "dense_block_1x1_binary": (lambda: DenseBlock(1, 1), (3, 8, 8)),
        "inception_3way": (Inception, (3, 8, 8)),
        "dense_preact_gap": (lambda: PreActivationDense("avg"), (3, 8, 8)),
        "dense_preact_maxpool": (lambda: PreActivationDense("max"), (3, 8, 8)),
        "mlp_shared_quant": (lambda: JoinedMLP("shared"), (1, 8, 8)),
        "mlp_repeated_tensor": (RepeatedJoin, (1, 8, 8)),
        "branches_flattened": (lambda: TwoBranches("flat"), (1, 8, 8)),
        "branches_pooled_requant": (lambda: TwoBranches("gap"), (1, 8, 8)),
        "mlp_requant_mixed": (lambda: JoinedMLP("requant"), (1, 8, 8)),
        "mlp_different_scales": (lambda: JoinedMLP("own"), (1, 8, 8)),
        "squeezenet_fire": (Fire, (3, 15, 15)),
    }
    build, shape = make[name]
    model = randomize(build(), SEEDS.get(name, 5))
    if name == "inception_3way":  # BatchNorm after the join: scales > 0 (see the test)
        with torch.no_grad():
            model.bn.weight.abs_()
    if name == "mlp_different_scales":  # scales as training leaves them: not equal
        with torch.no_grad():
            model.act2.act_quant.fused_activation_quant_proxy.tensor_quant.scaling_impl \
                .value.mul_(1.7)
    return model, shape


def concat_random_net(seed: int):
    """(model, input shape (C, H, W), Drawn) for one seed: a stem conv, then one to three
    joins, each drawn among
    - "dense kK": x = cat([x, act(bn(conv_kK(x)))]) (K = 1 or 3, zero-padded to the size),
    - "preact": x = cat([x, conv3(act(bn(x)))]) (the conv's raw output joined),
    - "inception": cat([act(bn(conv1(x))), act(bn(conv3(x))), maxpool3s1p1(x)]) or two of
      them, in a drawn order,
    - "then bn_act": a join followed by BatchNorm + activation,
    with a max-pool(2) between joins sometimes; the activations are drawn once (1-bit, signed
    or unsigned 2-3 bits: scales equal by construction, as one quantizer setting gives; the
    activations of pre-activation joins signed), the head is a flatten, hidden linear layers or
    a global average pool. A BatchNorm after a join has scales of either sign (where no single
    layer after it takes a negative one, the thresholding layer compares −x)."""
    import torch
    from brevitas.nn import QuantConv2d
    from torch import nn

    from tests.compile.layer_nets import _centre, classifier_head, draw_precision, input_quant
    from tests.compile.residual_nets import DrawnResidual

    rng = np.random.default_rng(seed)
    c, h, w = int(rng.choice([1, 3])), int(rng.integers(6, 11)), int(rng.integers(6, 11))
    w_bits, a_bits, unsigned, wq, act = draw_precision(rng)
    stem_out = int(rng.integers(2, 9))

    class Join(nn.Module):
        def __init__(self, kind: str, ch: int) -> None:
            super().__init__()
            self.kind = kind
            grow = int(rng.integers(1, 6))
            if kind.startswith("dense"):
                k = int(kind[-1])
                self.f = nn.Sequential(QuantConv2d(ch, grow, k, padding=k // 2, bias=False, **wq),
                                       nn.BatchNorm2d(grow), act())
                self.out = ch + grow
            elif kind == "preact":
                self.f = nn.Sequential(nn.BatchNorm2d(ch), act(),
                                       QuantConv2d(ch, grow, 3, padding=1, bias=False, **wq))
                self.out = ch + grow
            else:
                g2 = int(rng.integers(1, 6))
                self.b1 = nn.Sequential(QuantConv2d(ch, grow, 1, bias=False, **wq),
                                        nn.BatchNorm2d(grow), act())
                self.b3 = nn.Sequential(QuantConv2d(ch, g2, 3, padding=1, bias=False, **wq),
                                        nn.BatchNorm2d(g2), act())
                self.pool = nn.MaxPool2d(3, 1, padding=1)
                parts = {"1": grow, "3": g2, "p": ch}
                self.order = list(rng.permutation(["1", "3", "p"]))[:int(rng.integers(2, 4))]
                self.out = sum(parts[p] for p in self.order)
            self.after = nn.Sequential(nn.BatchNorm2d(self.out), act()) \
                if kind != "preact" and rng.random() < 0.3 else nn.Identity()

        def forward(self, x):
            if self.kind == "inception":
                branch = {"1": self.b1, "3": self.b3, "p": self.pool}
                return self.after(torch.cat([branch[p](x) for p in self.order], dim=1))
            return self.after(torch.cat([x, self.f(x)], dim=1))

    blocks, ch, names, preact_last = [], stem_out, [], False
    h0, w0 = h, w
    for _ in range(int(rng.integers(1, 4))):
        # after a pre-activation join (raw conv outputs in the map) only more of them
        kinds = ["dense k1", "dense k3", "inception"] + ([] if unsigned else ["preact"])
        kind = "preact" if preact_last else str(rng.choice(kinds))
        blocks.append(Join(kind, ch))
        ch = blocks[-1].out
        names.append(kind + (" then bn_act" if not isinstance(blocks[-1].after, nn.Identity)
                             else ""))
        preact_last = kind == "preact"
        if not preact_last and min(h, w) >= 6 and rng.random() < 0.3:
            blocks.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
            names.append("pool2")
    layers: list[nn.Module] = [_centre(), input_quant(),
                               QuantConv2d(c, stem_out, 3, padding=1, bias=False, **wq),
                               nn.BatchNorm2d(stem_out), act(), *blocks]
    if preact_last:  # the raw conv outputs joined: BatchNorm + activation, then the pool
        layers += [nn.BatchNorm2d(ch), act()]
        head = classifier_head(rng, layers, ch, h, w, wq, act, heads=("gap",))
    else:
        head = classifier_head(rng, layers, ch, h, w, wq, act)
    model = randomize(nn.Sequential(*layers), seed)
    return model, (c, h0, w0), DrawnResidual((c, h0, w0), w_bits, a_bits, unsigned, names,
                                             head)
