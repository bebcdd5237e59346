// xnorflow HLS templates: label select, the index of the largest score
// (compile/layers/label_select.py). Ties go to the lowest index (numpy's argmax).
#ifndef XNORFLOW_LABEL_SELECT_HPP
#define XNORFLOW_LABEL_SELECT_HPP

#include "xnorflow_types.hpp"

namespace xnorflow {

struct label_select_config {
    static const unsigned labels = 2;   // scores per frame
    static const unsigned pe = 1;       // scores per input word; divides labels
    static const unsigned in_bits = 8;  // bits of a score
    static const unsigned out_bits = 1; // bits of the output label
    typedef ap_int<8> in_t;             // a score: ap_int/ap_uint of in_bits
};

template <class CONFIG_T>
void label_select(hls::stream<ap_uint<CONFIG_T::pe * CONFIG_T::in_bits>> &in,
                  hls::stream<ap_uint<CONFIG_T::out_bits>> &out) {
    static_assert(CONFIG_T::labels % CONFIG_T::pe == 0, "label_select: pe must divide labels");
    const unsigned NF = CONFIG_T::labels / CONFIG_T::pe;
    typename CONFIG_T::in_t best = 0;
    ap_uint<bits_for(CONFIG_T::labels)> best_index = 0;
Fold_Loop:
    for (unsigned f = 0; f < NF; f++) {
#pragma HLS PIPELINE II = 1
        ap_uint<CONFIG_T::pe * CONFIG_T::in_bits> x = in.read();
    PE_Loop:
        for (unsigned p = 0; p < CONFIG_T::pe; p++) {
#pragma HLS UNROLL
            typename CONFIG_T::in_t v = get_value<typename CONFIG_T::in_t, CONFIG_T::in_bits>(x, p);
            if ((f == 0 && p == 0) || v > best) {
                best = v;
                best_index = f * CONFIG_T::pe + p;
            }
        }
    }
    out.write(ap_uint<CONFIG_T::out_bits>(best_index));
}

} // namespace xnorflow

#endif
