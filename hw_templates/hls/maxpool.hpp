// xnorflow HLS templates: max-pool on a stream (compile/layers/maxpool.py).
//
// Input: an ih x iw image, pe values per word (NHWC). Output: the max over each
// kernel x kernel window (stride `stride`, no padding), NHWC, pe values per word. On BIPOLAR
// bits (in_t = ap_uint<1>) max is OR. Like sliding_window.hpp: a circular buffer of
// kernel + stride rows, reading the next rows while reducing the current windows, one window
// element per cycle (out_pixels * kernel^2 * channels / pe cycles, or the reads if more).
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
    static_assert(CONFIG_T::kernel <= CONFIG_T::ifm_h && CONFIG_T::kernel <= CONFIG_T::ifm_w,
                  "maxpool: kernel larger than the image");
    const unsigned CF = CONFIG_T::channels / CONFIG_T::pe;
    const unsigned K = CONFIG_T::kernel, S = CONFIG_T::stride;
    const unsigned OH = (CONFIG_T::ifm_h - K) / S + 1;
    const unsigned OW = (CONFIG_T::ifm_w - K) / S + 1;
    const unsigned ROW = CONFIG_T::ifm_w * CF; // words per image row
    const unsigned R = (K + S < CONFIG_T::ifm_h) ? K + S : CONFIG_T::ifm_h; // buffered rows
    const unsigned READS = CONFIG_T::ifm_h * ROW;
    const unsigned STEPS = OH * OW * CF * K * K; // one window element per step
    typedef ap_uint<CONFIG_T::pe * CONFIG_T::bits> word_t;

    word_t buf[R * ROW];
    typename CONFIG_T::in_t best[CONFIG_T::pe];
#pragma HLS ARRAY_PARTITION variable = best complete
    unsigned reads = 0, steps = 0;
    unsigned read_row = 0, read_col = 0, read_slot = 0; // next word to read
    unsigned oy = 0, ox = 0, cf = 0, k = 0;             // next window element to reduce
Pool_Loop:
    while (steps < STEPS || reads < READS) {
#pragma HLS PIPELINE II = 1
        bool can_read = reads < READS && (steps == STEPS || read_row < oy * S + R);
        unsigned y = oy * S + k / K, x = ox * S + k % K;
        bool can_step = steps < STEPS && (y < read_row || (y == read_row && x * CF + cf < read_col));
        if (can_step) {
            word_t w = buf[((y % R) * CONFIG_T::ifm_w + x) * CF + cf];
        PE_Loop:
            for (unsigned p = 0; p < CONFIG_T::pe; p++) {
#pragma HLS UNROLL
                typename CONFIG_T::in_t v = get_value<typename CONFIG_T::in_t, CONFIG_T::bits>(w, p);
                if (k == 0 || v > best[p])
                    best[p] = v;
            }
            steps++;
            if (k != K * K - 1) {
                k++;
            } else {
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
