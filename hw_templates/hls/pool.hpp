// xnorflow HLS templates: max-pool and sum-pool on a stream (compile/layers/maxpool.py,
// compile/layers/sum_pool.py).
//
// Input: an ih x iw image, pe values per word (NHWC). Output: the max (sum = false) or the sum
// (sum = true: an average pool's numerator, out_bits per value) over each kernel_h x kernel_w
// window (strides stride_h, stride_w, no padding; windows may overlap or leave gaps), NHWC, pe
// values per word. On BIPOLAR bits (in_t = ap_uint<1>) max is OR.
//
// Separable and streaming, like hw_templates/rtl/pool.sv: one input word per cycle
// (ifm_h * ifm_w * channels / pe cycles, the IR's exp_cycles()).
// - horizontal: window ox goes to slot ox % NC (NC = ceil(kernel_w / stride_w)); windows of
//   one slot never overlap, so an input pixel updates at most one window per slot. hpart keeps
//   each slot's partial result per channel word; a window row completes on its last column
//   (at most one per input word).
// - vertical: the same over rows (NR = ceil(kernel_h / stride_h) slots), vpart keeping a slot's
//   partial results of one output row; on a window's last row its result is written out.
#ifndef XNORFLOW_POOL_HPP
#define XNORFLOW_POOL_HPP

#include "xnorflow_types.hpp"

namespace xnorflow {

struct pool_config {
    static const unsigned ifm_h = 2;
    static const unsigned ifm_w = 2;
    static const unsigned channels = 1;
    static const unsigned kernel_h = 2; // window height, <= ifm_h
    static const unsigned kernel_w = 2; // window width, <= ifm_w
    static const unsigned stride_h = 2;
    static const unsigned stride_w = 2;
    static const unsigned pe = 1;   // values per word; divides channels
    static const unsigned bits = 1; // bits of an input value
    static const bool sum = false;  // false: max; true: sum
    static const unsigned out_bits = 1; // bits of an output value (bits for a max)
    typedef ap_uint<1> in_t;        // an input value: ap_uint<bits> or ap_int<bits>
    typedef ap_uint<1> out_t;       // an output value: in_t for a max, wider for a sum
};

// Where position p falls along one axis (windows of size K, stride S, O of them, N slots):
// for slot j, whether p lies in the slot's window (cover) and is its first / last position.
template <unsigned K, unsigned S, unsigned O, unsigned N>
void pool_slots(unsigned p, bool cover[N], bool first[N], bool last[N]) {
#pragma HLS INLINE
    unsigned hi = p / S < O - 1 ? p / S : O - 1; // the last window starting at or before p
Slot_Loop:
    for (unsigned j = 0; j < N; j++) {
#pragma HLS UNROLL
        unsigned d = (hi % N + N - j) % N; // the slot's window: hi - d
        bool ok = d <= hi && p < (hi - d) * S + K;
        unsigned start = (hi - d) * S;
        cover[j] = ok;
        first[j] = ok && p == start;
        last[j] = ok && p == start + K - 1;
    }
}

template <class CONFIG_T>
void pool(hls::stream<ap_uint<CONFIG_T::pe * CONFIG_T::bits>> &in,
          hls::stream<ap_uint<CONFIG_T::pe * CONFIG_T::out_bits>> &out) {
    static_assert(CONFIG_T::channels % CONFIG_T::pe == 0, "pool: pe must divide channels");
    static_assert(CONFIG_T::sum ? CONFIG_T::out_bits >= CONFIG_T::bits
                                : CONFIG_T::out_bits == CONFIG_T::bits,
                  "pool: out_bits must be bits for a max, at least bits for a sum");
    static_assert(CONFIG_T::kernel_h >= 1 && CONFIG_T::kernel_w >= 1 &&
                      CONFIG_T::kernel_h <= CONFIG_T::ifm_h && CONFIG_T::kernel_w <= CONFIG_T::ifm_w,
                  "pool: kernel empty or larger than the image");
    static_assert(CONFIG_T::stride_h >= 1 && CONFIG_T::stride_w >= 1, "pool: stride < 1");
    const unsigned CF = CONFIG_T::channels / CONFIG_T::pe;
    const unsigned KH = CONFIG_T::kernel_h, KW = CONFIG_T::kernel_w;
    const unsigned SH = CONFIG_T::stride_h, SW = CONFIG_T::stride_w;
    const unsigned OH = (CONFIG_T::ifm_h - KH) / SH + 1;
    const unsigned OW = (CONFIG_T::ifm_w - KW) / SW + 1;
    const unsigned NC = (KW + SW - 1) / SW; // window slots along x
    const unsigned NR = (KH + SH - 1) / SH; // window slots along y
    const unsigned PE = CONFIG_T::pe;
    typedef typename CONFIG_T::out_t value_t; // a partial result
    typedef ap_uint<PE * CONFIG_T::bits> word_t;
    typedef ap_uint<PE * CONFIG_T::out_bits> out_word_t;

    value_t hpart[NC][CF][PE];
    value_t vpart[NR][OW * CF][PE];
#pragma HLS ARRAY_PARTITION variable = hpart complete dim = 1
#pragma HLS ARRAY_PARTITION variable = hpart complete dim = 3
#pragma HLS ARRAY_PARTITION variable = vpart complete dim = 1
#pragma HLS ARRAY_PARTITION variable = vpart complete dim = 3
    bool hcover[NC], hfirst[NC], hlast[NC], vcover[NR], vfirst[NR], vlast[NR];
#pragma HLS ARRAY_PARTITION variable = hcover complete
#pragma HLS ARRAY_PARTITION variable = hfirst complete
#pragma HLS ARRAY_PARTITION variable = hlast complete
#pragma HLS ARRAY_PARTITION variable = vcover complete
#pragma HLS ARRAY_PARTITION variable = vfirst complete
#pragma HLS ARRAY_PARTITION variable = vlast complete
    unsigned y = 0, x = 0, cf = 0;
    unsigned vaddr = 0; // ox * CF + cf of the next completed window row
Pool_Loop:
    for (unsigned i = 0; i < CONFIG_T::ifm_h * CONFIG_T::ifm_w * CF; i++) {
#pragma HLS PIPELINE II = 1
        pool_slots<KW, SW, OW, NC>(x, hcover, hfirst, hlast);
        pool_slots<KH, SH, OH, NR>(y, vcover, vfirst, vlast);
        bool hdone = false, emit = false; // a window row completes; a window completes
        for (unsigned j = 0; j < NC; j++)
            hdone = hdone || hlast[j];
        for (unsigned r = 0; r < NR; r++)
            emit = emit || (hdone && vlast[r]);
        word_t w = in.read();
        out_word_t y_word = 0;
    PE_Loop:
        for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
            value_t v = get_value<typename CONFIG_T::in_t, CONFIG_T::bits>(w, p);
            value_t hval = v;
            for (unsigned j = 0; j < NC; j++) {
                if (hcover[j]) {
                    value_t old = hpart[j][cf][p];
                    value_t m = hfirst[j] ? v
                                : CONFIG_T::sum ? value_t(old + v) : (v > old ? v : old);
                    hpart[j][cf][p] = m;
                    if (hlast[j])
                        hval = m;
                }
            }
            for (unsigned r = 0; r < NR && hdone; r++) {
                if (vcover[r]) {
                    value_t old = vpart[r][vaddr][p];
                    value_t m = vfirst[r] ? hval
                                : CONFIG_T::sum ? value_t(old + hval) : (hval > old ? hval : old);
                    vpart[r][vaddr][p] = m;
                    if (vlast[r])
                        set_value<CONFIG_T::out_bits>(y_word, p, m);
                }
            }
        }
        if (emit)
            out.write(y_word);
        if (hdone)
            vaddr++;
        if (cf != CF - 1) {
            cf++;
        } else {
            cf = 0;
            if (x != CONFIG_T::ifm_w - 1) {
                x++;
            } else {
                x = 0;
                vaddr = 0;
                y++;
            }
        }
    }
}

} // namespace xnorflow

#endif
