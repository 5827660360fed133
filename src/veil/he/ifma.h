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

}  // namespace veil::he::internal

#endif

#endif  // VEIL_HE_IFMA_H_
