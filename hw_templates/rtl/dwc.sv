// xnorflow RTL template: AXI4-Stream width converter, any ratio.
//
// The stream is a sequence of bits (beat after beat, LSB first); this module re-cuts it from
// IN_W-bit beats into OUT_W-bit beats. Frames hold whole beats of both widths, so no padding is
// ever needed. A shift buffer of 2*(IN_W + OUT_W) bits holds the bits not yet sent; the bits above
// count_reg are kept zero. s_axis_tready does not depend on m_axis_tready; the slack of the
// buffer keeps both sides at one beat per cycle for any ratio (the narrower rate limits).
`default_nettype none

module dwc #(
    // Input and output tdata widths (bits).
    parameter int IN_W = 8,
    parameter int OUT_W = 8
) (
    input  wire logic             clk,
    input  wire logic             rst,

    input  wire logic [IN_W-1:0]  s_axis_tdata,
    input  wire logic             s_axis_tvalid,
    output wire logic             s_axis_tready,

    output wire logic [OUT_W-1:0] m_axis_tdata,
    output wire logic             m_axis_tvalid,
    input  wire logic             m_axis_tready
);

    localparam int BUF = 2 * (IN_W + OUT_W);
    localparam int CW = $clog2(BUF + 1);

    logic [BUF-1:0] buf_reg;
    logic [CW-1:0] count_reg;

    assign m_axis_tvalid = count_reg >= CW'(OUT_W);
    assign m_axis_tdata = buf_reg[OUT_W-1:0];
    assign s_axis_tready = count_reg <= CW'(BUF - IN_W);
    wire pop = m_axis_tvalid && m_axis_tready;
    wire push = s_axis_tvalid && s_axis_tready;

    always_ff @(posedge clk) begin
        logic [BUF-1:0] b;
        logic [CW-1:0] c;
        b = buf_reg;
        c = count_reg;
        if (pop) begin
            b = b >> OUT_W;
            c = c - CW'(OUT_W);
        end
        if (push) begin
            b = b | (BUF'(s_axis_tdata) << c);
            c = c + CW'(IN_W);
        end
        buf_reg <= b;
        count_reg <= c;
        if (rst) begin
            buf_reg <= '0;
            count_reg <= '0;
        end
    end

endmodule

`default_nettype wire
