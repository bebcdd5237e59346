"""cocotb tests of the board's UART blocks: the bridge with its receiver and transmitter
(tests/board/cocotb_bridge.py), the receiver and transmitter alone (tests/board/cocotb_uart.py)
and the reset synchroniser (tests/board/cocotb_reset.py), each built with Verilator once per
parameter set (tests/layers/harness.run_cocotb)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.layers.harness import run_cocotb
from xnorflow.compile import board_protocol as proto
from xnorflow.compile.board.top import hello_literal
from xnorflow.compile.templating import template_path_of

pytestmark = pytest.mark.sim
HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def cache(request) -> Path:
    return Path(request.config.cache.mkdir("xnorflow_board_blocks"))


def board_src(name: str) -> Path:
    return template_path_of("rtl/board", name)


# (DIV16: bit period in 1/16 cycles, fractional on purpose; stream geometry; batch sizes)
BRIDGE_CASES = {
    "3x2_to_2x1": dict(div16=16 * 6 + 5, in_bytes=3, in_beats=2, out_bytes=2, out_beats=1,
                       batches=[1, 4, 2], seed=1),
    "1x5_to_1x3": dict(div16=16 * 5 + 11, in_bytes=1, in_beats=5, out_bytes=1, out_beats=3,
                       batches=[3, 1, 5], seed=2),
}


@pytest.mark.parametrize("name", sorted(BRIDGE_CASES))
def test_bridge(name, cache):
    c = dict(BRIDGE_CASES[name])
    hello = proto.Hello(fingerprint="0123456789abcdef", in_beats=c["in_beats"],
                        in_beat_bytes=c["in_bytes"], out_beats=c["out_beats"],
                        out_beat_bytes=c["out_bytes"], clock_khz=100_000, baud=1)
    c["hello"] = hello.to_bytes().hex()
    c["timeout_cycles"] = 40 * c["div16"] // 16 * 10  # 40 byte times
    params = {"DIV16": c["div16"], "IN_BYTES": c["in_bytes"], "IN_BEATS": c["in_beats"],
              "OUT_BYTES": c["out_bytes"], "OUT_BEATS": c["out_beats"],
              "HELLO_LEN": proto.HELLO_LEN, "HELLO": hello_literal(hello.to_bytes()),
              "TIMEOUT_CYCLES": c["timeout_cycles"], "FIFO_DEPTH": 8}
    srcs = [board_src(f) for f in ("uart_rx.sv", "uart_tx.sv", "uart_axis_bridge.sv")]
    run_cocotb(cache, f"bridge_{name}", [*srcs, HERE / "uart_link_tb.sv"], "uart_link_tb", c,
               params, test_module="tests.board.cocotb_bridge", n_tests=5)


@pytest.mark.parametrize("div16", [16 * 4, 16 * 6 + 7])
def test_uart_rx_tx(div16, cache):
    srcs = [board_src("uart_rx.sv"), board_src("uart_tx.sv"), HERE / "uart_pair_tb.sv"]
    run_cocotb(cache, f"uart_{div16}", srcs, "uart_pair_tb", {"div16": div16, "n": 60,
                                                             "seed": div16},
               {"DIV16": div16}, test_module="tests.board.cocotb_uart", n_tests=2)


@pytest.mark.parametrize("stages", [2, 4])
def test_reset_sync(stages, cache):
    run_cocotb(cache, f"reset_sync_{stages}", [board_src("reset_sync.sv")], "reset_sync",
               {"stages": stages}, {"STAGES": stages}, test_module="tests.board.cocotb_reset",
               n_tests=1)
