"""The training loop behind ``xnorflow train``: phases, diagnostics, checkpoints, export.

A run folder holds config.json, metrics.jsonl (one object per epoch), steps.jsonl (with
``log_every``), checkpoint.pt (after every epoch), best.pt, model.onnx + model.json and plots/.
Runs are deterministic on CPU for a seed, and a resumed run reproduces the uninterrupted one:
the checkpoint carries the model, optimizer and data-order generator states and the torch,
numpy and python RNG states.

Inside a torchrun worker the same loop trains data-parallel (train/distributed.py: each rank
takes its share of every global batch, norms use the global batch's statistics, rank 0 writes
the run folder). On CUDA the data sets live on the device and no step waits for the host.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import random
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .augment import apply_augment, apply_jitter, draw_augment, draw_jitter, resolve_augment
from .bias_init import random_bias_init
from .data import INPUT_SCALE, class_names, load_dataset, to_model_input
from .defaults import DEFAULT_OPTIMIZER, RUN_DEFAULTS, TWO_STEP_STEP1_LR, hyper
from .distributed import local_share
from .errors import UserError
from .export import check_qonnx, export_qonnx, write_model_json
from .metrics import FlipCounter, SaturationMonitor, c2i_ratio, cam_sdam, weight_signs
from .models import BinaryNet, get_model, set_weight_quantization
from .optimizers import OptimizerSet, build_optimizer
from .plots import plot_metrics
from .recipes import Phase, phases

__all__ = ["TrainConfig", "TrainingDiverged", "build_model_for", "run_training"]

log = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class TrainConfig:
    """Everything that determines a run (written to config.json)."""

    model: str = RUN_DEFAULTS["model"]
    dataset: str = RUN_DEFAULTS["dataset"]
    data_dir: str | None = None
    optimizer: str = DEFAULT_OPTIMIZER
    lr: float = hyper(DEFAULT_OPTIMIZER, "lr")
    weight_decay: float = hyper(DEFAULT_OPTIMIZER, "weight_decay")
    alpha: float = hyper("filter", "alpha")
    gamma: float = hyper("filter", "gamma")
    alpha_decay: str = hyper("filter", "alpha_decay")
    tau: float = hyper("bop", "tau")
    bias_init: float = RUN_DEFAULTS["bias_init"]
    dropout: float | None = None  # None: the model's default (bnn_pynq's 0.2 for tfc/sfc/lfc)
    weight_bits: int | None = None  # 1..4; None: the model's own (1, or a zoo name's -XwYa)
    act_bits: int | None = None  # 1..4, the hidden activations; None as weight_bits
    recipe: str = RUN_DEFAULTS["recipe"]
    epochs: int = RUN_DEFAULTS["epochs"]
    batch_size: int = RUN_DEFAULTS["batch_size"]
    seed: int = RUN_DEFAULTS["seed"]
    device: str = "cpu"
    log_every: int = 0
    augment: str = RUN_DEFAULTS["augment"]  # auto | none | crop-flip | shift (train/augment.py)
    shift: int = RUN_DEFAULTS["shift"]  # pixels each way, with augment "shift"
    jitter: float = RUN_DEFAULTS["jitter"]  # per-image brightness offset U[-jitter, jitter]
    check_images: int = 16
    bf16: bool = False  # forward and loss under bfloat16 autocast (--bf16; for GPUs)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
             "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # dropout on the GPU
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"].cpu())
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"].cpu())


def _n_batches(n: int, batch: int, world: int = 1) -> int:
    # A trailing batch of one sample would break BatchNorm (and one of fewer samples than
    # ranks would leave a rank without any): drop it.
    rest = n % batch
    return n // batch if rest < max(2, world) else math.ceil(n / batch)


@torch.no_grad()
def _evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: str | torch.device,
              sat: SaturationMonitor, ctx=None, amp=None,
              channels_last: bool = False) -> tuple[float, float]:
    """Test accuracy and mean loss; in a distributed run each rank takes a contiguous share of
    the test set and the sums are all-reduced."""
    model.eval()
    sat.enabled = False
    lo, hi = (0, len(y)) if ctx is None or not ctx.distributed else \
        local_share(len(y), ctx.rank, ctx.world)
    sums = torch.zeros(2, dtype=torch.float64, device=device)  # correct, loss sum
    for i in range(lo, hi, 1000):
        j = min(i + 1000, hi)
        xb = (x[i:j].to(device).float() * INPUT_SCALE)
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        yb = y[i:j].to(device)
        with amp() if amp is not None else contextlib.nullcontext():
            out = model(xb)
        out = out.float()
        sums += torch.stack([(out.argmax(1) == yb).sum().double(),
                             F.cross_entropy(out, yb, reduction="sum").double()])
    if ctx is not None and ctx.distributed:
        torch.distributed.all_reduce(sums)
    sat.enabled = True
    correct, loss = sums.tolist()
    return correct / len(y), loss / len(y)


def _save(path: Path, obj: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _phase_of(plist: list[Phase], epoch: int) -> int:
    return next(i for i, p in enumerate(plist) if p.first_epoch <= epoch < p.first_epoch + p.epochs)


def _make_optimizer(cfg: TrainConfig, model: nn.Module, plist: list[Phase], idx: int,
                    steps: int) -> OptimizerSet:
    phase = plist[idx]
    total = phase.epochs * steps
    if not phase.binary_weights:  # two-step, step 1: Adam on real weights with weight decay
        lr = cfg.lr if cfg.optimizer == "adam" else cfg.extra.get("step1_lr", TWO_STEP_STEP1_LR)
        return build_optimizer(model, "adam", lr=lr, weight_decay=cfg.weight_decay,
                               total_steps=total)
    wd = 0.0 if cfg.recipe == "two-step" else cfg.weight_decay
    return build_optimizer(model, cfg.optimizer, lr=cfg.lr, weight_decay=wd, alpha=cfg.alpha,
                           gamma=cfg.gamma, alpha_decay=cfg.alpha_decay, tau=cfg.tau,
                           total_steps=total, seed=cfg.seed)


def build_model_for(cfg: TrainConfig, in_shape: tuple[int, ...], n_classes: int) -> BinaryNet:
    """The model of ``cfg`` for the data set's shape (raises UserError if it does not fit)."""
    return get_model(cfg.model, in_shape, n_classes, dropout=cfg.dropout,
                     weight_bits=cfg.weight_bits, act_bits=cfg.act_bits)


RUN_FILES = ("config.json", "metrics.jsonl", "steps.jsonl", "checkpoint.pt", "best.pt",
             "model.onnx", "model.json")


def check_run_dir(out: Path, resume: bool, overwrite: bool) -> list[str]:
    """A new run never replaces an earlier one by accident: a folder holding a run is a
    UserError unless the caller resumes it or asks to overwrite it. Returns the earlier run's
    files that an overwrite will delete (once the new run is ready to write)."""
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file; choose another run folder (--out)")
    held = [f for f in RUN_FILES if (out / f).exists()]
    if resume or not held:
        return []
    if not overwrite:
        raise UserError(
            f"{out} already holds a training run ({', '.join(held)}); continue it with "
            f"--resume, start afresh with --overwrite (deletes that run's files), or choose "
            "another --out")
    return held


def run_training(cfg: TrainConfig, out: str | Path, resume: bool = False,
                 progress: bool = True, stop_after_epoch: int | None = None,
                 overwrite: bool = False) -> dict:
    """Train (or resume) a run in ``out``; returns a summary dict.

    A folder that holds an earlier run is a UserError unless ``resume`` or ``overwrite``
    (check_run_dir); an overwritten run's files go only once data and model are ready.

    ``stop_after_epoch`` ends the run early after that many epochs (as an interruption would),
    leaving a resumable checkpoint. Raises :class:`UserError` for user mistakes and
    :class:`TrainingDiverged` for a NaN/inf loss. Inside a torchrun worker the run is
    data-parallel (train/distributed.py); every rank returns rank 0's summary.
    """
    from .distributed import context, lost_peer_as_rankfailed, sigterm_as_rankfailed

    out = Path(out)
    ctx = context(cfg.device)
    try:
        with sigterm_as_rankfailed(ctx, out), lost_peer_as_rankfailed(ctx, out):
            return _run(cfg, out, ctx, resume, progress, stop_after_epoch, overwrite)
    finally:
        ctx.close()


def _run(cfg: TrainConfig, out: Path, ctx, resume: bool, progress: bool,
         stop_after_epoch: int | None, overwrite: bool) -> dict:
    from tqdm import tqdm

    from .distributed import convert_sync_norms, rank0_then_share

    main = ctx.is_main
    world, rank = ctx.world, ctx.rank
    ckpt_path = out / "checkpoint.pt"
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda requested but no CUDA device is available")
    if cfg.batch_size % world:
        raise UserError(f"--batch-size {cfg.batch_size} is the global batch and must divide "
                        f"evenly over the {world} processes")
    replaced = rank0_then_share(ctx, check_run_dir, out, resume, overwrite)
    device = torch.device(ctx.device)
    cuda = device.type == "cuda"
    plist = phases(cfg.recipe, cfg.epochs)

    x_tr, y_tr = load_dataset(cfg.dataset, cfg.data_dir, "train")
    x_te, y_te = load_dataset(cfg.dataset, cfg.data_dir, "test")
    classes = class_names(cfg.dataset)
    in_shape = tuple(int(s) for s in x_tr.shape[1:])
    xtr, ytr = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    xte, yte = torch.from_numpy(x_te), torch.from_numpy(y_te)
    # config.json of older runs holds augment as null / true / false
    legacy = {None: "auto", True: "crop-flip", False: "none"}
    augment = resolve_augment(legacy.get(cfg.augment, cfg.augment), cfg.dataset)
    steps = _n_batches(len(ytr), cfg.batch_size, world)
    if steps < 1:
        raise UserError(f"--batch-size {cfg.batch_size} is larger than the training set "
                        f"({len(ytr)} images)")

    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    random.seed(cfg.seed)
    model = build_model_for(cfg, in_shape, len(classes))
    plist = phases(cfg.recipe, cfg.epochs, model.arch["weight_bits"])
    gen = torch.Generator().manual_seed(cfg.seed)
    random_bias_init(model, cfg.bias_init, generator=gen)
    if rank > 0:  # rank 0 keeps the single-process stream; the others draw their own dropout
        _seed_rank(cfg.seed, rank)
    if ctx.distributed:
        convert_sync_norms(model)
    channels_last = cuda and any(isinstance(m, nn.Conv2d) for m in model.modules())
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True  # ±1 and 8-bit operands are exact in TF32
        torch.backends.cudnn.allow_tf32 = True
        # the data sets live on the device (CIFAR-10's train set is 150 MB as uint8)
        xtr, ytr, xte, yte = (t.to(device) for t in (xtr, ytr, xte, yte))
    net: nn.Module = model
    if ctx.distributed:
        from torch.nn.parallel import DistributedDataParallel

        with warnings.catch_warnings():  # torch 2.13 renames it; the meaning we want is this
            warnings.filterwarnings("ignore", message=".*broadcast_buffers.*")
            # the buffers (BatchNorm statistics) are equal on every rank: synchronised norms
            net = DistributedDataParallel(model, device_ids=[device.index] if cuda else None,
                                          broadcast_buffers=False)

    metrics: list[dict] = []
    best_acc, best_epoch, start_epoch = -1.0, -1, 0
    init_signs: list[torch.Tensor] | None = None
    opt: OptimizerSet | None = None
    phase_idx = -1
    if resume:
        if not ckpt_path.exists():
            raise UserError(f"--resume: no checkpoint at {ckpt_path}")
        # on the CPU: the RNG states must stay CPU tensors; load_state_dict moves the rest
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        start_epoch = int(ck["epoch"])
        phase_idx = int(ck["phase"])
        set_weight_quantization(model, plist[phase_idx].binary_weights)
        opt = _make_optimizer(cfg, model, plist, phase_idx, steps)
        opt.load_state_dict(ck["optimizer"])
        opt.set_total_steps(plist[phase_idx].epochs * steps)  # --epochs may have grown
        gen.set_state(ck["data_gen"].cpu())
        per_rank = ck.get("rng_ranks")
        if per_rank and len(per_rank) == world:
            _set_rng_state(per_rank[rank])
        elif rank == 0:
            _set_rng_state(ck["rng"])
        else:  # another world size than the checkpoint's: a fresh dropout stream
            _seed_rank(cfg.seed + start_epoch, rank)
        metrics = list(ck["metrics"])
        best_acc, best_epoch = float(ck["best_acc"]), int(ck["best_epoch"])
        init_signs = [s.to(device) for s in ck["init_signs"]]
        log.info("resuming %s at epoch %d", out, start_epoch)
    info = {"dataset": cfg.dataset, "classes": classes,
            "input_shape": [1, *in_shape], "input_dtype": "float32",
            "input_uint8_scale": INPUT_SCALE,
            "input_mapping": "x = image_uint8 (N,C,H,W) / 255 as float32; the model then "
                             "computes 2x-1 and its input quantizer",
            "input_bits": model.arch["in_bits"], "weight_bits": model.arch["weight_bits"],
            "act_bits": model.arch["act_bits"], "model": cfg.model, "arch": model.arch,
            "n_train": len(ytr), "n_test": len(yte), "steps_per_epoch": steps,
            "phases": [dataclasses.asdict(p) for p in plist]}
    steps_log = out / "steps.jsonl"
    if main:
        out.mkdir(parents=True, exist_ok=True)
        for name in replaced:
            (out / name).unlink()
        if replaced:
            shutil.rmtree(out / "plots", ignore_errors=True)
        run_info = {**info, "world_size": world}
        (out / "config.json").write_text(json.dumps({**cfg.to_dict(), **{"derived": run_info}},
                                                    indent=2) + "\n")
        _write_jsonl(out / "metrics.jsonl", metrics)
        if cfg.log_every > 0:
            rows = []
            if resume and steps_log.exists():
                rows = [json.loads(r) for r in steps_log.read_text().splitlines() if r.strip()]
                rows = [r for r in rows if r["epoch"] < start_epoch]
            _write_jsonl(steps_log, rows)
    ctx.barrier()

    flips = FlipCounter(model, lazy=cuda)
    sat = SaturationMonitor(model)
    def amp():
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bool(cfg.bf16))

    end_epoch = cfg.epochs if stop_after_epoch is None else min(cfg.epochs, stop_after_epoch)
    for epoch in range(start_epoch, end_epoch):
        idx = _phase_of(plist, epoch)
        if idx != phase_idx:
            phase_idx = idx
            set_weight_quantization(model, plist[idx].binary_weights)
            opt = _make_optimizer(cfg, model, plist, idx, steps)
            init_signs = weight_signs(model)
        assert opt is not None and init_signs is not None
        t0 = time.perf_counter()
        net.train()
        flips.reset()
        sat.reset()
        order = torch.randperm(len(ytr), generator=gen)
        # every step's augmentation, drawn for the global batch in the single-process order
        # (all ranks draw the same; each applies its share) and moved to the device at once
        sizes = [len(order[s * cfg.batch_size:(s + 1) * cfg.batch_size]) for s in range(steps)]
        draws = [(draw_augment(n, augment, gen, cfg.shift), draw_jitter(n, cfg.jitter, gen))
                 for n in sizes]
        aug = {k: torch.cat([d[0][k] for d in draws]).to(device) for k in
               (draws[0][0] if draws else {})}
        jit = (torch.cat([d[1] for d in draws]).to(device)
               if draws and draws[0][1] is not None else None)
        order = order.to(device)
        stats = torch.zeros(2, dtype=torch.float64, device=device)  # loss sum, correct
        seen = 0  # samples of the global batches so far
        bad = torch.full((), -1, dtype=torch.long, device=device)  # first non-finite step
        win_ff, win_loss, win_n = 0.0, torch.zeros((), device=device), 0
        bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False,
                   disable=not (progress and main), unit="step")
        start = 0
        for s in bar:
            n_g = sizes[s]
            lo, hi = local_share(n_g, rank, world)
            sel = slice(start + lo, start + hi)
            idx_b = order[sel]
            xb = apply_augment(xtr[idx_b], augment, {k: v[sel] for k, v in aug.items()},
                               cfg.shift)
            xb = apply_jitter(xb.float() * INPUT_SCALE, None if jit is None else jit[sel])
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            yb = ytr[idx_b]
            start += n_g
            with amp():
                logits = net(xb)
                if world == 1:
                    loss = F.cross_entropy(logits.float(), yb)
                    step_loss = loss.detach()
                    ce_sum = step_loss * len(yb)
                    backward = loss
                else:  # this rank's share of the global mean (DDP averages over the ranks)
                    ce = F.cross_entropy(logits.float(), yb, reduction="sum")
                    ce_sum = ce.detach()
                    step_loss = ce_sum / n_g
                    backward = ce * (world / n_g)
            if not cuda:  # a host check per step costs nothing on CPU
                glob = step_loss
                if world > 1:
                    glob = step_loss.clone()
                    torch.distributed.all_reduce(glob)
                if not torch.isfinite(glob):
                    _diverged(float(glob), epoch, s, ckpt_path)
            else:
                bad = torch.where((bad < 0) & ~torch.isfinite(step_loss),
                                  torch.full_like(bad, s), bad)
            opt.zero_grad()
            backward.backward()
            flips.before_step()
            opt.step()
            ff = flips.after_step()
            stats += torch.stack([ce_sum.double(),
                                  (logits.detach().argmax(1) == yb).sum().double()])
            seen += n_g
            win_ff, win_loss, win_n = win_ff + ff, win_loss + step_loss, win_n + 1
            if cfg.log_every > 0 and (s + 1) % cfg.log_every == 0:
                wl = win_loss.clone()
                if world > 1:
                    torch.distributed.all_reduce(wl)
                row = {"epoch": epoch, "step": epoch * steps + s + 1,
                       "loss": float(wl) / win_n, "ff_ratio": float(win_ff) / win_n,
                       **opt.hparams()}
                if main:
                    with steps_log.open("a") as fh:
                        fh.write(json.dumps(row) + "\n")
                win_ff, win_loss, win_n = 0.0, torch.zeros((), device=device), 0
            if progress and main and s % (100 if cuda else 20) == 0:  # a host sync on GPUs
                loc = stats.tolist()
                mine = sum(local_share(n, rank, world)[1] - local_share(n, rank, world)[0]
                           for n in sizes[:s + 1])
                bar.set_postfix(loss=f"{loc[0] / mine:.3f}", acc=f"{loc[1] / mine:.3f}")
        bar.close()
        if cuda:
            torch.cuda.synchronize(device)
        train_seconds = time.perf_counter() - t0  # the steps only (no evaluation)
        if world > 1:
            torch.distributed.all_reduce(stats)
        if cuda:
            if world > 1:
                torch.distributed.all_reduce(bad, op=torch.distributed.ReduceOp.MAX)
            if int(bad) >= 0:
                _diverged(float("nan"), epoch, int(bad), ckpt_path)
        loss_sum, correct = stats.tolist()
        sat.all_reduce()
        train_sat = sat.per_layer()
        test_acc, test_loss = _evaluate(model, xte, yte, device, sat, ctx, amp, channels_last)
        cam, sdam = cam_sdam(model)
        row = {"epoch": epoch + 1, "phase": plist[idx].name, "train_loss": loss_sum / seen,
               "train_acc": correct / seen, "test_loss": test_loss, "test_acc": test_acc,
               "ff_ratio": flips.mean, "c2i_ratio": c2i_ratio(init_signs, weight_signs(model)),
               "saturation": float(np.mean(train_sat)) if train_sat else 0.0,
               "saturation_layers": train_sat, "cam": cam, "sdam": sdam, **opt.hparams(),
               "seconds": time.perf_counter() - t0, "train_seconds": train_seconds,
               "samples_per_s": seen / train_seconds if train_seconds > 0 else 0.0}
        metrics.append(row)
        improved = plist[idx].binary_weights and test_acc > best_acc
        if improved:
            best_acc, best_epoch = test_acc, epoch + 1
        rngs = _gather_rng(ctx)
        if main:
            with (out / "metrics.jsonl").open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            if improved:
                _save(out / "best.pt", {"model": model.state_dict(), "epoch": epoch + 1,
                                        "test_acc": test_acc, "config": cfg.to_dict()})
            _save(ckpt_path, {"config": cfg.to_dict(), "epoch": epoch + 1, "phase": idx,
                              "model": model.state_dict(), "optimizer": opt.state_dict(),
                              "data_gen": gen.get_state(), "rng": _rng_state(),
                              "rng_ranks": rngs, "world_size": world, "metrics": metrics,
                              "best_acc": best_acc, "best_epoch": best_epoch,
                              "init_signs": [s_.cpu() for s_ in init_signs]})
        ctx.barrier()  # the checkpoint is on disk before any rank goes on
        log.info("epoch %d: %s", epoch + 1, row)
    sat.remove()

    summary = {"out": str(out), "epochs_done": len(metrics), "best_test_acc": best_acc,
               "best_epoch": best_epoch, "last": metrics[-1] if metrics else None,
               "finished": len(metrics) >= cfg.epochs}
    if not summary["finished"]:
        return summary
    if main:
        summary.update(_finish(cfg, in_shape, len(classes), out, xte.cpu(), info, best_acc,
                               best_epoch, metrics))
    if ctx.distributed:
        box = [summary]
        torch.distributed.broadcast_object_list(box, src=0)
        summary = box[0]
    return summary


def _seed_rank(seed: int, rank: int) -> None:
    """A dropout stream of its own for rank > 0 (torch's global generator)."""
    torch.manual_seed(seed * 1_000_003 + rank)


def _gather_rng(ctx) -> list[dict] | None:
    """Every rank's RNG state on rank 0 (for a resume with the same number of ranks)."""
    if not ctx.distributed:
        return None
    states: list = [None] * ctx.world if ctx.is_main else []
    torch.distributed.gather_object(_rng_state(), states if ctx.is_main else None, dst=0)
    return states if ctx.is_main else None


def _diverged(value: float, epoch: int, step: int, ckpt_path: Path) -> None:
    kept = f"{ckpt_path} (epoch {epoch})" if epoch > 0 else "none yet"
    raise TrainingDiverged(
        f"loss is {value} at epoch {epoch + 1}, step {step + 1}: training "
        f"stopped; last good checkpoint kept: {kept}. Try a smaller --lr/--alpha.")


def _finish(cfg: TrainConfig, in_shape: tuple[int, ...], n_classes: int, out: Path,
            xte: torch.Tensor, info: dict, best_acc: float, best_epoch: int,
            metrics: list[dict]) -> dict:
    """Export the best model to QONNX, check it with qonnx, write model.json and the plots.

    The best weights go into a freshly built CPU model (plain BatchNorms, contiguous memory),
    whatever device and number of processes trained them."""
    best = torch.load(out / "best.pt", map_location="cpu", weights_only=False)
    model = build_model_for(cfg, in_shape, n_classes)
    model.load_state_dict(best["model"])
    set_weight_quantization(model, True)
    model.eval()
    onnx_path = export_qonnx(model, out / "model.onnx")
    images = to_model_input(xte[: cfg.check_images].numpy())
    check = dict(check_qonnx(model, onnx_path, images))
    write_model_json(out / "model.json", {**info, "onnx": "model.onnx",
                                          "best_epoch": best_epoch, "test_acc": best_acc,
                                          "onnx_check": check})
    plots = plot_metrics(metrics, out / "plots")
    return {"onnx": str(onnx_path), "onnx_check": check, "plots": [str(p) for p in plots]}
