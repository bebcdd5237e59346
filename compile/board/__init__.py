"""The open board flow: board definitions (from amaranth-boards), the board top (PLL, reset,
UART bridge, accelerator, LEDs), bitstreams with Yosys + nextpnr, flashing, and the board top in
Verilator. The serial protocol is compile/board_protocol.py."""
