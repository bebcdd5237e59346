// xnorflow HLS templates: max-pool on a stream (compile/layers/maxpool.py).
//
// Input: an ih x iw image, pe values per word (NHWC). Output: the max over each
// kernel x kernel window (stride `stride`, no padding), NHWC, pe values per word. On BIPOLAR
// bits (in_t = ap_uint<1>) max is OR. The frame is buffered, then the windows are reduced:
// one output word per kernel * kernel cycles.
#ifndef XNORFLOW_MAXPOOL_HPP
#define XNORFLOW_MAXPOOL_HPP

#include "xnorflow_types.hpp"

namespace xnorflow {

struct maxpool_config {
    static const unsigned ifm_h = 2;
    static const unsigned ifm_w = 2;
    static const unsigned channels = 1;
    static const unsigned kernel = 2;
    static const unsigned stride = 2;
    static const unsigned pe = 1;   // values per word; divides channels
    static const unsigned bits = 1; // bits of a value
    typedef ap_uint<1> in_t;        // a value: ap_uint<bits> or ap_int<bits>
};

template <class CONFIG_T>
void maxpool(hls::stream<ap_uint<CONFIG_T::pe * CONFIG_T::bits>> &in,
             hls::stream<ap_uint<CONFIG_T::pe * CONFIG_T::bits>> &out) {
    static_assert(CONFIG_T::channels % CONFIG_T::pe == 0, "maxpool: pe must divide channels");
    const unsigned CF = CONFIG_T::channels / CONFIG_T::pe;
    const unsigned OH = (CONFIG_T::ifm_h - CONFIG_T::kernel) / CONFIG_T::stride + 1;
    const unsigned OW = (CONFIG_T::ifm_w - CONFIG_T::kernel) / CONFIG_T::stride + 1;
    const unsigned K = CONFIG_T::kernel;
    typedef ap_uint<CONFIG_T::pe * CONFIG_T::bits> word_t;

    word_t frame[CONFIG_T::ifm_h * CONFIG_T::ifm_w * CF];
Read_Loop:
    for (unsigned i = 0; i < CONFIG_T::ifm_h * CONFIG_T::ifm_w * CF; i++) {
#pragma HLS PIPELINE II = 1
        frame[i] = in.read();
    }
    typename CONFIG_T::in_t best[CONFIG_T::pe];
#pragma HLS ARRAY_PARTITION variable = best complete
    unsigned ox = 0, oy = 0, k = 0, cf = 0;
Pool_Loop:
    for (unsigned i = 0; i < OH * OW * CF * K * K; i++) {
#pragma HLS PIPELINE II = 1
        unsigned y = oy * CONFIG_T::stride + k / K, x = ox * CONFIG_T::stride + k % K;
        word_t w = frame[(y * CONFIG_T::ifm_w + x) * CF + cf];
    PE_Loop:
        for (unsigned p = 0; p < CONFIG_T::pe; p++) {
#pragma HLS UNROLL
            typename CONFIG_T::in_t v = get_value<typename CONFIG_T::in_t, CONFIG_T::bits>(w, p);
            if (k == 0 || v > best[p])
                best[p] = v;
        }
        if (k != K * K - 1) {
            k++;
            continue;
        }
        word_t y_word = 0;
    Out_Loop:
        for (unsigned p = 0; p < CONFIG_T::pe; p++) {
#pragma HLS UNROLL
            set_value<CONFIG_T::bits>(y_word, p, best[p]);
        }
        out.write(y_word);
        k = 0;
        if (cf != CF - 1) {
            cf++;
        } else {
            cf = 0;
            if (ox != OW - 1) {
                ox++;
            } else {
                ox = 0;
                oy++;
            }
        }
    }
}

} // namespace xnorflow

#endif
