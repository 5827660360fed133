// Internal to the he module: what the AVX-512 IFMA kernels (ntt_ifma.cc, kernels_ifma.cc) share. Only
// functions marked VEIL_IFMA_TARGET use AVX-512 instructions, and they are called only after CpuHasIfma()
// said yes; the rest of the library is compiled for the baseline x86-64 (no global -mavx512 flags).
//
// Arithmetic: every lane holds a value below 2^52. vpmadd52luq / vpmadd52huq add the low / high 52 bits of
// the 104-bit product of two lanes' low 52 bits to a 64-bit accumulator.
#ifndef VEIL_HE_IFMA_H_
#define VEIL_HE_IFMA_H_

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define VEIL_HE_HAVE_IFMA_BACKEND 1
#include <immintrin.h>

#define VEIL_IFMA_TARGET __attribute__((target("avx512f,avx512dq,avx512ifma")))

namespace veil::he::internal {

// x - m if x >= m else x, for x < 2m (unsigned: x - m wraps above x when x < m). The maskz_ forms of the
// intrinsics avoid GCC 12's false maybe-uninitialized warning on the plain ones (_mm512_undefined).
VEIL_IFMA_TARGET inline __m512i ReduceOnce(__m512i x, __m512i m) {
  return _mm512_maskz_min_epu64(0xFF, x, _mm512_sub_epi64(x, m));
}

inline constexpr long long kMask52 = (1LL << 52) - 1;

// hi64(x * y) for any 64-bit lanes x, y. With x = x1 2^52 + x0 and y = y1 2^52 + y0 (x0, y0 < 2^52;
// x1, y1 < 2^12), x y = lo52(x0 y0) + M 2^52 + H 2^104 where M = hi52(x0 y0) + lo52(x0 y1) + lo52(x1 y0)
// and H = hi52(x0 y1) + hi52(x1 y0) + x1 y1; since lo52(x0 y0) < 2^52, floor(x y / 2^64) =
// H 2^40 + floor(M / 2^12).
VEIL_IFMA_TARGET inline __m512i MulHi64(__m512i x, __m512i y) {
  const __m512i zero = _mm512_setzero_si512(), mask52 = _mm512_set1_epi64(kMask52);
  const __m512i x0 = _mm512_and_si512(x, mask52), x1 = _mm512_maskz_srli_epi64(0xFF, x, 52);
  const __m512i y0 = _mm512_and_si512(y, mask52), y1 = _mm512_maskz_srli_epi64(0xFF, y, 52);
  __m512i m = _mm512_madd52hi_epu64(zero, x0, y0);
  m = _mm512_madd52lo_epu64(m, x0, y1);
  m = _mm512_madd52lo_epu64(m, x1, y0);
  __m512i h = _mm512_madd52lo_epu64(zero, x1, y1);
  h = _mm512_madd52hi_epu64(h, x0, y1);
  h = _mm512_madd52hi_epu64(h, x1, y0);
  return _mm512_add_epi64(_mm512_maskz_slli_epi64(0xFF, h, 40), _mm512_maskz_srli_epi64(0xFF, m, 12));
}

// w * x mod q up to q, in [0, 2q), for x < 2^52, w < q < 2^50 and w52 = floor(w * 2^52 / q): Shoup's product
// with 2^52 in place of the word size (Harvey 2014, section 2): x w - hi52(x w52) q lies in [0, 2q) and is
// therefore its own residue mod 2^52.
VEIL_IFMA_TARGET inline __m512i MulShoupLazy52(__m512i x, __m512i w, __m512i w52, __m512i q) {
  const __m512i zero = _mm512_setzero_si512();
  const __m512i quot = _mm512_madd52hi_epu64(zero, x, w52);
  const __m512i diff =
      _mm512_sub_epi64(_mm512_madd52lo_epu64(zero, x, w), _mm512_madd52lo_epu64(zero, quot, q));
  return _mm512_and_si512(diff, _mm512_set1_epi64(kMask52));
}

// w * x mod q up to q, in [0, 2q), for any 64-bit x, w < q < 2^63 and ws = floor(w * 2^64 / q): the portable
// MulShoupLazy (modarith.h), with the low words from vpmullq (AVX-512 DQ).
VEIL_IFMA_TARGET inline __m512i MulShoupLazy64(__m512i x, __m512i w, __m512i ws, __m512i q) {
  return _mm512_sub_epi64(_mm512_mullo_epi64(x, w), _mm512_mullo_epi64(MulHi64(x, ws), q));
}

}  // namespace veil::he::internal

#endif

#endif  // VEIL_HE_IFMA_H_
