// xnorflow RTL template: stream join by concatenation along the channels
// (compile/layers/concat_streams.py), FINN's StreamingConcat, as a DenseNet block appends its
// new features to its input.
//
// Two streams of SIMD values per beat (value i at bits [i*BITS +: BITS], element 0 in the LSBs)
// with the same pixels → one: for each pixel, A_BEATS beats of input 0, then B_BEATS beats of
// input 1, every value converted to the output type, OBITS bits of two's complement
// (sign-extended from a *_SIGNED input, zero-extended from an unsigned one). A *_BIPOLAR input
// holds one bit b per value meaning 2b-1 (1 → +1, 0 → -1) and gives +1 / -1 in OBITS bits,
// except when O_BIPOLAR: then both inputs are bipolar and the bit passes unchanged (OBITS = 1).
//
// A beat counter over 0 .. A_BEATS+B_BEATS-1 says which input is read; the other input's tready
// stays low. The layer does not count pixels: it alternates A_BEATS and B_BEATS beats for as
// long as the streams run. A beat moves when the input in turn is valid and the output FIFO
// (fifo.sv, 2 entries) has room; the FIFO's "not full" flag is a register compare, so there is
// no combinational path from m_axis_tready to either s*_axis_tready. Full throughput: one beat
// in and one beat out per cycle.
`default_nettype none

module concat_streams #(
    // Values per beat, on both inputs and the output (>= 1).
    parameter int SIMD = 1,
    // Beats of a pixel on input 0 (its channels / SIMD) and on input 1 (>= 1 each).
    parameter int A_BEATS = 1,
    parameter int B_BEATS = 1,
    // Bits of one value of input 0; two's complement when A_SIGNED; one bit meaning -1/+1
    // when A_BIPOLAR (then ABITS == 1 and A_SIGNED is ignored).
    parameter int ABITS = 2,
    parameter bit A_SIGNED = 1,
    parameter bit A_BIPOLAR = 0,
    // The same for input 1.
    parameter int BBITS = 2,
    parameter bit B_SIGNED = 1,
    parameter bit B_BIPOLAR = 0,
    // Bits of one output value (two's complement, or unsigned when both inputs are; at least
    // ABITS and BBITS); with O_BIPOLAR the output is bipolar too: OBITS == 1 and both inputs
    // bipolar.
    parameter int OBITS = 2,
    parameter bit O_BIPOLAR = 0
) (
    input  wire logic                  clk,
    input  wire logic                  rst,

    input  wire logic [SIMD*ABITS-1:0] s0_axis_tdata,
    input  wire logic                  s0_axis_tvalid,
    output wire logic                  s0_axis_tready,

    input  wire logic [SIMD*BBITS-1:0] s1_axis_tdata,
    input  wire logic                  s1_axis_tvalid,
    output wire logic                  s1_axis_tready,

    output wire logic [SIMD*OBITS-1:0] m_axis_tdata,
    output wire logic                  m_axis_tvalid,
    input  wire logic                  m_axis_tready
);

    localparam int BEATS = A_BEATS + B_BEATS;  // beats of an output pixel (>= 2)
    localparam int CW = $clog2(BEATS);

    initial begin
        if (SIMD < 1) $fatal(1, "concat_streams %m: SIMD must be >= 1");
        if (A_BEATS < 1 || B_BEATS < 1)
            $fatal(1, "concat_streams %m: A_BEATS and B_BEATS must be >= 1");
        if (ABITS < 1 || BBITS < 1 || OBITS < 1)
            $fatal(1, "concat_streams %m: ABITS, BBITS and OBITS must be >= 1");
        if (A_BIPOLAR && ABITS != 1)
            $fatal(1, "concat_streams %m: a bipolar input 0 needs ABITS = 1");
        if (B_BIPOLAR && BBITS != 1)
            $fatal(1, "concat_streams %m: a bipolar input 1 needs BBITS = 1");
        if (O_BIPOLAR && !(A_BIPOLAR && B_BIPOLAR && OBITS == 1))
            $fatal(1, "concat_streams %m: a bipolar output needs bipolar inputs and OBITS = 1");
        if (!O_BIPOLAR && ((A_BIPOLAR || B_BIPOLAR) && OBITS < 2))
            $fatal(1, "concat_streams %m: -1/+1 from a bipolar input needs OBITS >= 2");
        if (!O_BIPOLAR && (OBITS < ABITS || OBITS < BBITS))
            $fatal(1, "concat_streams %m: OBITS must be >= ABITS and BBITS");
    end

    logic [CW-1:0] beat_reg;  // the beat of the pixel the next output beat is
    wire in_a = beat_reg < CW'(A_BEATS);  // input 0's turn
    wire room;  // the output FIFO is not full (a register compare)
    assign s0_axis_tready = in_a && room;
    assign s1_axis_tready = !in_a && room;
    wire take = (in_a ? s0_axis_tvalid : s1_axis_tvalid) && room;

    always_ff @(posedge clk) begin
        if (take) beat_reg <= beat_reg == CW'(BEATS - 1) ? '0 : beat_reg + 1'b1;
        if (rst) beat_reg <= '0;
    end

    logic [SIMD*OBITS-1:0] a_out, b_out;

    // The values widen to OBITS bits by assignment (sign-extension of a signed right-hand
    // side, zero-extension of an unsigned one), not by size casts, which Debian's Yosys 0.23
    // rejects in -defer mode: the widening is intended.
    /* verilator lint_off WIDTHEXPAND */
    for (genvar i = 0; i < SIMD; i++) begin : g_simd
        wire [ABITS-1:0] a_raw = s0_axis_tdata[i*ABITS +: ABITS];
        wire [BBITS-1:0] b_raw = s1_axis_tdata[i*BBITS +: BBITS];
        wire signed [OBITS-1:0] a_val, b_val;

        if (O_BIPOLAR) begin : g_a
            assign a_val = a_raw;  // the bit passes unchanged
        end else if (A_BIPOLAR) begin : g_a
            assign a_val = $signed({~a_raw[0], 1'b1});  // 1 → 2'b01 (+1), 0 → 2'b11 (-1)
        end else if (A_SIGNED) begin : g_a
            assign a_val = $signed(a_raw);
        end else begin : g_a
            assign a_val = a_raw;
        end

        if (O_BIPOLAR) begin : g_b
            assign b_val = b_raw;
        end else if (B_BIPOLAR) begin : g_b
            assign b_val = $signed({~b_raw[0], 1'b1});
        end else if (B_SIGNED) begin : g_b
            assign b_val = $signed(b_raw);
        end else begin : g_b
            assign b_val = b_raw;
        end

        assign a_out[i*OBITS +: OBITS] = a_val;
        assign b_out[i*OBITS +: OBITS] = b_val;
    end
    /* verilator lint_on WIDTHEXPAND */

    fifo #(.WIDTH(SIMD * OBITS), .DEPTH(2)) out_fifo (
        .clk, .rst,
        .s_axis_tdata(in_a ? a_out : b_out), .s_axis_tvalid(take), .s_axis_tready(room),
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready
    );

endmodule

`default_nettype wire
