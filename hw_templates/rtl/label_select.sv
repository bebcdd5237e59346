// xnorflow RTL template: label select, top-1 (compile/layers/label_select.py).
//
// Reads LABELS scores (PE per beat) and emits the index of the largest one; ties go to the
// lowest index (a later score must be strictly greater to win), as numpy's argmax.
`default_nettype none

module label_select #(
    // Number of scores; must be a multiple of PE.
    parameter int LABELS = 10,
    // Scores per input beat.
    parameter int PE = 1,
    // Bits of one score, and whether scores are signed.
    parameter int IBITS = 8,
    parameter bit IN_SIGNED = 0,
    // Bits of the output index (>= $clog2(LABELS)).
    parameter int OBITS = 4
) (
    input  wire logic                clk,
    input  wire logic                rst,

    input  wire logic [PE*IBITS-1:0] s_axis_tdata,
    input  wire logic                s_axis_tvalid,
    output wire logic                s_axis_tready,

    output wire logic [OBITS-1:0]    m_axis_tdata,
    output wire logic                m_axis_tvalid,
    input  wire logic                m_axis_tready
);

    localparam int LF = LABELS / PE;
    localparam int LFW = LF > 1 ? $clog2(LF) : 1;
    localparam int IXW = $clog2(LABELS + 1);

    initial begin
        if (LABELS % PE != 0) $fatal(1, "label_select %m: PE must divide LABELS");
        if ((1 << OBITS) < LABELS) $fatal(1, "label_select %m: OBITS too small for LABELS");
    end

    logic [LFW-1:0] lf_reg;
    logic [IBITS-1:0] best_reg;
    logic [IXW-1:0] best_ix_reg;
    logic out_valid_reg;
    logic [OBITS-1:0] out_reg;

    assign s_axis_tready = !out_valid_reg || m_axis_tready;
    assign m_axis_tvalid = out_valid_reg;
    assign m_axis_tdata = out_reg;
    wire push = s_axis_tvalid && s_axis_tready;
    wire last = lf_reg == LFW'(LF - 1);

    // running maximum over this beat's lanes, starting from the frame's best so far
    logic [IBITS-1:0] best;
    logic [IXW-1:0] best_ix;
    always_comb begin
        best = best_reg;
        best_ix = best_ix_reg;
        for (int p = 0; p < PE; p++) begin
            logic [IBITS-1:0] v;
            logic wins;
            v = s_axis_tdata[p*IBITS +: IBITS];
            wins = IN_SIGNED ? $signed(v) > $signed(best) : v > best;
            if ((lf_reg == '0 && p == 0) || wins) begin
                best = v;
                best_ix = IXW'(lf_reg) * IXW'(PE) + IXW'(p);
            end
        end
    end

    always_ff @(posedge clk) begin
        if (m_axis_tvalid && m_axis_tready) out_valid_reg <= 1'b0;
        if (push) begin
            lf_reg <= last ? '0 : lf_reg + 1'b1;
            best_reg <= best;
            best_ix_reg <= best_ix;
            if (last) begin
                out_valid_reg <= 1'b1;
                out_reg <= OBITS'(best_ix);
            end
        end
        if (rst) begin
            lf_reg <= '0;
            out_valid_reg <= 1'b0;
        end
    end

endmodule

`default_nettype wire
