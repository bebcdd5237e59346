// xnorflow HLS templates: multi-threshold activation (compile/layers/thresholding.py).
//
// out[p, c] = #{k : x[p, c] >= T[c, k]} + act_val, PE channels per cycle.
// Channel c is handled by PE c % pe at fold c / pe; its thresholds sit at
// thresholds[c % pe][c / pe][k] (the codegen writes them in this order). A channel with
// negated[c % pe][c / pe] compares -x (a BatchNorm with a negative scale no layer before took).
#ifndef XNORFLOW_THRESHOLDING_HPP
#define XNORFLOW_THRESHOLDING_HPP

#include "xnorflow_types.hpp"

namespace xnorflow {

// The interface spec: a layer's config derives from this and overrides what differs.
struct thresholding_config {
    static const unsigned pixels = 1;       // pixels per frame
    static const unsigned channels = 1;     // channels per pixel
    static const unsigned pe = 1;           // channels per cycle; divides channels
    static const unsigned n_thresholds = 1; // thresholds per channel (>= 1)
    static const unsigned in_bits = 8;      // bits of an input value
    static const unsigned out_bits = 1;     // bits of an output value (1 for BIPOLAR)
    static const int act_val = 0;           // added to the threshold count
    typedef ap_uint<8> in_t;                // an input value (ap_int/ap_uint of in_bits)
    typedef ap_int<10> thr_t;               // a threshold; wide enough for in_t's range + 1
    static const unsigned thr_bits = 10;    // thr_t's width: arrays hold int_rom<thr_bits>
    typedef ap_int<9> count_t;              // holds 0 .. n_thresholds plus act_val
    static const bool negates = false;      // some channel compares -x (thr_t holds it)
};

// Compare one value with its ascending thresholds and return count + act_val.
template <class CONFIG_T, class V>
typename CONFIG_T::count_t
threshold_count(V x, const typename int_rom<CONFIG_T::thr_bits>::type thr[]) {
#pragma HLS INLINE
    typename CONFIG_T::count_t count = CONFIG_T::act_val;
Compare_Loop:
    for (unsigned k = 0; k < CONFIG_T::n_thresholds; k++) {
#pragma HLS UNROLL
        count += (x >= typename CONFIG_T::thr_t(thr[k])) ? 1 : 0;
    }
    return count;
}

template <class CONFIG_T>
void thresholding(
    hls::stream<ap_uint<CONFIG_T::pe * CONFIG_T::in_bits>> &in,
    hls::stream<ap_uint<CONFIG_T::pe * CONFIG_T::out_bits>> &out,
    const typename int_rom<CONFIG_T::thr_bits>::type
        thresholds[CONFIG_T::pe][CONFIG_T::channels / CONFIG_T::pe][CONFIG_T::n_thresholds],
    const bool negated[CONFIG_T::pe][CONFIG_T::channels / CONFIG_T::pe]) {
    static_assert(CONFIG_T::channels % CONFIG_T::pe == 0, "thresholding: pe must divide channels");
    static_assert(CONFIG_T::n_thresholds >= 1, "thresholding: needs at least one threshold");
    const unsigned NF = CONFIG_T::channels / CONFIG_T::pe;
#pragma HLS ARRAY_PARTITION variable = thresholds complete dim = 1
#pragma HLS ARRAY_PARTITION variable = thresholds complete dim = 3
#pragma HLS ARRAY_PARTITION variable = negated complete dim = 1
    unsigned nf = 0;
Pixel_Fold_Loop:
    for (unsigned i = 0; i < CONFIG_T::pixels * NF; i++) {
#pragma HLS PIPELINE II = 1
        ap_uint<CONFIG_T::pe * CONFIG_T::in_bits> x = in.read();
        ap_uint<CONFIG_T::pe * CONFIG_T::out_bits> y = 0;
    PE_Loop:
        for (unsigned p = 0; p < CONFIG_T::pe; p++) {
#pragma HLS UNROLL
            typename CONFIG_T::in_t v =
                get_value<typename CONFIG_T::in_t, CONFIG_T::in_bits>(x, p);
            if (CONFIG_T::negates) {
                typename CONFIG_T::thr_t w = v;
                if (negated[p][nf]) w = -w;
                set_value<CONFIG_T::out_bits>(y, p, threshold_count<CONFIG_T>(w, thresholds[p][nf]));
            } else {
                set_value<CONFIG_T::out_bits>(y, p, threshold_count<CONFIG_T>(v, thresholds[p][nf]));
            }
        }
        out.write(y);
        nf = (nf == NF - 1) ? 0 : nf + 1;
    }
}

} // namespace xnorflow

#endif
