"""Accelerator.open(...).predict on the reference and (emulated) pynq backends, and its errors."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tests.nets import random_cnn, random_images, random_mlp
from xnorflow.compile.stream import HostInputError, RuntimeSpecError
from xnorflow.host import pynq_emulation as emu
from xnorflow.host.accelerator import Accelerator, BackendError
from xnorflow.host.pynq_driver import BitstreamMissingError

from .conftest import make_build


@pytest.fixture
def pynq_reference(request):
    """The pynq emulation over the reference executor (no Verilator needed)."""
    def open_(build, **options):
        emu.configure(build, "reference")
        return Accelerator.open(build, backend="pynq", pynq_module=emu, **options)
    yield open_
    emu.configure(None, None)


@pytest.mark.parametrize("model", ["tfc", "cnv"])
def test_reference_backend_equals_ir(model, irs, builds):
    ir = irs[model]
    x = random_images(ir, 64, seed=5)
    with Accelerator.open(builds[model]) as acc:
        labels, scores = acc.predict(x)
    ref_labels, ref_scores = ir.predict(x)
    np.testing.assert_array_equal(scores, ref_scores)
    np.testing.assert_array_equal(labels, ref_labels)
    assert len(np.unique(labels)) > 1  # the test network is not constant


@pytest.mark.parametrize("model", ["tfc", "cnv"])
@pytest.mark.parametrize("chunk", [1, 7, 1024])
def test_pynq_emulated_equals_reference(model, chunk, irs, emulated_builds, pynq_reference):
    """The PYNQ driver's DMA loop (chunks that do and do not divide the batch) is bit-exact."""
    x = random_images(irs[model], 23, seed=chunk)
    with Accelerator.open(emulated_builds[model]) as ref:
        ref_labels, ref_scores = ref.predict(x)
    with pynq_reference(emulated_builds[model], chunk_frames=chunk) as acc:
        labels, scores = acc.predict(x)
        assert acc.backend.driver.overlay.frames == 23
        assert acc.backend.driver.chunk == chunk
    np.testing.assert_array_equal(scores, ref_scores)
    np.testing.assert_array_equal(labels, ref_labels)


@pytest.mark.parametrize("seed", range(3))
def test_random_networks_all_backends_but_sim(seed, tmp_path, pynq_reference):
    for ir in (random_mlp(seed), random_cnn(seed)):
        build = make_build(ir, tmp_path / ir.name, bitstream=True)
        x = random_images(ir, 9, seed=seed)
        with pynq_reference(build, chunk_frames=4) as acc:
            labels, scores = acc.predict(x)
        ref_labels, ref_scores = ir.predict(x)
        np.testing.assert_array_equal(scores, ref_scores)
        np.testing.assert_array_equal(labels, ref_labels)


def test_float_and_uint8_predict_alike(irs, builds):
    x = random_images(irs["tfc"], 10)
    with Accelerator.open(builds["tfc"]) as acc:
        a = acc.predict(x)
        b = acc.predict(x.astype(np.float32) / 255)
    np.testing.assert_array_equal(a[1], b[1])


def test_throughput_reports_host_overhead(builds):
    with Accelerator.open(builds["cnv"]) as acc:
        t = acc.throughput(50, batch=20)
    assert t["frames"] == 50 and t["fps"] > 0
    assert t["pack_us_per_frame"] > 0 and t["unpack_us_per_frame"] > 0
    assert acc.timing["frames"] == 50


# --- errors a user can cause -----------------------------------------------------------------
def test_wrong_input_shape_and_dtype(builds):
    with Accelerator.open(builds["tfc"]) as acc:
        with pytest.raises(HostInputError, match=r"takes a batch \(N, 1, 28, 28\)"):
            acc.predict(np.zeros((4, 3, 32, 32), np.uint8))
        with pytest.raises(HostInputError, match="dtype object"):
            acc.predict(np.empty((4, 1, 28, 28), object))
        with pytest.raises(HostInputError, match=r"values in \[0, 300\]"):
            acc.predict(np.arange(784 * 2).reshape(2, 1, 28, 28) % 301)


def test_unknown_backend_and_missing_build(tmp_path, builds):
    with pytest.raises(BackendError, match="unknown backend 'fpga'"):
        Accelerator.open(builds["tfc"], backend="fpga")
    with pytest.raises(BackendError, match="not found; make it with `xnorflow compile"):
        Accelerator.open(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackendError, match="ir.json not found"):
        Accelerator.open(tmp_path / "empty")
    with pytest.raises(BackendError, match="do not apply to the reference backend"):
        Accelerator.open(builds["tfc"], backend="reference", chunk_frames=3)


def test_missing_bitstream_says_how_to_build_it(builds):
    with pytest.raises(BitstreamMissingError, match=r"hls/build_bitstream\.tcl") as err:
        Accelerator.open(builds["cnv"], backend="pynq", pynq_module=emu)
    assert "xnorflow.bit not found" in str(err.value)


def test_bitstream_from_another_model(fresh_build, emulated_builds):
    """A build folder whose driver/ (bitstream + runtime.json) came from another model."""
    build = fresh_build("tfc")
    shutil.rmtree(build / "driver")
    shutil.copytree(emulated_builds["cnv"] / "driver", build / "driver")
    with pytest.raises(RuntimeSpecError, match="built for model 'cnv_small_random_0'.*mixes two"):
        Accelerator.open(build, backend="pynq", pynq_module=emu)


def test_driver_bundle_is_created_on_demand(fresh_build, pynq_reference):
    build = fresh_build("cnv")
    shutil.rmtree(build / "driver")
    with pytest.raises(BitstreamMissingError):
        Accelerator.open(build, backend="pynq", pynq_module=emu)
    assert (build / "driver" / "driver.py").is_file()
    assert (build / "driver" / "runtime.json").is_file()


def test_sim_needs_rtl_of_the_same_model(fresh_build, irs, tmp_path):
    """No BUILD/rtl, or BUILD/rtl generated from another model: clear errors, before any
    Verilator build."""
    from xnorflow.compile.rtl import codegen as rtl_codegen

    build = fresh_build("tfc")
    with pytest.raises(BackendError, match=r"rtl/rtl.json not found.*xnorflow compile"):
        Accelerator.open(build, backend="sim")
    rtl_codegen.write(irs["cnv"], build / "rtl")
    with pytest.raises(BackendError, match="generated for model 'cnv_small_random_0'.*mixes two"):
        Accelerator.open(build, backend="sim")


def test_label_select_output(tmp_path, pynq_reference):
    """A network ending in LabelSelect sends the label itself; all paths agree."""
    import dataclasses

    from xnorflow.compile.ir import DataflowIR
    from xnorflow.compile.ir.datatypes import DataType
    from xnorflow.compile.layers import LabelSelect

    base = random_mlp(5)
    last = base.layers[-1]
    top = LabelSelect(name="top1", in_dtype=last.out_dtype, out_dtype=DataType.parse("UINT4"),
                      labels=last.mh, pe=1)
    ir = DataflowIR(name="mlp_label", input_shape=base.input_shape, input_layout="flat",
                    layers=[*base.layers, top], output_scale=[1.0], output_bias=[0.0])
    ir.validate()
    build = make_build(ir, tmp_path / "b", bitstream=True)
    x = random_images(ir, 30)
    expected = np.argmax(base.run(x), axis=1)
    with Accelerator.open(build) as acc:
        labels, scores = acc.predict(x)
    assert acc.spec.output_is_label
    np.testing.assert_array_equal(labels, expected)
    np.testing.assert_array_equal(scores[:, 0], expected)
    with pynq_reference(build) as acc:
        np.testing.assert_array_equal(acc.predict(x)[0], expected)
    assert dataclasses.asdict(acc.spec)["n_out"] == 1


def test_empty_batch(emulated_builds, pynq_reference):
    for acc in (Accelerator.open(emulated_builds["cnv"]),
                pynq_reference(emulated_builds["cnv"])):
        with acc:
            labels, scores = acc.predict(np.zeros((0, 3, 8, 8), np.uint8))
        assert labels.shape == (0,) and scores.shape == (0, 10)


def test_pynq_backend_off_the_board(emulated_builds, monkeypatch):
    """A bitstream but no `pynq` package (not a board): a clear error, not an ImportError."""
    import sys

    from xnorflow.host.accelerator import BoardError

    monkeypatch.setitem(sys.modules, "pynq", None)
    with pytest.raises(BoardError, match="runs on a PYNQ board.*--backend sim or reference"):
        Accelerator.open(emulated_builds["tfc"], backend="pynq")
