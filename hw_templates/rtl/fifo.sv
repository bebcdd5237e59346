// xnorflow RTL template: synchronous AXI4-Stream FIFO (show-ahead, no combinational
// path from input to output or from m_axis_tready to s_axis_tready).
//
// Used between dataflow layers and as the output queue of the compute layers, whose
// credit counters guarantee it never overflows. Full throughput: one beat in and one beat out
// per cycle.
`default_nettype none

module fifo #(
    // Bits of tdata (>= 1).
    parameter int WIDTH = 8,
    // Entries (>= 2).
    parameter int DEPTH = 4
) (
    input  wire logic             clk,
    input  wire logic             rst,

    input  wire logic [WIDTH-1:0] s_axis_tdata,
    input  wire logic             s_axis_tvalid,
    output wire logic             s_axis_tready,

    output wire logic [WIDTH-1:0] m_axis_tdata,
    output wire logic             m_axis_tvalid,
    input  wire logic             m_axis_tready
);

    localparam int AW = $clog2(DEPTH);

    initial begin
        if (WIDTH < 1 || DEPTH < 2) $fatal(1, "fifo %m: WIDTH >= 1 and DEPTH >= 2 required");
    end

    logic [WIDTH-1:0] mem [DEPTH];
    logic [AW-1:0] wr_ptr_reg, rd_ptr_reg;
    logic [AW:0] count_reg;

    wire push = s_axis_tvalid && s_axis_tready;
    wire pop = m_axis_tvalid && m_axis_tready;

    assign s_axis_tready = count_reg != (AW+1)'(DEPTH);
    assign m_axis_tvalid = count_reg != 0;
    assign m_axis_tdata = mem[rd_ptr_reg];

    always_ff @(posedge clk) begin
        if (push) begin
            mem[wr_ptr_reg] <= s_axis_tdata;
        end
    end

    always_ff @(posedge clk) begin
        if (push) wr_ptr_reg <= wr_ptr_reg == AW'(DEPTH - 1) ? '0 : wr_ptr_reg + 1'b1;
        if (pop) rd_ptr_reg <= rd_ptr_reg == AW'(DEPTH - 1) ? '0 : rd_ptr_reg + 1'b1;
        count_reg <= count_reg + (AW+1)'(push) - (AW+1)'(pop);
        if (rst) begin
            wr_ptr_reg <= '0;
            rd_ptr_reg <= '0;
            count_reg <= '0;
        end
    end

endmodule

`default_nettype wire
