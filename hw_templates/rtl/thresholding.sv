// xnorflow RTL template: multi-threshold activation (compile/layers/thresholding.py).
//
// out[c] = #{k : x[c] >= T[c][k]} + ACT_VAL for PE channels per beat; channels cycle through
// CHANNELS/PE folds (the stream is NHWC, so the fold index is the beat index modulo CF).
// All N_THR thresholds of a channel are compared in parallel (signed, TBITS wide) and the
// true comparisons counted (thresholds are ascending, so this equals the count of FINN's
// MultiThreshold). One beat per cycle; the output FIFO with a credit counter decouples
// output back-pressure from the pipeline.
//
// THRESH_FILE ($readmemh): CF = CHANNELS/PE words of PE*N_THR*TBITS bits; field p*N_THR+k of
// word cf = T[cf*PE+p][k] in two's complement.
// Table mode (TABLE = 1, for narrow inputs with many thresholds, e.g. an 8-bit input quantizer
// with 255 steps): THRESH_FILE instead holds PE*CF*2^IBITS words of OBITS bits, word
// ((p*CF + cf) << IBITS) + v = the output for stored input bit pattern v of channel cf*PE+p;
// each PE reads its own port of that ROM (synthesis duplicates it per port).
// NEG bit c set: channel c compares −x with its thresholds (compare mode; a table holds the
// negation in its entries), for a BatchNorm with a negative scale no earlier layer could take.
`default_nettype none

module thresholding #(
    // Channels per pixel; must be a multiple of PE.
    parameter int CHANNELS = 4,
    // Channels per beat.
    parameter int PE = 1,
    // Bits of one input value.
    parameter int IBITS = 8,
    // The input values are signed.
    parameter bit IN_SIGNED = 0,
    // Bits of a stored threshold (signed); holds every input value and every threshold.
    parameter int TBITS = 10,
    // Thresholds per channel (>= 1).
    parameter int N_THR = 1,
    // Bits of one output value.
    parameter int OBITS = 1,
    // Added to the threshold count (two's complement in OBITS bits).
    parameter int ACT_VAL = 0,
    // Output FIFO entries (>= pipeline latency + 3 for full throughput).
    parameter int OUT_FIFO_DEPTH = 8,
    // 1: table mode (see above): THRESH_FILE holds the output for every input value.
    parameter bit TABLE = 0,
    // 1: every fold has the same thresholds (an input quantizer, say): SHARED_T holds them as
    // one word of the memory (THRESH_FILE unused) and the comparators compare with constants
    // (Debian's Yosys 0.23 keeps a one-word ROM as logic).
    parameter bit SHARED = 0,
    parameter logic [PE*N_THR*TBITS-1:0] SHARED_T = '0,
    // Bit c: channel c compares the negated input (TBITS must hold it).
    parameter logic [CHANNELS-1:0] NEG = '0,
    // Threshold memory file (see above).
    parameter THRESH_FILE = ""
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
    localparam int CFW = CF > 1 ? $clog2(CF) : 1;
    localparam int CRW = $clog2(OUT_FIFO_DEPTH + 1);
    localparam int CNTW = $clog2(N_THR + 1);

    initial begin
        if (CHANNELS % PE != 0) $fatal(1, "thresholding %m: PE must divide CHANNELS");
        if (N_THR < 1) $fatal(1, "thresholding %m: N_THR must be >= 1");
        if (TBITS < IBITS + 1) $fatal(1, "thresholding %m: TBITS must be >= IBITS + 1");
        if (OUT_FIFO_DEPTH < 6) $fatal(1, "thresholding %m: OUT_FIFO_DEPTH must be >= 6");
    end

    logic [CFW-1:0] cf_reg;
    logic [CRW-1:0] pending_reg;
    wire credit_ok = pending_reg < CRW'(OUT_FIFO_DEPTH);
    wire issue = credit_ok && s_axis_tvalid;
    wire pop = m_axis_tvalid && m_axis_tready;
    assign s_axis_tready = credit_ok;

    always_ff @(posedge clk) begin
        if (issue) cf_reg <= cf_reg == CFW'(CF - 1) ? '0 : cf_reg + 1'b1;
        pending_reg <= pending_reg + CRW'(issue) - CRW'(pop);
        if (rst) begin
            cf_reg <= '0;
            pending_reg <= '0;
        end
    end

    logic v_s1, v_s2, v_s3;
    always_ff @(posedge clk) begin
        {v_s3, v_s2, v_s1} <= {v_s2, v_s1, issue};
        if (rst) {v_s3, v_s2, v_s1} <= '0;
    end
    logic [PE*OBITS-1:0] out_s3;

    if (TABLE) begin : g_table
        // stage 1: table read; stage 2: memory output register; stage 3: out
        localparam int TD = PE * CF * (1 << IBITS);
        localparam int TAW = $clog2(TD) > 0 ? $clog2(TD) : 1;
        logic [OBITS-1:0] tab [TD];
        initial $readmemh(THRESH_FILE, tab);
        for (genvar p = 0; p < PE; p++) begin : g_pe
            wire [TAW-1:0] addr = TAW'(p * CF * (1 << IBITS)) + TAW'(cf_reg) * TAW'(1 << IBITS)
                                  + TAW'(s_axis_tdata[p*IBITS +: IBITS]);
            logic [OBITS-1:0] t_s1, t_s2;
            always_ff @(posedge clk) begin
                if (issue) t_s1 <= tab[addr];
                t_s2 <= t_s1;
                out_s3[p*OBITS +: OBITS] <= t_s2;
            end
        end
    end else begin : g_compare
        // stage 1: threshold read, input registered; stage 2: memory output register
        logic [PE*IBITS-1:0] x_s1, x_s2;
        logic [PE-1:0] neg_s1, neg_s2;
        logic [PE*N_THR*TBITS-1:0] thr_s2;
        always_ff @(posedge clk) begin
            if (issue) begin
                x_s1 <= s_axis_tdata;
                neg_s1 <= PE'(NEG >> (cf_reg * PE));
            end
            x_s2 <= x_s1;
            neg_s2 <= neg_s1;
        end
        if (SHARED) begin : g_shared
            assign thr_s2 = SHARED_T;
        end else begin : g_folds
            logic [PE*N_THR*TBITS-1:0] tmem [CF];
            initial $readmemh(THRESH_FILE, tmem);
            logic [PE*N_THR*TBITS-1:0] thr_s1;
            always_ff @(posedge clk) begin
                if (issue) thr_s1 <= tmem[cf_reg];
                thr_s2 <= thr_s1;
            end
        end
        // stage 3: compare and count
        for (genvar p = 0; p < PE; p++) begin : g_pe
            wire signed [TBITS-1:0] x_in = IN_SIGNED ? TBITS'($signed(x_s2[p*IBITS +: IBITS]))
                                                     : TBITS'($signed({1'b0, x_s2[p*IBITS +: IBITS]}));
            wire signed [TBITS-1:0] x = neg_s2[p] ? -x_in : x_in;
            always_ff @(posedge clk) begin
                logic [CNTW-1:0] cnt;
                cnt = '0;
                for (int k = 0; k < N_THR; k++) begin
                    if (x >= $signed(thr_s2[(p*N_THR + k)*TBITS +: TBITS])) cnt = cnt + 1'b1;
                end
                out_s3[p*OBITS +: OBITS] <= OBITS'(cnt) + OBITS'(ACT_VAL);
            end
        end
    end

    /* verilator lint_off UNUSEDSIGNAL */
    // never low when v_s3 is high: pending_reg reserved the entry at issue
    wire out_fifo_ready;
    /* verilator lint_on UNUSEDSIGNAL */
    fifo #(.WIDTH(PE*OBITS), .DEPTH(OUT_FIFO_DEPTH)) out_fifo (
        .clk, .rst,
        .s_axis_tdata(out_s3), .s_axis_tvalid(v_s3), .s_axis_tready(out_fifo_ready),
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready
    );

endmodule

`default_nettype wire
