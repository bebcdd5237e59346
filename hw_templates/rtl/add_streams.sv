// xnorflow RTL template: stream join by addition (compile/layers/add_streams.py), the end of a
// residual branch.
//
// Two streams of PE values per beat (value p at bits [p*BITS +: BITS], element 0 in the LSBs)
// → one stream of PE sums: out_p = a_p + b_p, the low OBITS bits of the exact sum (two's
// complement; the plugin picks OBITS to hold the sums' range). An input value is two's
// complement when *_SIGNED, unsigned otherwise; a *_BIPOLAR input holds one bit b per value
// meaning 2b-1 (1 → +1, 0 → -1).
//
// A pair of beats, one from each input, is taken together when both are valid and the output
// FIFO (fifo.sv, 2 entries) has room; the adders sit between the inputs and the FIFO. An input
// that arrives first is held by its source (tready low) until the other arrives. The FIFO's
// "not full" flag is a register compare: no combinational path from m_axis_tready to either
// s*_axis_tready (s0_axis_tready does follow s1_axis_tvalid and vice versa, as AXI4-Stream
// allows). Full throughput: one pair in and one sum out per cycle.
`default_nettype none

module add_streams #(
    // Values per beat, on both inputs and the output (>= 1).
    parameter int PE = 1,
    // Bits of one value of input 0; two's complement when A_SIGNED; one bit meaning -1/+1
    // when A_BIPOLAR (then ABITS == 1 and A_SIGNED is ignored).
    parameter int ABITS = 2,
    parameter bit A_SIGNED = 1,
    parameter bit A_BIPOLAR = 0,
    // The same for input 1.
    parameter int BBITS = 2,
    parameter bit B_SIGNED = 1,
    parameter bit B_BIPOLAR = 0,
    // Bits of one sum (>= 1): the low OBITS bits of a_p + b_p, sign-extended if wider.
    parameter int OBITS = 3
) (
    input  wire logic                clk,
    input  wire logic                rst,

    input  wire logic [PE*ABITS-1:0] s0_axis_tdata,
    input  wire logic                s0_axis_tvalid,
    output wire logic                s0_axis_tready,

    input  wire logic [PE*BBITS-1:0] s1_axis_tdata,
    input  wire logic                s1_axis_tvalid,
    output wire logic                s1_axis_tready,

    output wire logic [PE*OBITS-1:0] m_axis_tdata,
    output wire logic                m_axis_tvalid,
    input  wire logic                m_axis_tready
);

    // bits of a value as two's complement: unsigned values gain a zero sign bit
    localparam int AW = A_BIPOLAR ? 2 : A_SIGNED ? ABITS : ABITS + 1;
    localparam int BW = B_BIPOLAR ? 2 : B_SIGNED ? BBITS : BBITS + 1;
    // the exact sum's bits, and the width the sum is computed at (at least OBITS)
    localparam int SW = (AW > BW ? AW : BW) + 1;
    localparam int EW = SW > OBITS ? SW : OBITS;

    initial begin
        if (PE < 1) $fatal(1, "add_streams %m: PE must be >= 1");
        if (ABITS < 1 || BBITS < 1 || OBITS < 1)
            $fatal(1, "add_streams %m: ABITS, BBITS and OBITS must be >= 1");
        if (A_BIPOLAR && ABITS != 1) $fatal(1, "add_streams %m: a bipolar input 0 needs ABITS = 1");
        if (B_BIPOLAR && BBITS != 1) $fatal(1, "add_streams %m: a bipolar input 1 needs BBITS = 1");
    end

    wire room;  // the output FIFO is not full (a register compare)
    wire take = s0_axis_tvalid && s1_axis_tvalid && room;
    assign s0_axis_tready = s1_axis_tvalid && room;
    assign s1_axis_tready = s0_axis_tvalid && room;

    logic [PE*OBITS-1:0] sums;

    // The values widen to EW bits by assignment (sign-extension of a signed right-hand side),
    // not by size casts, which Debian's Yosys 0.23 rejects in -defer mode: the widening is
    // intended; the bits of the exact sum above OBITS are dropped.
    /* verilator lint_off WIDTHEXPAND */
    /* verilator lint_off UNUSEDSIGNAL */
    for (genvar p = 0; p < PE; p++) begin : g_pe
        wire [ABITS-1:0] a_raw = s0_axis_tdata[p*ABITS +: ABITS];
        wire [BBITS-1:0] b_raw = s1_axis_tdata[p*BBITS +: BBITS];
        wire signed [EW-1:0] a_val, b_val, sum;

        if (A_BIPOLAR) begin : g_a
            assign a_val = $signed({~a_raw[0], 1'b1});  // 1 → 2'b01 (+1), 0 → 2'b11 (-1)
        end else if (A_SIGNED) begin : g_a
            assign a_val = $signed(a_raw);
        end else begin : g_a
            assign a_val = $signed({1'b0, a_raw});
        end

        if (B_BIPOLAR) begin : g_b
            assign b_val = $signed({~b_raw[0], 1'b1});
        end else if (B_SIGNED) begin : g_b
            assign b_val = $signed(b_raw);
        end else begin : g_b
            assign b_val = $signed({1'b0, b_raw});
        end

        assign sum = a_val + b_val;
        assign sums[p*OBITS +: OBITS] = sum[OBITS-1:0];
    end
    /* verilator lint_on UNUSEDSIGNAL */
    /* verilator lint_on WIDTHEXPAND */

    fifo #(.WIDTH(PE * OBITS), .DEPTH(2)) out_fifo (
        .clk, .rst,
        .s_axis_tdata(sums), .s_axis_tvalid(take), .s_axis_tready(room),
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready
    );

endmodule

`default_nettype wire
