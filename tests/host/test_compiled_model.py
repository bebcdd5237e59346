"""A real compile: Brevitas TFC-1W1A (random init) → `xnorflow compile` → all three backends.

The build folder is the compiler's own (ir.json, BUILD/driver from the compile backend hook,
BUILD/hls/bd.json); BUILD/rtl comes from the RTL codegen. Costs ~10 s of FINN lowering plus one
Verilator build of the default folding (the fastest that fits the PYNQ-Z2's xc7z020).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.nets import random_images
from xnorflow.cli import app
from xnorflow.compile.driver_bundle import bundle_is_current
from xnorflow.compile.ir import DataflowIR
from xnorflow.host import pynq_emulation as emu
from xnorflow.host.accelerator import Accelerator

from .conftest import STAND_IN_BITSTREAM

pytestmark = pytest.mark.sim


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    import torch
    from brevitas.export import export_qonnx
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    from xnorflow.compile.rtl import codegen as rtl_codegen

    root = tmp_path_factory.mktemp("compiled")
    torch.manual_seed(0)
    model, _ = model_with_cfg("tfc_1w1a", False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_qonnx(model.eval(), torch.zeros(1, 1, 28, 28), str(root / "tfc.onnx"), dynamo=False)
    build = root / "build"
    res = CliRunner().invoke(app, ["compile", str(root / "tfc.onnx"), "-o", str(build), "-q"])
    assert res.exit_code == 0, res.output
    ir = DataflowIR.load(build)
    rtl_codegen.write(ir, build / "rtl")
    (build / "driver" / "xnorflow.bit").write_text(STAND_IN_BITSTREAM)
    return build, ir


def test_compile_writes_a_current_bundle(compiled):
    build, ir = compiled
    assert bundle_is_current(ir, build / "driver")
    assert abs(ir.input_scale * 255 - 1) < 1e-9


def test_three_backends_on_the_compiled_model(compiled):
    build, ir = compiled
    x = random_images(ir, 12, seed=3)
    results = {}
    emu.configure(build, "sim")
    try:
        for backend, options in (("reference", {}), ("sim", {}),
                                 ("pynq", {"pynq_module": emu, "chunk_frames": 5})):
            with Accelerator.open(build, backend=backend, **options) as acc:
                results[backend] = acc.predict(x)
                # the model's float input (uint8 · input_scale) gives the same result
                f_labels, f_scores = acc.predict(x * ir.input_scale)
                np.testing.assert_array_equal(f_scores, results[backend][1])
    finally:
        emu.configure(None, None)
    ref_labels, ref_scores = ir.predict(x)
    for backend, (labels, scores) in results.items():
        np.testing.assert_array_equal(scores, ref_scores, err_msg=backend)
        np.testing.assert_array_equal(labels, ref_labels, err_msg=backend)
