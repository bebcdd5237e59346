// xnorflow RTL template: reset synchroniser.
//
// rst goes high at once (asynchronously) when arst_n is low and goes low synchronously,
// STAGES clock edges after arst_n rose (e.g. the PLL's lock): every register of the clock
// domain leaves reset in the same cycle, and a metastable arst_n release never reaches them.
`default_nettype none

module reset_sync #(
    // Flip-flops in the chain (>= 2).
    parameter int STAGES = 4
) (
    input  wire logic clk,
    input  wire logic arst_n,
    output wire logic rst
);

    initial begin
        if (STAGES < 2) $fatal(1, "reset_sync %m: STAGES >= 2 required, got %0d", STAGES);
    end

    /* verilator lint_off PROCASSINIT */
    (* async_reg = "true" *) logic [STAGES-1:0] sync_reg = '1;  // in reset at power-up
    /* verilator lint_on PROCASSINIT */

    always_ff @(posedge clk or negedge arst_n) begin
        if (!arst_n) sync_reg <= '1;
        else sync_reg <= {sync_reg[STAGES-2:0], 1'b0};
    end

    assign rst = sync_reg[STAGES-1];

endmodule

`default_nettype wire
