"""Data-parallel training: torchrun workers, synchronised normalisation, the launcher.

``torchrun --nproc-per-node N -m xnorflow train ...`` starts N workers that each run
:func:`xnorflow.train.api.train`; ``xnorflow train --nproc N`` (``nproc=N`` in Python) starts
torchrun itself (:func:`launch`) and reports a failed rank in one clear message.

How a run is split (train/loop.py):

- every rank draws the same data order and augmentation from the run's seeded generator, and
  takes its contiguous share of each *global* batch (``--batch-size`` stays the global batch;
  each rank gets ``batch / N``): rank r's part of a step is samples ``[r·n/N, (r+1)·n/N)``;
- the loss each rank back-propagates is its share of the global mean (``Σ CE · N / n``, which
  DDP's gradient average turns into the gradient of the global batch's mean loss), so every
  optimizer sees the single-process gradient and updates every rank identically — the
  gradient filter and Bop flip signs from the all-reduced gradient, and the filter's random
  sign where its state is exactly 0 comes from a generator seeded the same on every rank;
- BatchNorm and the final TensorNorm normalise with the statistics of the global batch
  (:class:`SyncBatchNorm1d`/``2d``, :class:`SyncTensorNorm`: one all-reduce per layer, with
  gradients through it), as torch's SyncBatchNorm does (which runs on GPUs only). Why: a BNN's
  thresholds *are* its BatchNorm statistics (FINN folds them into the MVAU thresholds); with
  per-rank statistics, N ranks would train a different network from the one a single process
  trains with the same batch, the running statistics exported would be rank 0's alone, and the
  result would change with the number of ranks. Synchronised, N ranks compute what one process
  computes, up to float rounding (tests/train/test_distributed.py checks it);
- metrics, checkpoints, plots and the QONNX export are written by rank 0; the others wait at
  a barrier after each epoch's checkpoint.

Dropout draws its masks from each rank's own torch generator (rank 0's is the single-process
one), so runs with dropout are not bit-equal to a single process (statistically the same).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from .errors import UserError

__all__ = ["DistContext", "RankFailed", "SyncBatchNorm1d", "SyncBatchNorm2d", "SyncTensorNorm",
           "all_reduce_sum", "context", "convert_sync_norms", "in_worker", "launch",
           "local_share", "rank0_then_share", "STATE_ENV", "LOST_PEER_EXIT"]

log = logging.getLogger(__name__)

STATE_ENV = "XNORFLOW_DDP_STATE"  # folder where the launcher's workers leave summary/errors
LOST_PEER_EXIT = 75  # a worker's exit code when another rank vanished under it


class RankFailed(RuntimeError):
    """A rank of a data-parallel run died or lost contact; the last checkpoint resumes."""


@dataclass
class DistContext:
    """This process's place in the run: rank, world size, local rank, torch device."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: str = "cpu"
    owns_group: bool = False  # this process initialised the process group (and destroys it)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self.owns_group = False


def in_worker() -> bool:
    """True inside a torchrun worker of a run with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def context(device: str) -> DistContext:
    """This process's :class:`DistContext`; inside torchrun, joins (or reuses) the process group:
    gloo for ``device`` cpu, NCCL for cuda (each rank on cuda:LOCAL_RANK)."""
    if not in_worker():
        return DistContext(device=device)
    rank = int(os.environ["RANK"])
    world = int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    cuda = device.startswith("cuda")
    if cuda:
        if not torch.cuda.is_available():
            raise UserError("--device cuda requested but no CUDA device is available")
        if local >= torch.cuda.device_count():
            raise UserError(f"rank {rank} needs cuda:{local}, but this machine has "
                            f"{torch.cuda.device_count()} CUDA device(s); start at most that "
                            "many processes per node")
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    owns = False
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo",
                                device_id=torch.device(device) if cuda else None)
        owns = True
    return DistContext(rank=rank, world=world, local_rank=local, device=device, owns_group=owns)


def local_share(n: int, rank: int, world: int) -> tuple[int, int]:
    """Rank ``rank``'s contiguous part ``[lo, hi)`` of a global batch of ``n`` samples."""
    return rank * n // world, (rank + 1) * n // world


def rank0_then_share(ctx: DistContext, fn, *args, **kwargs):
    """Run ``fn`` on rank 0 only and hand its result (or its UserError) to every rank."""
    if not ctx.distributed:
        return fn(*args, **kwargs)
    box: list[Any] = [None]
    if ctx.is_main:
        try:
            box[0] = ("ok", fn(*args, **kwargs))
        except UserError as exc:
            box[0] = ("error", str(exc))
    dist.broadcast_object_list(box, src=0)
    kind, value = box[0]
    if kind == "error":
        raise UserError(value)
    return value


class _AllReduceSum(torch.autograd.Function):
    """all_reduce(SUM) whose backward is all_reduce(SUM) of the incoming gradients."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        y = x.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: D102
        g = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(g)
        return g


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum over the ranks, differentiable (the identity outside a distributed run)."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return x
    return _AllReduceSum.apply(x)


def _syncing(module: nn.Module) -> bool:
    return module.training and dist.is_initialized() and dist.get_world_size() > 1


def _global_moments(x: torch.Tensor, dims: list[int]) -> tuple[torch.Tensor, torch.Tensor,
                                                                  torch.Tensor]:
    """Mean and biased variance over ``dims`` of the global batch, and its size: one
    all-reduce of (Σx, Σx², n) accumulated in float64 (so that E[x²] − E[x]² loses nothing
    a float32 two-pass would keep), with gradients through it."""
    n_local = 1
    for d in dims:
        n_local *= x.shape[d]
    xd = x.double()
    count = torch.full((1,), float(n_local), dtype=torch.float64, device=x.device)
    sums = all_reduce_sum(torch.cat([xd.sum(dims).reshape(-1),
                                     (xd * xd).sum(dims).reshape(-1), count]))
    n = sums[-1].detach()
    c = (sums.numel() - 1) // 2
    mean = sums[:c] / n
    var = (sums[c:2 * c] / n - mean * mean).clamp(min=0)
    return mean.to(x.dtype), var.to(x.dtype), n.to(x.dtype)


class _SyncBN:
    """forward of BatchNorm with the global batch's statistics (mixed into BatchNorm1d/2d)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _syncing(self):
            return super().forward(x)  # type: ignore[misc]
        if x.dtype != torch.float32:
            x = x.float()
        dims = [0, *range(2, x.dim())]
        mean, var, n = _global_moments(x, dims)
        shape = [1, -1] + [1] * (x.dim() - 2)
        y = (x - mean.reshape(shape)) * torch.rsqrt(var + self.eps).reshape(shape)
        if self.affine:
            y = y * self.weight.reshape(shape) + self.bias.reshape(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                     else self.momentum)
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * n / (n - 1).clamp(min=1),
                                                  alpha=m)
        return y


class SyncBatchNorm1d(_SyncBN, nn.BatchNorm1d):
    """nn.BatchNorm1d normalising with the statistics of the whole (all-rank) batch."""


class SyncBatchNorm2d(_SyncBN, nn.BatchNorm2d):
    """nn.BatchNorm2d normalising with the statistics of the whole (all-rank) batch."""


def _tensor_norm_cls():
    from .models import TensorNorm

    class SyncTensorNorm(TensorNorm):
        """TensorNorm (one scalar mean/variance) over the whole (all-rank) batch."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if not _syncing(self):
                return super().forward(x)
            if x.dtype != torch.float32:
                x = x.float()
            flat = x.reshape(1, -1)
            mean, var, n = _global_moments(flat, [0, 1])
            mean, var = mean.reshape(()), var.reshape(())
            with torch.no_grad():
                unbiased = var * n / (n - 1).clamp(min=1)
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean.detach())
                self.running_var.mul_(1 - self.momentum).add_(self.momentum * unbiased.detach())
            return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias

    return SyncTensorNorm


SyncTensorNorm = _tensor_norm_cls()


def convert_sync_norms(model: nn.Module) -> int:
    """Make every BatchNorm1d/2d and TensorNorm of ``model`` normalise over the global batch
    (in place: the modules change class, parameters, buffers and state-dict keys stay).
    Returns how many were converted. Outside a multi-process run they behave as before."""
    from .models import TensorNorm

    n = 0
    for m in model.modules():
        if type(m) is nn.BatchNorm1d:
            m.__class__ = SyncBatchNorm1d
        elif type(m) is nn.BatchNorm2d:
            m.__class__ = SyncBatchNorm2d
        elif type(m) is TensorNorm:
            m.__class__ = SyncTensorNorm
        else:
            continue
        n += 1
    return n


def is_comm_error(exc: BaseException) -> bool:
    """Whether ``exc`` says a collective failed because another rank went away."""
    if isinstance(exc, getattr(dist, "DistError", ())):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(
        k in text for k in ("Connection closed by peer", "Connection reset", "gloo", "Gloo",
                            "NCCL", "Broken pipe", "connection", "timed out"))


# ---- launcher ---------------------------------------------------------------------------------

def resume_hint(out: Path, nproc: int) -> str:
    return f"xnorflow train --resume --out {out} --nproc {nproc}"


def checkpoint_epoch(out: Path) -> int | None:
    """The epoch the run folder's checkpoint.pt holds (None if none)."""
    path = Path(out) / "checkpoint.pt"
    if not path.exists():
        return None
    try:
        return int(torch.load(path, map_location="cpu", weights_only=False)["epoch"])
    except Exception:  # noqa: BLE001 - a torn file: say there is none usable
        return None


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    if code == LOST_PEER_EXIT:
        return "stopped: lost contact with another rank"
    return f"exited with code {code}"


def launch(nproc: int, kwargs: dict, out: Path, entry: list[str] | None = None) -> dict:
    """Run ``api.train(**kwargs)`` on ``nproc`` local processes through torchrun and return
    rank 0's summary. A failing rank stops the run: raises :class:`UserError` or
    :class:`~xnorflow.train.loop.TrainingDiverged` when every rank stopped for that reason, and
    :class:`RankFailed` (naming the rank, its exit and the command that resumes from the last
    checkpoint) when a rank died. ``entry`` replaces the worker (``-m xnorflow.train.worker``)
    by another command line taking the kwargs file as its last argument (tests use it)."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    from .loop import TrainingDiverged

    with tempfile.TemporaryDirectory(prefix="xnorflow-ddp-") as state:
        kwfile = Path(state) / "kwargs.json"
        kwfile.write_text(json.dumps(kwargs))
        argv = ["--standalone", "--nnodes", "1", "--nproc-per-node", str(nproc),
                "--max-restarts", "0", *(entry or ["-m", "xnorflow.train.worker"]),
                str(kwfile)]
        saved = os.environ.get(STATE_ENV)
        os.environ[STATE_ENV] = state
        quiet = logging.getLogger("torch.distributed.elastic")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)
        try:
            run(parse_args(argv))
        except ChildFailedError as exc:
            failures = {int(r): int(f.exitcode) for r, f in exc.failures.items()}
            errors = {}
            for f in Path(state).glob("error-*.json"):
                e = json.loads(f.read_text())
                errors[int(e["rank"])] = e
            if errors and len(errors) == len(failures) or (errors and all(
                    e["kind"] in ("UserError", "TrainingDiverged") for e in errors.values())):
                first = errors[min(errors)]
                if first["kind"] == "UserError":
                    raise UserError(first["message"]) from None
                if first["kind"] == "TrainingDiverged":
                    raise TrainingDiverged(first["message"]) from None
            raise RankFailed(_explain(failures, errors, out, nproc, kwargs)) from None
        except SignalException as exc:  # Ctrl-C / SIGTERM to the launcher: torchrun stopped all
            if exc.sigval == signal.SIGINT:
                raise KeyboardInterrupt from None
            raise RankFailed(f"the launcher got {signal.Signals(exc.sigval).name} and stopped "
                             f"every rank; continue with: {resume_hint(out, nproc)}") from None
        finally:
            quiet.setLevel(level)
            if saved is None:
                os.environ.pop(STATE_ENV, None)
            else:
                os.environ[STATE_ENV] = saved
        summary_path = Path(state) / "summary.json"
        if not summary_path.exists():
            raise RankFailed("the distributed run ended without rank 0's summary; "
                             f"see the messages above. Continue with: {resume_hint(out, nproc)}")
        return json.loads(summary_path.read_text())


def _explain(failures: dict[int, int], errors: dict[int, dict], out: Path, nproc: int,
             kwargs: dict) -> str:
    # the root cause: ranks that did not merely lose a peer or get stopped by torchrun
    collateral = {LOST_PEER_EXIT, -signal.SIGTERM}
    root = {r: c for r, c in failures.items() if c not in collateral} or failures
    lines = [f"rank {r} {_describe_exit(c)}"
             + (f": {errors[r]['kind']}: {errors[r]['message']}" if r in errors else "")
             for r, c in sorted(root.items())]
    others = sorted(set(failures) - set(root))
    msg = "data-parallel training stopped: " + "; ".join(lines)
    if others:
        msg += f" (then rank(s) {', '.join(map(str, others))} stopped with it)"
    epoch = checkpoint_epoch(out)
    total = kwargs.get("epochs") if isinstance(kwargs, dict) else None
    if epoch is None:
        msg += f". No checkpoint was written in {out} yet: start the run again."
    else:
        of = f" of {total}" if total else ""
        msg += (f". The last checkpoint is {Path(out) / 'checkpoint.pt'} (epoch {epoch}{of}); "
                f"continue with: {resume_hint(out, nproc)}")
    return msg


def write_state(name: str, payload: dict) -> None:
    """Leave ``payload`` for the launcher (a no-op when not started by :func:`launch`)."""
    folder = os.environ.get(STATE_ENV)
    if folder:
        tmp = Path(folder) / (name + ".tmp")
        tmp.write_text(json.dumps(payload))
        tmp.replace(Path(folder) / name)


@contextlib.contextmanager
def lost_peer_as_rankfailed(ctx: DistContext, out: Path):
    """Turn a failed collective (another rank died) into :class:`RankFailed` with the resume
    command."""
    try:
        yield
    except Exception as exc:
        if ctx.distributed and not isinstance(exc, UserError | RankFailed) \
                and is_comm_error(exc):
            epoch = checkpoint_epoch(out)
            where = (f"the last checkpoint is {Path(out) / 'checkpoint.pt'} (epoch {epoch})"
                     if epoch is not None else "no checkpoint yet")
            raise RankFailed(
                f"rank {ctx.rank}: lost contact with another rank (did it die?): "
                f"{str(exc).splitlines()[0][:200]}; {where}; continue with: "
                f"{resume_hint(out, ctx.world)} (or torchrun ... -m xnorflow train --resume "
                f"--out {out})") from exc
        raise


@contextlib.contextmanager
def sigterm_as_rankfailed(ctx: DistContext, out: Path):
    """In a multi-process run, turn torchrun's SIGTERM (sent to every rank when one failed)
    into :class:`RankFailed` saying where the last checkpoint is and how to resume."""
    if not ctx.distributed:
        yield
        return

    def handler(signum, frame):
        epoch = checkpoint_epoch(out)
        where = (f"the last checkpoint is {Path(out) / 'checkpoint.pt'} (epoch {epoch})"
                 if epoch is not None else "no checkpoint yet")
        raise RankFailed(
            f"rank {ctx.rank}: stopped by SIGTERM (torchrun stops every rank when one fails or "
            f"the run is interrupted; its report names the rank that failed first); {where}; "
            f"continue with: torchrun --nproc-per-node {ctx.world} -m xnorflow train --resume "
            f"--out {out} (or {resume_hint(out, ctx.world)})")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

