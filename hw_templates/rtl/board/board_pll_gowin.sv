// xnorflow RTL template: the board's clock, a Gowin rPLL (internal feedback, static dividers).
//
// f_out = FCLKIN * (FBDIV_SEL + 1) / (IDIV_SEL + 1); PFD = FCLKIN / (IDIV_SEL + 1) in
// 3..400 MHz, VCO = f_out * ODIV_SEL in 400..1200 MHz (GW1NR-9 C6/I5); the generator
// (compile/board/pll.py) picks the dividers as Apicula's gowin_pll does. The simulation model
// with the same ports is board_pll_sim.sv.
`default_nettype none

module board_pll #(
    // the oscillator's frequency in MHz, as text (the packer derives the loop filter from it)
    parameter FCLKIN = "27",
    parameter int IDIV_SEL = 0,     // input divider - 1 (0..63)
    parameter int FBDIV_SEL = 2,    // feedback divider - 1 (0..63)
    parameter int ODIV_SEL = 8      // VCO divider: 2, 4, 8, 16, 32, 48, ..., 128
) (
    input  wire logic clk_in,
    output wire logic clk_out,
    output wire logic locked
);

    /* verilator lint_off PINCONNECTEMPTY */
    rPLL #(
        .FCLKIN(FCLKIN), .DEVICE("GW1NR-9C"), .IDIV_SEL(IDIV_SEL), .FBDIV_SEL(FBDIV_SEL),
        .ODIV_SEL(ODIV_SEL), .CLKFB_SEL("internal"), .DYN_IDIV_SEL("false"),
        .DYN_FBDIV_SEL("false"), .DYN_ODIV_SEL("false")
    ) u_pll (
        .CLKIN(clk_in), .CLKFB(1'b0), .RESET(1'b0), .RESET_P(1'b0),
        .FBDSEL(6'd0), .IDSEL(6'd0), .ODSEL(6'd0), .PSDA(4'd0), .DUTYDA(4'd0), .FDLY(4'd0),
        .CLKOUT(clk_out), .LOCK(locked), .CLKOUTP(), .CLKOUTD(), .CLKOUTD3()
    );
    /* verilator lint_on PINCONNECTEMPTY */

endmodule

`default_nettype wire
