// xnorflow RTL template: max-pool on a stream (compile/layers/maxpool.py), KERNEL = STRIDE.
//
// Input: IFM_H x IFM_W pixels of CHANNELS values (NHWC, PE per beat); output: the
// (IFM_H/KERNEL) x (IFM_W/KERNEL) maxima (rows/columns beyond the last whole window are
// dropped, as the reference does). For 1-bit unsigned values (bipolar bits) max is OR.
// A row of partial maxima (OFM_W*CHANNELS/PE words) is updated as pixels stream in; a window's
// result leaves on its last input beat. One input beat per cycle.
`default_nettype none

module maxpool #(
    // Input image height and width (pixels).
    parameter int IFM_H = 4,
    parameter int IFM_W = 4,
    // Channels per pixel; must be a multiple of PE.
    parameter int CHANNELS = 2,
    // Values per beat (in and out).
    parameter int PE = 1,
    // Bits of one value, and whether values are signed.
    parameter int BITS = 1,
    parameter bit SIGNED = 0,
    // Window size = stride (overlapping windows are not supported).
    parameter int KERNEL = 2,
    // Output FIFO entries.
    parameter int OUT_FIFO_DEPTH = 4
) (
    input  wire logic               clk,
    input  wire logic               rst,

    input  wire logic [PE*BITS-1:0] s_axis_tdata,
    input  wire logic               s_axis_tvalid,
    output wire logic               s_axis_tready,

    output wire logic [PE*BITS-1:0] m_axis_tdata,
    output wire logic               m_axis_tvalid,
    input  wire logic               m_axis_tready
);

    localparam int CF = CHANNELS / PE;
    localparam int OH = IFM_H / KERNEL;
    localparam int OW = IFM_W / KERNEL;
    localparam int W = PE * BITS;
    localparam int CRW = $clog2(OUT_FIFO_DEPTH + 1);
    localparam int CFW = CF > 1 ? $clog2(CF) : 1;
    localparam int KW = KERNEL > 1 ? $clog2(KERNEL) : 1;
    localparam int YW = $clog2(IFM_H + 1);
    localparam int XW = $clog2(IFM_W + 1);
    localparam int OWW = OW > 1 ? $clog2(OW) : 1;
    localparam int AW = $clog2(OW * CF) > 0 ? $clog2(OW * CF) : 1;

    initial begin
        if (CHANNELS % PE != 0) $fatal(1, "maxpool %m: PE must divide CHANNELS");
        if (OH < 1 || OW < 1) $fatal(1, "maxpool %m: KERNEL larger than the image");
        if (OUT_FIFO_DEPTH < 4) $fatal(1, "maxpool %m: OUT_FIFO_DEPTH must be >= 4");
    end

    logic [YW-1:0] y_reg;
    logic [XW-1:0] x_reg;
    logic [KW-1:0] ky_reg, kx_reg;
    logic [OWW-1:0] ox_reg;
    logic [CFW-1:0] cf_reg;
    logic [CRW-1:0] pending_reg;

    wire last_cf = cf_reg == CFW'(CF - 1);
    wire last_x = x_reg == XW'(IFM_W - 1);
    wire last_y = y_reg == YW'(IFM_H - 1);
    wire last_kx = kx_reg == KW'(KERNEL - 1);
    wire last_ky = ky_reg == KW'(KERNEL - 1);
    // inside a whole window (trailing rows/columns are dropped)
    wire in_win = y_reg < YW'(OH * KERNEL) && x_reg < XW'(OW * KERNEL);
    wire emit = in_win && last_kx && last_ky;
    wire credit_ok = pending_reg < CRW'(OUT_FIFO_DEPTH);
    assign s_axis_tready = !emit || credit_ok;
    wire push = s_axis_tvalid && s_axis_tready;
    wire pop = m_axis_tvalid && m_axis_tready;

    // row of partial maxima (asynchronous read: distributed RAM)
    logic [W-1:0] part [OW * CF];
    wire [AW-1:0] addr = AW'(ox_reg) * AW'(CF) + AW'(cf_reg);
    wire [W-1:0] old = part[addr];
    wire start = kx_reg == '0 && ky_reg == '0;
    logic [W-1:0] merged;
    always_comb begin
        for (int p = 0; p < PE; p++) begin
            logic [BITS-1:0] a, b;
            logic a_wins;
            a = old[p*BITS +: BITS];
            b = s_axis_tdata[p*BITS +: BITS];
            a_wins = SIGNED ? $signed(a) > $signed(b) : a > b;
            merged[p*BITS +: BITS] = start || !a_wins ? b : a;
        end
    end

    logic v_s1;
    logic [W-1:0] out_s1;
    always_ff @(posedge clk) begin
        if (push && in_win && !emit) part[addr] <= merged;
        if (push) out_s1 <= merged;
    end

    always_ff @(posedge clk) begin
        if (push) begin
            cf_reg <= last_cf ? '0 : cf_reg + 1'b1;
            if (last_cf) begin
                x_reg <= last_x ? '0 : x_reg + 1'b1;
                kx_reg <= last_x || last_kx ? '0 : kx_reg + 1'b1;
                if (last_x) ox_reg <= '0;
                else if (last_kx) ox_reg <= ox_reg + 1'b1;
                if (last_x) begin
                    y_reg <= last_y ? '0 : y_reg + 1'b1;
                    ky_reg <= last_y || last_ky ? '0 : ky_reg + 1'b1;
                end
            end
        end
        v_s1 <= push && emit;
        pending_reg <= pending_reg + CRW'(push && emit) - CRW'(pop);
        if (rst) begin
            {y_reg, x_reg, ky_reg, kx_reg, ox_reg, cf_reg} <= '0;
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
