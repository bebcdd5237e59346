"""The Python API behind ``xnorflow train``: :func:`train` returns a :class:`TrainResult`.

``xnorflow.train(...)`` (the package is callable, see train/__init__.py) and the CLI share
this code: the same defaults, the same checks of the flags, the same run folder. A run folder
that holds an earlier run is never replaced silently: pass ``resume=True`` to continue it or
``overwrite=True`` to start afresh (train/loop.py checks, for every caller).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any

from .defaults import (
    DEFAULT_MULTIBIT_OPTIMIZER,
    DEFAULT_OPTIMIZER,
    RUN_DEFAULTS,
    TWO_STEP_WEIGHT_DECAY,
    hyper,
)
from .errors import UserError

__all__ = ["TrainResult", "train", "new_config", "resume_config"]




@dataclasses.dataclass
class TrainResult:
    """What a training run left in its folder, and its figures."""

    out: Path  # the run folder
    onnx: Path | None  # the exported QONNX model (None if the run did not finish)
    best_test_acc: float
    best_epoch: int
    epochs_done: int
    finished: bool
    last: dict[str, Any]  # the last epoch's metrics (metrics.jsonl row)
    onnx_check: dict[str, Any]  # PyTorch vs QONNX execution on test images
    plots: list[Path]

    @classmethod
    def from_summary(cls, summary: dict[str, Any]) -> TrainResult:
        return cls(out=Path(summary["out"]), onnx=Path(summary["onnx"]) if summary.get("onnx")
                   else None, best_test_acc=float(summary["best_test_acc"]),
                   best_epoch=int(summary["best_epoch"]), epochs_done=int(summary["epochs_done"]),
                   finished=bool(summary["finished"]), last=dict(summary.get("last") or {}),
                   onnx_check=dict(summary.get("onnx_check") or {}),
                   plots=[Path(p) for p in summary.get("plots", [])])

    def to_summary(self) -> dict[str, Any]:
        """The JSON-able summary :meth:`from_summary` reads."""
        return {"out": str(self.out), "onnx": str(self.onnx) if self.onnx else None,
                "best_test_acc": self.best_test_acc, "best_epoch": self.best_epoch,
                "epochs_done": self.epochs_done, "finished": self.finished, "last": self.last,
                "onnx_check": self.onnx_check, "plots": [str(p) for p in self.plots]}


def default_run_dir(cfg: Any) -> Path:
    return Path("runs") / re.sub(r"[^A-Za-z0-9_.-]+", "_",
                                 f"{cfg.model}-{cfg.dataset}-{cfg.optimizer}")


def train(model: str | None = None, dataset: str | None = None, *,
          data_dir: str | Path | None = None, optimizer: str | None = None,
          epochs: int | None = None, out: str | Path | None = None, resume: bool = False,
          overwrite: bool = False, device: str = "cpu", log_every: int = 0,
          progress: bool = False, nproc: int = 1, bf16: bool = False,
          **options: Any) -> TrainResult:
    """Train a BNN (or a 1–4-bit network) and export it to QONNX, as ``xnorflow train`` does.

    ``options`` are the CLI's other flags by their Python names: weight_bits, act_bits, alpha,
    gamma, alpha_decay, tau, lr, weight_decay, bias_init, dropout, recipe, augment, shift,
    jitter, batch_size, seed. Unset ones take the defaults of train/defaults.py (1-bit weights
    and activations unless the model name says otherwise, e.g. ``tfc-2w2a``; the optimizer
    ``filter`` for 1-bit weights, ``adam`` for multi-bit ones). Raises
    :class:`~xnorflow.train.errors.UserError` for a bad setting or a run folder that already
    holds a run (unless ``resume`` or ``overwrite``), and
    :class:`~xnorflow.train.loop.TrainingDiverged` when the loss becomes NaN/inf.

    ``nproc`` > 1 trains data-parallel on that many local processes (torchrun, gloo on CPU,
    NCCL with ``device="cuda"``; train/distributed.py); ``batch_size`` stays the global batch
    and must divide by ``nproc``. A rank that dies raises
    :class:`~xnorflow.train.distributed.RankFailed` naming the command that resumes. Inside a
    torchrun worker (``torchrun -m xnorflow train``) the run joins the process group itself.
    ``bf16`` runs forward and loss under bfloat16 autocast (meant for GPUs).
    """
    from .distributed import in_worker
    from .loop import TrainConfig, run_training

    known = {"weight_bits", "act_bits", "alpha", "gamma", "alpha_decay", "tau", "lr",
             "weight_decay", "bias_init", "dropout", "recipe", "augment", "shift", "jitter",
             "batch_size", "seed"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise UserError(f"unknown training option(s) {', '.join(unknown)}; known: "
                        f"{', '.join(sorted(known))}")
    given = {k: v for k, v in dict(model=model, dataset=dataset, optimizer=optimizer,
                                    **options).items() if v is not None}
    if given.get("bias_init") == 0.0:
        given.pop("bias_init")
    if resume and overwrite:
        raise UserError("--resume and --overwrite contradict each other; choose one")
    if resume:
        cfg, run_dir = resume_config(Path(out) if out is not None else None, given, epochs,
                                     TrainConfig)
    else:
        cfg = new_config(given, epochs, TrainConfig)
        run_dir = Path(out) if out is not None else default_run_dir(cfg)
    cfg.device = device
    cfg.log_every = log_every
    cfg.bf16 = bool(bf16)
    if data_dir is not None:
        cfg.data_dir = str(data_dir)
    if device not in ("cpu", "cuda") and not re.fullmatch(r"cuda:\d+", device):
        raise UserError(f"--device {device!r}: choose cpu or cuda")
    if not isinstance(nproc, int) or nproc < 1:
        raise UserError(f"--nproc must be >= 1, got {nproc}")
    world = int(os.environ.get("WORLD_SIZE", "1")) if in_worker() else nproc
    if in_worker() and nproc not in (1, world):
        raise UserError(f"--nproc {nproc} inside a torchrun run of {world} processes: leave "
                        "--nproc out under torchrun (its --nproc-per-node sets the processes)")
    if cfg.batch_size % world:
        raise UserError(f"--batch-size {cfg.batch_size} is the global batch and must divide "
                        f"evenly over the {world} processes (each takes batch / {world}); "
                        f"choose a multiple of {world}")
    if nproc > 1 and not in_worker():
        import torch

        from .distributed import launch

        if device.startswith("cuda") and torch.cuda.device_count() < nproc:
            raise UserError(f"--nproc {nproc} --device cuda needs {nproc} CUDA devices; this "
                            f"machine has {torch.cuda.device_count()}")
        from .loop import check_run_dir

        check_run_dir(run_dir, resume, overwrite)  # fail here, before starting processes
        kwargs = dict(model=model, dataset=dataset, data_dir=str(data_dir) if data_dir else None,
                      optimizer=optimizer, epochs=epochs, out=str(run_dir), resume=resume,
                      overwrite=overwrite, device=device, log_every=log_every,
                      progress=progress, bf16=bool(bf16), **options)
        return TrainResult.from_summary(launch(nproc, kwargs, run_dir))
    summary = run_training(cfg, run_dir, resume=resume, progress=progress, overwrite=overwrite)
    return TrainResult.from_summary(summary)


def new_config(given: dict, epochs: int | None, TrainConfig) -> Any:  # noqa: N803
    """A new run's TrainConfig from the flags given (names as TrainConfig's)."""
    from .augment import resolve_augment
    from .models import resolve_bits
    from .optimizers import DECAYS, OPTIMIZERS, check_optimizer_bits

    wbits, abits = resolve_bits(given.get("model", RUN_DEFAULTS["model"]),
                                given.get("weight_bits"), given.get("act_bits"))
    opt = given.get("optimizer", DEFAULT_OPTIMIZER if wbits == 1 else DEFAULT_MULTIBIT_OPTIMIZER)
    if opt not in OPTIMIZERS:
        raise UserError(f"unknown optimizer {opt!r}; choose one of {', '.join(OPTIMIZERS)}")
    check_optimizer_bits(opt, wbits)
    recipe = given.get("recipe", RUN_DEFAULTS["recipe"])
    allowed = {"filter": {"alpha", "gamma", "alpha_decay"}, "bop": {"gamma", "tau"},
               "adam": {"weight_decay"}, "sgd": {"weight_decay"}}[opt]
    if recipe == "two-step":
        allowed = allowed | {"weight_decay"}
    for flag in ("alpha", "gamma", "alpha_decay", "tau", "weight_decay"):
        if flag in given and flag not in allowed:
            raise UserError(f"--{flag.replace('_', '-')} has no meaning with --optimizer {opt}"
                            + (" (weight decay applies to latent weights; use --recipe "
                               "two-step for step 1's)" if flag == "weight_decay" else ""))
    if given.get("alpha_decay", hyper("filter", "alpha_decay")) not in DECAYS:
        raise UserError(f"unknown --alpha-decay {given['alpha_decay']!r}; choose one of "
                        f"{', '.join(DECAYS)}")
    wd = given.get("weight_decay", TWO_STEP_WEIGHT_DECAY if recipe == "two-step"
                   else hyper(opt, "weight_decay"))
    for name in ("lr", "alpha", "gamma", "tau"):
        if name in given and given[name] <= 0 and name != "tau":
            raise UserError(f"--{name} must be > 0, got {given[name]}")
    if wd < 0:
        raise UserError(f"--weight-decay must be >= 0, got {wd}")
    if "dropout" in given and not 0.0 <= given["dropout"] < 1.0:
        raise UserError(f"--dropout must be in [0, 1), got {given['dropout']}")
    augment = given.get("augment", RUN_DEFAULTS["augment"])
    # an unknown name is a UserError
    resolve_augment(augment, given.get("dataset", RUN_DEFAULTS["dataset"]))
    if "shift" in given:
        if augment != "shift":
            raise UserError("--shift has no meaning without --augment shift")
        if not 1 <= given["shift"] <= 8:
            raise UserError(f"--shift must be 1..8 pixels, got {given['shift']}")
    if "jitter" in given and not 0.0 <= given["jitter"] <= 1.0:
        raise UserError(f"--jitter must be in [0, 1], got {given['jitter']}")
    run = {k: given.get(k, v) for k, v in RUN_DEFAULTS.items()}
    run.update(recipe=recipe, augment=augment,
               epochs=RUN_DEFAULTS["epochs"] if epochs is None else epochs)
    cfg = TrainConfig(
        **run, optimizer=opt, lr=given.get("lr", hyper(opt, "lr")), weight_decay=wd,
        alpha=given.get("alpha", hyper("filter", "alpha")),
        gamma=given.get("gamma", hyper(opt, "gamma")),
        alpha_decay=given.get("alpha_decay", hyper("filter", "alpha_decay")),
        tau=given.get("tau", hyper("bop", "tau")), dropout=given.get("dropout"),
        weight_bits=wbits, act_bits=abits)
    if cfg.epochs < 1 or cfg.batch_size < 2:
        raise UserError("--epochs must be >= 1 and --batch-size >= 2")
    return cfg


def resume_config(out: Path | None, given: dict, epochs: int | None,
                  TrainConfig) -> tuple[Any, Path]:  # noqa: N803
    """The saved TrainConfig of the run in `out`, checked against the flags given."""
    if out is None:
        raise UserError("--resume needs --out, the run folder to continue")
    path = Path(out) / "config.json"
    if not path.exists() or not (Path(out) / "checkpoint.pt").exists():
        raise UserError(f"--resume: no checkpoint in {out} (expected config.json and "
                        "checkpoint.pt)")
    from .models import resolve_bits

    saved = json.loads(path.read_text())
    saved.pop("derived", None)
    cfg = TrainConfig(**saved)
    # runs from before the bit-width flags: their model's own widths
    cfg.weight_bits, cfg.act_bits = resolve_bits(cfg.model, cfg.weight_bits, cfg.act_bits)
    for k, v in given.items():
        if getattr(cfg, k) != v:
            flag = "--" + k.replace("_", "-")
            raise UserError(f"--resume continues {out} with its own settings: {flag} {v} "
                            f"differs from the saved {getattr(cfg, k)}")
    if epochs is not None and epochs != cfg.epochs:
        if cfg.recipe != "one-step":
            raise UserError("--epochs cannot change on --resume with --recipe two-step")
        cfg.epochs = epochs
    return cfg, Path(out)
