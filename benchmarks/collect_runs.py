"""Summarise finished `xnorflow train` run folders (long runs started by hand, e.g. CNV on
CIFAR-10, that benchmarks/train.py does not repeat) into benchmarks/results/train_runs.json:
model, data, recipe, parameters, test accuracy per epoch, best and last, seconds per epoch.

    .venv/bin/python benchmarks/collect_runs.py runs/cnv1w1a-cifar10-adam-e20 [RUN ...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KEYS = ("model", "dataset", "optimizer", "lr", "epochs", "batch_size", "bias_init", "augment",
        "weight_bits", "act_bits", "recipe", "seed")


def _parameters(config: dict, model: dict) -> int:
    """Trainable parameters of the run's model, rebuilt from its spec."""
    from xnorflow.train.models import get_model

    net = get_model(config["model"], model["input_shape"][1:], len(model["classes"]),
                    weight_bits=config.get("weight_bits"), act_bits=config.get("act_bits"))
    return sum(p.numel() for p in net.parameters())


def summarise(run: Path) -> dict:
    config = json.loads((run / "config.json").read_text())
    epochs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()
              if line.strip()]
    if not epochs:
        raise SystemExit(f"{run}: no finished epoch in metrics.jsonl")
    acc = [round(100 * e["test_acc"], 2) for e in epochs]
    best = max(range(len(acc)), key=acc.__getitem__)
    params = _parameters(config, json.loads((run / "model.json").read_text()))
    return {"run": run.name, **{k: config.get(k) for k in KEYS}, "parameters": params,
            "test_acc_per_epoch": acc, "best_test_acc": acc[best], "best_epoch": best + 1,
            "last_test_acc": acc[-1], "epochs_done": len(acc),
            "seconds_per_epoch": [round(e["seconds"], 1) for e in epochs],
            "exported": (run / "model.onnx").is_file()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    args = ap.parse_args()
    out = REPO / "benchmarks" / "results" / "train_runs.json"
    old = json.loads(out.read_text()).get("runs", []) if out.is_file() else []
    new = [summarise(r) for r in args.runs]
    names = {r["run"] for r in new}
    out.write_text(json.dumps({"runs": [r for r in old if r["run"] not in names] + new},
                              indent=1) + "\n")
    for r in new:
        print(f"{r['run']}: {r['model']} on {r['dataset']}, {r['epochs_done']} epochs, "
              f"best {r['best_test_acc']} % (epoch {r['best_epoch']}), last {r['last_test_acc']} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
