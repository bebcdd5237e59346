"""The CNN builder's padding, stride, kernel size and global average pool: shapes (also of
rectangular images), the spec grammar and its errors, and the QONNX round trip."""

from __future__ import annotations

import onnx
import pytest
import torch
from brevitas.nn import QuantConv2d, QuantLinear
from torch import nn

from xnorflow.train.errors import UserError
from xnorflow.train.export import check_qonnx, export_qonnx
from xnorflow.train.models import build_cnn, get_model

from .test_models_export import _randomise

# spec, image shape (C, H, W), [(kernel, stride, padding) per conv], each conv's output map
# (H, W), features into the head
SHAPE_CASES = [
    # 9x13 → p1: 9x13 → pool 4x6 → s2: 1x2
    ("cnn:4p1,P,6s2/8", (2, 9, 13), [(3, 1, 1), (3, 2, 0)], [(9, 13), (1, 2)], 6 * 1 * 2),
    # 7x11 → k5p2: 7x11 → k1: 7x11 → G: 1x1
    ("cnn:4k5p2,6k1,G", (3, 7, 11), [(5, 1, 2), (1, 1, 0)], [(7, 11), (7, 11)], 6),
    # 16x10 → s2p1: 8x5 → 3x3: 6x3 → p1s2: 3x2
    ("cnn:5s2p1,5,7p1s2/4,4", (1, 16, 10), [(3, 2, 1), (3, 1, 0), (3, 2, 1)],
     [(8, 5), (6, 3), (3, 2)], 7 * 3 * 2),
    # the default form, CNV-style: 3x3, no padding, stride 1; 10x12 → 8x10 → pool 4x5 → 2x3
    ("cnn:4,P,4/6", (1, 10, 12), [(3, 1, 0), (3, 1, 0)], [(8, 10), (2, 3)], 4 * 2 * 3),
]


@pytest.mark.parametrize(("spec", "shape", "convs", "maps", "n_fc_in"), SHAPE_CASES)
def test_conv_layers_and_head_shapes(spec, shape, convs, maps, n_fc_in):
    net = get_model(spec, shape, 10)
    layers = [m for m in net.conv_features if isinstance(m, QuantConv2d)]
    assert [(c.kernel_size[0], c.stride[0], c.padding[0]) for c in layers] == convs
    assert all(c.kernel_size[0] == c.kernel_size[1] and c.stride[0] == c.stride[1]
               and c.padding[0] == c.padding[1] and c.bias is None for c in layers)
    fc0 = next(m for m in net.fc_features if isinstance(m, QuantLinear))
    assert fc0.in_features == n_fc_in
    seen = []
    hooks = [c.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape[2:])))
             for c in layers]
    assert net(torch.rand(2, *shape)).shape == (2, 10)
    for h in hooks:
        h.remove()
    assert seen == maps


def test_arch_records_the_conv_options():
    net = get_model("cnn:8p1,P,16k5s2p2,G/32", (3, 20, 24), 10)
    a = net.arch
    assert a["conv_channels"] == [8, 16] and a["pool_after"] == [0]
    assert a["kernel_size"] == [3, 5] and a["stride"] == [1, 2] and a["padding"] == [1, 2]
    assert a["global_pool"] is True and a["fc_hidden"] == [32] and a["in_bits"] == 8
    assert isinstance(net.conv_features[-1], nn.AdaptiveAvgPool2d)
    # the defaults keep the old record's form
    b = get_model("cnv", (3, 32, 32), 10).arch
    assert b["kernel_size"] == 3 and b["padding"] == [0] * 6 and b["stride"] == [1] * 6
    assert b["global_pool"] is False


def test_build_cnn_keywords():
    net = build_cnn((2, 11, 7), [3, 4], [False, True], [], 5, kernel_size=[3, 1],
                    stride=[2, 1], padding=[1, 0], global_pool=False)
    assert net(torch.rand(3, 2, 11, 7)).shape == (3, 5)
    fc0 = next(m for m in net.fc_features if isinstance(m, QuantLinear))
    assert fc0.in_features == 4 * 3 * 2  # 11x7 → s2p1: 6x4 → k1: 6x4 → pool 3x2
    with pytest.raises(UserError, match="2 values for 1 conv layers"):
        build_cnn((1, 8, 8), [3], [], [], 2, stride=[1, 2])


@pytest.mark.parametrize(("spec", "message"), [
    ("cnn:4,G,4", "'G' (global average pool) must be the last"),
    ("cnn:G,4", "'G' must follow a conv layer"),
    ("cnn:4x2", "bad conv item '4x2'"),
    ("cnn:4p1p2", "bad conv item '4p1p2'"),
    ("cnn:4k3p3", "0 <= padding < kernel"),
    ("cnn:4s0", "stride >= 1"),
    ("cnn:4s4,4s4", "too small"),
    ("cnn:4,P,P", "'P' twice after conv layer 0"),
    ("cnn:4,P,4,P,4,P", "too small"),
])
def test_spec_errors(spec, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        get_model(spec, (1, 10, 10), 3)


# padded, strided, global-pool and rectangular networks, 1W1A and multi-bit
EXPORT_CASES = [
    ("cnn:6p1,8s2,P,10k5p2,G/12", (3, 14, 18), None, None),
    ("cnn:6p1,8s2p1,G", (3, 11, 9), 2, 2),
    ("cnn:5k5p2,P,6s2/8", (1, 12, 16), 1, 2),
]


@pytest.mark.parametrize(("spec", "shape", "wbits", "abits"), EXPORT_CASES)
def test_qonnx_round_trip_conv_options(spec, shape, wbits, abits, tmp_path):
    torch.manual_seed(0)
    net = get_model(spec, shape, 10, weight_bits=wbits, act_bits=abits)
    _randomise(net, 2)
    net.eval()
    path = export_qonnx(net, tmp_path / "m.onnx")
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    convs = [n for n in onnx.load(str(path)).graph.node if n.op_type == "Conv"]
    assert [list(a.ints) for c in convs for a in c.attribute if a.name == "pads"] == \
        [[p] * 4 for p in net.arch["padding"]]
    assert [list(a.ints) for c in convs for a in c.attribute if a.name == "strides"] == \
        [[s] * 2 for s in net.arch["stride"]]
    assert ("GlobalAveragePool" in ops) == net.arch["global_pool"]
    images = torch.randint(0, 256, (4, *shape)).float() / 255
    res = check_qonnx(net, path, images)
    assert res["ok"], res
