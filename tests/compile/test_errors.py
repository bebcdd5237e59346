"""Every user mistake gives one clear message, exit code 2, no traceback, no build folder."""

from __future__ import annotations

import json
import warnings

import pytest
from typer.testing import CliRunner

from tests.compile.helpers import export, randomize
from xnorflow.cli import app

runner = CliRunner()


def _run(args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = runner.invoke(app, ["compile", *map(str, args)])
    text = result.output + (getattr(result, "stderr", "") or "")
    return result, text


def assert_user_error(tmp_path, args, *needles, build_name="build"):
    build = tmp_path / build_name
    result, text = _run([*args, "-o", build])
    assert result.exit_code == 2, text
    assert "Traceback" not in text
    assert text.strip().startswith("error:"), text
    for needle in needles:
        assert needle in text, f"{needle!r} not in {text!r}"
    assert not build.exists(), "a build folder was left behind"
    assert not list(tmp_path.glob(f".{build_name}.partial-*")), "a partial folder was left behind"
    return text


@pytest.fixture(scope="module")
def mlp_onnx(tmp_path_factory):
    from xnorflow.train.models import build_mlp

    model = randomize(build_mlp((1, 6, 6), [16], 4), seed=0)
    return export(model, (1, 6, 6), tmp_path_factory.mktemp("mlp") / "mlp.onnx")


def _export_module(module, shape, path):
    return export(module.eval(), shape, path)


def test_missing_file(tmp_path):
    assert_user_error(tmp_path, [tmp_path / "nope.onnx"], "nope.onnx", "no such file")


def test_corrupt_file(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage that is not a protobuf \xff\xfe" * 10)
    assert_user_error(tmp_path, [bad], "bad.onnx", "not a readable ONNX file")


def test_text_file_is_not_onnx(tmp_path):
    bad = tmp_path / "notes.onnx"
    bad.write_text("")
    assert_user_error(tmp_path, [bad], "notes.onnx", "not an ONNX model")


def test_float_model(tmp_path):
    import torch

    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 4))
    path = tmp_path / "float.onnx"
    torch.onnx.export(net, torch.zeros(1, 1, 4, 4), str(path), dynamo=False)
    assert_user_error(tmp_path, [path], "float.onnx", "not quantized")


def test_float_weights_in_a_quantized_model(tmp_path):
    import torch
    from brevitas.nn import QuantIdentity
    from brevitas.quant import SignedBinaryActPerTensorConst

    net = torch.nn.Sequential(torch.nn.Flatten(),
                              QuantIdentity(act_quant=SignedBinaryActPerTensorConst),
                              torch.nn.Linear(16, 4, bias=False))
    path = _export_module(net, (1, 4, 4), tmp_path / "mixed.onnx")
    assert_user_error(tmp_path, [path], "unquantized (float) weights", "1-bit")


def test_nine_bit_weights(tmp_path):
    import torch
    from brevitas.nn import QuantIdentity, QuantLinear
    from brevitas.quant import SignedBinaryActPerTensorConst

    net = torch.nn.Sequential(torch.nn.Flatten(),
                              QuantIdentity(act_quant=SignedBinaryActPerTensorConst),
                              QuantLinear(16, 4, bias=False, weight_bit_width=9))
    path = _export_module(net, (1, 4, 4), tmp_path / "w9.onnx")
    assert_user_error(tmp_path, [path], "9-bit weights", "1 (binary) to 8 bits")


def test_nine_bit_hidden_activation(tmp_path):
    import torch
    from brevitas.nn import QuantIdentity, QuantLinear
    from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst

    net = torch.nn.Sequential(
        torch.nn.Flatten(), QuantIdentity(act_quant=SignedBinaryActPerTensorConst),
        QuantLinear(16, 8, bias=False, weight_quant=SignedBinaryWeightPerTensorConst),
        QuantIdentity(bit_width=9),
        QuantLinear(8, 4, bias=False, weight_quant=SignedBinaryWeightPerTensorConst))
    path = _export_module(net, (1, 4, 4), tmp_path / "a9.onnx")
    assert_user_error(tmp_path, [path], "9-bit", "1 (binary) to 8 bits")


def _conv_net(**conv):
    import torch
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
    from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst

    wq = {"weight_quant": SignedBinaryWeightPerTensorConst}
    pool = conv.pop("pool", None)
    conv_layer = QuantConv2d(4, 4, 3, bias=False, **wq, **conv)
    with torch.no_grad():
        out = conv_layer(torch.zeros(1, 4, 8, 8)).shape
    layers = [QuantIdentity(act_quant=SignedBinaryActPerTensorConst), conv_layer,
              QuantIdentity(act_quant=SignedBinaryActPerTensorConst)]
    if pool is not None:
        layers.append(pool)
        with torch.no_grad():
            out = pool(torch.zeros(out)).shape
    layers += [torch.nn.Flatten(), QuantLinear(int(out[1] * out[2] * out[3]), 3, bias=False,
                                               **wq)]
    return torch.nn.Sequential(*layers)


def test_zero_pad_before_a_pool_points_to_its_padding(tmp_path):
    """nn.ZeroPad2d before a conv is the conv's padding (test_user_networks.py); before a
    max-pool it pads 0, not −∞, and the error names the pool's own padding."""
    import torch
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear

    net = torch.nn.Sequential(QuantIdentity(bit_width=8),
                              QuantConv2d(3, 4, 3, bias=False, weight_bit_width=2),
                              QuantIdentity(bit_width=2), torch.nn.ZeroPad2d(1),
                              torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                              QuantLinear(4 * 4 * 4, 3, bias=False, weight_bit_width=2))
    path = _export_module(net, (3, 8, 8), tmp_path / "pad.onnx")
    assert_user_error(tmp_path, [path], "is a Pad", "right before a convolution",
                      "nn.MaxPool2d(..., padding=p)")


@pytest.mark.parametrize("what, conv, needles", [
    ("dilated max-pool", {"pool": "maxpool_dilated"}, ["max-pool", "dilations [2, 2]",
                                                       "dilation 1"]),
    ("average pool in ceil mode", {"pool": "avgpool"}, ["AveragePool", "part of the feature map",
                                                        "ceil_mode 1", "without ceil mode"]),
])
def test_unsupported_layer_shapes_name_the_node(tmp_path, what, conv, needles):
    import torch

    pools = {"maxpool_dilated": torch.nn.MaxPool2d(2, 1, dilation=2),
             "avgpool": torch.nn.AvgPool2d(3, 2, ceil_mode=True)}
    if "pool" in conv:
        conv = {"pool": pools[conv["pool"]]}
    path = _export_module(_conv_net(**conv), (4, 8, 8), tmp_path / "net.onnx")
    assert_user_error(tmp_path, [path], *needles)


def test_softmax_inside_is_unsupported(tmp_path):
    """A Softmax between layers (a final one is the host's: test_user_networks.py)."""
    import torch
    from brevitas.nn import QuantIdentity, QuantLinear
    from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst

    net = torch.nn.Sequential(
        torch.nn.Flatten(), QuantIdentity(act_quant=SignedBinaryActPerTensorConst),
        QuantLinear(16, 8, bias=False, weight_quant=SignedBinaryWeightPerTensorConst),
        torch.nn.Softmax(dim=1), QuantIdentity(act_quant=SignedBinaryActPerTensorConst),
        QuantLinear(8, 4, bias=False, weight_quant=SignedBinaryWeightPerTensorConst))
    path = _export_module(net, (1, 4, 4), tmp_path / "softmax.onnx")
    assert_user_error(tmp_path, [path], "Softmax", "supported ONNX ops")


def test_dynamic_shape(tmp_path, mlp_onnx):
    import onnx

    proto = onnx.load(str(mlp_onnx))
    proto.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "channels"
    path = tmp_path / "dyn.onnx"
    onnx.save(proto, str(path))
    assert_user_error(tmp_path, [path], "dyn.onnx", "dynamic shape", "'channels'")


def test_folding_not_json(tmp_path, mlp_onnx):
    f = tmp_path / "fold.json"
    f.write_text("{PE: 2")
    assert_user_error(tmp_path, [mlp_onnx, "--folding", f], "fold.json", "not valid JSON")


def test_folding_unknown_layer(tmp_path, mlp_onnx):
    f = tmp_path / "fold.json"
    f.write_text(json.dumps({"MVAU_9": {"PE": 1}}))
    assert_user_error(tmp_path, [mlp_onnx, "--folding", f], "'MVAU_9'", "MVAU_0", "MVAU_1")


def test_folding_value_not_allowed(tmp_path, mlp_onnx):
    f = tmp_path / "fold.json"
    f.write_text(json.dumps({"Defaults": {}, "MVAU_0": {"PE": 3, "SIMD": 4}}))
    text = assert_user_error(tmp_path, [mlp_onnx, "--folding", f], "'MVAU_0'", "PE=3")
    assert "[1, 2, 4, 8, 16]" in text  # the allowed values: divisors of MH = 16


def test_folding_unknown_parameter(tmp_path, mlp_onnx):
    f = tmp_path / "fold.json"
    f.write_text(json.dumps({"Thresholding_0": {"SIMD": 2}}))
    assert_user_error(tmp_path, [mlp_onnx, "--folding", f], "Thresholding_0", "no parameter "
                      "'SIMD'", "PE")


def test_folding_ram_style(tmp_path, mlp_onnx):
    f = tmp_path / "fold.json"
    f.write_text(json.dumps({"MVAU_0": {"PE": 2, "ram_style": "ultra"}}))
    assert_user_error(tmp_path, [mlp_onnx, "--folding", f], "'MVAU_0'", "ram_style='ultra'",
                      "auto, block, distributed")
    f.write_text(json.dumps({"MVAU_0": {"PE": 2, "ram_style": "block"}}))
    result, text = _run([mlp_onnx, "--folding", f, "-o", tmp_path / "ok"])
    assert result.exit_code == 0, text
    saved = json.loads((tmp_path / "ok" / "folding.json").read_text())
    assert saved["MVAU_0"]["ram_style"] == "block" and "ram_style" not in saved["MVAU_1"]
    top = (tmp_path / "ok" / "rtl" / "xnorflow_top.sv").read_text()
    assert ".LUTROM_DEPTH(0)" in top  # MVAU_0's weights in block RAM


def test_folding_and_target_fps_exclusive(tmp_path, mlp_onnx):
    f = tmp_path / "fold.json"
    f.write_text("{}")
    assert_user_error(tmp_path, [mlp_onnx, "--folding", f, "--target-fps", "10"], "not both")


def test_unreachable_target_fps(tmp_path, mlp_onnx):
    assert_user_error(tmp_path, [mlp_onnx, "--target-fps", "1e12"], "fully unfolded",
                      "lower the target")


def test_unknown_board(tmp_path, mlp_onnx):
    assert_user_error(tmp_path, [mlp_onnx, "--board", "zcu104"], "zcu104",
                      "pynq-z2, pynq-z1, kv260")


def test_foreign_output_folder_left_alone(tmp_path, mlp_onnx):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    result, text = _run([mlp_onnx, "--out", out])  # --out as in `xnorflow train`
    assert result.exit_code == 2 and "not an xnorflow build folder" in text
    assert (out / "thesis.tex").read_text() == "precious"


def test_failed_recompile_keeps_the_old_build(tmp_path, mlp_onnx):
    build = tmp_path / "build"
    result, text = _run([mlp_onnx, "-o", build, "-q"])
    assert result.exit_code == 0, text
    before = (build / "ir.json").read_text()
    result, text = _run([mlp_onnx, "-o", build, "--target-fps", "1e12"])
    assert result.exit_code == 2
    assert (build / "ir.json").read_text() == before
    assert not list(tmp_path.glob(".build.partial-*"))


def test_cli_success_writes_build_and_summary(tmp_path, mlp_onnx):
    build = tmp_path / "build"
    result, text = _run([mlp_onnx, "-o", build, "--target-fps", "1e5", "--clock-mhz", "200"])
    assert result.exit_code == 0, text
    assert "initiation interval" in text and "FPS at 200 MHz" in text and "MVAU_0" in text
    rep = json.loads((build / "report.json").read_text())
    assert rep["fps"] >= 1e5 and rep["clock_mhz"] == 200
    fold = json.loads((build / "folding.json").read_text())
    # the written folding.json is accepted back as --folding, giving the same IR
    result, text = _run([mlp_onnx, "-o", tmp_path / "again", "--folding", build / "folding.json",
                         "--clock-mhz", "200", "-q"])
    assert result.exit_code == 0, text
    assert json.loads((tmp_path / "again" / "folding.json").read_text()) == fold
    from xnorflow.compile.ir import DataflowIR

    assert DataflowIR.load(tmp_path / "again").equals(DataflowIR.load(build))


def test_reflection_padding_is_named(tmp_path):
    """padding_mode='reflect' exports a Pad in reflect mode; the hardware pads zeros."""
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear

    net = torch_sequential(
        QuantIdentity(bit_width=8),
        QuantConv2d(3, 4, 3, padding=1, padding_mode="reflect", bias=False, weight_bit_width=2),
        QuantIdentity(bit_width=2), "flatten", QuantLinear(4 * 8 * 8, 3, bias=False,
                                                           weight_bit_width=2))
    path = _export_module(net, (3, 8, 8), tmp_path / "reflect.onnx")
    assert_user_error(tmp_path, [path], "mode 'reflect'", "padding_mode='zeros'")


def torch_sequential(*layers):
    import torch

    return torch.nn.Sequential(*(torch.nn.Flatten() if m == "flatten" else m for m in layers))
