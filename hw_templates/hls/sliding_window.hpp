// xnorflow HLS templates: sliding-window generator, im2col on a stream
// (compile/layers/sliding_window.py).
//
// Input: an ih x iw image of `channels` values per pixel, simd values per word (NHWC order).
// Output: for each output pixel (oy, ox), row-major, its kernel x kernel window in (ky, kx, c)
// order, simd values per word. No padding.
//
// This implementation buffers the whole frame (ih * iw * channels / simd words), then writes
// the windows: cycles per frame = reads + writes, where the IR's exp_cycles() assumes the two
// overlap (max of both, as a line-buffer generator would achieve).
#ifndef XNORFLOW_SLIDING_WINDOW_HPP
#define XNORFLOW_SLIDING_WINDOW_HPP

#include "xnorflow_types.hpp"

namespace xnorflow {

struct sliding_window_config {
    static const unsigned ifm_h = 1;    // input height
    static const unsigned ifm_w = 1;    // input width
    static const unsigned channels = 1; // values per pixel
    static const unsigned kernel = 1;   // square kernel size, <= ifm_h and ifm_w
    static const unsigned stride = 1;
    static const unsigned simd = 1;     // values per word; divides channels
    static const unsigned bits = 1;     // bits of a value
};

template <class CONFIG_T>
void sliding_window(hls::stream<ap_uint<CONFIG_T::simd * CONFIG_T::bits>> &in,
                    hls::stream<ap_uint<CONFIG_T::simd * CONFIG_T::bits>> &out) {
    static_assert(CONFIG_T::channels % CONFIG_T::simd == 0,
                  "sliding_window: simd must divide channels");
    static_assert(CONFIG_T::kernel <= CONFIG_T::ifm_h && CONFIG_T::kernel <= CONFIG_T::ifm_w,
                  "sliding_window: kernel larger than the image");
    const unsigned CF = CONFIG_T::channels / CONFIG_T::simd;
    const unsigned OH = (CONFIG_T::ifm_h - CONFIG_T::kernel) / CONFIG_T::stride + 1;
    const unsigned OW = (CONFIG_T::ifm_w - CONFIG_T::kernel) / CONFIG_T::stride + 1;
    const unsigned K = CONFIG_T::kernel;

    ap_uint<CONFIG_T::simd * CONFIG_T::bits> frame[CONFIG_T::ifm_h * CONFIG_T::ifm_w * CF];
Read_Loop:
    for (unsigned i = 0; i < CONFIG_T::ifm_h * CONFIG_T::ifm_w * CF; i++) {
#pragma HLS PIPELINE II = 1
        frame[i] = in.read();
    }
    unsigned ox = 0, oy = 0, kx = 0, ky = 0, cf = 0;
Write_Loop:
    for (unsigned i = 0; i < OH * OW * K * K * CF; i++) {
#pragma HLS PIPELINE II = 1
        unsigned y = oy * CONFIG_T::stride + ky, x = ox * CONFIG_T::stride + kx;
        out.write(frame[(y * CONFIG_T::ifm_w + x) * CF + cf]);
        if (cf != CF - 1) {
            cf++;
        } else {
            cf = 0;
            if (kx != K - 1) {
                kx++;
            } else {
                kx = 0;
                if (ky != K - 1) {
                    ky++;
                } else {
                    ky = 0;
                    if (ox != OW - 1) {
                        ox++;
                    } else {
                        ox = 0;
                        oy++;
                    }
                }
            }
        }
    }
}

} // namespace xnorflow

#endif
