// xnorflow HLS templates: global accumulating pool (compile/layers/global_acc_pool.py).
//
// Input: `pixels` pixels of `channels` values (NHWC, pe values per word). Output: one pixel of
// `channels` sums, out[c] = sum over the pixels of x[p][c], pe values per word (FINN's
// GlobalAccPool: a global average pool without its division). out_t holds pixels times the
// input range, so the sums never overflow.
//
// Channel c is summed by PE c % pe in accumulator word c / pe. The sums leave with the last
// pixel's words: one input word per cycle, pixels * channels / pe cycles per frame, the IR's
// exp_cycles().
#ifndef XNORFLOW_GLOBAL_ACC_POOL_HPP
#define XNORFLOW_GLOBAL_ACC_POOL_HPP

#include "xnorflow_types.hpp"

namespace xnorflow {

struct global_acc_pool_config {
    static const unsigned pixels = 1;   // pixels per frame
    static const unsigned channels = 1; // values per pixel
    static const unsigned pe = 1;       // values per word; divides channels
    static const unsigned in_bits = 2;  // bits of an input value
    static const unsigned out_bits = 2; // bits of a sum
    typedef ap_int<2> in_t;             // an input value: ap_int/ap_uint of in_bits
    typedef ap_int<2> out_t;            // a sum: ap_int/ap_uint of out_bits
};

template <class CONFIG_T>
void global_acc_pool(hls::stream<ap_uint<CONFIG_T::pe * CONFIG_T::in_bits>> &in,
                     hls::stream<ap_uint<CONFIG_T::pe * CONFIG_T::out_bits>> &out) {
    static_assert(CONFIG_T::channels % CONFIG_T::pe == 0,
                  "global_acc_pool: pe must divide channels");
    static_assert(CONFIG_T::pixels >= 1, "global_acc_pool: no pixels");
    const unsigned CF = CONFIG_T::channels / CONFIG_T::pe;
    const unsigned PE = CONFIG_T::pe;
    typedef typename CONFIG_T::out_t acc_t;

    acc_t acc[CF][PE];
#pragma HLS ARRAY_PARTITION variable = acc complete dim = 2
    unsigned px = 0, cf = 0;
Pool_Loop:
    for (unsigned i = 0; i < CONFIG_T::pixels * CF; i++) {
#pragma HLS PIPELINE II = 1
        ap_uint<PE * CONFIG_T::in_bits> w = in.read();
        ap_uint<PE * CONFIG_T::out_bits> y = 0;
    PE_Loop:
        for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
            typename CONFIG_T::in_t v = get_value<typename CONFIG_T::in_t, CONFIG_T::in_bits>(w, p);
            acc_t sum = (px == 0 ? acc_t(0) : acc[cf][p]) + acc_t(v);
            acc[cf][p] = sum;
            set_value<CONFIG_T::out_bits>(y, p, sum);
        }
        if (px == CONFIG_T::pixels - 1)
            out.write(y);
        if (cf != CF - 1) {
            cf++;
        } else {
            cf = 0;
            px++;
        }
    }
}

} // namespace xnorflow

#endif
