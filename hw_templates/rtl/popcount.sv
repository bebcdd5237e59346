// xnorflow RTL template: pipelined popcount of N bits, or of the N lanes where a equals b (the
// adder tree of mvau.sv's XNOR mode).
//
// A bit heap, compressed level by level: column c of the heap holds bits of weight 2^c. Level
// 0: the N bits in column 0, or (XNOR) per three lanes the sum and carry of their XNORs in
// columns 0 and 1 — a LUT6 each, so the XNORs cost no LUT of their own. At each level, every
// column of three or more bits is cut into groups of six (the last one of 3..5 bits; one or two left over pass on) and each group
// is replaced by its count, three bits in columns c, c+1 and c+2 — each a function of at most
// six inputs, one LUT6 (6:3 counters). Columns of at most two bits pass on. When no column
// holds more than three bits, an adder sums the three rows (as many LUTs as compressing on to
// two rows, and two to three levels fewer). Bits of weight 2^OW and above are dropped (the
// count is below 2^OW). Measurements: docs/hardware.md, issue #21.
// Pipeline: the XNOR full adders (XNOR mode), the heap's levels and the final adder are steps
// of one LUT level (the adder: one carry chain, two on LUT4 parts); a register after every
// LEVELS_PER_STAGE steps and on the sum, so the latency is ceil(steps / LEVELS_PER_STAGE)
// cycles. s_user
// travels with the data (m_user beside y; m_user_pre one cycle earlier, for a memory read
// that must start a cycle ahead); user registers are reset, the heap's are not.
`default_nettype none

module popcount #(
    // Bits (lanes) counted.
    parameter int N = 64,
    // 0: count the ones of a (b unused); 1: count the lanes where a equals b (XNOR).
    parameter bit XNOR = 0,
    // Steps (LUT levels: the full adders, each heap level, the final adder) per pipeline stage.
    parameter int LEVELS_PER_STAGE = 2,
    // Bits of the side band carried alongside.
    parameter int UW = 1,
    // The most cycles of latency the instantiating module can take (elaboration fails above).
    parameter int MAX_LATENCY = 16
) (
    input  wire logic                   clk,
    input  wire logic                   rst,
    input  wire logic [N-1:0]           a,
    input  wire logic [N-1:0]           b,
    input  wire logic [UW-1:0]          s_user,
    output wire logic [$clog2(N+1)-1:0] y,
    output wire logic [UW-1:0]          m_user,
    output wire logic [UW-1:0]          m_user_pre
);

    localparam int OW = $clog2(N + 1);
    localparam int MAXCOL = 17;  // columns the constant functions track (N < 2^16)

    // ---- the heap's shape, computed at elaboration -------------------------------------
    // bits a column of h bits gives to the column k above it at the next level
    function automatic int produced(input int h, input int k);
        int n;
        n = 0;
        if (h <= 2) begin
            n = k == 0 ? h : 0;
        end else begin
            n = h / 6;  // full groups: one bit to each of k = 0, 1, 2
            if (h % 6 >= 3) n = n + (k < (h % 6 >= 4 ? 3 : 2) ? 1 : 0);
            else if (k == 0) n = n + h % 6;  // one or two bits left over pass on
        end
        produced = n;
    endfunction

    // the heights of every column at every level, 16 bits each (Yosys 0.23 has no arrays in
    // constant functions, and computes the table once as a localparam)
    localparam int MAXLVL = 24;
    function automatic logic [MAXLVL*MAXCOL*16-1:0] height_table();
        logic [MAXLVL*MAXCOL*16-1:0] t;
        int n;
        t = '0;
        // level 0: the lanes (XNOR: a full adder per three lanes, the XNORs inside it)
        t[15:0] = XNOR ? 16'(N / 3 + N % 3) : 16'(N);
        t[31:16] = XNOR ? 16'(N / 3) : 16'(0);
        for (int l = 1; l < MAXLVL; l++) begin
            for (int d = 0; d < OW; d++) begin
                n = 0;
                for (int k = 0; k < 3; k++)
                    if (d >= k) n = n + produced({16'b0, t[((l-1)*MAXCOL + d - k)*16 +: 16]}, k);
                t[(l*MAXCOL + d)*16 +: 16] = 16'(n);
            end
        end
        height_table = t;
    endfunction
    localparam logic [MAXLVL*MAXCOL*16-1:0] HEIGHTS = height_table();

    // height of column c at level lvl
    function automatic int height(input int lvl, input int c);
        height = {16'b0, HEIGHTS[(lvl*MAXCOL + c)*16 +: 16]};
    endfunction

    // levels until no column holds more than three bits
    function automatic int n_levels();
        int l;
        int tall;
        l = 0;
        tall = 1;
        while (tall != 0 && l < MAXLVL - 1) begin
            tall = 0;
            for (int c = 0; c < OW; c++) if (height(l, c) > 3) tall = 1;
            if (tall != 0) l = l + 1;
        end
        n_levels = l;
    endfunction

    // first bit of column c within its level (columns in order)
    function automatic int col_offset(input int lvl, input int c);
        int o;
        o = 0;
        for (int d = 0; d < c; d++) o = o + height(lvl, d);
        col_offset = o;
    endfunction

    // first bit of level lvl in the flat vector of all levels
    function automatic int level_offset(input int lvl);
        int o;
        o = 0;
        for (int l = 0; l < lvl; l++) o = o + col_offset(l, OW);
        level_offset = o;
    endfunction

    // where, in column d of the next level, the bits of weight k from column d - k start:
    // column d takes k = 0 bits (from d) first, then k = 1 (from d - 1), then k = 2 (d - 2)
    function automatic int rank_base(input int lvl, input int d, input int k);
        int r;
        r = 0;
        for (int j = 0; j < k; j++) r = r + produced(height(lvl, d - j), j);
        rank_base = r;
    endfunction

    // a group's count bit k as a truth table over its (up to six) inputs
    function automatic logic [63:0] count_bit_table(input int size, input int k);
        logic [63:0] t;
        t = '0;
        for (int v = 0; v < (1 << size); v++) t[v] = 1'(($countones(7'(v)) >> k) & 1);
        count_bit_table = t;
    endfunction

    // a full adder of three lanes' XNORs, over {b[2:0], a[2:0]}
    function automatic logic [63:0] full_adder_table(input int k);
        logic [63:0] t;
        t = '0;
        for (int v = 0; v < 64; v++) t[v] = 1'(($countones(3'(~(v ^ (v >> 3)))) >> k) & 1);
        full_adder_table = t;
    endfunction

    localparam logic [63:0] FA_SUM = full_adder_table(0);
    localparam logic [63:0] FA_CARRY = full_adder_table(1);
    localparam logic [63:0] COUNT6_0 = count_bit_table(6, 0);
    localparam logic [63:0] COUNT6_1 = count_bit_table(6, 1);
    localparam logic [63:0] COUNT6_2 = count_bit_table(6, 2);
    localparam int NL = n_levels();
    localparam int TOTAL = level_offset(NL + 1);
    localparam int XOFF = XNOR ? 1 : 0;  // the full adders: one step before the heap's levels
    localparam int STEPS = XOFF + NL + 1;
    localparam int LATENCY = (STEPS + LEVELS_PER_STAGE - 1) / LEVELS_PER_STAGE;
    // whether the bits after `steps` steps are registered (never after the last: the sum is)
    function automatic bit registered_after(input int steps);
        registered_after = steps > 0 && steps < STEPS && steps % LEVELS_PER_STAGE == 0;
    endfunction

    initial begin
        if (LATENCY > MAX_LATENCY)
            $fatal(1, "popcount %m: latency %0d above MAX_LATENCY %0d (raise the FIFO depth)",
                   LATENCY, MAX_LATENCY);
        if (N >= 1 << 16 || NL + 1 >= MAXLVL) $fatal(1, "popcount %m: N too large");
    end

    // every level's bits: as computed (heap_d) and as the next level reads them (heap_q:
    // registered after every LEVELS_PER_STAGE steps)
    /* verilator lint_off SPLITVAR */
    logic [TOTAL-1:0] heap_d /* verilator split_var */, heap_q /* verilator split_var */;
    /* verilator lint_on SPLITVAR */
    localparam int W0 = col_offset(0, OW);
    if (XNOR) begin : g_lanes_xnor
        // three lanes, six inputs, a full adder of their XNORs: the sum bit in column 0, the
        // carry in column 1 (a LUT6 each: the XNORs cost no LUTs of their own); one or two
        // lanes left over as XNORs in column 0
        localparam int G3 = N / 3;
        for (genvar g = 0; g < G3; g++) begin : g_fa
            wire [5:0] ab = {b[3*g +: 3], a[3*g +: 3]};
            assign heap_d[g] = 1'(FA_SUM >> ab);
            assign heap_d[G3 + N % 3 + g] = 1'(FA_CARRY >> ab);
        end
        for (genvar j = 0; j < N % 3; j++) begin : g_left
            assign heap_d[G3 + j] = a[3*G3 + j] ~^ b[3*G3 + j];
        end
    end else begin : g_lanes
        assign heap_d[N-1:0] = a;
        /* verilator lint_off UNUSEDSIGNAL */
        wire [N-1:0] b_unused = b;
        /* verilator lint_on UNUSEDSIGNAL */
    end
    if (registered_after(XOFF)) begin : g_reg0
        always_ff @(posedge clk) heap_q[W0-1:0] <= heap_d[W0-1:0];
    end else begin : g_wire0
        assign heap_q[W0-1:0] = heap_d[W0-1:0];
    end

    for (genvar l = 0; l < NL; l++) begin : g_level
        localparam int BASE = level_offset(l);
        localparam int NEXT = level_offset(l + 1);
        for (genvar c = 0; c < OW; c++) begin : g_col
            localparam int H = height(l, c);
            localparam int OFF = BASE + col_offset(l, c);
            localparam int R = H % 6;
            localparam int NFULL = H <= 2 ? 0 : H / 6;  // 6-bit counters
            localparam bit PART = H > 2 && R >= 3;  // and a last counter of R bits
            localparam int NPASS = H <= 2 ? H : (PART ? 0 : R);
            // where this column's count bits of weight 2^(c+k) go in the next level
            localparam int D0 = NEXT + col_offset(l + 1, c);
            localparam int D1 = c + 1 < OW ? NEXT + col_offset(l + 1, c + 1) + rank_base(l, c + 1, 1) : 0;
            localparam int D2 = c + 2 < OW ? NEXT + col_offset(l + 1, c + 2) + rank_base(l, c + 2, 2) : 0;
            // the last counter's tables (computed once per column, not per counter)
            localparam logic [63:0] PART_0 = count_bit_table(R, 0);
            localparam logic [63:0] PART_1 = count_bit_table(R, 1);
            localparam logic [63:0] PART_2 = count_bit_table(R, 2);
            for (genvar g = 0; g < NFULL + PART; g++) begin : g_counter
                localparam bit FULL = g < NFULL;
                localparam int SIZE = FULL ? 6 : R;
                wire [SIZE-1:0] grp = heap_q[OFF + g * 6 +: SIZE];
                assign heap_d[D0 + g] = 1'((FULL ? COUNT6_0 : PART_0) >> grp);
                if (c + 1 < OW) begin : g_bit1
                    assign heap_d[D1 + g] = 1'((FULL ? COUNT6_1 : PART_1) >> grp);
                end
                if (c + 2 < OW && SIZE >= 4) begin : g_bit2
                    assign heap_d[D2 + g] = 1'((FULL ? COUNT6_2 : PART_2) >> grp);
                end
            end
            for (genvar j = 0; j < NPASS; j++) begin : g_pass
                assign heap_d[D0 + NFULL + j] = heap_q[OFF + NFULL * 6 + j];
            end
        end
        localparam int W = col_offset(l + 1, OW);
        if (registered_after(XOFF + l + 1)) begin : g_reg
            always_ff @(posedge clk) heap_q[NEXT +: W] <= heap_d[NEXT +: W];
        end else begin : g_wire
            assign heap_q[NEXT +: W] = heap_d[NEXT +: W];
        end
    end

    // the last level's three rows: the first, second and third bit of every column
    localparam int LAST = level_offset(NL);
    logic [OW-1:0] row0, row1, row2;
    for (genvar c = 0; c < OW; c++) begin : g_rows
        localparam int H = height(NL, c);
        localparam int OFF = LAST + col_offset(NL, c);
        assign row0[c] = H >= 1 ? heap_q[OFF] : 1'b0;
        assign row1[c] = H >= 2 ? heap_q[OFF + 1] : 1'b0;
        assign row2[c] = H >= 3 ? heap_q[OFF + 2] : 1'b0;
    end

    logic [OW-1:0] sum_reg;
    always_ff @(posedge clk) sum_reg <= row0 + row1 + row2;
    assign y = sum_reg;

    // the side band, LATENCY registers deep
    logic [UW-1:0] user [LATENCY + 1];
    assign user[0] = s_user;
    for (genvar i = 0; i < LATENCY; i++) begin : g_user
        always_ff @(posedge clk) begin
            user[i + 1] <= user[i];
            if (rst) user[i + 1] <= '0;
        end
    end
    assign m_user = user[LATENCY];
    assign m_user_pre = user[LATENCY - 1];

endmodule
