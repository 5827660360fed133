// The AVX-512 IFMA element-wise kernels (see kernels.h; the shared helpers and the rules for target
// attributes are in ifma.h).
//
// Reduction. For a prime q of b <= 50 bits, a sum V of products of residues is held as two 64-bit lanes,
// hi and lo, with V = hi * 2^52 + lo (vpmadd52huq and vpmadd52luq accumulate the high and low 52-bit halves
// of each product; lo may exceed 2^52). If V < 2^(b + 51), Barrett with a shifted dividend in 52-bit
// arithmetic gives V mod q: with s = b - 1,
//     t = floor(V / 2^s) = hi * 2^(53 - b) + floor(lo / 2^s) < 2^52,
//     mu = floor((2^(s + 52) - 1) / q) >= 2^(s + 52) / q - 1, below 2^52 since q >= 2^s,
//     quot = hi52(t * mu) in (V / q - 2^s / q - V / 2^(s + 52) - 1, V / q], i.e. at most 2 below floor(V /
//     q), r = V - quot * q in [0, 3q), computed modulo 2^52 as (lo - lo52(quot * q)) mod 2^52 (3q < 2^52),
// then two conditional subtractions. A product of two residues is below 2^(2b) <= 2^(b + 51), the tensor
// product's sum of two below 2^(2b + 1) <= 2^(b + 51); the inner product reduces after every
// 2^(51 - b) - 1 terms, carrying the reduced value: (2^(51 - b) - 1) * 2^(2b) + 2^b < 2^(b + 51).
#include <cstddef>
#include <cstdint>
#include <span>

#include "veil/he/ifma.h"
#include "veil/he/kernels.h"

namespace veil::he::internal {

#ifdef VEIL_HE_HAVE_IFMA_BACKEND

namespace {

struct Barrett52 {
  __m512i q, mu, mask52;
  __m128i shift_hi, shift_lo;  // 53 - b and b - 1
};

VEIL_IFMA_TARGET Barrett52 MakeBarrett52(const Modulus& q) {
  const int b = q.bits();
  const uint64_t mu = static_cast<uint64_t>(((uint128_t{1} << (b + 51)) - 1) / q.value());
  return Barrett52{_mm512_set1_epi64(static_cast<long long>(q.value())),
                   _mm512_set1_epi64(static_cast<long long>(mu)), _mm512_set1_epi64(kMask52),
                   _mm_cvtsi32_si128(53 - b), _mm_cvtsi32_si128(b - 1)};
}

// (hi * 2^52 + lo) mod q for a value below 2^(b + 51) (the file comment). maskz_ shifts: see ReduceOnce.
VEIL_IFMA_TARGET inline __m512i Reduce52(__m512i hi, __m512i lo, const Barrett52& c) {
  const __m512i zero = _mm512_setzero_si512();
  const __m512i t = _mm512_add_epi64(_mm512_maskz_sll_epi64(0xFF, hi, c.shift_hi),
                                     _mm512_maskz_srl_epi64(0xFF, lo, c.shift_lo));
  const __m512i quot = _mm512_madd52hi_epu64(zero, t, c.mu);
  const __m512i r = _mm512_and_si512(_mm512_sub_epi64(lo, _mm512_madd52lo_epu64(zero, quot, c.q)), c.mask52);
  return ReduceOnce(ReduceOnce(r, c.q), c.q);
}

VEIL_IFMA_TARGET inline __m512i MulMod52(__m512i x, __m512i y, const Barrett52& c) {
  const __m512i zero = _mm512_setzero_si512();
  return Reduce52(_mm512_madd52hi_epu64(zero, x, y), _mm512_madd52lo_epu64(zero, x, y), c);
}

}  // namespace

VEIL_IFMA_TARGET void MulPointwiseIfma(const Modulus& q, const uint64_t* x, const uint64_t* y, uint64_t* out,
                                       size_t n) {
  const Barrett52 c = MakeBarrett52(q);
  for (size_t k = 0; k < n; k += 8) {
    const __m512i xv = _mm512_loadu_si512(x + k), yv = _mm512_loadu_si512(y + k);
    _mm512_storeu_si512(out + k, MulMod52(xv, yv, c));
  }
}

VEIL_IFMA_TARGET void TensorProductIfma(const Modulus& q, const uint64_t* a0, const uint64_t* a1,
                                        const uint64_t* b0, const uint64_t* b1, uint64_t* d0, uint64_t* d1,
                                        uint64_t* d2, size_t n) {
  const Barrett52 c = MakeBarrett52(q);
  for (size_t k = 0; k < n; k += 8) {
    const __m512i x0 = _mm512_loadu_si512(a0 + k), x1 = _mm512_loadu_si512(a1 + k);
    const __m512i y0 = _mm512_loadu_si512(b0 + k), y1 = _mm512_loadu_si512(b1 + k);
    const __m512i lo = _mm512_madd52lo_epu64(_mm512_madd52lo_epu64(_mm512_setzero_si512(), x0, y1), x1, y0);
    const __m512i hi = _mm512_madd52hi_epu64(_mm512_madd52hi_epu64(_mm512_setzero_si512(), x0, y1), x1, y0);
    _mm512_storeu_si512(d0 + k, MulMod52(x0, y0, c));
    _mm512_storeu_si512(d1 + k, Reduce52(hi, lo, c));
    _mm512_storeu_si512(d2 + k, MulMod52(x1, y1, c));
  }
}

VEIL_IFMA_TARGET void InnerProductPairIfma(const Modulus& q, std::span<const uint64_t* const> x,
                                           std::span<const uint64_t* const> b,
                                           std::span<const uint64_t* const> a, uint64_t* out0, uint64_t* out1,
                                           size_t n) {
  const Barrett52 c = MakeBarrett52(q);
  const size_t k = x.size();
  const size_t per_reduction = (size_t{1} << (51 - q.bits())) - 1;
  for (size_t i = 0; i < n; i += 8) {
    __m512i lo0 = _mm512_setzero_si512(), hi0 = lo0, lo1 = lo0, hi1 = lo0;
    size_t pending = 0;
    for (size_t j = 0; j < k; ++j) {
      const __m512i v = _mm512_loadu_si512(x[j] + i);
      const __m512i bv = _mm512_loadu_si512(b[j] + i), av = _mm512_loadu_si512(a[j] + i);
      lo0 = _mm512_madd52lo_epu64(lo0, v, bv);
      hi0 = _mm512_madd52hi_epu64(hi0, v, bv);
      lo1 = _mm512_madd52lo_epu64(lo1, v, av);
      hi1 = _mm512_madd52hi_epu64(hi1, v, av);
      if (++pending == per_reduction && j + 1 < k) {
        lo0 = Reduce52(hi0, lo0, c);
        lo1 = Reduce52(hi1, lo1, c);
        hi0 = hi1 = _mm512_setzero_si512();
        pending = 0;
      }
    }
    _mm512_storeu_si512(out0 + i, Reduce52(hi0, lo0, c));
    _mm512_storeu_si512(out1 + i, Reduce52(hi1, lo1, c));
  }
}

#else  // no IFMA backend on this platform (KernelsUseIfma is then false)

void MulPointwiseIfma(const Modulus&, const uint64_t*, const uint64_t*, uint64_t*, size_t) {}
void TensorProductIfma(const Modulus&, const uint64_t*, const uint64_t*, const uint64_t*, const uint64_t*,
                       uint64_t*, uint64_t*, uint64_t*, size_t) {}
void InnerProductPairIfma(const Modulus&, std::span<const uint64_t* const>, std::span<const uint64_t* const>,
                          std::span<const uint64_t* const>, uint64_t*, uint64_t*, size_t) {}

#endif

}  // namespace veil::he::internal
