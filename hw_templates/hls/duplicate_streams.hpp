// xnorflow HLS templates: stream fork (compile/layers/duplicate_streams.py), the start of a
// residual branch.
//
// Copies each word of a frame (`beats` words of `width` bits) to both outputs, in order: one
// word per cycle, `beats` cycles per frame. The two consumers run at their own pace; the
// DATAFLOW FIFOs on out0/out1 (sized by the codegen) absorb the difference between the
// branches.
#ifndef XNORFLOW_DUPLICATE_STREAMS_HPP
#define XNORFLOW_DUPLICATE_STREAMS_HPP

#include "xnorflow_types.hpp"

namespace xnorflow {

struct duplicate_streams_config {
    static const unsigned width = 8; // bits of a word (in and both outputs)
    static const unsigned beats = 1; // words per frame
};

template <class CONFIG_T>
void duplicate_streams(hls::stream<ap_uint<CONFIG_T::width>> &in,
                       hls::stream<ap_uint<CONFIG_T::width>> &out0,
                       hls::stream<ap_uint<CONFIG_T::width>> &out1) {
    static_assert(CONFIG_T::width >= 1, "duplicate_streams: width must be >= 1");
Duplicate_Loop:
    for (unsigned i = 0; i < CONFIG_T::beats; i++) {
#pragma HLS PIPELINE II = 1
        ap_uint<CONFIG_T::width> w = in.read();
        out0.write(w);
        out1.write(w);
    }
}

} // namespace xnorflow

#endif
