"""The runtime description of a compiled model and the board bundle (BUILD/driver/).

`runtime_spec(ir)` derives the accelerator's stream interface from the IR: the first layer's
input type and fold, the last layer's output type and fold, the output affine. `write_driver`
(a compile backend) writes BUILD/driver/:

    driver.py       the board's command line (host/board_driver.py)
    runtime_io.py   host/runtime_io.py: quantize, pack, unpack, affine, argmax
    pynq_driver.py  host/pynq_driver.py: the PYNQ DMA loop
    packing.py      host/packing.py: the stream byte format
    runtime.json    the RuntimeSpec of this model, with the IR's fingerprint
    xnorflow.bit / .hwh   written here by BUILD/hls/build_bitstream.tcl (Vivado), when built

The modules are byte-for-byte copies of the ones the host runtime itself uses (with a header
line), so the board runs the very code the tests run. Weights stay inside the bitstream.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from xnorflow import __version__
from xnorflow.compile.ir import DataflowIR
from xnorflow.host.runtime_io import RuntimeSpec, RuntimeSpecError

BUNDLE_MODULES = {  # file in the bundle: module of xnorflow.host it copies
    "packing.py": "packing.py",
    "runtime_io.py": "runtime_io.py",
    "pynq_driver.py": "pynq_driver.py",
    "driver.py": "board_driver.py",
}
BITFILE = "xnorflow.bit"


def ir_fingerprint(ir: DataflowIR) -> str:
    """A hash of everything in the IR that the hardware depends on (records and arrays)."""
    h = hashlib.sha256()
    records = []
    for layer in ir.layers:
        rec, arrays = layer.to_json()
        records.append(rec)
        for key in sorted(arrays):
            arr = np.ascontiguousarray(arrays[key])
            h.update(key.encode())
            h.update(str(arr.dtype).encode())
            h.update(str(arr.shape).encode())
            h.update(arr.tobytes())
    head = [ir.name, list(ir.input_shape), ir.input_layout, ir.input_dtype.name, records]
    h.update(json.dumps(head, sort_keys=True, default=str).encode())
    h.update(ir.output_scale.tobytes())
    h.update(ir.output_bias.tobytes())
    return h.hexdigest()[:16]


def _block_design(build: Path | None) -> dict[str, Any]:
    """BUILD/hls/bd.json (written by the HLS backend): the DMA and IP instance names."""
    if build is None or not (Path(build) / "hls" / "bd.json").is_file():
        return {}
    path = Path(build) / "hls" / "bd.json"
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise RuntimeSpecError(f"{path}: not valid JSON ({err})") from err


def runtime_spec(ir: DataflowIR, build: Path | None = None) -> RuntimeSpec:
    first, last = ir.layers[0], ir.layers[-1]
    bd = _block_design(build)
    dma = bd.get("dma") or bd.get("dma_name") or "axi_dma_0"
    if isinstance(dma, dict):
        dma = dma.get("name", "axi_dma_0")
    ip = bd.get("ip") or bd.get("ip_name") or ""
    control = bd.get("ip_control") or bd.get("control") or "none"
    if isinstance(ip, dict):
        control = ip.get("control", control)
        ip = ip.get("name", "")
    return RuntimeSpec(
        model=ir.name, fingerprint=ir_fingerprint(ir), input_shape=ir.input_shape,
        input_layout=ir.input_layout, in_bits=ir.input_dtype.bits, in_signed=ir.input_dtype.signed,
        in_min=ir.input_dtype.min(), in_max=ir.input_dtype.max(), in_fold=first.in_fold,
        out_bits=last.out_dtype.bits, out_signed=last.out_dtype.signed, out_fold=last.out_fold,
        n_out=ir.n_out, output_scale=tuple(float(v) for v in ir.output_scale),
        output_bias=tuple(float(v) for v in ir.output_bias),
        output_is_label=last.kind == "label_select",
        float_scale=float_scale(ir),
        dma_name=str(dma), ip_name=str(ip), ip_control=str(control), clock_mhz=ir.clock_mhz,
        dma_in_beat_bytes=_stream_bytes(bd, "in_stream"),
        dma_out_beat_bytes=_stream_bytes(bd, "out_stream"),
    )


def _stream_bytes(bd: dict[str, Any], port: str) -> int:
    """Bytes per beat of the DMA's side of a stream, from bd.json (0 when not given)."""
    width = bd.get(port, {}).get("tdata_width", 0) if isinstance(bd.get(port), dict) else 0
    return -(-int(width) // 8)


def float_scale(ir: DataflowIR) -> float:
    """uint8 units per unit of the model's float input: 1 / ir.input_scale (recorded by
    `xnorflow compile`: float input = uint8 · input_scale), 255 when the IR does not say."""
    scale = ir.input_scale
    if isinstance(scale, (int, float)) and scale > 0:
        return 1.0 / float(scale)
    return 255.0


def _module_source(name: str) -> str:
    return (importlib.resources.files("xnorflow.host") / name).read_text()


def write_driver(ir: DataflowIR, folder: Path, options: Any = None) -> None:
    """Write the board bundle into `folder` (BUILD/driver); a bitstream already there is kept.

    Files are written to a temporary folder first and moved in, so a failure leaves no
    half-written bundle.
    """
    folder = Path(folder)
    check_bitstream_matches(ir, folder)
    folder.mkdir(parents=True, exist_ok=True)
    spec = runtime_spec(ir, folder.parent)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".writing-") as tmp:
        tmp_path = Path(tmp)
        for dest, src in BUNDLE_MODULES.items():
            header = (f"# Copied by xnorflow {__version__} from xnorflow/host/{src} for model "
                      f"{ir.name!r} (fingerprint {spec.fingerprint}); do not edit.\n")
            (tmp_path / dest).write_text(header + _module_source(src))
        spec.save(tmp_path / "runtime.json")
        for dest in [*BUNDLE_MODULES, "runtime.json"]:
            (tmp_path / dest).replace(folder / dest)


def bundle_is_current(ir: DataflowIR, folder: Path) -> bool:
    """True if `folder` holds a bundle for this IR written by this version of xnorflow."""
    folder = Path(folder)
    if not all((folder / f).is_file() for f in [*BUNDLE_MODULES, "runtime.json"]):
        return False
    try:
        spec = RuntimeSpec.load(folder / "runtime.json")
    except RuntimeSpecError:
        return False
    return spec == runtime_spec(ir, folder.parent) and all(
        (folder / dest).read_text().split("\n", 1)[1] == _module_source(src)
        for dest, src in BUNDLE_MODULES.items()
    )


def check_bitstream_matches(ir: DataflowIR, folder: Path) -> None:
    """Raise if `folder` holds a bitstream next to a runtime.json made from another model.

    runtime.json is the bitstream's record: both are made from the same build folder.
    """
    folder = Path(folder)
    if not (folder / BITFILE).is_file() or not (folder / "runtime.json").is_file():
        return
    old = RuntimeSpec.load(folder / "runtime.json")
    fingerprint = ir_fingerprint(ir)
    if old.fingerprint != fingerprint:
        raise RuntimeSpecError(
            f"{folder / BITFILE} was built for model {old.model!r} (fingerprint "
            f"{old.fingerprint}), but the IR in {folder.parent} is {ir.name!r} (fingerprint "
            f"{fingerprint}): this build folder mixes two models. Rebuild the bitstream with "
            f"{folder.parent / 'hls' / 'build_bitstream.tcl'} or use the build folder it came from."
        )


def ensure_driver(ir: DataflowIR, build: Path) -> Path:
    """BUILD/driver, (re)written when missing or stale; returns the folder."""
    folder = Path(build) / "driver"
    check_bitstream_matches(ir, folder)
    if not bundle_is_current(ir, folder):
        write_driver(ir, folder)
    return folder


def copy_bundle(folder: Path, dest: Path) -> None:
    """Copy a bundle (for tests and users who want it elsewhere)."""
    shutil.copytree(folder, dest, dirs_exist_ok=True)
