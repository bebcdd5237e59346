"""A torchrun worker for tests/train/test_distributed.py (not a test module).

``python ddp_worker.py SPEC.json`` with SPEC ``{"checks": DIR, "runs": [...]}``: joins the
process group, runs the unit checks of :func:`checks` (each rank writes DIR/rank<r>.json), then
trains each run (``api.train`` keyword arguments) in turn, recording after every optimizer
step the largest difference between any rank's parameters and rank 0's (rank 0 writes them to
``<out>/rank_diffs.json``). With ``XNORFLOW_TEST_KILL=R:E`` rank R kills itself (SIGKILL) when
it starts evaluating epoch E, as a crashed machine would.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import warnings
from pathlib import Path

import torch
import torch.distributed as dist

warnings.filterwarnings("ignore", message=".*fast_hadamard_transform.*")


def _share(n: int, rank: int, world: int) -> slice:
    return slice(rank * n // world, (rank + 1) * n // world)


def checks(folder: Path) -> None:
    """Synchronised norms against one process on the whole batch, and the gradient filter's
    shared random signs, on this rank; results to folder/rank<r>.json."""
    import copy

    import torch.nn.functional as F

    from xnorflow.train.distributed import convert_sync_norms
    from xnorflow.train.models import get_model
    from xnorflow.train.optimizers import GradientFilter, build_optimizer

    rank, world = dist.get_rank(), dist.get_world_size()
    res: dict = {}
    # 1. BatchNorm2d/1d + TensorNorm: outputs, gradients and running statistics of the
    #    synchronised model on each rank's share vs. one process on the global batch
    torch.manual_seed(0)
    model = get_model("cnn:8,8/16", (1, 8, 8), 10)
    single = copy.deepcopy(model)
    x, y = torch.rand(32, 1, 8, 8), torch.randint(0, 10, (32,))
    out_s = single(x)
    F.cross_entropy(out_s, y).backward()
    res["converted"] = convert_sync_norms(model)
    part = _share(32, rank, world)
    out = model(x[part])
    (F.cross_entropy(out, y[part], reduction="sum") * (world / 32)).backward()
    grads = {}
    for (name, p), ps in zip(model.named_parameters(), single.parameters(), strict=True):
        g = p.grad.clone()
        dist.all_reduce(g)
        grads[name] = (float((g / world - ps.grad).abs().max()), float(ps.grad.abs().max()))
    res["out_diff"] = float((out - out_s[part]).detach().abs().max())
    # relative to the largest gradient of all (TensorNorm's bias has a gradient of exactly 0
    # in exact arithmetic: rounding only)
    scale = max(m for _, m in grads.values())
    res["grad_rel_diff"] = max(d for d, _ in grads.values()) / scale
    res["grads"] = grads
    res["buffer_diff"] = max(float((b.float() - bs.float()).abs().max()) for (_, b), bs in
                             zip(model.named_buffers(), single.buffers(), strict=True))
    # 2. the filter's random sign where g == 0: each rank's global generator differs (as
    #    dropout leaves them), the filter's own seeded generator does not
    torch.manual_seed(100 + rank)
    p = torch.nn.Parameter(torch.ones(4000))
    opt = GradientFilter([p], alpha=0.1, gamma=0.1, alpha_decay="none", seed=7)
    for _ in range(3):
        p.grad = torch.zeros(4000)
        opt.step()
    ref = p.detach().clone()
    dist.broadcast(ref, src=0)
    res["zero_draw_rank_diff"] = float((p.detach() - ref).abs().max())
    res["zero_draw_plus_fraction"] = float((p.detach() > 0).float().mean())
    q = torch.nn.Parameter(torch.ones(4000))
    one = GradientFilter([q], alpha=0.1, gamma=0.1, alpha_decay="none", seed=7)
    for _ in range(3):
        q.grad = torch.zeros(4000)
        one.step()
    res["zero_draw_vs_single"] = float((p.detach() - q.detach()).abs().max())
    # 3. one filter step from all-reduced gradients vs. one process: signs differ only where
    #    the single-process gradient is float rounding around 0
    opt_d = build_optimizer(model, "filter", lr=1e-2, total_steps=10, seed=3)
    opt_s = build_optimizer(single, "filter", lr=1e-2, total_steps=10, seed=3)
    model.load_state_dict(single.state_dict())
    for net in (model, single):
        net.zero_grad()
    out_s = single(x)
    F.cross_entropy(out_s, y).backward()
    out = model(x[part])
    (F.cross_entropy(out, y[part], reduction="sum") * (world / 32)).backward()
    for prm in model.parameters():
        dist.all_reduce(prm.grad)
        prm.grad /= world
    grads_s = [g.grad.clone() for g in opt_s.optimizers[0].param_groups[0]["params"]]
    opt_d.step()
    opt_s.step()
    differ, worst = 0, 0.0
    for pd, ps, gs in zip(opt_d.optimizers[0].param_groups[0]["params"],
                          opt_s.optimizers[0].param_groups[0]["params"], grads_s, strict=True):
        mask = pd.detach() != ps.detach()
        differ += int(mask.sum())
        if mask.any():
            worst = max(worst, float(gs[mask].abs().max() / gs.abs().max()))
    res["filter_step_sign_differences"] = differ
    res["filter_step_worst_rel_grad"] = worst
    res["filter_step_weights"] = sum(p.numel() for p in
                                     opt_s.optimizers[0].param_groups[0]["params"])
    (folder / f"rank{rank}.json").write_text(json.dumps(res))


def main() -> int:
    from xnorflow.train import loop, optimizers
    from xnorflow.train.api import train
    from xnorflow.train.distributed import write_state
    from xnorflow.train.worker import main as worker_main

    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    kill = os.environ.get("XNORFLOW_TEST_KILL")
    if kill:
        k_rank, k_epoch = (int(v) for v in kill.split(":"))
        real_eval = loop._evaluate
        calls = [0]

        def evaluate(*args, **kwargs):
            calls[0] += 1
            if rank == k_rank and calls[0] == k_epoch:
                os.kill(os.getpid(), signal.SIGKILL)
            return real_eval(*args, **kwargs)

        loop._evaluate = evaluate
        return worker_main([sys.argv[-1]])

    diffs: list[float] = []
    real_step = optimizers.OptimizerSet.step

    def step(self) -> None:
        real_step(self)
        params = [p for o in self.optimizers for g in o.param_groups for p in g["params"]]
        flat = torch.cat([p.detach().reshape(-1) for p in params])
        ref = flat.clone()
        dist.broadcast(ref, src=0)
        diff = (flat - ref).abs().max().reshape(1)
        dist.all_reduce(diff, op=dist.ReduceOp.MAX)
        diffs.append(float(diff))

    dist.init_process_group("gloo")
    spec = json.loads(Path(sys.argv[-1]).read_text())
    if spec.get("checks"):
        Path(spec["checks"]).mkdir(parents=True, exist_ok=True)
        checks(Path(spec["checks"]))
    optimizers.OptimizerSet.step = step
    for kwargs in spec["runs"]:
        diffs.clear()
        result = train(**kwargs)
        if rank == 0:
            Path(kwargs["out"], "rank_diffs.json").write_text(json.dumps(diffs))
            write_state("summary.json", result.to_summary())
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
