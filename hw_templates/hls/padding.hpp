// xnorflow HLS templates: padding of an image on a stream (compile/layers/padding.py).
//
// Input: an ifm_h x ifm_w image of `channels` values per pixel, simd values per word (NHWC).
// Output: the (pad_top + ifm_h + pad_bottom) x (pad_left + ifm_w + pad_right) image, NHWC,
// simd values per word, the padded pixels holding the stored bits pad_word in every channel:
// 0 before a convolution (FINN's FMPadding; its Padding attribute is [pad_top, pad_left,
// pad_bottom, pad_right]), the type's minimum before a max-pool.
//
// One output word per cycle, reading an input word at the image's positions:
// oh * ow * channels / simd cycles per frame, the IR's exp_cycles().
#ifndef XNORFLOW_PADDING_HPP
#define XNORFLOW_PADDING_HPP

#include "xnorflow_types.hpp"

namespace xnorflow {

struct padding_config {
    static const unsigned ifm_h = 1;      // input height
    static const unsigned ifm_w = 1;      // input width
    static const unsigned channels = 1;   // values per pixel
    static const unsigned pad_top = 0;    // rows added above the image
    static const unsigned pad_left = 0;   // columns added left of it
    static const unsigned pad_bottom = 0; // rows added below it
    static const unsigned pad_right = 0;  // columns added right of it
    static const unsigned simd = 1;       // values per word; divides channels
    static const unsigned bits = 1;       // bits of a value
    static const unsigned pad_word = 0;   // stored bits of the pad value (low `bits` used)
    typedef ap_uint<1> in_t;              // a value: ap_uint<bits> or ap_int<bits> (holds 0)
};

template <class CONFIG_T>
void padding(hls::stream<ap_uint<CONFIG_T::simd * CONFIG_T::bits>> &in,
             hls::stream<ap_uint<CONFIG_T::simd * CONFIG_T::bits>> &out) {
    static_assert(CONFIG_T::channels % CONFIG_T::simd == 0, "padding: simd must divide channels");
    static_assert(CONFIG_T::ifm_h >= 1 && CONFIG_T::ifm_w >= 1, "padding: empty image");
    const unsigned CF = CONFIG_T::channels / CONFIG_T::simd;
    const unsigned OH = CONFIG_T::pad_top + CONFIG_T::ifm_h + CONFIG_T::pad_bottom;
    const unsigned OW = CONFIG_T::pad_left + CONFIG_T::ifm_w + CONFIG_T::pad_right;
    // the image's rows and columns: [Y0, Y1) and [X0, X1) of the output
    const unsigned Y0 = CONFIG_T::pad_top, Y1 = CONFIG_T::pad_top + CONFIG_T::ifm_h;
    const unsigned X0 = CONFIG_T::pad_left, X1 = CONFIG_T::pad_left + CONFIG_T::ifm_w;
    ap_uint<CONFIG_T::simd * CONFIG_T::bits> pad = 0;
    for (unsigned s = 0; s < CONFIG_T::simd; s++) {
#pragma HLS UNROLL
        pad(s * CONFIG_T::bits + CONFIG_T::bits - 1, s * CONFIG_T::bits) =
            ap_uint<CONFIG_T::bits>(CONFIG_T::pad_word);
    }
    unsigned y = 0, x = 0, cf = 0;
Pad_Loop:
    for (unsigned i = 0; i < OH * OW * CF; i++) {
#pragma HLS PIPELINE II = 1
        bool inside = y >= Y0 && y < Y1 && x >= X0 && x < X1;
        ap_uint<CONFIG_T::simd * CONFIG_T::bits> w = pad;
        if (inside)
            w = in.read();
        out.write(w);
        if (cf != CF - 1) {
            cf++;
        } else {
            cf = 0;
            if (x != OW - 1) {
                x++;
            } else {
                x = 0;
                y++;
            }
        }
    }
}

} // namespace xnorflow

#endif
