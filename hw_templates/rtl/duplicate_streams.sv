// xnorflow RTL template: stream fork (compile/layers/duplicate_streams.py), the start of a
// residual branch.
//
// Every input beat goes to each of the N_OUT outputs, in order; output k is the WIDTH bits
// m_axis_tdata[k*WIDTH +: WIDTH] with its own m_axis_tvalid[k] / m_axis_tready[k].
//
// Each output has its own FIFO of DEPTH entries (fifo.sv), so an output can run up to DEPTH
// beats ahead of a stalled one. An input beat is taken when every output FIFO has room;
// s_axis_tready is an AND of the FIFOs' registered "not full" flags, so there is no
// combinational path from any m_axis_tready to s_axis_tready. Full throughput: one beat per
// cycle in and on every output while all outputs are ready.
`default_nettype none

module duplicate_streams #(
    // Bits of one beat (>= 1), the same on the input and every output.
    parameter int WIDTH = 8,
    // Outputs (>= 2).
    parameter int N_OUT = 2,
    // Entries of each output's FIFO (>= 2): how far one output may run ahead of another.
    parameter int DEPTH = 2
) (
    input  wire logic                   clk,
    input  wire logic                   rst,

    input  wire logic [WIDTH-1:0]       s_axis_tdata,
    input  wire logic                   s_axis_tvalid,
    output wire logic                   s_axis_tready,

    output wire logic [N_OUT*WIDTH-1:0] m_axis_tdata,
    output wire logic [N_OUT-1:0]       m_axis_tvalid,
    input  wire logic [N_OUT-1:0]       m_axis_tready
);

    initial begin
        if (WIDTH < 1) $fatal(1, "duplicate_streams %m: WIDTH must be >= 1");
        if (N_OUT < 2) $fatal(1, "duplicate_streams %m: N_OUT must be >= 2");
        if (DEPTH < 2) $fatal(1, "duplicate_streams %m: DEPTH must be >= 2");
    end

    wire [N_OUT-1:0] room;  // output FIFO k is not full (a register compare)
    assign s_axis_tready = &room;
    wire push = s_axis_tvalid && s_axis_tready;

    for (genvar k = 0; k < N_OUT; k++) begin : g_out
        fifo #(.WIDTH(WIDTH), .DEPTH(DEPTH)) out_fifo (
            .clk, .rst,
            .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(push), .s_axis_tready(room[k]),
            .m_axis_tdata(m_axis_tdata[k*WIDTH +: WIDTH]), .m_axis_tvalid(m_axis_tvalid[k]),
            .m_axis_tready(m_axis_tready[k])
        );
    end

endmodule

`default_nettype wire
