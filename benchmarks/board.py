"""Board benchmark: bitstreams with the open tools for each model on each board, and the board
top in Verilator through the serial backend.

Models: `digits` (the 8x8 digits MLP of tests/nets.py: 64-32-10, the demo's shape), `tfc`
(TFC-1W1A shapes with FINN's test folding, random weights: tests/nets.tfc_ir) and `cnv`
(CNV-1W1A, FINN's folding: tests/nets.cnv_ir), or any build folder given with --build NAME=PATH
(e.g. the trained demo network, `xnorflow demo --board icebreaker` → demo/build).
For each (model, board): `xnorflow bitstream` with the fastest PLL clock meeting timing — the
clock, Fmax, utilisation, bitstream build time — or the fit error (by how much); then, for
the models that fit, --frames frames through the whole board top in Verilator over the
modelled 3-Mbaud UART: frames/s over the link (simulated cycles at the board's clock) beside the
accelerator's own FPS at that clock. Writes benchmarks/results/board.json and prints a table.

    .venv/bin/python benchmarks/board.py [--models digits tfc cnv] [--boards icebreaker ulx3s-12f]
        [--build demo=demo/build] [--frames 200] [--clock-mhz F]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MODELS = ("digits", "tfc", "cnv")
BOARDS = ("icebreaker", "ulx3s-12f", "ulx3s-25f", "ulx3s-45f", "ulx3s-85f", "tangnano9k")
RESULTS = REPO / "benchmarks" / "results" / "board.json"


def make_build(name: str, root: Path) -> Path:
    from tests import nets
    from xnorflow.compile.rtl import codegen

    ir = {"digits": nets.digits_mlp, "tfc": nets.tfc_ir, "cnv": nets.cnv_ir}[name]()
    folder = root / name
    ir.save(folder)
    codegen.write(ir, folder / "rtl")
    return folder


def one(model: str, build: Path, board: str, frames: int,
        clock_mhz: float | None = None) -> dict:
    import numpy as np

    from tests import nets
    from xnorflow.compile.board.bitstream import BitstreamError, BoardFitError, build_bitstream
    from xnorflow.compile.ir import DataflowIR
    from xnorflow.host.accelerator import Accelerator

    row: dict = {"model": model, "board": board}
    t0 = time.perf_counter()
    try:
        doc = build_bitstream(build, board, clock_mhz=clock_mhz)
    except BoardFitError as err:
        row.update(fits=False, error=str(err).split("\n")[0])
        return row
    except BitstreamError as err:
        row.update(fits=None, error=str(err)[:500])
        return row
    row.update(fits=True, clock_mhz=doc["clock_mhz"], clock_source=doc["clock_source"],
               fmax_mhz=doc["fmax_mhz"],
               timing_met=doc["timing_met"], utilisation=doc["utilisation"],
               resources_yosys=doc["resources_yosys"], passes=len(doc["passes"]),
               bitstream_seconds=round(time.perf_counter() - t0, 1),
               accelerator_fps_at_clock=doc["accelerator_fps_at_clock"],
               uart_frames_per_s_model=doc["uart_link_frames_per_s"])
    if frames:
        ir = DataflowIR.load(build)
        images = nets.random_images(ir, frames, 1)
        with Accelerator.open(build, backend="board-sim", board=board) as acc:
            _, scores = acc.predict(images)
            stats = acc.backend.stats()
        _, ref = ir.predict(images)
        row.update(board_sim_frames=frames,
                   board_sim_mismatches=int(np.sum(np.any(scores != ref, axis=1))),
                   uart_frames_per_s_simulated=stats["link_frames_per_s_simulated"])
    return row


def table(rows: list[dict]) -> str:
    head = ("| model | board | fits | clock MHz (Fmax) | LUT/LC used | BRAM | build s | "
            "UART frames/s (board-sim) | accelerator FPS at clock |\n|---|---|---|---|---|---|"
            "---|---|---|")
    lines = [head]
    for r in rows:
        if not r.get("fits"):
            lines.append(f"| {r['model']} | {r['board']} | no | — | {r.get('error', '')[:90]} "
                         "| | | | |")
            continue
        u = r["utilisation"]
        lut = u.get("TRELLIS_COMB") or u.get("ICESTORM_LC") or u.get("LUT4") or {}
        ram = (u.get("DP16KD") or u.get("ICESTORM_RAM") or u.get("BSRAM")
               or {"used": 0, "available": "?"})
        sim = r.get("uart_frames_per_s_simulated")
        lines.append(
            f"| {r['model']} | {r['board']} | yes | {r['clock_mhz']:.4g} ({r['fmax_mhz']:.1f}) | "
            f"{lut.get('used')}/{lut.get('available')} | {ram['used']}/{ram['available']} | "
            f"{r['bitstream_seconds']:.0f} | {sim:,.0f} | {r['accelerator_fps_at_clock']:,.0f} |"
            if sim else
            f"| {r['model']} | {r['board']} | yes | {r['clock_mhz']:.4g} ({r['fmax_mhz']:.1f}) | "
            f"{lut.get('used')}/{lut.get('available')} | {ram['used']}/{ram['available']} | "
            f"{r['bitstream_seconds']:.0f} | {r['uart_frames_per_s_model']:,.0f} (model) | "
            f"{r['accelerator_fps_at_clock']:,.0f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="*", default=list(MODELS))
    ap.add_argument("--boards", nargs="*", default=list(BOARDS))
    ap.add_argument("--build", action="append", default=[], help="NAME=PATH of a build folder")
    ap.add_argument("--frames", type=int, default=200, help="frames through board-sim (0: none)")
    ap.add_argument("--clock-mhz", type=float, default=None,
                    help="the accelerator clock for every bitstream (default: the fastest PLL "
                         "clock meeting timing, a place and route per clock tried)")
    args = ap.parse_args()
    rows = json.loads(RESULTS.read_text())["rows"] if RESULTS.is_file() else []
    with tempfile.TemporaryDirectory() as tmp:
        builds = {m: make_build(m, Path(tmp)) for m in args.models}
        builds.update({k: Path(v) for k, v in (b.split("=", 1) for b in args.build)})
        for model, build in builds.items():
            for board in args.boards:
                print(f"{model} on {board} ...", flush=True)
                row = one(model, build, board, args.frames, args.clock_mhz)
                rows = [r for r in rows if (r["model"], r["board"]) != (model, board)] + [row]
                RESULTS.parent.mkdir(parents=True, exist_ok=True)
                RESULTS.write_text(json.dumps({"rows": rows, "date": time.strftime("%Y-%m-%d"),
                                               "note": "2 shared cores; yowasp tools"},
                                              indent=1) + "\n")
                print(table([row]).split("\n")[-1], flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
