// xnorflow HLS templates: stream join by concatenation along the channels
// (compile/layers/concat_streams.py), FINN's StreamingConcat, as a DenseNet block appends its
// new features to its input.
//
// Two streams of frames of `pixels` pixels, simd values per word (element 0 in the LSBs) →
// one: for each pixel, a_beats words of input 0, then b_beats words of input 1, every value
// converted to out_t (ap_int<out_bits>, or ap_uint when neither input can be negative):
// sign-extended from ap_int, zero-extended from ap_uint. A bipolar input (a_bipolar,
// a_t = ap_uint<1>) holds one bit b meaning 2b-1 (1 = +1, 0 = -1) and gives +1 / -1, except
// when out_bipolar: then both inputs are bipolar and the bit passes unchanged
// (out_t = ap_uint<1>). One input word and one output word per cycle,
// pixels * (a_beats + b_beats) cycles per frame.
#ifndef XNORFLOW_CONCAT_STREAMS_HPP
#define XNORFLOW_CONCAT_STREAMS_HPP

#include "xnorflow_types.hpp"

namespace xnorflow {

struct concat_streams_config {
    static const unsigned simd = 1;        // values per word, both inputs and the output
    static const unsigned pixels = 1;      // pixels per frame
    static const unsigned a_beats = 1;     // words of a pixel on input 0 (its channels / simd)
    static const unsigned b_beats = 1;     // words of a pixel on input 1
    static const unsigned a_bits = 2;      // bits of a value of input 0 (1 when a_bipolar)
    static const unsigned b_bits = 2;      // bits of a value of input 1 (1 when b_bipolar)
    static const unsigned out_bits = 2;    // bits of an output value (1 when out_bipolar)
    static const bool a_bipolar = false;   // input 0's bit b means 2b-1
    static const bool b_bipolar = false;   // input 1's bit b means 2b-1
    static const bool out_bipolar = false; // the output is bipolar too: bits pass unchanged
    typedef ap_int<2> a_t;                 // ap_int/ap_uint<a_bits>; ap_uint<1> when bipolar
    typedef ap_int<2> b_t;                 // ap_int/ap_uint<b_bits>; ap_uint<1> when bipolar
    typedef ap_int<2> out_t;               // ap_int/ap_uint<out_bits>; ap_uint<1> when bipolar
};

// Word `word` of one input (values of type T, BITS bits each, BIPOLAR: one bit meaning 2b-1)
// as an output word of CONFIG_T.
template <class CONFIG_T, class T, unsigned BITS, bool BIPOLAR, int W>
ap_uint<CONFIG_T::simd * CONFIG_T::out_bits> concat_streams_word(const ap_uint<W> &word) {
#pragma HLS INLINE
    typedef typename CONFIG_T::out_t out_t;
    ap_uint<CONFIG_T::simd * CONFIG_T::out_bits> y = 0;
Simd_Loop:
    for (unsigned i = 0; i < CONFIG_T::simd; i++) {
#pragma HLS UNROLL
        T v = get_value<T, BITS>(word, i);
        out_t o;
        if (CONFIG_T::out_bipolar)
            o = v[0] ? out_t(1) : out_t(0);
        else if (BIPOLAR)
            o = v[0] ? out_t(1) : out_t(-1);
        else
            o = out_t(v);
        set_value<CONFIG_T::out_bits>(y, i, o);
    }
    return y;
}

template <class CONFIG_T>
void concat_streams(hls::stream<ap_uint<CONFIG_T::simd * CONFIG_T::a_bits>> &in0,
                    hls::stream<ap_uint<CONFIG_T::simd * CONFIG_T::b_bits>> &in1,
                    hls::stream<ap_uint<CONFIG_T::simd * CONFIG_T::out_bits>> &out) {
    static_assert(CONFIG_T::a_beats >= 1 && CONFIG_T::b_beats >= 1,
                  "concat_streams: a_beats and b_beats are >= 1");
    static_assert(!CONFIG_T::a_bipolar || CONFIG_T::a_bits == 1,
                  "concat_streams: a bipolar input 0 has a_bits = 1");
    static_assert(!CONFIG_T::b_bipolar || CONFIG_T::b_bits == 1,
                  "concat_streams: a bipolar input 1 has b_bits = 1");
    static_assert(!CONFIG_T::out_bipolar ||
                      (CONFIG_T::a_bipolar && CONFIG_T::b_bipolar && CONFIG_T::out_bits == 1),
                  "concat_streams: a bipolar output takes bipolar inputs, out_bits = 1");
    const unsigned BEATS = CONFIG_T::a_beats + CONFIG_T::b_beats;
    unsigned beat = 0; // the beat of the pixel, 0 .. BEATS-1: input 0's below a_beats

Concat_Loop:
    for (unsigned i = 0; i < CONFIG_T::pixels * BEATS; i++) {
#pragma HLS PIPELINE II = 1
        ap_uint<CONFIG_T::simd * CONFIG_T::out_bits> y;
        if (beat < CONFIG_T::a_beats)
            y = concat_streams_word<CONFIG_T, typename CONFIG_T::a_t, CONFIG_T::a_bits,
                                    CONFIG_T::a_bipolar>(in0.read());
        else
            y = concat_streams_word<CONFIG_T, typename CONFIG_T::b_t, CONFIG_T::b_bits,
                                    CONFIG_T::b_bipolar>(in1.read());
        out.write(y);
        beat = beat == BEATS - 1 ? 0 : beat + 1;
    }
}

} // namespace xnorflow

#endif
