// xnorflow RTL template: sliding-window generator, im2col on a stream
// (compile/layers/sliding_window.py).
//
// Input: an IFM_H x IFM_W image of CHANNELS values (NHWC, SIMD values per beat). Output: for
// each output pixel (oy, ox), row-major, the KERNEL_H*KERNEL_W*CHANNELS window values in
// (ky, kx, c) order, SIMD per beat. Strides STRIDE_H, STRIDE_W; no padding:
// OH = (IFM_H - KERNEL_H) / STRIDE_H + 1, OW = (IFM_W - KERNEL_W) / STRIDE_W + 1.
// Two frame banks (ping-pong): the next frame is written into one bank while the windows of
// the previous one are read from the other, so a frame costs max(writes, reads) cycles.
// The bank memory has one write and one registered read port (block-RAM friendly); its read
// data is registered once more before the output FIFO, so the slow clock-to-out of a block
// RAM without output register and the multiplexer over its banks end at a flip-flop.
`default_nettype none

module sliding_window #(
    // Input image height and width (pixels).
    parameter int IFM_H = 4,
    parameter int IFM_W = 4,
    // Channels per pixel; must be a multiple of SIMD.
    parameter int CHANNELS = 2,
    // Values per beat (in and out).
    parameter int SIMD = 1,
    // Bits of one value.
    parameter int BITS = 1,
    // Window height and width (KERNEL_H <= IFM_H, KERNEL_W <= IFM_W) and strides.
    parameter int KERNEL_H = 3,
    parameter int KERNEL_W = 3,
    parameter int STRIDE_H = 1,
    parameter int STRIDE_W = 1,
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
    localparam int OH = (IFM_H - KERNEL_H) / STRIDE_H + 1;
    localparam int OW = (IFM_W - KERNEL_W) / STRIDE_W + 1;
    localparam int D = IFM_H * IFM_W * CF;  // words per bank
    localparam int AW = $clog2(2 * D);
    localparam int W = SIMD * BITS;
    localparam int CRW = $clog2(OUT_FIFO_DEPTH + 1);
    // counter widths (at least 1 bit)
    localparam int CFW = CF > 1 ? $clog2(CF) : 1;
    localparam int KHW = KERNEL_H > 1 ? $clog2(KERNEL_H) : 1;
    localparam int KWW = KERNEL_W > 1 ? $clog2(KERNEL_W) : 1;
    localparam int OHW = OH > 1 ? $clog2(OH) : 1;
    localparam int OWW = OW > 1 ? $clog2(OW) : 1;

    initial begin
        if (CHANNELS % SIMD != 0) $fatal(1, "sliding_window %m: SIMD must divide CHANNELS");
        if (KERNEL_H < 1 || KERNEL_W < 1 || KERNEL_H > IFM_H || KERNEL_W > IFM_W)
            $fatal(1, "sliding_window %m: kernel empty or larger than the image");
        if (STRIDE_H < 1 || STRIDE_W < 1) $fatal(1, "sliding_window %m: stride < 1");
        if (OUT_FIFO_DEPTH < 4) $fatal(1, "sliding_window %m: OUT_FIFO_DEPTH must be >= 4");
    end

    logic [W-1:0] mem [2*D];
    logic [1:0] full_reg;

    // ---- writer -----------------------------------------------------------------------
    logic wbank_reg;
    logic [AW-1:0] waddr_reg;  // offset in the bank
    wire push = s_axis_tvalid && s_axis_tready;
    assign s_axis_tready = !full_reg[wbank_reg];
    wire wlast = waddr_reg == AW'(D - 1);

    always_ff @(posedge clk) begin
        if (push) mem[wbank_reg ? AW'(D) + waddr_reg : waddr_reg] <= s_axis_tdata;
    end

    // ---- reader -----------------------------------------------------------------------
    logic rbank_reg;
    logic [OHW-1:0] oy_reg;
    logic [OWW-1:0] ox_reg;
    logic [KHW-1:0] ky_reg;
    logic [KWW-1:0] kx_reg;
    logic [CFW-1:0] cf_reg;
    logic [CRW-1:0] pending_reg;

    wire rlast_cf = cf_reg == CFW'(CF - 1);
    wire rlast_kx = kx_reg == KWW'(KERNEL_W - 1);
    wire rlast_ky = ky_reg == KHW'(KERNEL_H - 1);
    wire rlast_ox = ox_reg == OWW'(OW - 1);
    wire rlast_oy = oy_reg == OHW'(OH - 1);
    wire rlast = rlast_cf && rlast_kx && rlast_ky && rlast_ox && rlast_oy;
    wire pop = m_axis_tvalid && m_axis_tready;
    wire issue = full_reg[rbank_reg] && pending_reg < CRW'(OUT_FIFO_DEPTH);

    // Word address of (oy*STRIDE_H + ky, ox*STRIDE_W + kx, cf) in the read bank, kept in
    // registers that step by constants (no multiplier in front of the memory's address port):
    // row_reg = oy*STRIDE_H*IFM_W*CF, win_reg = row_reg + ox*STRIDE_W*CF,
    // off_reg = (ky*IFM_W + kx)*CF + cf.
    localparam int ROW_STEP = STRIDE_H * IFM_W * CF;
    localparam int WIN_STEP = STRIDE_W * CF;
    localparam int KY_STEP = (IFM_W - KERNEL_W) * CF + 1;  // last (kx, cf) of a window row → next row
    logic [AW-1:0] row_reg, win_reg, off_reg;
    wire [AW-1:0] raddr = (rbank_reg ? AW'(D) : '0) + win_reg + off_reg;

    logic v_s1, v_s2;
    logic [W-1:0] rdata_s1, rdata_s2;
    always_ff @(posedge clk) begin
        if (issue) rdata_s1 <= mem[raddr];
        if (v_s1) rdata_s2 <= rdata_s1;
    end

    always_ff @(posedge clk) begin
        if (push) begin
            waddr_reg <= wlast ? '0 : waddr_reg + 1'b1;
            if (wlast) wbank_reg <= !wbank_reg;
        end
        if (issue) begin
            cf_reg <= rlast_cf ? '0 : cf_reg + 1'b1;
            if (rlast_cf) kx_reg <= rlast_kx ? '0 : kx_reg + 1'b1;
            if (rlast_cf && rlast_kx) ky_reg <= rlast_ky ? '0 : ky_reg + 1'b1;
            if (rlast_cf && rlast_kx && rlast_ky) ox_reg <= rlast_ox ? '0 : ox_reg + 1'b1;
            if (rlast_cf && rlast_kx && rlast_ky && rlast_ox)
                oy_reg <= rlast_oy ? '0 : oy_reg + 1'b1;
            if (rlast) rbank_reg <= !rbank_reg;
            if (!(rlast_cf && rlast_kx)) off_reg <= off_reg + 1'b1;
            else if (!rlast_ky) off_reg <= off_reg + AW'(KY_STEP);
            else begin  // window done: next window
                off_reg <= '0;
                if (!rlast_ox) win_reg <= win_reg + AW'(WIN_STEP);
                else if (!rlast_oy) begin
                    row_reg <= row_reg + AW'(ROW_STEP);
                    win_reg <= row_reg + AW'(ROW_STEP);
                end else begin
                    row_reg <= '0;
                    win_reg <= '0;
                end
            end
        end
        // the writer only fills an empty bank, the reader only drains a full one: no conflict
        if (push && wlast) full_reg[wbank_reg] <= 1'b1;
        if (issue && rlast) full_reg[rbank_reg] <= 1'b0;
        pending_reg <= pending_reg + CRW'(issue) - CRW'(pop);
        v_s1 <= issue;
        v_s2 <= v_s1;
        if (rst) begin
            full_reg <= '0;
            wbank_reg <= 1'b0;
            waddr_reg <= '0;
            rbank_reg <= 1'b0;
            {oy_reg, ox_reg, ky_reg, kx_reg, cf_reg} <= '0;
            {row_reg, win_reg, off_reg} <= '0;
            pending_reg <= '0;
            v_s1 <= 1'b0;
            v_s2 <= 1'b0;
        end
    end

    /* verilator lint_off UNUSEDSIGNAL */
    // never low when v_s2 is high: pending_reg reserved the entry at issue
    wire out_fifo_ready;
    /* verilator lint_on UNUSEDSIGNAL */
    fifo #(.WIDTH(W), .DEPTH(OUT_FIFO_DEPTH)) out_fifo (
        .clk, .rst,
        .s_axis_tdata(rdata_s2), .s_axis_tvalid(v_s2), .s_axis_tready(out_fifo_ready),
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready
    );

endmodule

`default_nettype wire
