// xnorflow RTL template: matrix-vector-activation unit (compile/layers/mvau.py).
//
// Computes, for every input vector x (MW values, SIMD per input beat) and every output channel
// c (MH of them, PE per output beat), acc[c] = sum_i f(x[i], W[c][i]) with
//   XNOR mode (XNOR=1, bipolar bits):  f = XNOR(x, w)           (acc = popcount, in [0, MW])
//   multiply-accumulate (XNOR=0):      f = w ? x : -x  (WBITS=1, binary weights)
//                                      f = w * x       (WBITS>1, signed weights)
//   with x an IBITS-bit integer (signed if IN_SIGNED)
// then out[c] = #{k : acc >= T[c][k]} + ACT_VAL (N_THR > 0), or out[c] = acc (N_THR = 0).
//
// Schedule: for each vector, NF = MH/PE row folds of SF = MW/SIMD cycles each. The vector is
// read from the stream once (fold 0) into a buffer reused by folds 1..NF-1, so a vector costs
// NF*SF cycles with no bubble between folds or vectors.
// Pipeline: issue (weight ROM read) -> [bank select, block RAM only] -> memory
// output register -> adder tree -> accumulate -> threshold compare -> output FIFO. The adder
// tree: in XNOR mode the popcount of the SIMD lanes' XNORs (popcount.sv, a bit heap of 6:3
// counters, a register every two LUT levels: 1..5 cycles as SIMD grows), in multiply-accumulate
// mode per-CHUNK product sums -> sums of GROUP chunks -> sum of the groups (3 cycles; 7 stages
// in all, 8 with the weights in block RAM). Output back-pressure never
// stalls the pipeline: an issue that completes an output needs a credit (a free output FIFO
// entry), counted by pending_reg.
//
// Memories ($readmemh, one hex word per line, written by compile/rtl/codegen.py):
//   weights: NF*SF words of PE*SIMD*WBITS bits; word nf*SF+sf, field p*SIMD+s of WBITS bits =
//     W[nf*PE+p][sf*SIMD+s] (a bit, 1 = +1, when WBITS=1; two's complement otherwise),
//     split by depth into NB banks of WBANK_DEPTH words (the last one shorter), bank b in the
//     file {WEIGHT_PREFIX, "_", b as 3 decimal digits, ".mem"}. Each bank is one block RAM deep,
//     and the bank is selected over two cycles (4:1 within groups of four banks, then the
//     group; one bank: a register beside it), so that no path runs from a block RAM's slow
//     output through a wide depth multiplexer or across the chip in one cycle
//     (docs/hardware.md has the measurements behind this).
//   A memory of one bank of at most LUTROM_DEPTH words is instead a ROM in LUT logic (the
//   shallow memories of high-throughput foldings), read combinationally from a registered
//   address; in XNOR mode the register after it holds the XNOR of word and input
//   (LUTROM_REG; ROMs of <= 16 words), so ROM read and XNOR share a LUT. One cycle less than
//   block RAM (no select stage).
//   THRESH_FILE: NF words of PE*N_THR*ACC_BITS bits; field p*N_THR+k = T[nf*PE+p][k] (signed)
//     THRESH_BIAS = 1 (one threshold, NF <= 64 folds): NF words of PE*(ACC_BITS+1) bits,
//     field p = -T[nf*PE+p][0]: the accumulator starts a fold at -T, so the activation is
//     its sign (no comparator; the threshold ROM shares the accumulator's LUTs)
`default_nettype none

module mvau #(
    // Input vector length (values); must be a multiple of SIMD.
    parameter int MW = 16,
    // Output channels; must be a multiple of PE.
    parameter int MH = 16,
    // Output channels computed in parallel (values per output beat).
    parameter int PE = 4,
    // Input values consumed per cycle (values per input beat).
    parameter int SIMD = 4,
    // 1: XNOR-popcount on bipolar bits (IBITS and WBITS must be 1); 0: multiply-accumulate.
    parameter bit XNOR = 1,
    // Bits of one input value (1 in XNOR mode).
    parameter int IBITS = 1,
    // Multiply-accumulate mode: the input values are signed (INTk) rather than unsigned (UINTk).
    parameter bit IN_SIGNED = 0,
    // Bits of one weight: 1 = binary (+1/-1), more = a signed integer.
    parameter int WBITS = 1,
    // Bits of the signed accumulator; holds every accumulator value and every threshold.
    parameter int ACC_BITS = 8,
    // Thresholds per channel; 0 = no activation (output the accumulator).
    parameter int N_THR = 1,
    // Bits of one output value.
    parameter int OBITS = 1,
    // Added to the threshold count (two's complement in OBITS bits).
    parameter int ACT_VAL = 0,
    // Multiply-accumulate mode: products per first-level sum (first pipeline stage of the
    // adder tree), chunk sums per group (second stage); the third adds the groups. (XNOR mode
    // counts with popcount.sv.)
    parameter int CHUNK = 8,
    parameter int GROUP = 8,
    // Output FIFO entries (>= pipeline latency + 2 for full throughput).
    parameter int OUT_FIFO_DEPTH = 12,
    // Weight memory files: path prefix of the banks (see above).
    parameter WEIGHT_PREFIX = "",
    // Words per weight bank, a power of two (the codegen picks one block RAM's depth at the
    // word width: 512 for words of 36 bits or more, 4096 for 4-bit words, ...).
    parameter int WBANK_DEPTH = 512,
    // Threshold memory file (unused when N_THR = 0).
    parameter THRESH_FILE = "",
    // 1: THRESH_FILE holds one negated threshold per channel (see above; N_THR = 1 only).
    parameter bit THRESH_BIAS = 0,
    // Weight memories of at most this many words (one bank) are ROMs in LUT logic read
    // without a register (the synthesiser merges ROM read, XNOR and the first popcount level
    // into the same LUTs); deeper ones are block RAMs read through registers. 0: never.
    parameter int LUTROM_DEPTH = 64,
    // LUT ROMs, where the pipeline register between ROM and popcounts goes: 0 = none (ROM,
    // XNOR and the first popcount level in one stage), 1 = on the ROM word, 2 = on the XNOR
    // of ROM word and input (XNOR mode: ROM read, XNOR and the read address's reset
    // multiplexer share a LUT6 when the ROM has at most 16 words), -1 = 2 for such ROMs,
    // else 1 (Yosys 0.23 synth_xilinx: SFC-max's 16-word ROMs 5 % fewer LUTs with 2, TFC's
    // 64-word ones 27 % fewer with 1).
    parameter int LUTROM_REG = -1
) (
    input  wire logic                  clk,
    input  wire logic                  rst,

    input  wire logic [SIMD*IBITS-1:0] s_axis_tdata,
    input  wire logic                  s_axis_tvalid,
    output wire logic                  s_axis_tready,

    output wire logic [PE*OBITS-1:0]   m_axis_tdata,
    output wire logic                  m_axis_tvalid,
    input  wire logic                  m_axis_tready
);

    localparam int SF = MW / SIMD;
    localparam int NF = MH / PE;
    localparam int WD = SF * NF;
    localparam int SFW = SF > 1 ? $clog2(SF) : 1;
    localparam int NFW = NF > 1 ? $clog2(NF) : 1;
    localparam int WAW = WD > 1 ? $clog2(WD) : 1;
    localparam int IW = SIMD * IBITS;
    localparam int WW = PE * SIMD * WBITS;  // a weight memory word
    localparam int NCH = (SIMD + CHUNK - 1) / CHUNK;
    // widths from the value ranges: a product (IBITS+1 bits for ±x, IBITS+WBITS+1 for w*x), a
    // chunk sum of CHUNK products, a group sum of GROUP chunks; never wider than ACC_BITS
    localparam int PW = WBITS == 1 ? IBITS + 1 : IBITS + WBITS + 1;
    localparam int CW_INT = PW + $clog2(CHUNK) < ACC_BITS ? PW + $clog2(CHUNK) : ACC_BITS;
    localparam int CW = CW_INT;
    localparam int GSW_SUM = CW + 1 + $clog2(GROUP);
    localparam int GSW = GSW_SUM < ACC_BITS ? GSW_SUM : ACC_BITS;  // a group sum
    localparam int NG = (NCH + GROUP - 1) / GROUP;
    localparam int CRW = $clog2(OUT_FIFO_DEPTH + 1);
    localparam int TW = THRESH_BIAS ? PE * (ACC_BITS + 1) : N_THR > 0 ? PE * N_THR * ACC_BITS : 1;
    localparam int NB = (WD + WBANK_DEPTH - 1) / WBANK_DEPTH;
    localparam int BD = NB > 1 ? WBANK_DEPTH : WD;  // words of every bank but the last
    localparam int BAW = BD > 1 ? $clog2(BD) : 1;
    localparam int NBW = NB > 1 ? $clog2(NB) : 1;
    // the weights as a ROM in LUT logic, read combinationally from a registered address
    localparam bit LUTROM = NB == 1 && WD <= LUTROM_DEPTH;
    // issue to the adder tree's input (one more with block RAM: the select stage), then issue
    // to the output FIFO with the multiply-accumulate mode's three-stage tree (see above)
    localparam int PRE = LUTROM ? 2 : 3;
    localparam int LATENCY = PRE + 3 + 2;
    localparam int LRR = LUTROM_REG >= 0 ? LUTROM_REG : XNOR && WD <= 16 ? 2 : 1;

    initial begin
        if (MW % SIMD != 0 || MH % PE != 0)
            $fatal(1, "mvau %m: SIMD must divide MW and PE must divide MH");
        if (XNOR && (IBITS != 1 || WBITS != 1)) $fatal(1, "mvau %m: XNOR mode needs IBITS = WBITS = 1");
        if (N_THR == 0 && OBITS > ACC_BITS) $fatal(1, "mvau %m: OBITS > ACC_BITS without activation");
        if (!XNOR && OUT_FIFO_DEPTH < LATENCY + 2)
            $fatal(1, "mvau %m: OUT_FIFO_DEPTH must be >= the pipeline latency + 2");
        if (NB > 1 && (WBANK_DEPTH & (WBANK_DEPTH - 1)) != 0)
            $fatal(1, "mvau %m: WBANK_DEPTH must be a power of two");
        if (NB > 1000) $fatal(1, "mvau %m: more than 1000 weight banks; raise WBANK_DEPTH");
        if (THRESH_BIAS && N_THR != 1) $fatal(1, "mvau %m: THRESH_BIAS needs N_THR = 1");
    end

    // ---- parameter memories ---------------------------------------------------------
    logic [TW-1:0] tmem [NF];
    initial begin
        if (N_THR > 0) $readmemh(THRESH_FILE, tmem);
    end

    // ---- stage 0: issue ---------------------------------------------------------------
    logic [SFW-1:0] sf_reg;
    logic [NFW-1:0] nf_reg;
    logic [WAW-1:0] waddr_reg;
    logic [CRW-1:0] pending_reg;

    wire first_nf = nf_reg == '0;
    wire last_sf = sf_reg == SFW'(SF - 1);
    wire credit_ok = !last_sf || pending_reg < CRW'(OUT_FIFO_DEPTH);
    // the vector for fold 0: from the stream (SF > 1) or from vec_reg (SF = 1, see below)
    logic vec_full;
    wire vec_in = SF == 1 ? vec_full : s_axis_tvalid;
    wire issue = credit_ok && (!first_nf || vec_in);
    wire pop = m_axis_tvalid && m_axis_tready;

    assign s_axis_tready = SF == 1 ? !vec_full || (issue && first_nf) : first_nf && credit_ok;

    always_ff @(posedge clk) begin
        if (issue) begin
            sf_reg <= last_sf ? '0 : sf_reg + 1'b1;
            if (last_sf) nf_reg <= nf_reg == NFW'(NF - 1) ? '0 : nf_reg + 1'b1;
            waddr_reg <= waddr_reg == WAW'(WD - 1) ? '0 : waddr_reg + 1'b1;
        end
        pending_reg <= pending_reg + CRW'(issue && last_sf) - CRW'(pop);
        if (rst) begin
            sf_reg <= '0;
            nf_reg <= '0;
            waddr_reg <= '0;
            pending_reg <= '0;
        end
    end

    logic [IW-1:0] x_s1;
    if (SF > 1) begin : g_inbuf
        // input vector buffer, written during fold 0 and re-read by the other folds
        logic [IW-1:0] inbuf [SF];
        always_ff @(posedge clk) begin
            if (issue && first_nf) inbuf[sf_reg] <= s_axis_tdata;
            if (issue) x_s1 <= first_nf ? s_axis_tdata : inbuf[sf_reg];
        end
        assign vec_full = 1'b0;
    end else begin : g_vec_reg
        // a vector in one beat: the next one waits in vec_reg while the folds of the current
        // one run from x_s1, which holds it (no multiplexer per input bit, and no FIFO in front
        // of the layer: compile/layers/mvau.py)
        logic [IW-1:0] vec_reg;
        logic vec_full_reg;
        always_ff @(posedge clk) begin
            if (s_axis_tvalid && s_axis_tready) vec_reg <= s_axis_tdata;
            if (issue && first_nf) x_s1 <= vec_reg;
            vec_full_reg <= s_axis_tvalid && s_axis_tready ? 1'b1
                          : issue && first_nf ? 1'b0 : vec_full_reg;
            if (rst) vec_full_reg <= 1'b0;
        end
        assign vec_full = vec_full_reg;
    end

    // control of stage 1: valid, first/last cycle of a fold, fold index
    logic v_s1, first_s1, last_s1;
    logic [NFW-1:0] nf_s1;
    always_ff @(posedge clk) begin
        v_s1 <= issue;
        first_s1 <= sf_reg == '0;
        last_s1 <= last_sf;
        nf_s1 <= nf_reg;
        if (rst) v_s1 <= 1'b0;
    end

    // weight banks, each read at stage 1 (the block RAM's own register)
    localparam int BSH = BD > 1 ? $clog2(BD) : 0;
    /* verilator lint_off UNUSEDSIGNAL */
    wire [NBW-1:0] bank_sel = NB > 1 ? NBW'(waddr_reg >> BSH) : '0;  // used with several banks
    /* verilator lint_on UNUSEDSIGNAL */
    wire [BAW-1:0] bank_addr = BD > 1 ? BAW'(waddr_reg) : '0;
    logic [WW-1:0] wq_s1 [NB];
    /* verilator lint_off UNUSEDSIGNAL */
    logic [BAW-1:0] addr_s1, addr_s2;  // the LUT ROM's read address (LUTROM only)
    /* verilator lint_on UNUSEDSIGNAL */
    if (LUTROM) begin : g_lutrom
        // one ROM in logic: its word is read combinationally from addr_s1 (LUTROM_REG 2: into
        // the XNOR register) or from addr_s2 (straight into the XNOR and popcounts).
        (* rom_style = "logic" *) logic [WW-1:0] wmem [WD];
        initial $readmemh({WEIGHT_PREFIX, "_000.mem"}, wmem);
        always_ff @(posedge clk) begin
            if (issue) addr_s1 <= bank_addr;
            addr_s2 <= addr_s1;
        end
        // the address through a multiplexer with rst (the word read during reset is never
        // used): no register drives the ROM's address directly, so Yosys' memory_dff cannot
        // merge one into a read port (its memory_map would then put a WW-bit register behind
        // the ROM, between the ROM and the XNOR)
        // (LUTROM_REG 1: read from addr_s2 straight, which Yosys does merge: its memory_map
        // then registers the word, the register wanted, without the extra LUT input)
        wire [BAW-1:0] raddr = LRR == 1 ? addr_s2 : rst ? '0 : LRR == 2 ? addr_s1 : addr_s2;
        assign wq_s1[0] = wmem[raddr];
    end else begin : g_banks
        assign addr_s1 = '0;
        assign addr_s2 = '0;
        for (genvar b = 0; b < NB; b++) begin : g_bank
            localparam int DEPTH = b == NB - 1 ? WD - b * BD : BD;
            localparam FILE = {WEIGHT_PREFIX, "_", 8'(48 + b / 100), 8'(48 + (b / 10) % 10),
                               8'(48 + b % 10), ".mem"};
            // block RAM, also where the synthesiser would build a ROM of a few hundred words
            // in LUTs (Yosys 0.23; docs/hardware.md, issue #21)
            (* rom_style = "block", ram_style = "block" *) logic [WW-1:0] wmem [DEPTH];
            initial $readmemh(FILE, wmem);
            // read every cycle, no clock enable: the word at waddr_reg is the issued one in
            // the cycle that issues, and stage 1 is only used where v_s1 says so (an enable
            // from `issue` reached every block RAM: TFC's 22, ECP5's critical path)
            always_ff @(posedge clk) wq_s1[b] <= wmem[bank_addr];
        end
    end

    // stage 1 as seen by stage 2. A LUT ROM: stage 1 itself. Block RAM: the select stage, over
    // two cycles: a 4:1 select within each group of four banks straight from the block RAMs
    // into a group register, then the select of the group into w_s2 — one register per group,
    // not per bank. With one bank it is a register beside the block RAM (its clock-to-out is
    // slow: straight into w_s2 beside the popcounts, ECP5 routing made TFC's block-RAM MVAU_0
    // 120.6 MHz).
    logic v_p, first_p, last_p;
    logic [NFW-1:0] nf_p;
    logic [IW-1:0] x_p;
    logic [WW-1:0] w_p;
    if (!LUTROM) begin : g_select_stage
        localparam int BGW = 2;  // log2 of the banks per group
        localparam int NGRP = (NB + (1 << BGW) - 1) >> BGW;
        localparam int GW = NGRP > 1 ? $clog2(NGRP) : 1;
        localparam int SW = NBW > BGW ? NBW : BGW;
        logic [SW-1:0] bank_s1;
        logic [WW-1:0] grp_r [NGRP];
        for (genvar g = 0; g < NGRP; g++) begin : g_group
            logic [WW-1:0] cand [1 << BGW];
            for (genvar k = 0; k < (1 << BGW); k++) begin : g_cand
                if (g * (1 << BGW) + k < NB) begin : g_bank_k
                    assign cand[k] = wq_s1[g * (1 << BGW) + k];
                end else begin : g_none
                    assign cand[k] = '0;
                end
            end
            always_ff @(posedge clk) grp_r[g] <= cand[bank_s1[BGW-1:0]];
        end
        always_ff @(posedge clk) begin
            bank_s1 <= SW'(bank_sel);  // follows the read (every cycle)
            {v_p, first_p, last_p, nf_p, x_p} <= {v_s1, first_s1, last_s1, nf_s1, x_s1};
            if (rst) v_p <= 1'b0;
        end
        if (NGRP > 1) begin : g_group_select
            logic [GW-1:0] grp_sel;
            always_ff @(posedge clk) grp_sel <= GW'(bank_s1 >> BGW);
            assign w_p = grp_r[grp_sel];
        end else begin : g_one_group
            assign w_p = grp_r[0];
        end
    end else begin : g_rom_word
        assign {v_p, first_p, last_p, nf_p, x_p, w_p} =
            {v_s1, first_s1, last_s1, nf_s1, x_s1, wq_s1[0]};
    end

    /* verilator lint_off UNUSEDSIGNAL */
    logic [IW-1:0] x_s2;  // unused when match_s2 is registered
    logic [WW-1:0] w_s2;
    // XNOR mode with LUTROM_REG 2: the XNOR of weight and input per lane (the popcounts' input)
    logic [WW-1:0] match_s2;
    /* verilator lint_on UNUSEDSIGNAL */
    always_ff @(posedge clk) x_s2 <= x_p;
    if (LUTROM && LRR != 2) begin : g_w_comb
        assign w_s2 = w_p;  // the ROM read from addr_s2 (LUTROM_REG 1: registered by Yosys)
    end else if (LUTROM && XNOR && LRR == 2) begin : g_match_reg
        // the ROM read from addr_s1 and its XNOR with the input registered together: one
        // LUT per lane for ROM and XNOR where the ROM is at most 5 address bits deep
        for (genvar p = 0; p < PE; p++) begin : g_pe_match
            always_ff @(posedge clk) begin
                match_s2[p*SIMD +: SIMD] <= ~(x_p ^ w_p[p*SIMD +: SIMD]);
            end
        end
        assign w_s2 = '0;
    end else begin : g_w_reg
        always_ff @(posedge clk) w_s2 <= w_p;
    end
    if (!(LUTROM && XNOR && LRR == 2)) begin : g_no_match
        assign match_s2 = '0;  // the popcounts take x_s2 and w_s2 instead
    end

    // control from stage 2 on: {valid, first, last, fold} travels beside the adder tree, whose
    // depth depends on SIMD in XNOR mode (popcount.sv), and arrives with the partial sum
    // (ctrl_s5) and a cycle earlier (ctrl_s4, for the threshold read)
    localparam int CTW = 3 + NFW;
    logic v_s2, first_s2, last_s2;
    logic [NFW-1:0] nf_s2;
    always_ff @(posedge clk) begin
        {v_s2, first_s2, last_s2, nf_s2} <= {v_p, first_p, last_p, nf_p};
        if (rst) v_s2 <= 1'b0;
    end
    /* verilator lint_off UNUSEDSIGNAL */
    logic [CTW-1:0] ctrl_s4 [PE], ctrl_s5 [PE];  // every PE's copy; PE 0's is used
    logic first_s4, first_s5;
    logic [NFW-1:0] nf_s5;
    /* verilator lint_on UNUSEDSIGNAL */
    logic v_s4, v_s5, v_s6, v_s7, last_s4, last_s5;
    logic [NFW-1:0] nf_s4;
    assign {v_s4, first_s4, last_s4, nf_s4} = ctrl_s4[0];
    assign {v_s5, first_s5, last_s5, nf_s5} = ctrl_s5[0];
    always_ff @(posedge clk) begin
        v_s6 <= v_s5 && last_s5;
        v_s7 <= v_s6;
        if (rst) {v_s7, v_s6} <= '0;
    end

    // thresholds of the fold: read from memory a stage early (thr_s5, the memory's own read
    // register), then registered again (thr_s6) so that the comparators start at a fabric
    // flip-flop, not at the slow block-RAM output (the ECP5 critical path of CNV before)
    /* verilator lint_off UNUSEDSIGNAL */
    logic [TW-1:0] thr_s5, thr_s6;  // unused when N_THR = 0 (no activation)
    /* verilator lint_on UNUSEDSIGNAL */
    always_ff @(posedge clk) begin
        if (!THRESH_BIAS && v_s4 && last_s4) thr_s5 <= tmem[nf_s4];
        if (v_s5 && last_s5) thr_s6 <= thr_s5;
    end

    logic [PE*OBITS-1:0] out_s7;

    // ---- per-PE datapath ----------------------------------------------------------------
    for (genvar p = 0; p < PE; p++) begin : g_pe
        logic signed [ACC_BITS-1:0] psum_s5;
        /* verilator lint_off UNUSEDSIGNAL */
        logic signed [ACC_BITS-1:0] acc_reg;  // unused with THRESH_BIAS (g_bias accumulates)
        /* verilator lint_on UNUSEDSIGNAL */

        if (XNOR) begin : g_xnor
            // stages 2 -> 5: the popcount of the lanes' XNORs, a bit heap of 6:3 counters
            // (popcount.sv), as many cycles deep as SIMD needs
            localparam int PCW = $clog2(SIMD + 1);
            wire [PCW-1:0] count;
            // the XNORs inside the popcount's first level (full adders of three lanes' XNORs)
            // unless they are registered with the ROM read (LUTROM_REG 2)
            localparam bit MATCHED = LUTROM && LRR == 2;
            popcount #(.N(SIMD), .XNOR(!MATCHED), .UW(CTW), .MAX_LATENCY(OUT_FIFO_DEPTH - 4 - PRE))
                u_popcount (
                .clk, .rst,
                .a(MATCHED ? match_s2[p*SIMD +: SIMD] : x_s2),
                .b(MATCHED ? {SIMD{1'b1}} : w_s2[p*SIMD +: SIMD]),
                .s_user({v_s2, first_s2, last_s2, nf_s2}),
                .y(count), .m_user(ctrl_s5[p]), .m_user_pre(ctrl_s4[p])
            );
            assign psum_s5 = ACC_BITS'(count);
        end else begin : g_int
            // stages 2 -> 5: products summed in chunks, the chunks in groups, then the groups
            logic [NCH*CW-1:0] chunk_s3;
            logic [NG*GSW-1:0] grp_s4;
            logic [CTW-1:0] ctrl_s3;
            always_ff @(posedge clk) begin
                {ctrl_s5[p], ctrl_s4[p], ctrl_s3} <= {ctrl_s4[p], ctrl_s3, v_s2, first_s2, last_s2, nf_s2};
                if (rst) {ctrl_s5[p], ctrl_s4[p], ctrl_s3} <= '0;
            end
            wire [SIMD*WBITS-1:0] w = w_s2[p*SIMD*WBITS +: SIMD*WBITS];
            // Signed values widen by assignment below, not by size casts (Debian's Yosys 0.23
            // rejects casts by these localparams in -defer mode): the widening is intended.
            /* verilator lint_off WIDTHEXPAND */
            for (genvar j = 0; j < NCH; j++) begin : g_chunk
                localparam int LO = j * CHUNK;
                localparam int N = SIMD - LO < CHUNK ? SIMD - LO : CHUNK;
                logic signed [CW-1:0] sum;
                always_comb begin
                    sum = '0;
                    for (int i = LO; i < LO + N; i++) begin
                        // the input as a signed (IBITS+1)-bit value, the product at its width
                        logic signed [IBITS:0] xs;
                        logic signed [PW-1:0] xw, prod;
                        xs = IN_SIGNED ? $signed({x_s2[i*IBITS + IBITS - 1], x_s2[i*IBITS +: IBITS]})
                                       : $signed({1'b0, x_s2[i*IBITS +: IBITS]});
                        xw = xs;
                        if (WBITS == 1) prod = w[i] ? xw : -xw;
                        else prod = xs * $signed(w[i*WBITS +: WBITS]);
                        sum = sum + prod;
                    end
                end
                always_ff @(posedge clk) chunk_s3[j*CW +: CW] <= sum;
            end

            // stage 3 -> 4: sums of GROUP chunks (chunk sums widen by assignment, as above)
            for (genvar g = 0; g < NG; g++) begin : g_grp
                localparam int J1 = (g + 1) * GROUP < NCH ? (g + 1) * GROUP : NCH;
                always_ff @(posedge clk) begin
                    logic signed [GSW-1:0] s;
                    s = '0;
                    for (int j = g * GROUP; j < J1; j++) s = s + $signed(chunk_s3[j*CW +: CW]);
                    grp_s4[g*GSW +: GSW] <= s;
                end
            end
            /* verilator lint_on WIDTHEXPAND */

            // stage 4 -> 5: sum of the groups
            always_ff @(posedge clk) begin
                logic signed [ACC_BITS-1:0] s;
                s = '0;
                for (int g = 0; g < NG; g++) s = s + ACC_BITS'($signed(grp_s4[g*GSW +: GSW]));
                psum_s5 <= s;
            end
        end

        if (THRESH_BIAS) begin : g_bias
            // stage 5 -> 6: accumulate from -T over the SF cycles of a fold (-T read
            // combinationally from the fold's ROM word); stage 6 -> 7: the activation is the
            // sign, acc >= T
            logic signed [ACC_BITS:0] bacc_reg;
            wire signed [ACC_BITS:0] bias = $signed(tmem[nf_s5][p*(ACC_BITS+1) +: ACC_BITS+1]);
            wire signed [ACC_BITS:0] psum = {psum_s5[ACC_BITS-1], psum_s5};
            always_ff @(posedge clk) begin
                if (v_s5) bacc_reg <= (first_s5 ? bias : bacc_reg) + psum;
                out_s7[p*OBITS +: OBITS] <= OBITS'(!bacc_reg[ACC_BITS]) + OBITS'(ACT_VAL);
            end
            assign acc_reg = '0;
        end else begin : g_acc
            // stage 5 -> 6: accumulate over the SF cycles of a fold
            always_ff @(posedge clk) begin
                if (v_s5) acc_reg <= (first_s5 ? '0 : acc_reg) + psum_s5;
            end
        end

        // stage 6 -> 7: activation (g_bias: the sign, above)
        if (N_THR > 0 && !THRESH_BIAS) begin : g_thr
            localparam int CNTW = $clog2(N_THR + 1);
            always_ff @(posedge clk) begin
                logic [CNTW-1:0] cnt;
                cnt = '0;
                for (int k = 0; k < N_THR; k++) begin
                    if (acc_reg >= $signed(thr_s6[(p*N_THR + k)*ACC_BITS +: ACC_BITS]))
                        cnt = cnt + 1'b1;
                end
                out_s7[p*OBITS +: OBITS] <= OBITS'(cnt) + OBITS'(ACT_VAL);
            end
        end else if (N_THR == 0) begin : g_noact
            always_ff @(posedge clk) out_s7[p*OBITS +: OBITS] <= OBITS'(acc_reg);
        end
    end

    // ---- output queue -----------------------------------------------------------------
    /* verilator lint_off UNUSEDSIGNAL */
    // never low when v_s7 is high: pending_reg reserved the entry at issue
    wire out_fifo_ready;
    /* verilator lint_on UNUSEDSIGNAL */
    fifo #(.WIDTH(PE*OBITS), .DEPTH(OUT_FIFO_DEPTH)) out_fifo (
        .clk, .rst,
        .s_axis_tdata(out_s7), .s_axis_tvalid(v_s7), .s_axis_tready(out_fifo_ready),
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready
    );

endmodule

`default_nettype wire
