// xnorflow RTL template: AXI4-Stream width converter, any ratio.
//
// The stream is a sequence of bits (beat after beat, LSB first); this module re-cuts it from
// IN_W-bit beats into OUT_W-bit beats. Frames hold whole beats of both widths, so no padding is
// ever needed. Whole ratios: OUT_W = K*IN_W gathers K beats into slot registers (no shifter),
// IN_W = K*OUT_W scatters a beat from a shift register by OUT_W bits, with a holding register
// for the next beat. Other ratios: a shift buffer of 2*(IN_W + OUT_W) bits holds the bits not
// yet sent; the bits above count_reg are kept zero. s_axis_tready never depends on
// m_axis_tready; both sides run at one beat per cycle for any ratio (the narrower rate limits).
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

    if (OUT_W > IN_W && OUT_W % IN_W == 0) begin : g_gather
        // OUT_W = K*IN_W: K-1 input beats collect in slot registers; the K-th goes with them
        // straight into the output register (which is free again K-1 cycles after it filled,
        // so both sides run at full rate); s_axis_tready does not depend on m_axis_tready
        localparam int K = OUT_W / IN_W;
        localparam int KW = $clog2(K);
        logic [(K-1)*IN_W-1:0] slots_reg;
        logic [KW-1:0] slot_reg;
        logic [OUT_W-1:0] out_reg;
        logic out_valid_reg;
        wire last = slot_reg == KW'(K - 1);
        assign s_axis_tready = !(last && out_valid_reg);
        assign m_axis_tdata = out_reg;
        assign m_axis_tvalid = out_valid_reg;
        wire push = s_axis_tvalid && s_axis_tready;
        always_ff @(posedge clk) begin
            if (m_axis_tvalid && m_axis_tready) out_valid_reg <= 1'b0;
            if (push) begin
                if (last) begin
                    out_reg <= {s_axis_tdata, slots_reg};
                    out_valid_reg <= 1'b1;
                    slot_reg <= '0;
                end else begin
                    slot_reg <= slot_reg + 1'b1;
                end
            end
            for (int k = 0; k < K - 1; k++) begin
                if (push && slot_reg == KW'(k)) slots_reg[k*IN_W +: IN_W] <= s_axis_tdata;
            end
            if (rst) begin
                slot_reg <= '0;
                out_valid_reg <= 1'b0;
            end
        end
    end else if (IN_W > OUT_W && IN_W % OUT_W == 0) begin : g_scatter
        // IN_W = K*OUT_W: a holding register takes the next input beat while a shift
        // register sends the current one OUT_W bits at a time; s_axis_tready does not depend
        // on m_axis_tready
        localparam int K = IN_W / OUT_W;
        localparam int KW = $clog2(K + 1);
        logic [IN_W-1:0] hold_reg, shift_reg;
        logic hold_valid_reg;
        logic [KW-1:0] left_reg;  // beats left in shift_reg
        assign s_axis_tready = !hold_valid_reg;
        assign m_axis_tdata = shift_reg[OUT_W-1:0];
        assign m_axis_tvalid = left_reg != '0;
        wire pop = m_axis_tvalid && m_axis_tready;
        wire empties = left_reg == '0 || (left_reg == KW'(1) && pop);
        always_ff @(posedge clk) begin
            if (s_axis_tvalid && s_axis_tready) begin
                hold_reg <= s_axis_tdata;
                hold_valid_reg <= 1'b1;
            end
            if (empties && hold_valid_reg) begin
                shift_reg <= hold_reg;
                left_reg <= KW'(K);
                hold_valid_reg <= 1'b0;  // (no input this cycle: s_axis_tready is low)
            end else if (pop) begin
                shift_reg <= shift_reg >> OUT_W;
                left_reg <= left_reg - 1'b1;
            end
            if (rst) begin
                hold_valid_reg <= 1'b0;
                left_reg <= '0;
            end
        end
    end else begin : g_any
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
    end

endmodule

`default_nettype wire
