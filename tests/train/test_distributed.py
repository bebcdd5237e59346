"""Data-parallel training on CPU with 2 gloo ranks (torchrun), against one process.

One torchrun launch (module fixture) runs the unit checks of tests/train/ddp_worker.py and
four short runs (filter, bop, adam, sgd) on the built-in digits, recording after every step
how far any rank's parameters are from rank 0's; a second launch kills rank 1 mid-run and
`torchrun -m xnorflow train --resume` finishes it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from xnorflow.cli import app
from xnorflow.train import api
from xnorflow.train.distributed import RankFailed, launch, local_share

WORKER = str(Path(__file__).with_name("ddp_worker.py"))
ROOT = Path(__file__).resolve().parents[2]
RUN = dict(model="mlp:32", dataset="digits", batch_size=64, seed=0, progress=False)
EPOCHS = {"filter": 2, "bop": 1, "adam": 1, "sgd": 2}
runner = CliRunner()


def _rows(out: Path) -> list[dict]:
    rows = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines()]
    for r in rows:
        for k in ("seconds", "train_seconds", "samples_per_s"):  # timings vary run to run
            r.pop(k)
    return rows


@pytest.fixture(scope="module")
def ddp(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    runs = [dict(RUN, optimizer=o, epochs=e, out=str(root / o)) for o, e in EPOCHS.items()]
    summary = launch(2, {"checks": str(root / "checks"), "runs": runs}, root, entry=[WORKER])
    return root, summary


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The same runs in one process (filter and sgd)."""
    root = tmp_path_factory.mktemp("single")
    torch.set_num_threads(1)
    for o in ("filter", "sgd"):
        api.train(**RUN, optimizer=o, epochs=EPOCHS[o], out=root / o)
    return root


def test_local_share_splits_every_batch():
    for n in (64, 30, 7):
        parts = [local_share(n, r, 2) for r in range(2)]
        assert parts[0][0] == 0 and parts[-1][1] == n and parts[0][1] == parts[1][0]


def test_sync_norms_match_one_process(ddp):
    root, _ = ddp
    for r in (0, 1):
        res = json.loads((root / "checks" / f"rank{r}.json").read_text())
        assert res["converted"] == 4  # 2 BatchNorm2d, 1 BatchNorm1d, the TensorNorm
        assert res["out_diff"] < 1e-5
        assert res["grad_rel_diff"] < 1e-5
        assert res["buffer_diff"] < 1e-5  # running statistics of the global batch


def test_filter_random_signs_shared_by_ranks(ddp):
    root, _ = ddp
    for r in (0, 1):
        res = json.loads((root / "checks" / f"rank{r}.json").read_text())
        # the ranks' global torch generators differ; the filter's draws do not
        assert res["zero_draw_rank_diff"] == 0.0
        assert res["zero_draw_vs_single"] == 0.0
        assert 0.4 < res["zero_draw_plus_fraction"] < 0.6
        # one step from all-reduced gradients takes one process's signs, except where the
        # gradient is float rounding around an exact 0 (weights BatchNorm makes irrelevant:
        # inputs constant over the batch); there either process's sign is arbitrary
        assert res["filter_step_sign_differences"] < 0.05 * res["filter_step_weights"]
        assert res["filter_step_worst_rel_grad"] < 1e-4


@pytest.mark.parametrize("optimizer", list(EPOCHS))
def test_ranks_identical_after_every_step(ddp, optimizer):
    root, _ = ddp
    diffs = json.loads((root / optimizer / "rank_diffs.json").read_text())
    steps = json.loads((root / optimizer / "config.json").read_text())["derived"]
    assert len(diffs) == EPOCHS[optimizer] * steps["steps_per_epoch"] > 0
    assert max(diffs) == 0.0
    assert steps["world_size"] == 2


def test_rank0_writes_the_run_once(ddp):
    root, summary = ddp
    out = root / "sgd"
    assert summary["out"] == str(out) and summary["finished"]
    for f in ("config.json", "checkpoint.pt", "best.pt", "model.onnx", "model.json",
              "plots/accuracy_loss.png"):
        assert (out / f).is_file(), f
    assert len(_rows(out)) == EPOCHS["sgd"]  # one row per epoch, not one per rank
    assert json.loads((out / "model.json").read_text())["onnx_check"]["ok"]
    assert not list(out.glob("*.tmp"))


def test_sgd_metrics_equal_one_process(ddp, single):
    """Latent SGD moves weights in proportion to the gradient, so the all-reduced gradient's
    rounding never flips a sign: every metric equals the one-process run's to float
    rounding."""
    root, _ = ddp
    a, b = _rows(root / "sgd"), _rows(single / "sgd")
    assert len(a) == len(b) == 2
    for ra, rb in zip(a, b, strict=True):
        assert ra.keys() == rb.keys()
        for k, v in rb.items():
            if isinstance(v, float):
                assert ra[k] == pytest.approx(v, rel=1e-6, abs=1e-7), k
            elif k != "saturation_layers":
                assert ra[k] == v, k
    assert sum(r["ff_ratio"] for r in b) > 0  # weights did flip


def test_filter_metrics_close_to_one_process(ddp, single):
    """Sign updates turn the rounding around exact-0 gradients into arbitrary signs (see
    test_filter_random_signs_shared_by_ranks), so the filter's runs agree statistically."""
    root, _ = ddp
    a, b = _rows(root / "filter"), _rows(single / "filter")
    assert abs(a[-1]["test_acc"] - b[-1]["test_acc"]) < 0.05
    assert abs(a[-1]["train_loss"] - b[-1]["train_loss"]) < 0.1
    assert a[-1]["test_acc"] > 0.6


def test_killed_rank_stops_with_resume_command_then_resumes(ddp, tmp_path, monkeypatch):
    root, _ = ddp
    out = tmp_path / "killed"
    kwargs = dict(RUN, optimizer="sgd", epochs=EPOCHS["sgd"], out=str(out))
    monkeypatch.setenv("XNORFLOW_TEST_KILL", "1:2")  # rank 1 dies in epoch 2's evaluation
    with pytest.raises(RankFailed) as err:
        launch(2, kwargs, out, entry=[WORKER])
    msg = str(err.value)
    assert "rank 1 killed by signal SIGKILL" in msg, msg
    assert "(epoch 1 of 2)" in msg and f"xnorflow train --resume --out {out} --nproc 2" in msg
    assert len(_rows(out)) == 1
    monkeypatch.delenv("XNORFLOW_TEST_KILL")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    res = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
         "2", "-m", "xnorflow", "train", "--resume", "--out", str(out), "--no-progress"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "trained 2 epochs" in res.stdout and res.stdout.count("trained") == 1  # rank 0
    # the resumed run equals the uninterrupted 2-rank run
    assert _rows(out) == _rows(root / "sgd")


def test_batch_must_divide_over_ranks(tmp_path):
    res = runner.invoke(app, ["train", "--model", "mlp:32", "--batch-size", "63", "--nproc",
                              "2", "--out", str(tmp_path / "r"), "--no-progress"])
    assert res.exit_code == 2
    assert "--batch-size 63 is the global batch and must divide evenly over the 2" in res.output
    res = runner.invoke(app, ["train", "--nproc", "0", "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "--nproc must be >= 1" in res.output
    if torch.cuda.device_count() < 2:
        res = runner.invoke(app, ["train", "--nproc", "2", "--device", "cuda", "--out",
                                  str(tmp_path / "r")])
        assert res.exit_code == 2 and "needs 2 CUDA devices" in res.output
    assert not (tmp_path / "r").exists()


def test_bf16_autocast_trains_on_cpu(tmp_path):
    res = api.train(**RUN, optimizer="adam", epochs=2, out=tmp_path / "bf16", bf16=True)
    ref = api.train(**RUN, optimizer="adam", epochs=2, out=tmp_path / "fp32")
    assert res.finished and res.onnx_check["ok"]
    assert json.loads((tmp_path / "bf16" / "config.json").read_text())["bf16"] is True
    # ±1 operands are exact in bfloat16; the run stays within run-to-run noise of float32
    assert abs(res.best_test_acc - ref.best_test_acc) < 0.1


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
@pytest.mark.parametrize("bf16", [False, True])
def test_cuda_run_close_to_cpu(tmp_path, bf16):
    kw = dict(RUN, model="cnn:16,16/32", optimizer="adam", epochs=3)
    gpu = api.train(**kw, out=tmp_path / "gpu", device="cuda", bf16=bf16)
    cpu = api.train(**kw, out=tmp_path / "cpu")
    assert gpu.finished and gpu.onnx_check["ok"]
    assert abs(gpu.best_test_acc - cpu.best_test_acc) < 0.08


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA devices")
def test_two_gpus_nccl(tmp_path):
    res = api.train(**RUN, optimizer="filter", epochs=2, out=tmp_path / "nccl", device="cuda",
                    nproc=2)
    assert res.finished and res.onnx_check["ok"] and res.best_test_acc > 0.6
