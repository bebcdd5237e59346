// xnorflow HLS templates: the accelerator's AXI4-Stream ports <-> the inner layer streams.
//
// Top-level beats follow compile/stream.py: a layer's fold of values in the low bits, padded
// with zero bits to the port width (whole bytes, widened to a width the AXI DMA supports);
// TKEEP/TSTRB all ones. TLAST: a DMA ends each transfer (a batch of frames) with TLAST, so the
// TLAST of each input frame's last beat goes, through a frame-end flag stream, onto the last
// beat of the same output frame; one receive transfer then gets the whole batch.
#ifndef XNORFLOW_AXIS_IO_HPP
#define XNORFLOW_AXIS_IO_HPP

#include "xnorflow_types.hpp"

namespace xnorflow {

// Read one frame of BEATS AXI words, keep their low W bits, and queue the TLAST of the
// frame's last beat on `frame_last` (TLAST on earlier beats is ignored: the frame length is
// fixed).
template <unsigned AXI_W, unsigned W, unsigned BEATS>
void axis_to_stream(hls::stream<axis_word<AXI_W>> &in, hls::stream<ap_uint<W>> &out,
                    hls::stream<bool> &frame_last) {
    static_assert(AXI_W % 8 == 0 && AXI_W >= W, "axis_to_stream: AXI_W must hold W, in bytes");
Beat_Loop:
    for (unsigned i = 0; i < BEATS; i++) {
#pragma HLS PIPELINE II = 1
        axis_word<AXI_W> beat = in.read();
        out.write(ap_uint<W>(beat.data.range(W - 1, 0)));
        if (i == BEATS - 1) frame_last.write(beat.last == 1);
    }
}

// Write one frame of BEATS words as AXI words, zero-padded; TLAST on the last one when the
// input frame's flag says so. The flag is read only at the last beat, so a frame's output
// never waits for its own input to finish.
template <unsigned W, unsigned AXI_W, unsigned BEATS>
void stream_to_axis(hls::stream<ap_uint<W>> &in, hls::stream<bool> &frame_last,
                    hls::stream<axis_word<AXI_W>> &out) {
    static_assert(AXI_W % 8 == 0 && AXI_W >= W, "stream_to_axis: AXI_W must hold W, in bytes");
Beat_Loop:
    for (unsigned i = 0; i < BEATS; i++) {
#pragma HLS PIPELINE II = 1
        axis_word<AXI_W> beat;
        beat.data = ap_uint<AXI_W>(in.read());
        beat.keep = -1;
        beat.strb = -1;
        beat.last = (i == BEATS - 1 && frame_last.read()) ? 1 : 0;
        out.write(beat);
    }
}

} // namespace xnorflow

#endif
