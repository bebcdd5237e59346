"""Run every per-area benchmark and gather their figures.

Each benchmarks/<area>.py prints its own table and writes benchmarks/results/<area>.json.
This script runs them in turn (a failing one is reported, the others still run), then writes
benchmarks/results.json (all figures, with date and machine) and benchmarks/results.md (one
markdown table per area, from the lists of records in each JSON file).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
AREAS = {
    "train": ["--epochs", "{epochs}", "--data-dir", "{data}/mnist"],
    "compile": [],
    "rtl": [],
    "host": [],
}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def tables(area: str, doc: object) -> list[str]:
    """Markdown tables for every list of flat records found in a results document."""
    out: list[str] = []

    def walk(node: object, title: str) -> None:
        if isinstance(node, list) and node and all(isinstance(r, dict) for r in node):
            cols = [k for k in node[0] if not isinstance(node[0][k], (dict, list))]
            out.append(f"\n**{title}**\n")
            out.append("| " + " | ".join(cols) + " |")
            out.append("|" + "---|" * len(cols))
            for rec in node:
                out.append("| " + " | ".join(_fmt(rec.get(c)) for c in cols) + " |")
        elif isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{title} / {key}")

    walk(doc, area)
    return out


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir", default=str(HERE.parent.parent / "shared" / "data"))
    ap.add_argument("--epochs", default="1", help="training epochs per run in the train benchmark")
    ap.add_argument("--only", nargs="*", choices=list(AREAS), help="run only these areas")
    ap.add_argument(
        "--collect",
        action="store_true",
        help="run nothing: gather the results/<area>.json files the benchmarks last wrote",
    )
    args = ap.parse_args()
    results_dir = HERE / "results"
    results_dir.mkdir(exist_ok=True)
    summary: dict[str, object] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "areas": {},
    }
    failed = []
    for area, extra in AREAS.items():
        if args.only and area not in args.only:
            continue
        script = HERE / f"{area}.py"
        if not script.is_file():
            failed.append(f"{area}: {script.name} missing")
            continue
        path = results_dir / f"{area}.json"
        seconds = None
        if not args.collect:
            cmd = [sys.executable, str(script)] + [
                a.format(epochs=args.epochs, data=args.data_dir) for a in extra
            ]
            print(f"== {area}: {' '.join(cmd[1:])}", flush=True)
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, cwd=HERE.parent)
            seconds = round(time.perf_counter() - t0, 1)
            if proc.returncode != 0:
                failed.append(f"{area}: exit {proc.returncode}")
                continue
        if not path.is_file():
            failed.append(f"{area}: {path.name} not written")
            continue
        summary["areas"][area] = {
            "seconds": seconds,
            "results": json.loads(path.read_text()),
        }
    (HERE / "results.json").write_text(json.dumps(summary, indent=1))
    md = [f"# xnorflow benchmark results\n\n{summary['date']} on {summary['machine']}\n"]
    for area, doc in summary["areas"].items():
        md += tables(area, doc["results"])
    (HERE / "results.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    if failed:
        print("failed: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
