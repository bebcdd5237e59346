// xnorflow HLS templates: common types and bit helpers.
//
// Every kernel streams words of packed values: value i of a word sits at bits
// [i*BITS, (i+1)*BITS), element 0 in the least significant bits (compile/stream.py).
// BIPOLAR values travel as one bit (1 = +1). Builds with Vitis HLS and, for C simulation,
// with g++ and the open Xilinx arbitrary-precision headers (ap_int.h, hls_stream.h).
#ifndef XNORFLOW_TYPES_HPP
#define XNORFLOW_TYPES_HPP

#include "ap_int.h"
#include "hls_stream.h"
#include <type_traits>

#if defined(__SYNTHESIS__) || __has_include("ap_axi_sdata.h")
#include "ap_axi_sdata.h"
#define XNORFLOW_HAVE_AP_AXI 1
#endif

namespace xnorflow {

#ifdef XNORFLOW_HAVE_AP_AXI
// Vitis: the AXI4-Stream word with TKEEP/TSTRB/TLAST side channels.
template <int W> using axis_word = ap_axiu<W, 0, 0, 0>;
#else
// C simulation without Vitis: the same members as ap_axiu<W, 0, 0, 0>.
template <int W> struct axis_word {
    ap_uint<W> data;
    ap_uint<(W + 7) / 8> keep;
    ap_uint<(W + 7) / 8> strb;
    ap_uint<1> last;
};
#endif

// Element types of the constant weight and threshold arrays the codegen writes. In synthesis
// exactly the bits needed (ap_uint<N> / ap_int<N> ROM words). In C simulation a built-in
// integer when N <= 64: g++ then initialises the arrays statically, where 10^5 ap_uint
// elements would each need a constructor call and minutes of compile time.
#ifdef __SYNTHESIS__
template <unsigned N> struct uint_rom { typedef ap_uint<N> type; };
template <unsigned N> struct int_rom { typedef ap_int<N> type; };
#else
template <unsigned N> struct uint_rom {
    typedef typename std::conditional<(N <= 64), unsigned long long, ap_uint<N>>::type type;
};
template <unsigned N> struct int_rom {
    typedef typename std::conditional<(N <= 64), long long, ap_int<N>>::type type;
};
#endif

// Bits needed to hold the values 0 .. n (at least 1).
constexpr unsigned bits_for(unsigned long long n) { return n < 2 ? 1 : 1 + bits_for(n >> 1); }

// Whole bytes holding `bits` bits, as bits.
constexpr unsigned byte_padded(unsigned bits) { return (bits + 7) / 8 * 8; }

constexpr unsigned max_u(unsigned a, unsigned b) { return a > b ? a : b; }

// Value i of a packed word, as the element type T (ap_int<B> or ap_uint<B>, B = BITS).
template <class T, unsigned BITS, int W> T get_value(const ap_uint<W> &word, unsigned i) {
#pragma HLS INLINE
    ap_uint<BITS> raw = word.range(i * BITS + BITS - 1, i * BITS);
    return T(raw);
}

// Store v (two's complement, truncated to BITS) as value i of a packed word.
template <unsigned BITS, int W, class T> void set_value(ap_uint<W> &word, unsigned i, T v) {
#pragma HLS INLINE
    word.range(i * BITS + BITS - 1, i * BITS) = ap_uint<BITS>(v);
}

// Number of one bits in the low N bits of x (an adder tree once unrolled).
template <unsigned N> ap_uint<bits_for(N)> popcount(const ap_uint<N> &x) {
#pragma HLS INLINE
    ap_uint<bits_for(N)> count = 0;
Popcount_Loop:
    for (unsigned i = 0; i < N; i++) {
#pragma HLS UNROLL
        count += x[i];
    }
    return count;
}

} // namespace xnorflow

#endif
