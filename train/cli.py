"""``xnorflow train``: train a BNN, log BNN diagnostics, export the best model to QONNX.

torch and Brevitas are imported inside the command so that ``xnorflow --help`` stays fast.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from pathlib import Path

import typer

__all__ = ["train"]

_DEFAULTS = {  # per optimizer: lr (latent weights, or Adam for the real-valued parameters)
    "filter": {"lr": 1e-2, "weight_decay": 0.0},
    "bop": {"lr": 1e-2, "weight_decay": 0.0, "gamma": 1e-4},
    "adam": {"lr": 1e-2, "weight_decay": 0.0},
    "sgd": {"lr": 0.1, "weight_decay": 1e-4},
}
_TWO_STEP_WD = 5e-6  # step 1 weight decay of the two-step recipe (Liu et al.)


def _fail(msg: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {msg}", err=True)
    return typer.Exit(code)


def train(
    model: str = typer.Option(None, "--model", "-m", help=(
        "tfc | sfc | lfc | cnv (FINN's bnn_pynq BNNs) | mlp:W1,W2,.. (hidden widths) | "
        "cnn:C1,C2,P,C3,../F1,F2 (3x3 convs without padding, P = 2x2 max-pool after the "
        "previous conv, after '/' the FC hidden widths). Default tfc.")),
    dataset: str = typer.Option(None, "--dataset", "-d", help=(
        "digits (built in, default) | mnist | fashion-mnist | cifar10.")),
    data_dir: Path = typer.Option(None, "--data-dir", help=(
        "Folder with the data set's files (idx files for MNIST/Fashion-MNIST; for CIFAR-10 "
        "cifar10-jpeg.npz, the pickle batches, train|test/<class>/ images or a tar of them).")),
    optimizer: str = typer.Option(None, "--optimizer", help=(
        "filter (gradient filtering, no latent weights; default) | adam | sgd (latent weights "
        "clipped to [-1, 1]) | bop.")),
    alpha: float = typer.Option(None, "--alpha", help="filter: rate of the 2nd EMA [1e-3]."),
    gamma: float = typer.Option(None, "--gamma", help=(
        "filter: rate of the 1st EMA [1e-2]; bop: adaptivity rate [1e-4].")),
    alpha_decay: str = typer.Option(None, "--alpha-decay", help=(
        "filter: cosine (default) | linear | none, over the run's steps.")),
    tau: float = typer.Option(None, "--tau", help="bop: flip threshold [1e-8]."),
    lr: float = typer.Option(None, "--lr", help=(
        "Learning rate, cosine-decayed (adam 1e-2, sgd 0.1). With filter/bop: Adam's rate for "
        "the real-valued parameters (BatchNorm) [1e-2].")),
    weight_decay: float = typer.Option(None, "--weight-decay", help=(
        "adam/sgd: weight decay on the latent weights (adam 0, sgd 1e-4). Two-step recipe: "
        "step 1's weight decay [5e-6]; step 2 always uses 0.")),
    bias_init: float = typer.Option(0.0, "--bias-init", help=(
        "λ: draw every BatchNorm shift feeding a binary activation from U[-λ, λ] (0 = usual).")),
    dropout: float = typer.Option(None, "--dropout", help=(
        "Dropout rate in front of every FC layer while training (a training choice; the "
        "exported model has none). Default: the model's, bnn_pynq's 0.2 for tfc/sfc/lfc (made "
        "for its 1000 epochs; for runs of tens of epochs 0 trains better, see "
        "benchmarks/train.py), 0 otherwise.")),
    recipe: str = typer.Option(None, "--recipe", help=(
        "one-step (default) | two-step: step 1 (floor(epochs/2) epochs) binary activations, "
        "real weights, Adam with weight decay; step 2 (the rest) binary weights initialised "
        "from step 1, the chosen optimizer, weight decay 0.")),
    augment: str = typer.Option(None, "--augment", help=(
        "auto (default: crop-flip for cifar10, none otherwise) | none | crop-flip (random crop "
        "of the image padded by 4 + horizontal flip) | shift (random translation by up to "
        "--shift pixels, zero fill).")),
    shift: int = typer.Option(None, "--shift", help="Pixels each way for --augment shift [1]."),
    jitter: float = typer.Option(None, "--jitter", help=(
        "Per-image brightness offset U[-J, J] added to the [0, 1] input while training (for "
        "1-bit inputs: a per-image binarisation threshold 0.5±J) [0 = off].")),
    epochs: int = typer.Option(None, "--epochs", "-e", help="Epochs in total [10]."),
    batch_size: int = typer.Option(None, "--batch-size", "-b", help="Batch size [100]."),
    seed: int = typer.Option(None, "--seed", help="Random seed [0]; CPU runs are deterministic."),
    out: Path = typer.Option(None, "--out", "-o", help=(
        "Run folder [runs/<model>-<dataset>-<optimizer>].")),
    resume: bool = typer.Option(False, "--resume", help=(
        "Continue the run in --out from checkpoint.pt with its config.json; only --epochs "
        "(one-step only), --device and --data-dir may change.")),
    device: str = typer.Option("cpu", "--device", help="cpu | cuda."),
    log_every: int = typer.Option(0, "--log-every", help=(
        "Also log loss/FF ratio every N steps to steps.jsonl (0 = per epoch only).")),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bars."),
) -> None:
    """Train a binary neural network and export the best model to QONNX (model.onnx).

    Writes OUT/config.json, metrics.jsonl (per epoch: loss, accuracy, FF and C2I ratios,
    saturation, CAM/SDAM, alpha or lr, seconds), checkpoint.pt, best.pt, model.onnx,
    model.json (input shape, uint8 → input mapping x = u8/255, classes) and plots/*.png.
    """
    warnings.filterwarnings("ignore", message=".*fast_hadamard_transform.*")
    logging.basicConfig(level=logging.WARNING)
    given = {k: v for k, v in dict(
        model=model, dataset=dataset, optimizer=optimizer, alpha=alpha, gamma=gamma,
        alpha_decay=alpha_decay, tau=tau, lr=lr, weight_decay=weight_decay, recipe=recipe,
        dropout=dropout, augment=augment, shift=shift, jitter=jitter,
        batch_size=batch_size, seed=seed).items() if v is not None}
    if bias_init != 0.0:
        given["bias_init"] = bias_init
    try:
        from .errors import UserError
        from .loop import TrainConfig, TrainingDiverged, run_training
    except ImportError as exc:  # pragma: no cover - broken environment
        raise _fail(f"cannot import the training stack ({exc}); run scripts/setup.sh") from exc

    run_dir: Path | None = out
    try:
        if resume:
            cfg, run_dir = _resume_config(out, given, epochs, TrainConfig, UserError)
        else:
            cfg = _new_config(given, epochs, TrainConfig, UserError)
            run_dir = out or Path("runs") / re.sub(r"[^A-Za-z0-9_.-]+", "_",
                                                   f"{cfg.model}-{cfg.dataset}-{cfg.optimizer}")
        cfg.device = device
        cfg.log_every = log_every
        if data_dir is not None:
            cfg.data_dir = str(data_dir)
        summary = run_training(cfg, run_dir, resume=resume, progress=progress)
    except UserError as exc:
        raise _fail(str(exc)) from None
    except TrainingDiverged as exc:
        raise _fail(str(exc), code=1) from None
    except KeyboardInterrupt:
        raise _fail(f"interrupted; continue with --resume --out {run_dir}", code=130) from None
    _print_summary(summary)
    if not summary.get("onnx_check", {}).get("ok", False):
        raise _fail(f"QONNX check failed: {summary.get('onnx_check')}", code=1)


def _new_config(given: dict, epochs: int | None, TrainConfig, UserError):  # noqa: N803
    from .augment import resolve_augment
    from .optimizers import DECAYS, OPTIMIZERS

    opt = given.get("optimizer", "filter")
    if opt not in OPTIMIZERS:
        raise UserError(f"unknown optimizer {opt!r}; choose one of {', '.join(OPTIMIZERS)}")
    recipe = given.get("recipe", "one-step")
    allowed = {"filter": {"alpha", "gamma", "alpha_decay"}, "bop": {"gamma", "tau"},
               "adam": {"weight_decay"}, "sgd": {"weight_decay"}}[opt]
    if recipe == "two-step":
        allowed = allowed | {"weight_decay"}
    for flag in ("alpha", "gamma", "alpha_decay", "tau", "weight_decay"):
        if flag in given and flag not in allowed:
            raise UserError(f"--{flag.replace('_', '-')} has no meaning with --optimizer {opt}"
                            + (" (weight decay applies to latent weights; use --recipe "
                               "two-step for step 1's)" if flag == "weight_decay" else ""))
    if given.get("alpha_decay", "cosine") not in DECAYS:
        raise UserError(f"unknown --alpha-decay {given['alpha_decay']!r}; choose one of "
                        f"{', '.join(DECAYS)}")
    d = _DEFAULTS[opt]
    wd = given.get("weight_decay", _TWO_STEP_WD if recipe == "two-step" else d["weight_decay"])
    for name in ("lr", "alpha", "gamma", "tau"):
        if name in given and given[name] <= 0 and name != "tau":
            raise UserError(f"--{name} must be > 0, got {given[name]}")
    if wd < 0:
        raise UserError(f"--weight-decay must be >= 0, got {wd}")
    if "dropout" in given and not 0.0 <= given["dropout"] < 1.0:
        raise UserError(f"--dropout must be in [0, 1), got {given['dropout']}")
    augment = given.get("augment", "auto")
    resolve_augment(augment, given.get("dataset", "digits"))  # an unknown name is a UserError
    if "shift" in given:
        if augment != "shift":
            raise UserError("--shift has no meaning without --augment shift")
        if not 1 <= given["shift"] <= 8:
            raise UserError(f"--shift must be 1..8 pixels, got {given['shift']}")
    if "jitter" in given and not 0.0 <= given["jitter"] <= 1.0:
        raise UserError(f"--jitter must be in [0, 1], got {given['jitter']}")
    cfg = TrainConfig(
        model=given.get("model", "tfc"), dataset=given.get("dataset", "digits"), optimizer=opt,
        lr=given.get("lr", d["lr"]), weight_decay=wd, alpha=given.get("alpha", 1e-3),
        gamma=given.get("gamma", d.get("gamma", 1e-2)),
        alpha_decay=given.get("alpha_decay", "cosine"), tau=given.get("tau", 1e-8),
        bias_init=given.get("bias_init", 0.0), dropout=given.get("dropout"), recipe=recipe,
        augment=augment, shift=given.get("shift", 1), jitter=given.get("jitter", 0.0),
        epochs=10 if epochs is None else epochs, batch_size=given.get("batch_size", 100),
        seed=given.get("seed", 0))
    if cfg.epochs < 1 or cfg.batch_size < 2:
        raise UserError("--epochs must be >= 1 and --batch-size >= 2")
    return cfg


def _resume_config(out: Path | None, given: dict, epochs: int | None, TrainConfig,  # noqa: N803
                   UserError):
    if out is None:
        raise UserError("--resume needs --out, the run folder to continue")
    path = Path(out) / "config.json"
    if not path.exists() or not (Path(out) / "checkpoint.pt").exists():
        raise UserError(f"--resume: no checkpoint in {out} (expected config.json and "
                        "checkpoint.pt)")
    saved = json.loads(path.read_text())
    saved.pop("derived", None)
    cfg = TrainConfig(**saved)
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


def _print_summary(summary: dict) -> None:
    last = summary.get("last") or {}
    check = summary.get("onnx_check") or {}
    secs = last.get("seconds", 0.0)
    typer.echo(
        f"trained {summary['epochs_done']} epochs → {summary['out']}\n"
        f"  best test accuracy {summary['best_test_acc']:.4f} (epoch {summary['best_epoch']}); "
        f"last: test {last.get('test_acc', 0):.4f}, train {last.get('train_acc', 0):.4f}, "
        f"loss {last.get('train_loss', 0):.4f}\n"
        f"  FF ratio {last.get('ff_ratio', 0):.2e}, C2I {last.get('c2i_ratio', 0):.3f}, "
        f"saturation {last.get('saturation', 0):.3f}, {secs:.1f} s/epoch\n"
        f"  model.onnx: QONNX check on {check.get('n', 0)} test images: labels equal "
        f"{check.get('labels_equal')}, max |diff| {check.get('max_abs_diff', float('nan')):.2e}"
    )
