"""``xnorflow train``: train a BNN, log BNN diagnostics, export the best model to QONNX.

torch and Brevitas are imported inside the command so that ``xnorflow --help`` stays fast.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import typer

from .defaults import OPTIMIZER_DEFAULTS, TWO_STEP_WEIGHT_DECAY

__all__ = ["train"]

_D = OPTIMIZER_DEFAULTS
_F, _B = _D["filter"], _D["bop"]


def _fail(msg: str, code: int = 2) -> typer.Exit:
    if msg:  # other ranks than 0 of a torchrun run stay quiet about what rank 0 says
        typer.echo(f"error: {msg}", err=True)
    return typer.Exit(code)


def train(
    model: str = typer.Option(None, "--model", "-m", help=(
        "tfc | sfc | lfc | cnv (FINN's bnn_pynq BNNs, 1W1A) | NAME-XwYa (X-bit weights, Y-bit "
        "activations: tfc-1w2a, tfc-2w2a, sfc-1w2a, sfc-2w2a, lfc-1w2a, cnv-1w2a, cnv-2w2a as "
        "in bnn_pynq; X, Y in 1..4) | mlp:W1,W2,.. (hidden widths) | cnn:C1,C2,P,C3,..,G/F1,F2 "
        "(conv layers by output channels, 3x3 without padding, stride 1; suffixes kK, sS, pP "
        "set kernel, stride and zero padding, e.g. 64p1, 64s2, 64k5p2; P = 2x2 max-pool after "
        "the previous conv; G = global average pool, last before '/'; after '/' the FC hidden "
        "widths) | resnet:W1,W2,..,G/B/F1,F2 (3x3 stem conv, then stages of residual blocks "
        "y = act(act(bn(conv(x))) + shortcut(x)) by width, B blocks each or B1,B2,.. per stage, "
        "2 convs per block; every stage after the first starts with a stride-2 block with a "
        "1x1 conv shortcut; stage suffixes kK (odd kernel), sS (stride 1|2), cC (1|2 convs), m "
        "(2x2 max-pool shortcut); G = global average pool; after a second '/' the FC hidden "
        "widths). Default tfc.")),
    weight_bits: int = typer.Option(None, "--weight-bits", help=(
        "Bits of every layer's weights, 1..4 (1 = binary ±1; k = signed narrow-range levels "
        "in [-1, 1], bnn_pynq's). Default: the model's (1, or X of NAME-XwYa). filter and bop "
        "train 1-bit weights only.")),
    act_bits: int = typer.Option(None, "--act-bits", help=(
        "Bits of every hidden activation, 1..4 (1 = sign; k = hard-tanh to [-1, 1] then k-bit "
        "levels). Default: the model's (1, or Y of NAME-XwYa). MLPs take an input of the same "
        "width (bnn_pynq's FC); CNNs an 8-bit input.")),
    dataset: str = typer.Option(None, "--dataset", "-d", help=(
        "digits (built in, default) | mnist | fashion-mnist | cifar10.")),
    data_dir: Path = typer.Option(None, "--data-dir", help=(
        "Folder with the data set's files (idx files for MNIST/Fashion-MNIST; for CIFAR-10 "
        "cifar10-jpeg.npz, the pickle batches, train|test/<class>/ images or a tar of them).")),
    optimizer: str = typer.Option(None, "--optimizer", help=(
        "filter (gradient filtering, no latent weights; default for 1-bit weights) | adam "
        "(default for multi-bit weights) | sgd (latent weights clipped to [-1, 1]) | bop. "
        "filter and bop train 1-bit weights only.")),
    alpha: float = typer.Option(None, "--alpha", help=(
        f"filter: rate of the 2nd EMA [{_F['alpha']:g}].")),
    gamma: float = typer.Option(None, "--gamma", help=(
        f"filter: rate of the 1st EMA [{_F['gamma']:g}]; bop: adaptivity rate "
        f"[{_B['gamma']:g}].")),
    alpha_decay: str = typer.Option(None, "--alpha-decay", help=(
        "filter: cosine (default) | linear | none, over the run's steps.")),
    tau: float = typer.Option(None, "--tau", help=f"bop: flip threshold [{_B['tau']:g}]."),
    lr: float = typer.Option(None, "--lr", help=(
        f"Learning rate, cosine-decayed (adam {_D['adam']['lr']:g}, sgd {_D['sgd']['lr']:g}). "
        f"With filter/bop: Adam's rate for the real-valued parameters (BatchNorm) "
        f"[{_F['lr']:g}].")),
    weight_decay: float = typer.Option(None, "--weight-decay", help=(
        f"adam/sgd: weight decay on the latent weights (adam {_D['adam']['weight_decay']:g}, "
        f"sgd {_D['sgd']['weight_decay']:g}). Two-step recipe: step 1's weight decay "
        f"[{TWO_STEP_WEIGHT_DECAY:g}]; step 2 always uses 0.")),
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
    overwrite: bool = typer.Option(False, "--overwrite", help=(
        "Start afresh in an --out folder that holds an earlier run, deleting that run's files "
        "(without it, or --resume, such a folder is an error).")),
    device: str = typer.Option("cpu", "--device", help=(
        "cpu | cuda. On cuda the data sets live on the GPU, CNNs run channels-last, and no "
        "step waits for the host.")),
    nproc: int = typer.Option(1, "--nproc", help=(
        "Train data-parallel on N local processes (starts torchrun: gloo on CPU, NCCL with "
        "--device cuda, one GPU each). --batch-size stays the global batch (N must divide "
        "it); results equal one process's up to float rounding. Or run "
        "`torchrun --nproc-per-node N -m xnorflow train ...` yourself.")),
    bf16: bool = typer.Option(False, "--bf16", help=(
        "Forward pass and loss under bfloat16 autocast (for GPUs; BatchNorm stays float32).")),
    log_every: int = typer.Option(0, "--log-every", help=(
        "Also log loss/FF ratio every N steps to steps.jsonl (0 = per epoch only).")),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bars."),
) -> None:
    """Train a binary (or 1-4-bit) neural network and export the best model to QONNX
    (model.onnx).

    Writes OUT/config.json, metrics.jsonl (per epoch: loss, accuracy, FF and C2I ratios,
    saturation, CAM/SDAM, alpha or lr, seconds), checkpoint.pt, best.pt, model.onnx,
    model.json (input shape, uint8 → input mapping x = u8/255, classes) and plots/*.png.
    """
    warnings.filterwarnings("ignore", message=".*fast_hadamard_transform.*")
    logging.basicConfig(level=logging.WARNING)
    rank = int(os.environ.get("RANK", "0"))  # set by torchrun
    try:
        from .api import train as train_run
        from .distributed import RankFailed
        from .errors import UserError
        from .loop import TrainingDiverged
    except ImportError as exc:  # pragma: no cover - broken environment
        raise _fail(f"cannot import the training stack ({exc}); run scripts/setup.sh") from exc

    try:
        result = train_run(
            model, dataset, data_dir=data_dir, optimizer=optimizer, epochs=epochs, out=out,
            resume=resume, overwrite=overwrite, device=device, log_every=log_every,
            progress=progress, weight_bits=weight_bits, act_bits=act_bits, alpha=alpha,
            gamma=gamma, alpha_decay=alpha_decay, tau=tau,
            lr=lr, weight_decay=weight_decay, bias_init=bias_init, dropout=dropout,
            recipe=recipe, augment=augment, shift=shift, jitter=jitter, batch_size=batch_size,
            seed=seed, nproc=nproc, bf16=bf16)
    except UserError as exc:
        raise _fail(str(exc) if rank == 0 else "", code=2) from None
    except TrainingDiverged as exc:
        raise _fail(str(exc) if rank == 0 else "", code=1) from None
    except RankFailed as exc:
        raise _fail(str(exc), code=1) from None
    except KeyboardInterrupt:
        where = (f" --out {out}" if out is not None else "") + (
            f" --nproc {nproc}" if nproc > 1 else "")
        raise _fail(f"interrupted; continue with --resume{where}", code=130) from None
    if rank != 0:  # under torchrun: rank 0 prints
        return
    _print_summary(result)
    if not result.onnx_check.get("ok", False):
        raise _fail(f"QONNX check failed: {result.onnx_check}", code=1)


def _print_summary(result) -> None:
    last, check = result.last, result.onnx_check
    secs = last.get("seconds", 0.0)
    typer.echo(
        f"trained {result.epochs_done} epochs → {result.out}\n"
        f"  best test accuracy {result.best_test_acc:.4f} (epoch {result.best_epoch}); "
        f"last: test {last.get('test_acc', 0):.4f}, train {last.get('train_acc', 0):.4f}, "
        f"loss {last.get('train_loss', 0):.4f}\n"
        f"  FF ratio {last.get('ff_ratio', 0):.2e}, C2I {last.get('c2i_ratio', 0):.3f}, "
        f"saturation {last.get('saturation', 0):.3f}, {secs:.1f} s/epoch\n"
        f"  model.onnx: QONNX check on {check.get('n', 0)} test images: labels equal "
        f"{check.get('labels_equal')}, max |diff| {check.get('max_abs_diff', float('nan')):.2e}"
    )
