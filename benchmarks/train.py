"""Training benchmark: TFC/SFC-1W1A on MNIST, each optimizer x random-bias-init λ.

For every (model, optimizer, λ) it trains for a fixed epoch budget with the defaults of
``xnorflow train`` and records the best test accuracy, the last epoch's FF ratio and C2I ratio,
and seconds per epoch. Prints a table and writes benchmarks/results/train.json.
Reference (brevitas bnn_pynq, 1000 epochs): TFC-1W1A 93.17 %, SFC-1W1A 97.81 %.

usage: python benchmarks/train.py [--epochs 20] [--data-dir ../shared/data/mnist]
       [--models tfc,sfc] [--optimizers filter,adam,sgd,bop] [--bias-inits 0,1,2]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGETS = {"tfc": 0.932, "sfc": 0.978}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--data-dir", default=str(HERE.parent.parent / "shared" / "data" / "mnist"))
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--models", default="tfc,sfc")
    ap.add_argument("--optimizers", default="filter,adam,sgd,bop")
    ap.add_argument("--bias-inits", default="0,1,2")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    ap.add_argument("--out", default=str(HERE / "results" / "train.json"))
    ap.add_argument("--runs-dir", default=None, help="keep the run folders here")
    args = ap.parse_args(argv)

    warnings.filterwarnings("ignore")
    import torch

    from xnorflow.train.cli import _DEFAULTS
    from xnorflow.train.errors import UserError
    from xnorflow.train.loop import TrainConfig, run_training

    if args.threads:
        torch.set_num_threads(args.threads)
    runs_dir = Path(args.runs_dir or tempfile.mkdtemp(prefix="xnorflow-bench-train-"))
    records = []
    for model in args.models.split(","):
        for opt in args.optimizers.split(","):
            for lam in (float(x) for x in args.bias_inits.split(",")):
                d = _DEFAULTS[opt]
                cfg = TrainConfig(model=model, dataset=args.dataset, data_dir=args.data_dir,
                                  optimizer=opt, lr=d["lr"], weight_decay=d["weight_decay"],
                                  gamma=d.get("gamma", 1e-2), bias_init=lam,
                                  epochs=args.epochs, batch_size=args.batch_size, seed=args.seed)
                name = f"{model}-{opt}-b{lam:g}"
                t0 = time.perf_counter()
                try:
                    summary = run_training(cfg, runs_dir / name, progress=False)
                except UserError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    return 2
                rows = [json.loads(r) for r in
                        (runs_dir / name / "metrics.jsonl").read_text().splitlines()]
                last = rows[-1]
                rec = {"model": model, "optimizer": opt, "bias_init": lam,
                       "epochs": args.epochs, "best_test_acc": summary["best_test_acc"],
                       "best_epoch": summary["best_epoch"], "last_test_acc": last["test_acc"],
                       "ff_ratio": last["ff_ratio"], "c2i_ratio": last["c2i_ratio"],
                       "saturation": last["saturation"],
                       "s_per_epoch": sum(r["seconds"] for r in rows) / len(rows),
                       "target": TARGETS.get(model),
                       "meets_target": (summary["best_test_acc"] >= TARGETS[model]
                                        if model in TARGETS else None),
                       "test_acc_per_epoch": [r["test_acc"] for r in rows],
                       "wall_s": time.perf_counter() - t0}
                records.append(rec)
                print(f"{name:24s} best {rec['best_test_acc']:.4f} (ep {rec['best_epoch']})  "
                      f"FF {rec['ff_ratio']:.2e}  C2I {rec['c2i_ratio']:.3f}  "
                      f"{rec['s_per_epoch']:.1f} s/epoch", flush=True)

    print("\n| model | optimizer | λ | best test acc | target | FF ratio | C2I | s/epoch |")
    print("|---|---|---|---|---|---|---|---|")
    for r in records:
        tgt = f"{r['target']:.3f}" if r["target"] else "-"
        print(f"| {r['model']} | {r['optimizer']} | {r['bias_init']:g} | "
              f"{r['best_test_acc']:.4f} | {tgt} | {r['ff_ratio']:.2e} | "
              f"{r['c2i_ratio']:.3f} | {r['s_per_epoch']:.1f} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "train", "dataset": args.dataset,
                               "epochs": args.epochs, "machine": platform.platform(),
                               "torch_threads": torch.get_num_threads(), "runs": records},
                              indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
