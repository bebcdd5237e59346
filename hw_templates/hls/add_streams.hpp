// xnorflow HLS templates: stream join by addition (compile/layers/add_streams.py), the end of
// a residual branch.
//
// Two streams of frames of `beats` words, pe values per word (element 0 in the LSBs) → one:
// out_p = a_p + b_p, stored as the low out_bits bits of the exact sum (out_t: ap_int, or
// ap_uint when neither input can be negative). a_t/b_t say how an input value reads:
// ap_int<a_bits> two's complement, ap_uint<a_bits> unsigned; a bipolar input (a_bipolar,
// a_t = ap_uint<1>) holds one bit b meaning 2b-1 (1 = +1, 0 = -1). One word from each input
// and one output word per cycle, `beats` cycles per frame.
#ifndef XNORFLOW_ADD_STREAMS_HPP
#define XNORFLOW_ADD_STREAMS_HPP

#include "xnorflow_types.hpp"

namespace xnorflow {

struct add_streams_config {
    static const unsigned pe = 1;        // values per word, both inputs and the output
    static const unsigned beats = 1;     // words per frame
    static const unsigned a_bits = 2;    // bits of a value of input 0 (1 when a_bipolar)
    static const unsigned b_bits = 2;    // bits of a value of input 1 (1 when b_bipolar)
    static const unsigned out_bits = 3;  // bits of a sum
    static const bool a_bipolar = false; // input 0's bit b means 2b-1
    static const bool b_bipolar = false; // input 1's bit b means 2b-1
    typedef ap_int<2> a_t;               // ap_int/ap_uint<a_bits>; ap_uint<1> when bipolar
    typedef ap_int<2> b_t;               // ap_int/ap_uint<b_bits>; ap_uint<1> when bipolar
    typedef ap_int<3> out_t;             // ap_int/ap_uint<out_bits>
};

// Value i of a packed word as the signed number it stands for: T's value, or 2b-1 when
// BIPOLAR. V is a signed type one bit wider than T.
template <class T, unsigned BITS, bool BIPOLAR, class V, int W>
V add_streams_operand(const ap_uint<W> &word, unsigned i) {
#pragma HLS INLINE
    T v = get_value<T, BITS>(word, i);
    if (BIPOLAR)
        return v[0] ? V(1) : V(-1);
    return V(v);
}

template <class CONFIG_T>
void add_streams(hls::stream<ap_uint<CONFIG_T::pe * CONFIG_T::a_bits>> &in0,
                 hls::stream<ap_uint<CONFIG_T::pe * CONFIG_T::b_bits>> &in1,
                 hls::stream<ap_uint<CONFIG_T::pe * CONFIG_T::out_bits>> &out) {
    static_assert(!CONFIG_T::a_bipolar || CONFIG_T::a_bits == 1,
                  "add_streams: a bipolar input 0 has a_bits = 1");
    static_assert(!CONFIG_T::b_bipolar || CONFIG_T::b_bits == 1,
                  "add_streams: a bipolar input 1 has b_bits = 1");
    const unsigned PE = CONFIG_T::pe;
    // an input value as two's complement (unsigned values gain a sign bit; -1/+1 needs 2
    // bits), and the exact sum of two of them
    const unsigned VAL_BITS = max_u(CONFIG_T::a_bits, CONFIG_T::b_bits) + 1;
    typedef ap_int<VAL_BITS> val_t;
    typedef ap_int<VAL_BITS + 1> sum_t;

Add_Loop:
    for (unsigned i = 0; i < CONFIG_T::beats; i++) {
#pragma HLS PIPELINE II = 1
        ap_uint<PE * CONFIG_T::a_bits> wa = in0.read();
        ap_uint<PE * CONFIG_T::b_bits> wb = in1.read();
        ap_uint<PE * CONFIG_T::out_bits> y = 0;
    PE_Loop:
        for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
            val_t a = add_streams_operand<typename CONFIG_T::a_t, CONFIG_T::a_bits,
                                          CONFIG_T::a_bipolar, val_t>(wa, p);
            val_t b = add_streams_operand<typename CONFIG_T::b_t, CONFIG_T::b_bits,
                                          CONFIG_T::b_bipolar, val_t>(wb, p);
            typename CONFIG_T::out_t sum = sum_t(a) + sum_t(b);
            set_value<CONFIG_T::out_bits>(y, p, sum);
        }
        out.write(y);
    }
}

} // namespace xnorflow

#endif
