"""Training benchmark: TFC/SFC-1W1A on MNIST, each optimizer x random-bias-init λ; and the
same models at more bits (TFC-1W2A/2W2A, or any model with ``--bits``) beside their 1W1A.

For every (model, optimizer, λ) of the grid it trains for a fixed epoch budget with the
defaults of ``xnorflow train`` (plus the overrides given here) and records the test accuracy
of every epoch, the best and the final one, the last epoch's FF ratio and C2I ratio, and
seconds per epoch. "meets target" is judged on the FINAL epoch's test accuracy (no choice of
epoch on the test set); the best epoch is reported beside it.

Dropout: the benchmark trains TFC with dropout 0 and SFC with 0.05 by default (``--dropout
tfc=0,sfc=0.05``), not bnn_pynq's 0.2, which regularises its 1000-epoch schedule. Measured at
20 epochs (filter optimizer, seed 0): TFC under-fits with 0.2 (train ≈ test ≈ 92.7 %), with 0
it reaches 94.5 %; SFC (λ=2) over-fits with 0.02 (97.47 %), reaches 97.67 % with 0.05, 97.44 %
with 0.1 and 97.03 % with 0.2. ``--dropout 0.2`` reproduces bnn_pynq's setting. Dropout is a
training choice: the exported models are the same either way.

Augmentation (``--augment shift --jitter 0.2``: random ±1-pixel shifts and a per-image
binarisation threshold drawn from U[0.3, 0.7] for the 1-bit input) is what takes SFC past the
regularisers above: see the README for the seeds measured with it.

Results are MERGED into the JSON (``--out``): a run replaces an earlier one with the same
model, optimizer, λ, epochs and settings, others are kept, so the grid can be run piecewise in
separate invocations, also at the same time (the JSON is locked while it is rewritten), or
written to different ``--out`` files and merged with ``--merge``.
The JSON is rewritten after every run. ``--table`` only prints the table of the JSON.
Reference (brevitas bnn_pynq, 1000 epochs): TFC-1W1A 93.17 %, SFC-1W1A 97.81 %.

Bit widths: a model named ``tfc-2w2a`` (bnn_pynq's zoo name) or ``--bits 1w1a,2w2a`` (every
model at each width, as ``xnorflow train --weight-bits/--act-bits``) trains multi-bit models;
the "bits" table puts each model's runs at different widths side by side (same optimizer,
epochs, λ and settings). filter and bop train 1-bit weights only: with multi-bit weights those
runs are skipped (with a note), so ``--optimizers adam`` is the comparison to make, e.g.
``--models tfc,tfc-1w2a,tfc-2w2a --optimizers adam --bias-inits 0 --dropout 0 --epochs 5``.

Data-parallel scaling (``--ddp-scaling 1,2``): each model of ``--models`` trains ``--epochs``
epochs with ``xnorflow train --nproc N`` (torchrun; gloo on CPU with one thread per rank, or
NCCL with ``--device cuda``) at the same global batch, and the training samples per second
(steps only, without the evaluation) are written to ``--ddp-out`` with the ratio to the
smallest N, e.g. ``python benchmarks/train.py --ddp-scaling 1,2 --models tfc,lfc --epochs 1``
(models that are builder specs, which hold commas, are separated by ``;``).

usage: python benchmarks/train.py [--epochs 20] [--data-dir ../shared/data/mnist]
       [--models tfc,sfc] [--optimizers filter,adam,sgd,bop] [--bias-inits 0,2]
       [--dropout tfc=0,sfc=0.05] [--lr X] [--alpha X] [--gamma X] [--alpha-decay cosine]
       [--augment shift --shift 1 --jitter 0.2] [--bits 1w1a,2w2a]
       [--threads 1] [--out benchmarks/results/train.json] [--merge a.json,b.json] [--table]
"""

from __future__ import annotations

import argparse
import fcntl
import functools
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGETS = {"tfc": 0.932, "sfc": 0.978}
# what identifies a run (a new run with the same key replaces the old one in the JSON)
DEFAULT_DROPOUT = "tfc=0,sfc=0.05"
KEY = ("model", "dataset", "optimizer", "bias_init", "epochs", "dropout", "lr", "alpha",
       "gamma", "alpha_decay", "tau", "weight_decay", "recipe", "batch_size", "seed", "augment",
       "shift", "jitter", "weight_bits", "act_bits")
# what records written before a setting existed ran with
KEY_DEFAULTS = {"augment": "auto", "shift": 1, "jitter": 0.0, "weight_bits": 1, "act_bits": 1}


def _key(rec: dict) -> tuple:
    return tuple(rec.get(k, KEY_DEFAULTS.get(k)) for k in KEY)


def _load(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return list(json.loads(path.read_text()).get("runs", []))


def _merge(old: list[dict], new: list[dict]) -> list[dict]:
    keys = {_key(r) for r in new}
    return [r for r in old if _key(r) not in keys] + new


def _write(path: Path, records: list[dict], threads: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    order = {"tfc": 0, "sfc": 1}
    opts = {"filter": 0, "adam": 1, "sgd": 2, "bop": 3}
    records = sorted(records, key=lambda r: (order.get(r["model"], 9), r["model"],
                                             opts.get(r["optimizer"], 9), r["epochs"] * -1,
                                             r["bias_init"], r.get("dropout") or 0.0))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({
        "benchmark": "train", "targets": TARGETS,
        "meets_target_on": "final epoch test accuracy",
        "reference": "brevitas bnn_pynq, 1000 epochs: TFC-1W1A 93.17 %, SFC-1W1A 97.81 %",
        "machine": platform.platform(), "torch_threads": threads, "runs": records},
        indent=2) + "\n")
    tmp.replace(path)


def _base(model: str) -> str:
    """The model without a zoo name's bit-width suffix: tfc-2w2a → tfc."""
    name, sep, bits = model.rpartition("-")
    return name if sep and len(bits) == 4 and bits[1] == "w" and bits[3] == "a" else model


def _bits(r: dict) -> str:
    return f"{r.get('weight_bits') or 1}w{r.get('act_bits') or 1}a"


def _parse_bits(spec: str) -> list[tuple[int, int]]:
    """``1w1a,2w2a`` → [(1, 1), (2, 2)]; ValueError for anything else."""
    out = []
    for tok in spec.lower().split(","):
        tok = tok.strip()
        if len(tok) != 4 or tok[1] != "w" or tok[3] != "a" or not (
                tok[0] in "1234" and tok[2] in "1234"):
            raise ValueError(tok)
        out.append((int(tok[0]), int(tok[2])))
    return out


def _dropouts(spec: str, models: list[str]) -> dict[str, float]:
    """``0.1`` → that rate for every model; ``tfc=0,sfc=0.1`` → per model (others: 0.2); a
    zoo name with bits (tfc-2w2a) takes its base model's rate unless named itself."""
    if "=" not in spec:
        return dict.fromkeys(models, float(spec))
    rates = {k.strip(): float(v) for k, v in (t.split("=") for t in spec.split(","))}
    return {m: rates.get(m, rates.get(_base(m), 0.2)) for m in models}


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


# the settings the table names when a run differs from xnorflow train's defaults
_TABLE_NAMES = {"lr": "lr", "alpha": "α", "gamma": "γ", "alpha_decay": "decay",
                "batch_size": "batch", "seed": "seed", "augment": "augment", "shift": "shift",
                "jitter": "jitter"}


@functools.cache
def _defaults(optimizer: str) -> dict:
    """`xnorflow train`'s defaults for ``optimizer``, from its own config builder."""
    from xnorflow.train.api import new_config
    from xnorflow.train.loop import TrainConfig

    cfg = new_config({"optimizer": optimizer}, None, TrainConfig)
    return {k: getattr(cfg, k) for k in _TABLE_NAMES}


def _settings(r: dict) -> str:
    """The run's settings that differ from the defaults (only those its optimizer uses)."""
    used = {"filter": ("lr", "alpha", "gamma", "alpha_decay"), "bop": ("lr", "gamma"),
            "adam": ("lr",), "sgd": ("lr",)}.get(r["optimizer"], ())
    defaults = _defaults(r["optimizer"])
    r = {**KEY_DEFAULTS, **r}
    if r["augment"] != "shift":
        r["shift"] = defaults["shift"]
    own = _model_bits(r["model"])
    out = [] if (r["weight_bits"] or 1, r["act_bits"] or 1) == own else [f"bits {_bits(r)}"]
    out += [f"{_TABLE_NAMES[k]} {r[k]:g}" if isinstance(r[k], float)
            else f"{_TABLE_NAMES[k]} {r[k]}"
            for k in (*used, "batch_size", "seed", "augment", "shift", "jitter")
            if r.get(k) is not None and r[k] != defaults[k]]
    return ", ".join(out) or "-"


def _model_bits(model: str) -> tuple[int, int]:
    """The bit widths a model name carries (tfc-2w2a → (2, 2); others (1, 1))."""
    bits = model[len(_base(model)) + 1:]
    return (int(bits[0]), int(bits[2])) if bits and bits[0].isdigit() and bits[2].isdigit() \
        else (1, 1)


def bits_table(records: list[dict]) -> str:
    """Final (best) test accuracy of each model at each bit width it was run at, for runs that
    agree on everything else (optimizer, epochs, λ, dropout, settings); only groups with more
    than one width."""
    groups: dict[tuple, dict[str, dict]] = {}
    for r in records:
        r = {**KEY_DEFAULTS, **r}
        rest = tuple(r.get(k) for k in KEY if k not in ("model", "weight_bits", "act_bits"))
        key = (_base(r["model"]), r["optimizer"], r.get("dropout"),
               _settings(dict(r, weight_bits=None, act_bits=None, model=_base(r["model"]))),
               rest)
        groups.setdefault(key, {})[_bits(r)] = r
    rows = []
    for (base, opt, drop, settings, _), runs in sorted(groups.items(), key=str):
        if len(runs) < 2:
            continue
        for bits in sorted(runs):
            r = runs[bits]
            rows.append(f"| {base} | {r['dataset']} | {bits.upper()} | {opt} | "
                        f"{r['bias_init']:g} | {_fmt(drop, 'g')} | {settings} | {r['epochs']} | "
                        f"{100 * r['last_test_acc']:.2f} % | {100 * r['best_test_acc']:.2f} % "
                        f"({r['best_epoch']}) | {r['s_per_epoch']:.1f} |")
    if not rows:
        return ""
    return "\n".join(["Bit widths side by side:", "",
                      "| model | data set | bits | optimizer | λ | dropout | other settings | "
                      "epochs | final test acc | best (epoch) | s/epoch |",
                      "|---|---|---|---|---|---|---|---|---|---|---|", *rows])


def table(records: list[dict]) -> str:
    """The markdown table of ``records``."""
    lines = ["| model | optimizer | recipe | λ | dropout | other settings | epochs | "
             "final test acc | best (epoch) | target | met | FF ratio | C2I | s/epoch |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        tgt = r.get("target")
        met = "-" if r.get("meets_target") is None else ("yes" if r["meets_target"] else "no")
        lines.append(
            f"| {r['model']} | {r['optimizer']} | {r.get('recipe', 'one-step')} | "
            f"{r['bias_init']:g} | "
            f"{_fmt(r.get('dropout'), 'g')} | {_settings(r)} | {r['epochs']} | "
            f"{r['last_test_acc']:.4f} | "
            f"{r['best_test_acc']:.4f} ({r['best_epoch']}) | {_fmt(tgt, '.3f')} | {met} | "
            f"{r['ff_ratio']:.2e} | {r['c2i_ratio']:.3f} | {r['s_per_epoch']:.1f} |")
    return "\n".join(lines)


def grid(records: list[dict], epochs: int = 20, dropout: str = DEFAULT_DROPOUT) -> str:
    """The issue's grid per model: final test accuracy (FF ratio) of optimizer x λ.

    Only one-step runs of ``epochs`` epochs at the default settings, seed 0 and the benchmark's
    default dropout of the model; a missing cell is "-".
    """
    out = []
    for model in ("tfc", "sfc"):
        drop = _dropouts(dropout, [model])[model]
        cells = {(r["optimizer"], r["bias_init"]): r for r in records
                 if r["model"] == model and r["epochs"] == epochs and _settings(r) == "-"
                 and r.get("recipe", "one-step") == "one-step" and r.get("dropout") == drop}
        lams = sorted({lam for _, lam in cells} | {0.0, 1.0, 2.0})
        out += [f"{model.upper()}-1W1A, {epochs} epochs, dropout {drop:g}: final test accuracy "
                "(FF ratio of the last epoch)", "",
                "| optimizer | " + " | ".join(f"λ={lam:g}" for lam in lams) + " |",
                "|---|" + "---|" * len(lams)]
        for opt in ("filter", "adam", "sgd", "bop"):
            row = [f"{100 * cells[opt, lam]['last_test_acc']:.2f} % "
                   f"({cells[opt, lam]['ff_ratio']:.1e})" if (opt, lam) in cells else "-"
                   for lam in lams]
            out.append(f"| {opt} | " + " | ".join(row) + " |")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--data-dir", default=str(HERE.parent.parent / "shared" / "data" / "mnist"))
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--models", default="tfc,sfc")
    ap.add_argument("--optimizers", default="filter,adam,sgd,bop")
    ap.add_argument("--bias-inits", default="0,2", help="comma-separated λ values")
    ap.add_argument("--dropout", default=DEFAULT_DROPOUT,
                    help="dropout while training: one rate, or per model as tfc=0,sfc=0.1 "
                         f"(bnn_pynq: 0.2) [{DEFAULT_DROPOUT}]")
    ap.add_argument("--lr", type=float, default=None, help="override xnorflow train's --lr")
    ap.add_argument("--alpha", type=float, default=None, help="filter: override --alpha")
    ap.add_argument("--gamma", type=float, default=None, help="filter/bop: override --gamma")
    ap.add_argument("--alpha-decay", default=None, help="filter: override --alpha-decay")
    ap.add_argument("--recipe", default=None, help="one-step | two-step")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--augment", default=None, help="xnorflow train --augment (auto)")
    ap.add_argument("--shift", type=int, default=None, help="pixels for --augment shift (1)")
    ap.add_argument("--jitter", type=float, default=None, help="xnorflow train --jitter (0)")
    ap.add_argument("--bits", default=None,
                    help="comma-separated XwYa widths to train every model at, e.g. 1w1a,2w2a "
                         "(default: each model's own, 1w1a or its name's -XwYa)")
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0 = torch default)")
    ap.add_argument("--out", default=str(HERE / "results" / "train.json"))
    ap.add_argument("--merge", default=None,
                    help="comma-separated result JSONs to merge into --out (no training)")
    ap.add_argument("--table", action="store_true", help="only print the table of --out")
    ap.add_argument("--runs-dir", default=None, help="keep the run folders here")
    ap.add_argument("--ddp-scaling", default=None,
                    help="comma-separated process counts: measure data-parallel samples/s")
    ap.add_argument("--device", default="cpu", help="cpu | cuda (for --ddp-scaling)")
    ap.add_argument("--ddp-out", default=str(HERE / "results" / "train_ddp.json"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    if args.ddp_scaling:
        return ddp_scaling(args)

    if args.table or args.merge:
        records = _load(out)
        for extra in filter(None, (args.merge or "").split(",")):
            records = _merge(records, _load(Path(extra)))
        if args.merge:
            _write(out, records, args.threads)
            records = _load(out)
            print(f"merged into {out}")
        print(table(records))
        print()
        print(grid(records))
        if bits_table(records):
            print(bits_table(records))
        return 0

    warnings.filterwarnings("ignore")
    import torch

    from xnorflow.train.api import new_config
    from xnorflow.train.errors import UserError
    from xnorflow.train.loop import TrainConfig, run_training
    from xnorflow.train.optimizers import BINARY_ONLY

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        dropout = _dropouts(args.dropout, args.models.split(","))
    except ValueError:
        print(f"error: --dropout {args.dropout!r}: expected a rate or model=rate,...",
              file=sys.stderr)
        return 2
    try:
        widths = [None] if args.bits is None else _parse_bits(args.bits)
    except ValueError:
        print(f"error: --bits {args.bits!r}: expected XwYa,... with X, Y in 1..4 (e.g. "
              "1w1a,2w2a)", file=sys.stderr)
        return 2
    runs_dir = Path(args.runs_dir or tempfile.mkdtemp(prefix="xnorflow-bench-train-"))
    done: list[dict] = []
    # a zoo name with its own widths (tfc-2w2a) runs at those only
    combos = [(m, width, o) for m in args.models.split(",")
              for width in (widths if _base(m) == m else [None])
              for o in args.optimizers.split(",")]
    for model, width, opt in combos:
        wbits, abits = width or _model_bits(model)
        if opt in BINARY_ONLY and wbits > 1:
            print(f"skipped {model} at {wbits}w{abits}a with {opt}: it trains 1-bit weights "
                  "only", flush=True)
            continue
        for lam in (float(x) for x in args.bias_inits.split(",")):
            given = {"model": model, "dataset": args.dataset, "optimizer": opt,
                     "bias_init": lam, "batch_size": args.batch_size, "seed": args.seed,
                     "dropout": dropout[model]}
            if width:
                given.update(weight_bits=wbits, act_bits=abits)
            for name in ("lr", "recipe", "augment", "shift", "jitter"):
                if getattr(args, name) is not None:
                    given[name] = getattr(args, name)
            if opt == "filter":
                for name in ("alpha", "gamma", "alpha_decay"):
                    if getattr(args, name) is not None:
                        given[name] = getattr(args, name)
            if opt == "bop" and args.gamma is not None:
                given["gamma"] = args.gamma
            bits = f"-{wbits}w{abits}a" if _base(model) == model else ""  # tfc-2w2a has them
            name = (f"{model}{bits}-{opt}-{args.recipe or 'one-step'}-b{lam:g}"
                    f"-d{dropout[model]:g}-e{args.epochs}")
            t0 = time.perf_counter()
            try:
                cfg = new_config(given, args.epochs, TrainConfig)
                cfg.data_dir = args.data_dir
                summary = run_training(cfg, runs_dir / name, progress=False, overwrite=True)
            except UserError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            rows = [json.loads(r) for r in
                    (runs_dir / name / "metrics.jsonl").read_text().splitlines()]
            last = rows[-1]
            rec = {k: getattr(cfg, k) for k in KEY}
            # the targets are TFC/SFC-1W1A's
            target = TARGETS.get(model) if (cfg.weight_bits, cfg.act_bits) == (1, 1) else None
            rec.update({
                "best_test_acc": summary["best_test_acc"], "best_epoch": summary["best_epoch"],
                "last_test_acc": last["test_acc"], "last_train_acc": last["train_acc"],
                "ff_ratio": last["ff_ratio"], "c2i_ratio": last["c2i_ratio"],
                "saturation": last["saturation"],
                "s_per_epoch": sum(r["seconds"] for r in rows) / len(rows),
                "target": target,
                "meets_target": None if target is None else last["test_acc"] >= target,
                "test_acc_per_epoch": [r["test_acc"] for r in rows],
                "train_acc_per_epoch": [round(r["train_acc"], 5) for r in rows],
                "torch_threads": torch.get_num_threads(),
                "wall_s": time.perf_counter() - t0})
            done.append(rec)
            # re-read and merge after every run: parallel invocations may share --out
            out.parent.mkdir(parents=True, exist_ok=True)
            lock = os.open(out.parent, os.O_RDONLY)  # flock on the folder: no lock file
            try:
                fcntl.flock(lock, fcntl.LOCK_EX)
                _write(out, _merge(_load(out), [rec]), torch.get_num_threads())
            finally:
                os.close(lock)
            print(f"{name:28s} final {rec['last_test_acc']:.4f}  best "
                  f"{rec['best_test_acc']:.4f} (ep {rec['best_epoch']})  "
                  f"FF {rec['ff_ratio']:.2e}  C2I {rec['c2i_ratio']:.3f}  "
                  f"{rec['s_per_epoch']:.1f} s/epoch", flush=True)

    print()
    print(table(done))
    if bits_table(done):
        print()
        print(bits_table(done))
    print(f"wrote {out} ({len(_load(out))} runs in all; --table prints them)")
    return 0


def ddp_scaling(args: argparse.Namespace) -> int:
    """Training samples/s of each model with 1, 2, ... processes (--ddp-scaling)."""
    warnings.filterwarnings("ignore")
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads or 1))
    import torch

    from xnorflow.train.api import train
    from xnorflow.train.errors import UserError

    if args.threads:
        torch.set_num_threads(args.threads)
    runs_dir = Path(args.runs_dir or tempfile.mkdtemp(prefix="xnorflow-bench-ddp-"))
    counts = [int(n) for n in args.ddp_scaling.split(",")]
    records = []
    # builder specs hold commas: separate models with ";" when one is a spec
    for model in args.models.split(";" if ";" in args.models or ":" in args.models else ","):
        base = None
        for n in counts:
            name = f"{model}-{args.dataset}-{args.device}-n{n}-e{args.epochs}"
            t0 = time.perf_counter()
            try:
                res = train(model, args.dataset, data_dir=args.data_dir, optimizer=(
                    args.optimizers.split(",")[0]), epochs=args.epochs,
                    batch_size=args.batch_size, seed=args.seed, out=runs_dir / name,
                    overwrite=True, device=args.device, nproc=n, dropout=0.0)
            except UserError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            rows = [json.loads(r) for r in
                    (runs_dir / name / "metrics.jsonl").read_text().splitlines()]
            sps = sum(r["samples_per_s"] * r["train_seconds"] for r in rows) / sum(
                r["train_seconds"] for r in rows)
            base = base or sps
            rec = {"model": model, "dataset": args.dataset, "device": args.device,
                   "nproc": n, "batch_size": args.batch_size, "epochs": args.epochs,
                   "optimizer": args.optimizers.split(",")[0],
                   "threads_per_rank": int(os.environ["OMP_NUM_THREADS"]),
                   "samples_per_s": sps, "ratio": sps / base,
                   "train_s_per_epoch": sum(r["train_seconds"] for r in rows) / len(rows),
                   "test_acc": res.last.get("test_acc"), "wall_s": time.perf_counter() - t0,
                   "load_average": os.getloadavg()}
            records.append(rec)
            print(f"{model:6s} {args.device} nproc {n}: {sps:8.0f} samples/s (x{sps / base:.2f})"
                  f"  test acc {rec['test_acc']:.4f}  load {rec['load_average'][0]:.1f}",
                  flush=True)
            path = Path(args.ddp_out)  # rewritten after every run
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"host": platform.node(), "cpu_count": os.cpu_count(),
                                        "python": platform.python_version(),
                                        "torch": torch.__version__, "runs": records},
                                       indent=2) + "\n")
    print(f"wrote {args.ddp_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
