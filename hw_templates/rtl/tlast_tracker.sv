// xnorflow RTL template: carries TLAST through the accelerator, frame by frame.
//
// A DMA ends each transfer (a batch of frames) with TLAST on its last beat, and the receiving
// DMA's transfer ends at the output's TLAST: so the output frame that matches the input frame
// that ended with TLAST must end with TLAST, and no other. The layers carry no side band, so
// this module counts beats at both ends of the accelerator: at the last input beat of each
// frame it queues that beat's TLAST, at the last output beat of each frame it pops the flag
// into m_axis_tlast. TLAST on an input beat that does not end a frame is ignored (the frame
// length is fixed; the drivers send whole frames).
//
// Neither side can deadlock: the last output beat of a frame waits only while the queue is
// empty, i.e. until the last beat of the same input frame has been accepted, which needs no
// output; the last input beat of a frame waits only while DEPTH frames are queued, each of
// which has all of its input and drains without more. DEPTH bounds the frames whose input is
// complete and whose output is not; a pipeline holds far fewer, so throughput is untouched.
// Needs fifo.sv (the flag queue).
`default_nettype none

module tlast_tracker #(
    // Input beats per frame (>= 1).
    parameter int IN_BEATS = 1,
    // Output beats per frame (>= 1).
    parameter int OUT_BEATS = 1,
    // Queued frame-end flags (>= 2).
    parameter int DEPTH = 32
) (
    input  wire logic clk,
    input  wire logic rst,

    // the top's input handshake, gated with the first layer's tready
    input  wire logic s_axis_tvalid,
    input  wire logic s_axis_tlast,
    output wire logic s_axis_tready,
    input  wire logic core_s_tready,

    // the last layer's tvalid, gated into the top's output handshake
    input  wire logic core_m_tvalid,
    output wire logic core_m_tready,
    output wire logic m_axis_tvalid,
    input  wire logic m_axis_tready,
    output wire logic m_axis_tlast
);

    localparam int IW = IN_BEATS > 1 ? $clog2(IN_BEATS) : 1;
    localparam int OW = OUT_BEATS > 1 ? $clog2(OUT_BEATS) : 1;

    initial begin
        if (IN_BEATS < 1 || OUT_BEATS < 1 || DEPTH < 2)
            $fatal(1, "tlast_tracker %m: IN_BEATS >= 1, OUT_BEATS >= 1 and DEPTH >= 2 required");
    end

    logic [IW-1:0] in_beat_reg;
    logic [OW-1:0] out_beat_reg;
    wire in_frame_end = in_beat_reg == IW'(IN_BEATS - 1);
    wire out_frame_end = out_beat_reg == OW'(OUT_BEATS - 1);

    // the queue of frame-end flags: pushed at each input frame's last beat, popped at each
    // output frame's last beat
    wire flag_in_ready, flag_out_valid, flag_out;
    fifo #(
        .WIDTH(1),
        .DEPTH(DEPTH)
    ) u_flags (
        .clk, .rst,
        .s_axis_tdata(s_axis_tlast),
        .s_axis_tvalid(s_axis_tvalid && core_s_tready && in_frame_end),
        .s_axis_tready(flag_in_ready),
        .m_axis_tdata(flag_out),
        .m_axis_tvalid(flag_out_valid),
        .m_axis_tready(core_m_tvalid && m_axis_tready && out_frame_end)
    );

    wire out_hold = out_frame_end && !flag_out_valid;
    assign s_axis_tready = core_s_tready && (!in_frame_end || flag_in_ready);
    assign m_axis_tvalid = core_m_tvalid && !out_hold;
    assign core_m_tready = m_axis_tready && !out_hold;
    assign m_axis_tlast = out_frame_end && flag_out_valid && flag_out;

    always_ff @(posedge clk) begin
        if (s_axis_tvalid && s_axis_tready) in_beat_reg <= in_frame_end ? '0 : in_beat_reg + 1'b1;
        if (m_axis_tvalid && m_axis_tready)
            out_beat_reg <= out_frame_end ? '0 : out_beat_reg + 1'b1;
        if (rst) begin
            in_beat_reg <= '0;
            out_beat_reg <= '0;
        end
    end

endmodule

`default_nettype wire
