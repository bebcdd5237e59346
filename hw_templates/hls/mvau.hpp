// xnorflow HLS templates: matrix-vector-activation unit (compile/layers/mvau.py).
//
// Weights W (mh x mw): bits (1 = +1) when w_bits = 1, else signed w_bits-bit integers; SIMD
// weights per ROM word (uint_rom<simd * w_bits>). XNOR mode (BIPOLAR input and weights):
// acc = popcount(XNOR(x, w)). Multiply-accumulate mode (k-bit integer input):
// acc = sum((2w - 1) * x) for binary weights, sum(w * x) for integer weights.
// Then thresholds (out = #{k : acc >= T[o, k]} + act_val) or, with n_thresholds = 0, out = acc.
//
// Folding: PE output rows and SIMD input values per cycle. Row o is computed by PE o % pe in
// neuron fold o / pe; each pixel's input vector is read once (mw / simd words), kept in a
// buffer and reused for the mh / pe neuron folds. Memory layout written by the codegen:
//   weights[p][nf * SF + sf] field j = W[nf * pe + p][sf * simd + j] (w_bits bits)
//   thresholds[p][nf][k]            = T[nf * pe + p][k]
// Cycles per frame: pixels * (mh / pe) * (mw / simd).
#ifndef XNORFLOW_MVAU_HPP
#define XNORFLOW_MVAU_HPP

#include "thresholding.hpp"
#include "xnorflow_types.hpp"

namespace xnorflow {

struct mvau_config {
    static const unsigned pixels = 1;       // input vectors per frame (output pixels of a conv)
    static const unsigned mw = 1;           // matrix width: input values per vector
    static const unsigned mh = 1;           // matrix height: output values per vector
    static const unsigned pe = 1;           // rows per cycle; divides mh
    static const unsigned simd = 1;         // input values per cycle; divides mw
    static const bool xnor = true;          // true: BIPOLAR input bits; false: in_t integers
    static const unsigned in_bits = 1;      // bits of an input value
    static const unsigned w_bits = 1;       // bits of a weight: 1 = binary, more = signed int
    static const unsigned out_bits = 1;     // bits of an output value
    static const unsigned n_thresholds = 1; // 0: no activation (out = acc)
    static const unsigned thr_dim = 1;      // max(n_thresholds, 1): the thresholds' last dim
    static const int act_val = 0;
    typedef ap_uint<1> in_t;   // an input value (ignored in XNOR mode)
    typedef ap_int<16> acc_t;  // holds every accumulator value
    typedef ap_int<16> thr_t;  // holds every threshold
    static const unsigned thr_bits = 16; // thr_t's width: arrays hold int_rom<thr_bits>
    typedef ap_int<9> count_t; // holds 0 .. n_thresholds plus act_val
};

// The SIMD-wide partial sum of one weight word against one input word.
template <class CONFIG_T>
typename CONFIG_T::acc_t mvau_dot(const ap_uint<CONFIG_T::simd * CONFIG_T::in_bits> &x,
                                  const ap_uint<CONFIG_T::simd * CONFIG_T::w_bits> &w) {
#pragma HLS INLINE
    if (CONFIG_T::xnor) {
        ap_uint<CONFIG_T::simd> agree = ~(ap_uint<CONFIG_T::simd>(x) ^ ap_uint<CONFIG_T::simd>(w));
        return popcount<CONFIG_T::simd>(agree);
    }
    typename CONFIG_T::acc_t sum = 0;
Simd_Loop:
    for (unsigned j = 0; j < CONFIG_T::simd; j++) {
#pragma HLS UNROLL
        typename CONFIG_T::in_t v = get_value<typename CONFIG_T::in_t, CONFIG_T::in_bits>(x, j);
        if (CONFIG_T::w_bits > 1)
            sum += v * get_value<ap_int<CONFIG_T::w_bits>, CONFIG_T::w_bits>(w, j);
        else if (w[j])
            sum += v;
        else
            sum -= v;
    }
    return sum;
}

template <class CONFIG_T>
void mvau(hls::stream<ap_uint<CONFIG_T::simd * CONFIG_T::in_bits>> &in,
          hls::stream<ap_uint<CONFIG_T::pe * CONFIG_T::out_bits>> &out,
          const typename uint_rom<CONFIG_T::simd * CONFIG_T::w_bits>::type
              weights[CONFIG_T::pe][(CONFIG_T::mh / CONFIG_T::pe) * (CONFIG_T::mw / CONFIG_T::simd)],
          const typename int_rom<CONFIG_T::thr_bits>::type
              thresholds[CONFIG_T::pe][CONFIG_T::mh / CONFIG_T::pe][CONFIG_T::thr_dim]) {
    static_assert(CONFIG_T::mh % CONFIG_T::pe == 0, "mvau: pe must divide mh");
    static_assert(CONFIG_T::mw % CONFIG_T::simd == 0, "mvau: simd must divide mw");
    static_assert(!CONFIG_T::xnor || (CONFIG_T::in_bits == 1 && CONFIG_T::w_bits == 1),
                  "mvau: XNOR mode takes 1-bit input and weights");
    const unsigned NF = CONFIG_T::mh / CONFIG_T::pe;
    const unsigned SF = CONFIG_T::mw / CONFIG_T::simd;
#pragma HLS ARRAY_PARTITION variable = weights complete dim = 1
#pragma HLS ARRAY_PARTITION variable = thresholds complete dim = 1
#pragma HLS ARRAY_PARTITION variable = thresholds complete dim = 3

    ap_uint<CONFIG_T::simd * CONFIG_T::in_bits> input_buf[SF];
    typename CONFIG_T::acc_t acc[CONFIG_T::pe];
#pragma HLS ARRAY_PARTITION variable = acc complete
    unsigned nf = 0, sf = 0;
Fold_Loop:
    for (unsigned i = 0; i < CONFIG_T::pixels * NF * SF; i++) {
#pragma HLS PIPELINE II = 1
        ap_uint<CONFIG_T::simd * CONFIG_T::in_bits> x;
        if (nf == 0) {
            x = in.read();
            input_buf[sf] = x;
        } else {
            x = input_buf[sf];
        }
    PE_Loop:
        for (unsigned p = 0; p < CONFIG_T::pe; p++) {
#pragma HLS UNROLL
            ap_uint<CONFIG_T::simd * CONFIG_T::w_bits> w = weights[p][nf * SF + sf];
            typename CONFIG_T::acc_t partial = mvau_dot<CONFIG_T>(x, w);
            acc[p] = (sf == 0) ? partial : typename CONFIG_T::acc_t(acc[p] + partial);
        }
        if (sf == SF - 1) {
            ap_uint<CONFIG_T::pe * CONFIG_T::out_bits> y = 0;
        Out_Loop:
            for (unsigned p = 0; p < CONFIG_T::pe; p++) {
#pragma HLS UNROLL
                if (CONFIG_T::n_thresholds == 0) {
                    set_value<CONFIG_T::out_bits>(y, p, acc[p]);
                } else {
                    set_value<CONFIG_T::out_bits>(y, p,
                                                  threshold_count<CONFIG_T>(acc[p], thresholds[p][nf]));
                }
            }
            out.write(y);
            sf = 0;
            nf = (nf == NF - 1) ? 0 : nf + 1;
        } else {
            sf++;
        }
    }
}

} // namespace xnorflow

#endif
