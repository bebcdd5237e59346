// xnorflow RTL template: padding of an image on a stream (compile/layers/padding.py).
//
// Input: IFM_H x IFM_W pixels of CHANNELS values (NHWC, SIMD per beat). Output: the
// (PAD_TOP + IFM_H + PAD_BOTTOM) x (PAD_LEFT + IFM_W + PAD_RIGHT) image, NHWC, SIMD per beat;
// the padded pixels hold PAD_VALUE (the stored BITS of one value: 0 before a convolution, the
// type's minimum before a max-pool) in every channel. Any pad may be 0.
//
// The counters walk the output frame (channel word, x, y); at an image position one input
// beat is passed on, at a padded one a beat of pad values is made. One output beat per cycle when not
// back-pressured (OH*OW*CHANNELS/SIMD cycles per frame), the next frame's top rows following
// straight on. The output is registered into a FIFO reserved by a credit counter, so there is
// no combinational path from m_axis_tready to s_axis_tready. Row and column "in the image" flags
// are kept in registers (equality tests only, no comparators on the counters).
`default_nettype none

module padding #(
    // Input image height and width (pixels).
    parameter int IFM_H = 4,
    parameter int IFM_W = 4,
    // Channels per pixel; must be a multiple of SIMD.
    parameter int CHANNELS = 2,
    // Values per beat (in and out).
    parameter int SIMD = 1,
    // Bits of one value.
    parameter int BITS = 1,
    // Pixels added above, left, below and right of the image (>= 0).
    parameter int PAD_TOP = 1,
    parameter int PAD_LEFT = 1,
    parameter int PAD_BOTTOM = 1,
    parameter int PAD_RIGHT = 1,
    // Stored bits of the pad value (the low BITS are used).
    parameter int unsigned PAD_VALUE = 0,
    // Output FIFO entries.
    parameter int OUT_FIFO_DEPTH = 4
) (
    input  wire logic                 clk,
    input  wire logic                 rst,

    input  wire logic [SIMD*BITS-1:0] s_axis_tdata,
    input  wire logic                 s_axis_tvalid,
    output wire logic                 s_axis_tready,

    output wire logic [SIMD*BITS-1:0] m_axis_tdata,
    output wire logic                 m_axis_tvalid,
    input  wire logic                 m_axis_tready
);

    localparam int CF = CHANNELS / SIMD;
    localparam int OH = PAD_TOP + IFM_H + PAD_BOTTOM;
    localparam int OW = PAD_LEFT + IFM_W + PAD_RIGHT;
    localparam int W = SIMD * BITS;
    localparam int CRW = $clog2(OUT_FIFO_DEPTH + 1);
    localparam int CFW = CF > 1 ? $clog2(CF) : 1;
    // x and y run to OW - 1, OH - 1; the widths also hold the image's end (PAD + IFM <= O)
    localparam int XW = $clog2(OW + 1);
    localparam int YW = $clog2(OH + 1);
    localparam logic [W-1:0] PAD_WORD = {SIMD{PAD_VALUE[BITS-1:0]}};

    initial begin
        if (CHANNELS % SIMD != 0) $fatal(1, "padding %m: SIMD must divide CHANNELS");
        if (IFM_H < 1 || IFM_W < 1) $fatal(1, "padding %m: empty image");
        if (PAD_TOP < 0 || PAD_LEFT < 0 || PAD_BOTTOM < 0 || PAD_RIGHT < 0)
            $fatal(1, "padding %m: negative padding");
        if (OUT_FIFO_DEPTH < 4) $fatal(1, "padding %m: OUT_FIFO_DEPTH must be >= 4");
    end

    logic [CFW-1:0] cf_reg;
    logic [XW-1:0] x_reg;
    logic [YW-1:0] y_reg;
    logic col_in_reg, row_in_reg;  // x_reg, y_reg lie inside the image
    logic [CRW-1:0] pending_reg;
    wire in_image = col_in_reg && row_in_reg;
    wire last_cf = cf_reg == CFW'(CF - 1);
    wire last_x = x_reg == XW'(OW - 1);
    wire last_y = y_reg == YW'(OH - 1);

    wire credit_ok = pending_reg < CRW'(OUT_FIFO_DEPTH);
    assign s_axis_tready = credit_ok && in_image;
    wire issue = credit_ok && (!in_image || s_axis_tvalid);  // an output beat is made
    wire pop = m_axis_tvalid && m_axis_tready;

    // the next position and whether it lies inside the image: set on the image's first column
    // (row), cleared past its last or on the wrap to 0 (the first test wins, for PAD_LEFT = 0)
    wire [XW-1:0] x_next = last_x ? '0 : x_reg + 1'b1;
    wire [YW-1:0] y_next = last_y ? '0 : y_reg + 1'b1;
    wire col_in_next = x_next == XW'(PAD_LEFT) ? 1'b1
                     : (x_next == XW'(PAD_LEFT + IFM_W) || x_next == '0) ? 1'b0 : col_in_reg;
    wire row_in_next = y_next == YW'(PAD_TOP) ? 1'b1
                     : (y_next == YW'(PAD_TOP + IFM_H) || y_next == '0) ? 1'b0 : row_in_reg;

    logic v_s1;
    logic [W-1:0] out_s1;
    always_ff @(posedge clk) begin
        if (issue) begin
            out_s1 <= in_image ? s_axis_tdata : PAD_WORD;
            cf_reg <= last_cf ? '0 : cf_reg + 1'b1;
            if (last_cf) begin
                x_reg <= x_next;
                col_in_reg <= col_in_next;
                if (last_x) begin
                    y_reg <= y_next;
                    row_in_reg <= row_in_next;
                end
            end
        end
        v_s1 <= issue;
        pending_reg <= pending_reg + CRW'(issue) - CRW'(pop);
        if (rst) begin
            {cf_reg, x_reg, y_reg} <= '0;
            col_in_reg <= PAD_LEFT == 0;
            row_in_reg <= PAD_TOP == 0;
            pending_reg <= '0;
            v_s1 <= 1'b0;
        end
    end

    /* verilator lint_off UNUSEDSIGNAL */
    // never low when v_s1 is high: pending_reg reserved the entry
    wire out_fifo_ready;
    /* verilator lint_on UNUSEDSIGNAL */
    fifo #(.WIDTH(W), .DEPTH(OUT_FIFO_DEPTH)) out_fifo (
        .clk, .rst,
        .s_axis_tdata(out_s1), .s_axis_tvalid(v_s1), .s_axis_tready(out_fifo_ready),
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready
    );

endmodule

`default_nettype wire
