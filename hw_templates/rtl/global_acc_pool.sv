// xnorflow RTL template: global accumulating pool (compile/layers/global_acc_pool.py).
//
// Input: PIXELS pixels of CHANNELS values (NHWC, PE per beat); output: one pixel of CHANNELS
// sums, out[c] = sum over the pixels of x[p][c], PE per beat (OBITS bits each, two's
// complement; OBITS holds PIXELS * the input range, so the sums never overflow).
//
// CF = CHANNELS/PE accumulator words of PE sums (a distributed RAM: read asynchronously,
// written on the beat). On the first pixel a word starts from 0; on the last pixel the
// completed word leaves (registered into the output FIFO) instead of being kept, so the sums
// leave with the last pixel's beats and the next frame follows straight on: one input beat
// per cycle, PIXELS*CHANNELS/PE cycles per frame. A beat that completes a word is taken only
// when the credit counter has reserved its FIFO entry: back-pressure stalls the input and
// loses nothing; there is no combinational path from m_axis_tready to s_axis_tready.
`default_nettype none

module global_acc_pool #(
    // Pixels per frame (>= 1).
    parameter int PIXELS = 4,
    // Channels per pixel; must be a multiple of PE.
    parameter int CHANNELS = 2,
    // Values per beat (in and out).
    parameter int PE = 1,
    // Bits of one input value, and whether input values are signed.
    parameter int IBITS = 2,
    parameter bit IN_SIGNED = 1,
    // Bits of one sum (two's complement when IN_SIGNED); holds PIXELS * the input range.
    parameter int OBITS = 4,
    // Output FIFO entries.
    parameter int OUT_FIFO_DEPTH = 4
) (
    input  wire logic                clk,
    input  wire logic                rst,

    input  wire logic [PE*IBITS-1:0] s_axis_tdata,
    input  wire logic                s_axis_tvalid,
    output wire logic                s_axis_tready,

    output wire logic [PE*OBITS-1:0] m_axis_tdata,
    output wire logic                m_axis_tvalid,
    input  wire logic                m_axis_tready
);

    localparam int CF = CHANNELS / PE;
    localparam int W = PE * OBITS;
    localparam int CRW = $clog2(OUT_FIFO_DEPTH + 1);
    localparam int CFW = CF > 1 ? $clog2(CF) : 1;
    localparam int PXW = PIXELS > 1 ? $clog2(PIXELS) : 1;

    initial begin
        if (CHANNELS % PE != 0) $fatal(1, "global_acc_pool %m: PE must divide CHANNELS");
        if (PIXELS < 1) $fatal(1, "global_acc_pool %m: PIXELS must be >= 1");
        if (OBITS < IBITS) $fatal(1, "global_acc_pool %m: OBITS must be >= IBITS");
        if (OUT_FIFO_DEPTH < 4) $fatal(1, "global_acc_pool %m: OUT_FIFO_DEPTH must be >= 4");
    end

    logic [CFW-1:0] cf_reg;
    logic [PXW-1:0] px_reg;
    logic [CRW-1:0] pending_reg;
    wire last_cf = cf_reg == CFW'(CF - 1);
    wire first_px = px_reg == '0;
    wire last_px = px_reg == PXW'(PIXELS - 1);

    wire credit_ok = pending_reg < CRW'(OUT_FIFO_DEPTH);
    assign s_axis_tready = !last_px || credit_ok;
    wire push = s_axis_tvalid && s_axis_tready;
    wire pop = m_axis_tvalid && m_axis_tready;

    // ---- the accumulators: word cf holds the running sums of channels cf*PE .. cf*PE+PE-1 ----
    logic [W-1:0] acc [CF];
    wire [W-1:0] acc_old = acc[cf_reg];
    logic [W-1:0] acc_new;
    always_comb begin
        for (int p = 0; p < PE; p++) begin
            logic [IBITS-1:0] v;
            logic [OBITS-1:0] ext, base;
            v = s_axis_tdata[p*IBITS +: IBITS];
            ext = IN_SIGNED ? OBITS'($signed(v)) : OBITS'($signed({1'b0, v}));
            base = first_px ? '0 : acc_old[p*OBITS +: OBITS];
            acc_new[p*OBITS +: OBITS] = base + ext;
        end
    end

    logic v_s1;
    logic [W-1:0] out_s1;
    always_ff @(posedge clk) begin
        if (push) begin
            acc[cf_reg] <= acc_new;  // the last pixel's write is overwritten by the next frame
            out_s1 <= acc_new;
        end
    end

    always_ff @(posedge clk) begin
        if (push) begin
            cf_reg <= last_cf ? '0 : cf_reg + 1'b1;
            if (last_cf) px_reg <= last_px ? '0 : px_reg + 1'b1;
        end
        v_s1 <= push && last_px;
        pending_reg <= pending_reg + CRW'(push && last_px) - CRW'(pop);
        if (rst) begin
            {cf_reg, px_reg} <= '0;
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
