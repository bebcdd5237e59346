// xnorflow RTL template: the board's clock, an ECP5 EHXPLLL (feedback from CLKOP).
//
// f_out = f_in * CLKFB_DIV / CLKI_DIV, VCO = f_out * CLKOP_DIV in 400..800 MHz; the generator
// (compile/board/pll.py) picks the dividers, as Project Trellis' ecppll does. The simulation
// model with the same ports is board_pll_sim.sv.
`default_nettype none

module board_pll #(
    // Input divider (1..128), feedback divider (1..80), output divider (1..128) and its
    // coarse phase for 0 degrees, as ecppll writes it: (CLKOP_DIV - 1) / 2.
    parameter int CLKI_DIV = 1,
    parameter int CLKFB_DIV = 4,
    parameter int CLKOP_DIV = 6,
    parameter int CLKOP_CPHASE = 2
) (
    input  wire logic clk_in,
    output wire logic clk_out,
    output wire logic locked
);

    (* ICP_CURRENT="12" *) (* LPF_RESISTOR="8" *) (* MFG_ENABLE_FILTEROPAMP="1" *)
    (* MFG_GMCREF_SEL="2" *)
    EHXPLLL #(
        .PLLRST_ENA("DISABLED"), .INTFB_WAKE("DISABLED"), .STDBY_ENABLE("DISABLED"),
        .DPHASE_SOURCE("DISABLED"), .OUTDIVIDER_MUXA("DIVA"), .OUTDIVIDER_MUXB("DIVB"),
        .OUTDIVIDER_MUXC("DIVC"), .OUTDIVIDER_MUXD("DIVD"),
        .CLKI_DIV(CLKI_DIV), .CLKOP_ENABLE("ENABLED"), .CLKOP_DIV(CLKOP_DIV),
        .CLKOP_CPHASE(CLKOP_CPHASE), .CLKOP_FPHASE(0), .FEEDBK_PATH("CLKOP"),
        .CLKFB_DIV(CLKFB_DIV)
    ) u_pll (
        .RST(1'b0), .STDBY(1'b0), .CLKI(clk_in), .CLKOP(clk_out), .CLKFB(clk_out),
        .CLKINTFB(), .PHASESEL0(1'b0), .PHASESEL1(1'b0), .PHASEDIR(1'b1), .PHASESTEP(1'b1),
        .PHASELOADREG(1'b1), .PLLWAKESYNC(1'b0), .ENCLKOP(1'b0), .LOCK(locked)
    );

endmodule

`default_nettype wire
