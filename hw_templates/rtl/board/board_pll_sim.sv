// xnorflow RTL template: the simulation model of board_pll (board_pll_ecp5.sv,
// board_pll_ice40.sv, board_pll_gowin.sv) for Verilator: the testbench drives clk_in at the PLL's OUTPUT frequency,
// so clk_out is clk_in; locked rises after LOCK_CYCLES cycles, as a PLL locks after a while.
// It takes the parameters of every family and ignores them.
`default_nettype none

/* verilator lint_off UNUSEDPARAM */
module board_pll #(
    parameter int CLKI_DIV = 1,
    parameter int CLKFB_DIV = 1,
    parameter int CLKOP_DIV = 1,
    parameter int CLKOP_CPHASE = 0,
    parameter int DIVR = 0,
    parameter int DIVF = 0,
    parameter int DIVQ = 1,
    parameter int FILTER_RANGE = 0,
    parameter FCLKIN = "0",
    parameter int IDIV_SEL = 0,
    parameter int FBDIV_SEL = 0,
    parameter int ODIV_SEL = 2,
    // cycles from start to lock (>= 1)
    parameter int LOCK_CYCLES = 16
) (
/* verilator lint_on UNUSEDPARAM */
    input  wire logic clk_in,
    output wire logic clk_out,
    output wire logic locked
);

    /* verilator lint_off PROCASSINIT */
    logic [$clog2(LOCK_CYCLES + 1):0] count_reg = '0;
    /* verilator lint_on PROCASSINIT */

    assign clk_out = clk_in;
    assign locked = count_reg >= ($clog2(LOCK_CYCLES + 1) + 1)'(LOCK_CYCLES);

    always_ff @(posedge clk_in) begin
        if (!locked) count_reg <= count_reg + 1'b1;
    end

endmodule

`default_nettype wire
