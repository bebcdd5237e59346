// xnorflow RTL template: the board's clock, an iCE40 SB_PLL40_PAD (simple feedback).
//
// f_out = f_in * (DIVF + 1) / ((DIVR + 1) * 2^DIVQ); PFD = f_in / (DIVR + 1) in 10..133 MHz,
// VCO in 533..1066 MHz; the generator (compile/board/pll.py) picks the dividers as icepll
// does. clk_in must come straight from the board's clock pin (the PLL's pad). The simulation
// model with the same ports is board_pll_sim.sv.
`default_nettype none

module board_pll #(
    parameter int DIVR = 0,          // 0..15
    parameter int DIVF = 63,         // 0..127
    parameter int DIVQ = 4,          // 1..6
    parameter int FILTER_RANGE = 1   // 0..7, from the PFD frequency
) (
    input  wire logic clk_in,
    output wire logic clk_out,
    output wire logic locked
);

    SB_PLL40_PAD #(
        .FEEDBACK_PATH("SIMPLE"),
        .DIVR(4'(DIVR)),
        .DIVF(7'(DIVF)),
        .DIVQ(3'(DIVQ)),
        .FILTER_RANGE(3'(FILTER_RANGE))
    ) u_pll (
        .PACKAGEPIN(clk_in),
        .PLLOUTGLOBAL(clk_out),
        .PLLOUTCORE(),
        .EXTFEEDBACK(1'b0),
        .DYNAMICDELAY(8'h00),
        .LOCK(locked),
        .BYPASS(1'b0),
        .RESETB(1'b1),
        .LATCHINPUTVALUE(1'b0),
        .SDO(),
        .SDI(1'b0),
        .SCLK(1'b0)
    );

endmodule

`default_nettype wire
