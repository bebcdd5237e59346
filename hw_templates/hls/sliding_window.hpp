// xnorflow HLS templates: sliding-window generator, im2col on a stream
// (compile/layers/sliding_window.py).
//
// Input: an ih x iw image of `channels` values per pixel, simd values per word (NHWC order).
// Output: for each output pixel (oy, ox), row-major, its kernel x kernel window in (ky, kx, c)
// order, simd values per word. No padding.
//
// A circular buffer of kernel + stride image rows: input row y lives in buffer row y % R.
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
    const unsigned K = CONFIG_T::kernel, S = CONFIG_T::stride;
    const unsigned OH = (CONFIG_T::ifm_h - K) / S + 1;
    const unsigned OW = (CONFIG_T::ifm_w - K) / S + 1;
    const unsigned ROW = CONFIG_T::ifm_w * CF; // words per image row
    const unsigned R = (K + S < CONFIG_T::ifm_h) ? K + S : CONFIG_T::ifm_h; // buffered rows
    const unsigned READS = CONFIG_T::ifm_h * ROW;
    const unsigned WRITES = OH * OW * K * K * CF;

    ap_uint<CONFIG_T::simd * CONFIG_T::bits> buf[R * ROW];
    unsigned reads = 0, writes = 0;
    unsigned read_row = 0, read_col = 0, read_slot = 0; // next word to read: row, word, slot
    unsigned oy = 0, ox = 0, ky = 0, kx = 0, cf = 0;    // next word to write
Window_Loop:
    while (writes < WRITES || reads < READS) {
#pragma HLS PIPELINE II = 1
        // input row read_row overwrites row read_row - R: allowed once no window needs it
        bool can_read = reads < READS && (writes == WRITES || read_row < oy * S + R);
        unsigned y = oy * S + ky, x = ox * S + kx;
        bool can_write = writes < WRITES && (y < read_row || (y == read_row && x * CF + cf < read_col));
        if (can_write) {
            out.write(buf[((y % R) * CONFIG_T::ifm_w + x) * CF + cf]);
            writes++;
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
