"""The simulator tells slow from stuck: a design that takes over 1M cycles between top-level
handshakes is simulated to the end and bit-exact; a design with a stalled stream is reported
deadlocked, naming the last stream that moved and the instance that stopped; FST waveforms of
the first frames carry the streams under the IR's layer names."""

from __future__ import annotations

import re
import struct
import zlib

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.nets import random_images, random_input_threshold, random_mlp, random_mvau
from xnorflow.cli import app
from xnorflow.compile.ir import DataflowIR
from xnorflow.compile.ir.datatypes import BIPOLAR
from xnorflow.compile.rtl import codegen as rtl_codegen
from xnorflow.compile.rtl.sim import DeadlockError, VerilatorAccelerator, stall_limit
from xnorflow.compile.stream import pack_beats, unpack_beats

pytestmark = pytest.mark.sim


def _slow_ir() -> DataflowIR:
    """fc0 (1024 -> 1100, PE = SIMD = 1) needs 1,126,400 cycles before fc1 has a whole input
    vector: the top's streams are silent for longer than the old fixed 1M-cycle watchdog."""
    rng = np.random.default_rng(4)
    layers = [random_input_threshold(rng, "thr_in", 1, 1024, 1, 1),
              random_mvau(rng, "fc0", BIPOLAR, 1, 1024, 1100),
              random_mvau(rng, "fc1", BIPOLAR, 1, 1100, 3, last=True)]
    ir = DataflowIR(name="slow", input_shape=(1024,), input_layout="flat", layers=layers,
                    output_scale=np.ones(3), output_bias=np.zeros(3))
    ir.validate()
    return ir


def _run(ir: DataflowIR, build, images, **kw):
    frames = ir.input_frames(images).reshape(len(images), -1)
    first, last = ir.layers[0], ir.layers[-1]
    with VerilatorAccelerator(build, **kw) as sim:
        out, stats = sim.run(pack_beats(frames, first.in_dtype.bits, first.in_fold))
    return unpack_beats(out, last.out_dtype.bits, last.out_fold, last.out_dtype.signed), stats


def test_slow_design_is_not_called_deadlocked(tmp_path):
    ir = _slow_ir()
    rtl_codegen.write(ir, tmp_path / "rtl")
    images = random_images(ir, 2, seed=1)
    values, stats = _run(ir, tmp_path, images)
    np.testing.assert_array_equal(values, ir.run(images))
    assert stats["latency_cycles"] > 1_000_000


def _stall_stream(rtl, name: str) -> None:
    """Rewire the top so that instance `name` never sees its input and never takes it."""
    top = rtl / "xnorflow_top.sv"
    text = top.read_text()
    text, n1 = re.subn(rf"\.s_axis_tvalid\({name}_in_tvalid\)", ".s_axis_tvalid(1'b0)", text)
    text, n2 = re.subn(rf"\.s_axis_tready\({name}_in_tready\)", ".s_axis_tready()", text)
    assert n1 == n2 == 1
    text = text.replace("endmodule", f"    assign {name}_in_tready = 1'b0;\nendmodule")
    top.write_text(text)


def test_deadlock_names_the_stopped_instance(tmp_path):
    ir = random_mlp(3, fold_cap=4)
    rtl_codegen.write(ir, tmp_path / "rtl")
    victim = ir.layers[2].name
    _stall_stream(tmp_path / "rtl", victim)
    with pytest.raises(DeadlockError) as err:
        _run(ir, tmp_path, random_images(ir, 3, seed=2))
    msg = str(err.value)
    assert f"stopped: {victim} ({victim}, mvau) holds a beat on its input {victim}_in" in msg
    assert "last stream to move:" in msg and "so the design is stuck, not slow" in msg
    assert f"{victim}_in 1/0" in msg  # its input offered, never taken


def test_watchdog_scales_with_latency_and_backpressure():
    desc = {"latency_cycles": 10_000_000}
    assert stall_limit(desc, 100, 100) == 40_100_000
    assert stall_limit(desc, 50, 100) == 80_100_000
    assert stall_limit({"latency_cycles": 100}, 100, 100) == 100_400


def _lz4_block(src: bytes, size: int) -> bytes:
    """Decompress one LZ4 block (the format FST's hierarchy uses)."""

    def length(n: int, i: int) -> tuple[int, int]:  # a 4-bit length, extended by 255-bytes
        if n == 15:
            while src[i] == 255:
                n, i = n + 255, i + 1
            n, i = n + src[i], i + 1
        return n, i

    out, i = bytearray(), 0
    while i < len(src):
        token = src[i]
        lit, i = length(token >> 4, i + 1)
        out += src[i:i + lit]
        i += lit
        if i >= len(src) or len(out) >= size:
            break
        offset = src[i] | src[i + 1] << 8
        n, i = length(token & 15, i + 2)
        for _ in range(n + 4):
            out.append(out[-offset])
    return bytes(out)


def _fst_hierarchy(path) -> str:
    """The scope and signal names of an FST file: its hierarchy block (4: gzip, 6: LZ4)."""
    data = path.read_bytes()
    pos, names = 0, []
    while pos + 9 <= len(data):
        kind = data[pos]
        (length,) = struct.unpack(">Q", data[pos + 1:pos + 9])
        body = data[pos + 9:pos + 1 + length]
        if kind == 4:
            names.append(zlib.decompress(body[8:], 47).decode("latin-1"))
        elif kind == 6:
            (size,) = struct.unpack(">Q", body[:8])
            names.append(_lz4_block(body[8:], size).decode("latin-1"))
        pos += 1 + length
    return "".join(names)


def test_trace_dumps_the_first_frames(tmp_path):
    ir = random_mlp(5, fold_cap=4)
    build = tmp_path / "build"
    ir.save(build)
    rtl_codegen.write(ir, build / "rtl")
    trace = tmp_path / "wave.fst"
    res = CliRunner().invoke(app, ["simulate", str(build), "--n", "20", "--trace", str(trace),
                                   "--frames", "2"])
    assert res.exit_code == 0, res.output
    assert "bit-exact" in res.output and str(trace) in res.output
    assert trace.stat().st_size > 0
    hier = _fst_hierarchy(trace)
    for layer in ir.layers:
        assert f"{layer.name}_in_tvalid" in hier, layer.name
    res = CliRunner().invoke(app, ["simulate", str(build), "--trace", str(tmp_path / "w.vcd")])
    assert res.exit_code == 2 and ".fst" in res.output
