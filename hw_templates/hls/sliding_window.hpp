// xnorflow HLS templates: sliding-window generator, im2col on a stream
// (compile/layers/sliding_window.py).
//
// Input: an ih x iw image of `channels` values per pixel, simd values per word (NHWC order).
// Output: for each output pixel (oy, ox), row-major, its kernel_h x kernel_w window in
// (ky, kx, c) order, simd values per word. Strides stride_h, stride_w; no padding.
//
// A circular buffer of kernel_h + stride_h image rows: input row y lives in buffer row y % R.
// Each cycle reads one input word if its row may be overwritten (no window of the current
// output row needs it any more) and writes one output word if its pixel has been read, so
// reading the next rows overlaps writing the current windows: about max(reads, writes)
// cycles per frame, the IR's exp_cycles().
#ifndef XNORFLOW_SLIDING_WINDOW_HPP
#define XNORFLOW_SLIDING_WINDOW_HPP

#include "xnorflow_types.hpp"

namespace xnorflow {

struct sliding_window_config {
    static const unsigned ifm_h = 1;    // input height
    static const unsigned ifm_w = 1;    // input width
    static const unsigned channels = 1; // values per pixel
    static const unsigned kernel_h = 1; // window height, <= ifm_h
    static const unsigned kernel_w = 1; // window width, <= ifm_w
    static const unsigned stride_h = 1;
    static const unsigned stride_w = 1;
    static const unsigned simd = 1;     // values per word; divides channels
    static const unsigned bits = 1;     // bits of a value
};

template <class CONFIG_T>
void sliding_window(hls::stream<ap_uint<CONFIG_T::simd * CONFIG_T::bits>> &in,
                    hls::stream<ap_uint<CONFIG_T::simd * CONFIG_T::bits>> &out) {
    static_assert(CONFIG_T::channels % CONFIG_T::simd == 0,
                  "sliding_window: simd must divide channels");
    static_assert(CONFIG_T::kernel_h >= 1 && CONFIG_T::kernel_w >= 1 &&
                      CONFIG_T::kernel_h <= CONFIG_T::ifm_h && CONFIG_T::kernel_w <= CONFIG_T::ifm_w,
                  "sliding_window: kernel empty or larger than the image");
    static_assert(CONFIG_T::stride_h >= 1 && CONFIG_T::stride_w >= 1, "sliding_window: stride < 1");
    const unsigned CF = CONFIG_T::channels / CONFIG_T::simd;
    const unsigned KH = CONFIG_T::kernel_h, KW = CONFIG_T::kernel_w;
    const unsigned SH = CONFIG_T::stride_h, SW = CONFIG_T::stride_w;
    const unsigned OH = (CONFIG_T::ifm_h - KH) / SH + 1;
    const unsigned OW = (CONFIG_T::ifm_w - KW) / SW + 1;
    const unsigned ROW = CONFIG_T::ifm_w * CF; // words per image row
    const unsigned R = (KH + SH < CONFIG_T::ifm_h) ? KH + SH : CONFIG_T::ifm_h; // buffered rows
    const unsigned READS = CONFIG_T::ifm_h * ROW;
    const unsigned WRITES = OH * OW * KH * KW * CF;

    ap_uint<CONFIG_T::simd * CONFIG_T::bits> buf[R * ROW];
    unsigned reads = 0, writes = 0;
    unsigned read_row = 0, read_col = 0, read_slot = 0; // next word to read: row, word, slot
    unsigned oy = 0, ox = 0, ky = 0, kx = 0, cf = 0;    // next word to write
Window_Loop:
    while (writes < WRITES || reads < READS) {
#pragma HLS PIPELINE II = 1
        // input row read_row overwrites row read_row - R: allowed once no window needs it
        bool can_read = reads < READS && (writes == WRITES || read_row < oy * SH + R);
        unsigned y = oy * SH + ky, x = ox * SW + kx;
        bool can_write = writes < WRITES && (y < read_row || (y == read_row && x * CF + cf < read_col));
        if (can_write) {
            out.write(buf[((y % R) * CONFIG_T::ifm_w + x) * CF + cf]);
            writes++;
            if (cf != CF - 1) {
                cf++;
            } else {
                cf = 0;
                if (kx != KW - 1) {
                    kx++;
                } else {
                    kx = 0;
                    if (ky != KH - 1) {
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
        if (can_read) {
            buf[read_slot * ROW + read_col] = in.read();
            reads++;
            if (read_col != ROW - 1) {
                read_col++;
            } else {
                read_col = 0;
                read_row++;
                read_slot = (read_slot == R - 1) ? 0 : read_slot + 1;
            }
        }
    }
}

} // namespace xnorflow

#endif
