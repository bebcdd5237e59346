"""The boards xnorflow builds bitstreams for, read from amaranth-boards (a maintained board
library): device, package, the oscillator's pin and frequency, the UART's pins, the LEDs and
their polarity, the pins' I/O attributes. This module is only an adapter: the pin numbers,
clocks and I/O standards are the library's, never copied here.

What the library does not say, and this table adds: our name for the board, the compile/parts.py
part it folds for, openFPGALoader's name of the board (amaranth-boards programs the ULX3S with
openFPGALoader -b ulx3s, the Tang Nano 9K with openFPGALoader -b tangnano9k and the iCEBreaker
with iceprog; openFPGALoader's generic iCE40 board, ice40_generic, drives the same FT2232H and
writes its SPI flash), the USB-UART's highest convenient baud rate, and the options the
library's build passes to the bitstream packer (amaranth-boards' TangNano9kPlatform gives
gowin_pack --sspi_as_gpio --mspi_as_gpio in its toolchain_prepare, out of reach of a lookup).
"""

from __future__ import annotations

import dataclasses
import importlib
from functools import cache
from typing import Any

from xnorflow.compile.errors import CompileError
from xnorflow.compile.parts import Part, get_part


class BoardError(CompileError):
    """An unknown board, or a board definition that lacks what the board top needs."""


@dataclasses.dataclass(frozen=True)
class BoardInfo:
    """Our side of a board: where amaranth-boards defines it and what it does not say."""

    name: str
    module: str  # amaranth_boards.<module>
    platform: str  # the Platform class
    part: str  # compile/parts.py part
    programmer_board: str  # openFPGALoader -b NAME
    baud: int  # the USB-UART bridge's default rate (FT231X / FT2232H: 3 Mbaud; BL702: 115200)
    uart_chip: str
    note: str = ""
    sram: bool = True  # openFPGALoader can load the FPGA's SRAM (else it writes the flash)
    pack_args: tuple[str, ...] = ()  # the bitstream packer's options, as the library's build


BOARD_TABLE: tuple[BoardInfo, ...] = (
    BoardInfo("ulx3s-12f", "ulx3s", "ULX3S_12F_Platform", "LFE5U-12F", "ulx3s", 3_000_000,
              "FT231X", "Radiona ULX3S with an ECP5 LFE5U-12F"),
    BoardInfo("ulx3s-25f", "ulx3s", "ULX3S_25F_Platform", "LFE5U-25F", "ulx3s", 3_000_000,
              "FT231X", "Radiona ULX3S with an ECP5 LFE5U-25F"),
    BoardInfo("ulx3s-45f", "ulx3s", "ULX3S_45F_Platform", "LFE5U-45F", "ulx3s", 3_000_000,
              "FT231X", "Radiona ULX3S with an ECP5 LFE5U-45F"),
    BoardInfo("ulx3s-85f", "ulx3s", "ULX3S_85F_Platform", "LFE5U-85F", "ulx3s", 3_000_000,
              "FT231X", "Radiona ULX3S with an ECP5 LFE5U-85F"),
    BoardInfo("icebreaker", "icebreaker", "ICEBreakerPlatform", "iCE40UP5K", "ice40_generic",
              3_000_000, "FT2232H", "1BitSquared iCEBreaker with an iCE40UP5K", sram=False),
    # the BL702's USB-UART: 115200 baud is the rate Sipeed's examples use; faster is untried
    BoardInfo("tangnano9k", "tang_nano_9k", "TangNano9kPlatform", "GW1NR-LV9QN88PC6/I5",
              "tangnano9k", 115_200, "BL702", "Sipeed Tang Nano 9K with a Gowin GW1NR-9",
              pack_args=("--sspi_as_gpio", "--mspi_as_gpio")),
)
BOARD_NAMES = tuple(b.name for b in BOARD_TABLE)

# nextpnr's name of each family's package spelling in amaranth-boards
_ECP5_PACKAGES = {"BG256": "CABGA256", "MG285": "CSFBGA285", "BG381": "CABGA381",
                  "BG554": "CABGA554", "BG756": "CABGA756"}
_ECP5_SIZES = {"LFE5U-12F": "--12k", "LFE5U-25F": "--25k", "LFE5U-45F": "--45k",
               "LFE5U-85F": "--85k"}
_ICE40_DEVICES = {"iCE40UP5K": "--up5k", "iCE40HX8K": "--hx8k", "iCE40HX1K": "--hx1k",
                  "iCE40LP8K": "--lp8k"}
# nextpnr-himbaechel's (and gowin_pack's) chip database of a Gowin family: the GW1NR (a GW1N
# with PSRAM in the package) has none of its own
_GOWIN_CHIPDB = {"GW1NR-9C": "GW1N-9C", "GW1N-9C": "GW1N-9C", "GW1NR-9": "GW1N-9",
                 "GW1N-9": "GW1N-9"}


@dataclasses.dataclass(frozen=True)
class Pin:
    """One top-level port of the board top: its package pin and the library's attributes."""

    port: str  # the board top's port name
    pin: str  # package pin / ball
    direction: str  # i | o
    invert: bool  # active low (amaranth PinsN)
    attrs: tuple[tuple[str, str], ...]


@dataclasses.dataclass(frozen=True)
class Board:
    """Everything the board top, the constraints and the programmer need."""

    info: BoardInfo
    family: str  # ecp5 | ice40 | gowin
    device: str  # Gowin: the whole part string (GW1NR-LV9QN88PC6/I5)
    package: str  # amaranth-boards' spelling
    speed: str | None
    clk_resource: str
    clk_in_mhz: float
    clock: Pin
    uart_rx: Pin
    uart_tx: Pin
    leds: tuple[Pin, ...]
    gowin_family: str = ""  # Gowin: the library's device family (GW1NR-9C)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def part(self) -> Part:
        return get_part(self.info.part)

    @property
    def pins(self) -> tuple[Pin, ...]:
        return (self.clock, self.uart_rx, self.uart_tx, *self.leds)

    @property
    def chipdb(self) -> str:
        """Gowin: the chip database's name (nextpnr-himbaechel --vopt family=, gowin_pack -d)."""
        db = _GOWIN_CHIPDB.get(self.gowin_family)
        if db is None:
            raise BoardError(f"board {self.name}: no nextpnr-himbaechel chip database for "
                             f"{self.gowin_family}")
        return db

    def nextpnr_args(self) -> list[str]:
        """Device and package arguments of nextpnr-ecp5 / nextpnr-ice40 / nextpnr-himbaechel."""
        if self.family == "gowin":
            return ["--device", self.device, "--vopt", f"family={self.chipdb}"]
        if self.family == "ecp5":
            pkg = _ECP5_PACKAGES.get(self.package)
            if pkg is None or self.device not in _ECP5_SIZES:
                raise BoardError(f"board {self.name}: no nextpnr name for {self.device} "
                                 f"{self.package}")
            args = [_ECP5_SIZES[self.device], "--package", pkg]
            if self.speed:
                args += ["--speed", str(self.speed)]
            return args
        if self.device not in _ICE40_DEVICES:
            raise BoardError(f"board {self.name}: no nextpnr name for {self.device}")
        return [_ICE40_DEVICES[self.device], "--package", self.package.lower()]

    def constraints(self) -> tuple[str, str]:
        """(file name, text) of the pin constraints: an LPF for ECP5, a PCF for iCE40, a CST
        for Gowin (no clock constraint in it: nextpnr's --freq gives the PLL's clock)."""
        if self.family == "gowin":
            lines = [f"// generated by xnorflow.compile.board from amaranth-boards "
                     f"{self.info.module}.{self.info.platform}"]
            for p in self.pins:
                lines.append(f'IO_LOC "{p.port}" {p.pin};')
                if p.attrs:
                    lines.append(f'IO_PORT "{p.port}" '
                                 + " ".join(f"{k}={v}" for k, v in p.attrs) + ";")
            return "board.cst", "\n".join(lines) + "\n"
        if self.family == "ecp5":
            lines = [f"# generated by xnorflow.compile.board from amaranth-boards "
                     f"{self.info.module}.{self.info.platform}", "BLOCK ASYNCPATHS;"]
            for p in self.pins:
                lines.append(f'LOCATE COMP "{p.port}" SITE "{p.pin}";')
                if p.attrs:
                    lines.append(f'IOBUF PORT "{p.port}" '
                                 + " ".join(f"{k}={v}" for k, v in p.attrs) + ";")
            lines.append(f'FREQUENCY PORT "{self.clock.port}" {self.clk_in_mhz:g} MHZ;')
            return "board.lpf", "\n".join(lines) + "\n"
        lines = [f"# generated by xnorflow.compile.board from amaranth-boards "
                 f"{self.info.module}.{self.info.platform}"]
        for p in self.pins:
            pull = " -pullup yes" if dict(p.attrs).get("PULLUP") in ("1", "True") else ""
            lines.append(f"set_io{pull} {p.port} {p.pin}")
        lines.append(f"set_frequency {self.clock.port} {self.clk_in_mhz:g}")
        return "board.pcf", "\n".join(lines) + "\n"


def board_info(name: str) -> BoardInfo:
    key = name.strip().lower()
    for info in BOARD_TABLE:
        if info.name == key:
            return info
    raise BoardError(f"unknown board {name!r}; the open flow knows {', '.join(BOARD_NAMES)} "
                     "(see README 'Run it on a board')")


def _pin(port: str, res: Any, sub: str | None = None) -> Pin:
    """A one-bit resource (or one of its subsignals) → Pin."""
    attrs = dict(res.attrs)
    ios = res.ios
    if sub is not None:
        match = [s for s in ios if getattr(s, "name", None) == sub]
        if not match:
            raise BoardError(f"resource {res.name} has no subsignal {sub!r}")
        attrs.update(dict(match[0].attrs))
        ios = match[0].ios
    pins = ios[0]
    if len(pins.names) != 1:
        raise BoardError(f"resource {res.name}{'.' + sub if sub else ''} is {len(pins.names)} "
                         "pins, the board top needs one")
    clean = tuple((str(k), str(v)) for k, v in attrs.items()
                  if k not in ("GLOBAL",) and v is not None)
    return Pin(port=port, pin=str(pins.names[0]), direction=str(pins.dir),
               invert=bool(pins.invert), attrs=clean)


@cache
def get_board(name: str) -> Board:
    """The board called `name`, read from amaranth-boards; BoardError if it is unknown or the
    library is not installed."""
    info = board_info(name)
    try:
        module = importlib.import_module(f"amaranth_boards.{info.module}")
    except ImportError as err:
        raise BoardError(f"board definitions need amaranth-boards ({err}); install it with "
                         "`make setup` (bash scripts/setup.sh)") from err
    platform = getattr(module, info.platform)()
    clk = platform.lookup(platform.default_clk)
    if clk.clock is None:
        raise BoardError(f"{info.platform}: its default clock {platform.default_clk} has no "
                         "frequency")
    uart = platform.lookup("uart", 0)
    leds = []
    for i in range(8):
        try:
            leds.append(_pin(f"led[{i}]", platform.lookup("led", i)))
        except Exception:  # ResourceError: the board has fewer LEDs
            break
    family = get_part(info.part).family
    gowin_family = ""
    if family == "gowin":  # amaranth's GowinPlatform: a part string, no `device`
        platform.parse_part()
        device = str(platform.part)
        gowin_family = str(platform.family)
    else:
        device = str(platform.device)
    return Board(info=info, family=family, device=device,
                 package=str(platform.package), speed=getattr(platform, "speed", None),
                 gowin_family=gowin_family,
                 clk_resource=str(platform.default_clk),
                 clk_in_mhz=float(clk.clock.frequency) / 1e6,
                 clock=_pin("clk_in", clk), uart_rx=_pin("uart_rx", uart, "rx"),
                 uart_tx=_pin("uart_tx", uart, "tx"), leds=tuple(leds))


def board_for_part(part: str) -> str | None:
    """Not used to choose: for messages, a board carrying `part`."""
    for info in BOARD_TABLE:
        if info.part.lower() == part.lower():
            return info.name
    return None
