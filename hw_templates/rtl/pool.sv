// xnorflow RTL template: max-pool and sum-pool on a stream (compile/layers/maxpool.py,
// compile/layers/sum_pool.py).
//
// Input: IFM_H x IFM_W pixels of CHANNELS values (NHWC, PE per beat); output: the max (SUM = 0)
// or the sum (SUM = 1, OUT_BITS wide: an average pool's numerator) over each
// KERNEL_H x KERNEL_W window with strides STRIDE_H, STRIDE_W, row-major, PE per beat:
// OH = (IFM_H - KERNEL_H) / STRIDE_H + 1 rows of OW = (IFM_W - KERNEL_W) / STRIDE_W + 1
// (no padding; rows/columns beyond the last whole window are dropped, as the reference does).
// Windows may overlap (kernel > stride), tile, or leave gaps (kernel < stride). Values are
// signed or unsigned; for 1-bit unsigned values (bipolar bits) max is OR.
//
// Separable and streaming, one input beat per cycle (H*W*CHANNELS/PE cycles per frame):
// - horizontal: the maxima (sums) of the windows' rows. Windows along x go to NC =
//   ceil(KERNEL_W / STRIDE_W) slots (window ox in slot ox % NC; windows of one slot never
//   overlap, so a pixel updates at most one window per slot); hpart holds a slot's partial
//   result per channel word. A window row is complete on its last column: at most one per
//   input beat.
// - vertical: the same over rows with NR = ceil(KERNEL_H / STRIDE_H) slots; vpart holds each
//   slot's partial results of one output row (OW*CHANNELS/PE words), updated by the completed
//   window rows of input row y. On a window's last row the window's result leaves.
// Both partial memories are read asynchronously (distributed RAM) and written on the beat;
// they hold OUT_BITS per value (inputs sign- or zero-extended).
`default_nettype none

module pool #(
    // Input image height and width (pixels).
    parameter int IFM_H = 4,
    parameter int IFM_W = 4,
    // Channels per pixel; must be a multiple of PE.
    parameter int CHANNELS = 2,
    // Values per beat (in and out).
    parameter int PE = 1,
    // Bits of one input value, and whether values are signed.
    parameter int BITS = 1,
    parameter bit SIGNED = 0,
    // 0: max-pool; 1: sum-pool.
    parameter bit SUM = 0,
    // Bits of one output value: BITS for a max; enough for KERNEL_H*KERNEL_W values for a sum.
    parameter int OUT_BITS = BITS,
    // Window height and width (<= IFM_H, IFM_W) and strides.
    parameter int KERNEL_H = 2,
    parameter int KERNEL_W = 2,
    parameter int STRIDE_H = 2,
    parameter int STRIDE_W = 2,
    // Output FIFO entries.
    parameter int OUT_FIFO_DEPTH = 4
) (
    input  wire logic               clk,
    input  wire logic               rst,

    input  wire logic [PE*BITS-1:0]     s_axis_tdata,
    input  wire logic                   s_axis_tvalid,
    output wire logic                   s_axis_tready,

    output wire logic [PE*OUT_BITS-1:0] m_axis_tdata,
    output wire logic                   m_axis_tvalid,
    input  wire logic                   m_axis_tready
);

    localparam int CF = CHANNELS / PE;
    localparam int OH = (IFM_H - KERNEL_H) / STRIDE_H + 1;
    localparam int OW = (IFM_W - KERNEL_W) / STRIDE_W + 1;
    localparam int NC = (KERNEL_W + STRIDE_W - 1) / STRIDE_W;  // window slots along x
    localparam int NR = (KERNEL_H + STRIDE_H - 1) / STRIDE_H;  // window slots along y
    localparam int W = PE * OUT_BITS;  // a word of partial results
    localparam int CRW = $clog2(OUT_FIFO_DEPTH + 1);
    localparam int CFW = CF > 1 ? $clog2(CF) : 1;
    // x, y and the slots' window starts (which run up to (O + N) * S before they are reset)
    localparam int XW = $clog2((OW + NC) * STRIDE_W + KERNEL_W + IFM_W + 1);
    localparam int YW = $clog2((OH + NR) * STRIDE_H + KERNEL_H + IFM_H + 1);
    localparam int AW = OW * CF > 1 ? $clog2(OW * CF) : 1;

    initial begin
        if (CHANNELS % PE != 0) $fatal(1, "pool %m: PE must divide CHANNELS");
        if (SUM ? OUT_BITS < BITS : OUT_BITS != BITS)
            $fatal(1, "pool %m: OUT_BITS must be BITS for a max, at least BITS for a sum");
        if (KERNEL_H < 1 || KERNEL_W < 1 || KERNEL_H > IFM_H || KERNEL_W > IFM_W)
            $fatal(1, "pool %m: kernel empty or larger than the image");
        if (STRIDE_H < 1 || STRIDE_W < 1) $fatal(1, "pool %m: stride < 1");
        if (OUT_FIFO_DEPTH < 4) $fatal(1, "pool %m: OUT_FIFO_DEPTH must be >= 4");
    end

    // two PE-value words combined value by value: the larger (OR on 1-bit unsigned values),
    // or the sum (OUT_BITS wide, wrapping: the sum of a window fits)
    function automatic logic [W-1:0] vcomb(input logic [W-1:0] a, input logic [W-1:0] b);
        for (int p = 0; p < PE; p++) begin
            logic [OUT_BITS-1:0] va, vb;
            logic a_wins;
            va = a[p*OUT_BITS +: OUT_BITS];
            vb = b[p*OUT_BITS +: OUT_BITS];
            a_wins = SIGNED ? $signed(va) > $signed(vb) : va > vb;
            vcomb[p*OUT_BITS +: OUT_BITS] = SUM ? va + vb : (a_wins ? va : vb);
        end
    endfunction

    // the input word with each value sign- or zero-extended to OUT_BITS
    logic [W-1:0] in_word;
    always_comb begin
        for (int p = 0; p < PE; p++) begin
            logic [BITS-1:0] v;
            v = s_axis_tdata[p*BITS +: BITS];
            in_word[p*OUT_BITS +: OUT_BITS] = SIGNED ? OUT_BITS'($signed(v)) : OUT_BITS'(v);
        end
    end

    logic [YW-1:0] y_reg;
    logic [XW-1:0] x_reg;
    logic [CFW-1:0] cf_reg;
    logic [CRW-1:0] pending_reg;
    wire last_cf = cf_reg == CFW'(CF - 1);
    wire last_x = x_reg == XW'(IFM_W - 1);
    wire last_y = y_reg == YW'(IFM_H - 1);

    // ---- slots: where the current pixel (x) and row (y) fall ---------------------------------
    // hstart[j]: the first column of slot j's current window (windows j, j + NC, ...); the
    // window exists while it fits the image (the OW windows are exactly those).
    logic [XW-1:0] hstart [NC];
    logic [YW-1:0] vstart [NR];
    logic [NC-1:0] hcover, hfirst, hlast;
    logic [NR-1:0] vcover, vfirst, vlast;
    always_comb begin
        for (int j = 0; j < NC; j++) begin
            logic fits;
            fits = hstart[j] + XW'(KERNEL_W) <= XW'(IFM_W);
            hcover[j] = fits && x_reg >= hstart[j] && x_reg < hstart[j] + XW'(KERNEL_W);
            hfirst[j] = fits && x_reg == hstart[j];
            hlast[j] = fits && x_reg == hstart[j] + XW'(KERNEL_W - 1);
        end
        for (int r = 0; r < NR; r++) begin
            logic fits;
            fits = vstart[r] + YW'(KERNEL_H) <= YW'(IFM_H);
            vcover[r] = fits && y_reg >= vstart[r] && y_reg < vstart[r] + YW'(KERNEL_H);
            vfirst[r] = fits && y_reg == vstart[r];
            vlast[r] = fits && y_reg == vstart[r] + YW'(KERNEL_H - 1);
        end
    end
    wire hdone = |hlast;  // a window row completes on this beat
    wire emit = hdone && |vlast;  // and it is the window's last row: a result leaves

    wire credit_ok = pending_reg < CRW'(OUT_FIFO_DEPTH);
    assign s_axis_tready = !emit || credit_ok;
    wire push = s_axis_tvalid && s_axis_tready;
    wire pop = m_axis_tvalid && m_axis_tready;

    // ---- horizontal: partial results of the NC slots' windows, per channel word -----------
    logic [NC*W-1:0] hpart [CF];
    wire [NC*W-1:0] hold = hpart[cf_reg];
    logic [NC*W-1:0] hnew;
    logic [W-1:0] hval;  // the completed window row's result
    always_comb begin
        hval = '0;
        for (int j = 0; j < NC; j++) begin
            logic [W-1:0] m;
            m = hfirst[j] ? in_word : vcomb(hold[j*W +: W], in_word);
            hnew[j*W +: W] = hcover[j] ? m : hold[j*W +: W];
            if (hlast[j]) hval = m;
        end
    end

    // ---- vertical: partial results of the NR slots' output rows, per (ox, channel word) ---
    // vaddr_reg = ox * CF + cf of the next completed window row (they come in that order)
    logic [AW-1:0] vaddr_reg;
    logic [NR*W-1:0] vpart [OW * CF];
    wire [NR*W-1:0] vold = vpart[vaddr_reg];
    logic [NR*W-1:0] vnew;
    logic [W-1:0] result;
    always_comb begin
        result = '0;
        for (int r = 0; r < NR; r++) begin
            logic [W-1:0] m;
            m = vfirst[r] ? hval : vcomb(vold[r*W +: W], hval);
            vnew[r*W +: W] = vcover[r] ? m : vold[r*W +: W];
            if (vlast[r]) result = m;
        end
    end

    logic v_s1;
    logic [W-1:0] out_s1;
    always_ff @(posedge clk) begin
        if (push) hpart[cf_reg] <= hnew;
        if (push && hdone) vpart[vaddr_reg] <= vnew;
        if (push) out_s1 <= result;
    end

    always_ff @(posedge clk) begin
        if (push) begin
            cf_reg <= last_cf ? '0 : cf_reg + 1'b1;
            if (hdone) vaddr_reg <= vaddr_reg + 1'b1;
            if (last_cf) begin
                x_reg <= last_x ? '0 : x_reg + 1'b1;
                for (int j = 0; j < NC; j++) begin
                    if (last_x) hstart[j] <= XW'(j * STRIDE_W);
                    else if (hlast[j]) hstart[j] <= hstart[j] + XW'(NC * STRIDE_W);
                end
                if (last_x) begin
                    vaddr_reg <= '0;
                    y_reg <= last_y ? '0 : y_reg + 1'b1;
                    for (int r = 0; r < NR; r++) begin
                        if (last_y) vstart[r] <= YW'(r * STRIDE_H);
                        else if (vlast[r]) vstart[r] <= vstart[r] + YW'(NR * STRIDE_H);
                    end
                end
            end
        end
        v_s1 <= push && emit;
        pending_reg <= pending_reg + CRW'(push && emit) - CRW'(pop);
        if (rst) begin
            {y_reg, x_reg, cf_reg, vaddr_reg} <= '0;
            for (int j = 0; j < NC; j++) hstart[j] <= XW'(j * STRIDE_W);
            for (int r = 0; r < NR; r++) vstart[r] <= YW'(r * STRIDE_H);
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
