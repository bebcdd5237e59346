"""xnorflow board driver: run the compiled accelerator on a PYNQ board.

    python3 driver.py --input frames.npy [--labels labels.npy] [--output predictions.npz]

frames.npy: uint8 images (N, *input_shape) (or floats in [0, 1], see runtime.json). Writes
labels, integer scores and logits to --output and prints a JSON summary (frames, seconds,
frames/s, accuracy when --labels is given). Needs numpy and pynq only: this folder
(driver.py, stream.py, pynq_driver.py, runtime.json, xnorflow.bit/.hwh) is
self-contained; `xnorflow compile` wrote it from xnorflow's own modules.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

try:  # inside xnorflow
    from xnorflow.compile import stream
    from xnorflow.host import pynq_driver
except ImportError:  # the board bundle (BUILD/driver/): its modules lie beside this file
    HERE = Path(__file__).resolve().parent
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    import pynq_driver  # type: ignore[no-redef]
    import stream  # type: ignore[no-redef]


class UsageError(Exception):
    """A mistake on the command line or in the input files."""


def _load_npy(path: Path, what: str) -> np.ndarray:
    if not path.is_file():
        raise UsageError(f"{what} file {path} not found")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise UsageError(f"{what} file {path} is not a numpy .npy array ({err})") from err


def run(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Run the xnorflow accelerator on a PYNQ board.")
    parser.add_argument("--input", required=True, type=Path, help="images, .npy")
    parser.add_argument("--labels", type=Path, help="true labels (.npy) to report accuracy")
    parser.add_argument("--output", type=Path, default=Path("predictions.npz"))
    parser.add_argument("--bitfile", type=Path, default=HERE / "xnorflow.bit")
    parser.add_argument("--runtime", type=Path, default=HERE / "runtime.json")
    args = parser.parse_args(argv)

    spec = stream.RuntimeSpec.load(args.runtime)
    images = _load_npy(args.input, "input")
    true = _load_npy(args.labels, "labels") if args.labels else None
    if true is not None and len(true) != len(images):
        raise UsageError(f"{len(true)} labels for {len(images)} images")
    beats = stream.pack_input(spec, images)  # checks shape and dtype first
    driver = pynq_driver.PynqDriver(spec, args.bitfile)
    try:
        t0 = time.perf_counter()
        out = driver.run_beats(beats)
        seconds = time.perf_counter() - t0
    finally:
        driver.close()
    scores = stream.unpack_output(spec, out)
    labels = stream.labels(spec, scores)
    tmp = args.output.with_name(args.output.name + ".partial.npz")
    np.savez(tmp, labels=labels, scores=scores, logits=stream.logits(spec, scores))
    tmp.replace(args.output)
    summary = {
        "model": spec.model, "frames": int(len(labels)), "seconds": seconds,
        "fps": len(labels) / seconds if seconds > 0 else None, "output": str(args.output),
    }
    if true is not None:
        summary["accuracy"] = float(np.mean(labels == np.asarray(true).reshape(-1)))
    return summary


def main(argv: list[str] | None = None) -> int:
    try:
        summary = run(argv)
    except (UsageError, stream.HostInputError, stream.RuntimeSpecError,
            pynq_driver.BitstreamMissingError, pynq_driver.BoardError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
