"""The Python API: `import xnorflow` → xnorflow.train, xnorflow.compile, xnorflow.Accelerator,
as the README's example uses them; typed results, no printing needed."""

from __future__ import annotations

import numpy as np
import pytest

import xnorflow
from xnorflow.compile.pipeline import CompileResult
from xnorflow.train.api import TrainResult
from xnorflow.train.data import load_dataset
from xnorflow.train.errors import UserError


@pytest.fixture(scope="module")
def run_and_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    run = xnorflow.train("mlp:24", "digits", epochs=2, batch_size=64, out=root / "run")
    build = xnorflow.compile(run.onnx, root / "build")
    return run, build


def test_train_returns_a_typed_result(run_and_build):
    run, _ = run_and_build
    assert isinstance(run, TrainResult) and run.finished and run.epochs_done == 2
    assert run.onnx is not None and run.onnx.is_file()
    assert 0.5 < run.best_test_acc <= 1.0 and run.best_epoch in (1, 2)
    assert run.onnx_check["ok"] and all(p.is_file() for p in run.plots)
    assert run.last["epoch"] == 2


def test_compile_returns_the_build_and_its_figures(run_and_build):
    _, build = run_and_build
    assert isinstance(build, CompileResult) and (build.build / "ir.json").is_file()
    assert build.report["folding_source"] == "fit"
    fit = build.report["fit"]
    assert fit["part"] == "xc7z020clg400-1" and 0 < fit["lut_utilisation"] <= 0.8
    assert build.report["fps"] == build.ir.fps()


def test_accelerator_predicts_what_the_ir_computes(run_and_build):
    run, build = run_and_build
    images, labels = load_dataset("digits", None, "test")
    with xnorflow.Accelerator.open(build.build) as acc:
        pred, scores = acc.predict(images)
        # the model's float input rounds to the same uint8 grid
        f_pred, f_scores = acc.predict(images / 255.0)
    np.testing.assert_array_equal(scores, build.ir.run(images))
    np.testing.assert_array_equal(f_scores, scores)
    assert np.mean(pred == labels) == pytest.approx(run.best_test_acc, abs=0.02)
    from xnorflow.host import Accelerator

    assert Accelerator is xnorflow.Accelerator


@pytest.mark.sim
def test_accelerator_on_the_simulator(run_and_build):
    _, build = run_and_build
    images, _ = load_dataset("digits", None, "test")
    with xnorflow.Accelerator.open(build.build, backend="sim") as acc:
        _, scores = acc.predict(images[:64])
    np.testing.assert_array_equal(scores, build.ir.run(images[:64]))


def test_a_run_folder_is_never_replaced_silently(run_and_build):
    run, _ = run_and_build
    before = {p.name: p.read_bytes() for p in run.out.iterdir() if p.is_file()}
    with pytest.raises(UserError, match="already holds a training run.*--resume.*--overwrite"):
        xnorflow.train("mlp:24", "digits", epochs=1, out=run.out)
    with pytest.raises(UserError, match="contradict"):
        xnorflow.train("mlp:24", "digits", epochs=1, out=run.out, resume=True, overwrite=True)
    with pytest.raises(UserError, match="unknown training option"):
        xnorflow.train("mlp:24", "digits", epochs=1, out=run.out, learning_rate=0.1)
    after = {p.name: p.read_bytes() for p in run.out.iterdir() if p.is_file()}
    assert after == before


def test_overwrite_starts_afresh(tmp_path):
    first = xnorflow.train("mlp:8", "digits", epochs=2, batch_size=64, out=tmp_path / "r")
    again = xnorflow.train("mlp:8", "digits", epochs=1, batch_size=64, out=tmp_path / "r",
                           overwrite=True, seed=4)
    assert first.epochs_done == 2 and again.epochs_done == 1
    rows = (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 1
