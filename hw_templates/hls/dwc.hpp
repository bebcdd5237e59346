// xnorflow HLS templates: stream width conversion between layers whose folds differ.
//
// Re-packs a frame of `values` values of `bits` bits from in_fold to out_fold values per
// word, order kept (element 0 in the LSBs). Any pair of folds dividing `values` works: a
// buffer of < in_fold + out_fold values is filled by reads and drained by writes, one read
// or one write per cycle (in_words + out_words cycles per frame).
#ifndef XNORFLOW_DWC_HPP
#define XNORFLOW_DWC_HPP

#include "xnorflow_types.hpp"

namespace xnorflow {

struct dwc_config {
    static const unsigned values = 1;   // values per frame
    static const unsigned in_fold = 1;  // values per input word; divides values
    static const unsigned out_fold = 1; // values per output word; divides values
    static const unsigned bits = 1;     // bits of a value
};

template <class CONFIG_T>
void dwc(hls::stream<ap_uint<CONFIG_T::in_fold * CONFIG_T::bits>> &in,
         hls::stream<ap_uint<CONFIG_T::out_fold * CONFIG_T::bits>> &out) {
    static_assert(CONFIG_T::values % CONFIG_T::in_fold == 0, "dwc: in_fold must divide values");
    static_assert(CONFIG_T::values % CONFIG_T::out_fold == 0, "dwc: out_fold must divide values");
    const unsigned IN_W = CONFIG_T::in_fold * CONFIG_T::bits;
    const unsigned OUT_W = CONFIG_T::out_fold * CONFIG_T::bits;
    const unsigned STEPS = CONFIG_T::values / CONFIG_T::in_fold + CONFIG_T::values / CONFIG_T::out_fold;
    ap_uint<IN_W + OUT_W> buf = 0;
    unsigned fill = 0; // values held in buf
Convert_Loop:
    for (unsigned i = 0; i < STEPS; i++) {
#pragma HLS PIPELINE II = 1
        if (fill >= CONFIG_T::out_fold) {
            out.write(ap_uint<OUT_W>(buf.range(OUT_W - 1, 0)));
            buf >>= OUT_W;
            fill -= CONFIG_T::out_fold;
        } else {
            ap_uint<IN_W + OUT_W> word = in.read();
            buf |= word << (fill * CONFIG_T::bits);
            fill += CONFIG_T::in_fold;
        }
    }
}

} // namespace xnorflow

#endif
