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
//
// Wide primes (50 < b <= 61; the inner product only, for the 60-bit first and special primes of key
// switching). Operands are split as x = x0 + x1 2^52 (x0 < 2^52, x1 < 2^9), and a sum of products is held in
// three columns, V = c0 + c1 2^52 + c2 2^104:
//     x y = lo52(x0 y0) + (hi52(x0 y0) + lo52(x0 y1) + lo52(x1 y0)) 2^52 + (hi52(x0 y1) + hi52(x1 y0) + x1
//     y1) 2^104.
// After the column carries, V = lo + hi 2^64 with lo = c0 + (c1 mod 2^12) 2^52 and hi = c1 / 2^12 + c2 2^40,
// and V is reduced exactly as Modulus::ReduceProduct does (the same bound V < 2^(b + 63), the same
// floor(V / 2^(b - 1)), ratio and error), with the high product from ifma.h's MulHi64 and the low ones from
// vpmullq. The sums are reduced every 2^(63 - b) - 1 terms, as in the portable code.
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

struct BarrettWide {
  __m512i q, mu, mask52;
  __m128i shift_hi, shift_lo;  // 65 - b and b - 1
};

VEIL_IFMA_TARGET BarrettWide MakeBarrettWide(const Modulus& q) {
  return BarrettWide{_mm512_set1_epi64(static_cast<long long>(q.value())),
                     _mm512_set1_epi64(static_cast<long long>(q.barrett_shifted())),
                     _mm512_set1_epi64(kMask52), _mm_cvtsi32_si128(65 - q.bits()),
                     _mm_cvtsi32_si128(q.bits() - 1)};
}

// (c0 + c1 2^52 + c2 2^104) mod q for a value below 2^(b + 63) (the file comment).
VEIL_IFMA_TARGET inline __m512i ReduceColumns(__m512i c0, __m512i c1, __m512i c2, const BarrettWide& c) {
  c1 = _mm512_add_epi64(c1, _mm512_maskz_srli_epi64(0xFF, c0, 52));
  c0 = _mm512_and_si512(c0, c.mask52);
  c2 = _mm512_add_epi64(c2, _mm512_maskz_srli_epi64(0xFF, c1, 52));
  c1 = _mm512_and_si512(c1, c.mask52);
  const __m512i lo = _mm512_or_si512(c0, _mm512_maskz_slli_epi64(0xFF, c1, 52));
  const __m512i hi =
      _mm512_add_epi64(_mm512_maskz_srli_epi64(0xFF, c1, 12), _mm512_maskz_slli_epi64(0xFF, c2, 40));
  const __m512i t = _mm512_or_si512(_mm512_maskz_sll_epi64(0xFF, hi, c.shift_hi),
                                    _mm512_maskz_srl_epi64(0xFF, lo, c.shift_lo));
  const __m512i r = _mm512_sub_epi64(lo, _mm512_mullo_epi64(MulHi64(t, c.mu), c.q));
  return ReduceOnce(ReduceOnce(r, c.q), c.q);
}

// Adds x y to the columns (x = x0 + x1 2^52, y = y0 + y1 2^52).
VEIL_IFMA_TARGET inline void AddProductColumns(__m512i x0, __m512i x1, __m512i y0, __m512i y1, __m512i& c0,
                                               __m512i& c1, __m512i& c2) {
  c0 = _mm512_madd52lo_epu64(c0, x0, y0);
  c1 = _mm512_madd52hi_epu64(c1, x0, y0);
  c1 = _mm512_madd52lo_epu64(c1, x0, y1);
  c1 = _mm512_madd52lo_epu64(c1, x1, y0);
  c2 = _mm512_madd52hi_epu64(c2, x0, y1);
  c2 = _mm512_madd52hi_epu64(c2, x1, y0);
  c2 = _mm512_madd52lo_epu64(c2, x1, y1);
}

VEIL_IFMA_TARGET inline __m512i MulMod52(__m512i x, __m512i y, const Barrett52& c) {
  const __m512i zero = _mm512_setzero_si512();
  return Reduce52(_mm512_madd52hi_epu64(zero, x, y), _mm512_madd52lo_epu64(zero, x, y), c);
}

}  // namespace

VEIL_IFMA_TARGET void AddPointwiseIfma(uint64_t q, const uint64_t* x, const uint64_t* y, uint64_t* out,
                                       size_t n) {
  const __m512i qq = _mm512_set1_epi64(static_cast<long long>(q));
  for (size_t k = 0; k < n; k += 8) {
    const __m512i s = _mm512_add_epi64(_mm512_loadu_si512(x + k), _mm512_loadu_si512(y + k));
    _mm512_storeu_si512(out + k, ReduceOnce(s, qq));
  }
}

VEIL_IFMA_TARGET void SubPointwiseIfma(uint64_t q, const uint64_t* x, const uint64_t* y, uint64_t* out,
                                       size_t n) {
  const __m512i qq = _mm512_set1_epi64(static_cast<long long>(q));
  for (size_t k = 0; k < n; k += 8) {
    const __m512i d =
        _mm512_add_epi64(_mm512_sub_epi64(_mm512_loadu_si512(x + k), _mm512_loadu_si512(y + k)), qq);
    _mm512_storeu_si512(out + k, ReduceOnce(d, qq));
  }
}

VEIL_IFMA_TARGET void MulPointwiseIfma(const Modulus& q, const uint64_t* x, const uint64_t* y, uint64_t* out,
                                       size_t n) {
  const Barrett52 c = MakeBarrett52(q);
  for (size_t k = 0; k < n; k += 8) {
    const __m512i xv = _mm512_loadu_si512(x + k), yv = _mm512_loadu_si512(y + k);
    _mm512_storeu_si512(out + k, MulMod52(xv, yv, c));
  }
}

VEIL_IFMA_TARGET void MulAddPointwiseIfma(const Modulus& q, const uint64_t* x, const uint64_t* y,
                                          uint64_t* acc, size_t n) {
  if (q.value() >= (uint64_t{1} << 50)) {
    const BarrettWide c = MakeBarrettWide(q);
    for (size_t k = 0; k < n; k += 8) {
      const __m512i a = _mm512_loadu_si512(acc + k);
      const __m512i xv = _mm512_loadu_si512(x + k), yv = _mm512_loadu_si512(y + k);
      __m512i c0 = _mm512_and_si512(a, c.mask52), c1 = _mm512_maskz_srli_epi64(0xFF, a, 52),
              c2 = _mm512_setzero_si512();
      AddProductColumns(_mm512_and_si512(xv, c.mask52), _mm512_maskz_srli_epi64(0xFF, xv, 52),
                        _mm512_and_si512(yv, c.mask52), _mm512_maskz_srli_epi64(0xFF, yv, 52), c0, c1, c2);
      _mm512_storeu_si512(acc + k, ReduceColumns(c0, c1, c2, c));  // q + q^2 < 2^(b + 63)
    }
    return;
  }
  const Barrett52 c = MakeBarrett52(q);
  for (size_t k = 0; k < n; k += 8) {
    const __m512i xv = _mm512_loadu_si512(x + k), yv = _mm512_loadu_si512(y + k);
    // acc + x y < q + q^2 < 2^(b + 51), acc in the low column.
    const __m512i lo = _mm512_madd52lo_epu64(_mm512_loadu_si512(acc + k), xv, yv);
    const __m512i hi = _mm512_madd52hi_epu64(_mm512_setzero_si512(), xv, yv);
    _mm512_storeu_si512(acc + k, Reduce52(hi, lo, c));
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

namespace {

VEIL_IFMA_TARGET void InnerProductPairWide(const Modulus& q, std::span<const uint64_t* const> x,
                                           std::span<const uint64_t* const> b,
                                           std::span<const uint64_t* const> a, uint64_t* out0, uint64_t* out1,
                                           size_t n) {
  const BarrettWide c = MakeBarrettWide(q);
  const size_t k = x.size();
  const size_t per_reduction = (size_t{1} << (63 - q.bits())) - 1;
  const __m512i zero = _mm512_setzero_si512();
  for (size_t i = 0; i < n; i += 8) {
    __m512i s0 = zero, s1 = zero, s2 = zero, t0 = zero, t1 = zero, t2 = zero;  // columns of out0, out1
    size_t pending = 0;
    for (size_t j = 0; j < k; ++j) {
      const __m512i v = _mm512_loadu_si512(x[j] + i);
      const __m512i bv = _mm512_loadu_si512(b[j] + i), av = _mm512_loadu_si512(a[j] + i);
      const __m512i v0 = _mm512_and_si512(v, c.mask52), v1 = _mm512_maskz_srli_epi64(0xFF, v, 52);
      AddProductColumns(v0, v1, _mm512_and_si512(bv, c.mask52), _mm512_maskz_srli_epi64(0xFF, bv, 52), s0, s1,
                        s2);
      AddProductColumns(v0, v1, _mm512_and_si512(av, c.mask52), _mm512_maskz_srli_epi64(0xFF, av, 52), t0, t1,
                        t2);
      if (++pending == per_reduction && j + 1 < k) {
        const __m512i r0 = ReduceColumns(s0, s1, s2, c), r1 = ReduceColumns(t0, t1, t2, c);
        s0 = _mm512_and_si512(r0, c.mask52);
        s1 = _mm512_maskz_srli_epi64(0xFF, r0, 52);
        t0 = _mm512_and_si512(r1, c.mask52);
        t1 = _mm512_maskz_srli_epi64(0xFF, r1, 52);
        s2 = t2 = zero;
        pending = 0;
      }
    }
    _mm512_storeu_si512(out0 + i, ReduceColumns(s0, s1, s2, c));
    _mm512_storeu_si512(out1 + i, ReduceColumns(t0, t1, t2, c));
  }
}

}  // namespace

VEIL_IFMA_TARGET void InnerProductPairIfma(const Modulus& q, std::span<const uint64_t* const> x,
                                           std::span<const uint64_t* const> b,
                                           std::span<const uint64_t* const> a, uint64_t* out0, uint64_t* out1,
                                           size_t n) {
  if (q.value() >= (uint64_t{1} << 50)) {
    InnerProductPairWide(q, x, b, a, out0, out1, n);
    return;
  }
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

namespace {

// x mod q for x < 2^61 (narrow: q >= 2^9, so that x < 2^(b + 51); wide: x < 2^(b + 63)).
VEIL_IFMA_TARGET inline __m512i ReduceWord(__m512i x, bool wide, const Barrett52& narrow_c,
                                           const BarrettWide& wide_c) {
  if (wide) {
    return ReduceColumns(_mm512_and_si512(x, wide_c.mask52), _mm512_maskz_srli_epi64(0xFF, x, 52),
                         _mm512_setzero_si512(), wide_c);
  }
  return Reduce52(_mm512_setzero_si512(), x, narrow_c);  // V = x: lo may use all 64 bits
}

}  // namespace

VEIL_IFMA_TARGET void ReduceFromIfma(const Modulus& q, const uint64_t* x, uint64_t* out, size_t n) {
  const bool wide = q.value() >= (uint64_t{1} << 50);
  const Barrett52 nc = MakeBarrett52(q);
  const BarrettWide wc = MakeBarrettWide(q);
  for (size_t c = 0; c < n; c += 8) {
    _mm512_storeu_si512(out + c, ReduceWord(_mm512_loadu_si512(x + c), wide, nc, wc));
  }
}

VEIL_IFMA_TARGET void CenteredFromIfma(const Modulus& q, uint64_t p, const uint64_t* x, uint64_t* out,
                                       size_t n) {
  const bool wide = q.value() >= (uint64_t{1} << 50);
  const Barrett52 nc = MakeBarrett52(q);
  const BarrettWide wc = MakeBarrettWide(q);
  const __m512i half = _mm512_set1_epi64(static_cast<long long>(p / 2));
  // r + q - (p mod q) in [0, 2q): r - p modulo q.
  const __m512i q_minus_p = _mm512_set1_epi64(static_cast<long long>(q.value() - q.Reduce(p)));
  for (size_t c = 0; c < n; c += 8) {
    const __m512i v = _mm512_loadu_si512(x + c);
    const __m512i r = ReduceWord(v, wide, nc, wc);
    const __m512i shifted = ReduceOnce(_mm512_add_epi64(r, q_minus_p), nc.q);
    _mm512_storeu_si512(out + c, _mm512_mask_blend_epi64(_mm512_cmpgt_epu64_mask(v, half), r, shifted));
  }
}

VEIL_IFMA_TARGET void MulConstantIfma(const Modulus& q, const uint64_t* x, uint64_t w, uint64_t* out,
                                      size_t n) {
  const uint64_t qv = q.value();
  const bool wide = qv >= (uint64_t{1} << 50);
  const __m512i qq = _mm512_set1_epi64(static_cast<long long>(qv));
  const __m512i wv = _mm512_set1_epi64(static_cast<long long>(w));
  const __m512i ws =
      _mm512_set1_epi64(static_cast<long long>(wide ? ShoupPrecompute(w, qv) : ShoupPrecompute52(w, qv)));
  for (size_t c = 0; c < n; c += 8) {
    const __m512i v = _mm512_loadu_si512(x + c);
    _mm512_storeu_si512(out + c,
                        ReduceOnce(wide ? MulShoupLazy64(v, wv, ws, qq) : MulShoupLazy52(v, wv, ws, qq), qq));
  }
}

VEIL_IFMA_TARGET void SubMulConstantIfma(const Modulus& q, const uint64_t* a, const uint64_t* t, uint64_t w,
                                         uint64_t* out, bool accumulate, size_t n) {
  const uint64_t qv = q.value();
  const bool wide = qv >= (uint64_t{1} << 50);
  const __m512i qq = _mm512_set1_epi64(static_cast<long long>(qv));
  const __m512i wv = _mm512_set1_epi64(static_cast<long long>(w));
  const __m512i ws =
      _mm512_set1_epi64(static_cast<long long>(wide ? ShoupPrecompute(w, qv) : ShoupPrecompute52(w, qv)));
  for (size_t c = 0; c < n; c += 8) {
    // a - t + q in (0, 2q): below 2^52 for a narrow q.
    const __m512i v =
        _mm512_add_epi64(_mm512_sub_epi64(_mm512_loadu_si512(a + c), _mm512_loadu_si512(t + c)), qq);
    __m512i r = ReduceOnce(wide ? MulShoupLazy64(v, wv, ws, qq) : MulShoupLazy52(v, wv, ws, qq), qq);
    if (accumulate) r = ReduceOnce(_mm512_add_epi64(r, _mm512_loadu_si512(out + c)), qq);
    _mm512_storeu_si512(out + c, r);
  }
}

#else  // no IFMA backend on this platform (KernelsUseIfma is then false)

void AddPointwiseIfma(uint64_t, const uint64_t*, const uint64_t*, uint64_t*, size_t) {}
void SubPointwiseIfma(uint64_t, const uint64_t*, const uint64_t*, uint64_t*, size_t) {}
void MulPointwiseIfma(const Modulus&, const uint64_t*, const uint64_t*, uint64_t*, size_t) {}
void MulAddPointwiseIfma(const Modulus&, const uint64_t*, const uint64_t*, uint64_t*, size_t) {}
void TensorProductIfma(const Modulus&, const uint64_t*, const uint64_t*, const uint64_t*, const uint64_t*,
                       uint64_t*, uint64_t*, uint64_t*, size_t) {}
void InnerProductPairIfma(const Modulus&, std::span<const uint64_t* const>, std::span<const uint64_t* const>,
                          std::span<const uint64_t* const>, uint64_t*, uint64_t*, size_t) {}
void ReduceFromIfma(const Modulus&, const uint64_t*, uint64_t*, size_t) {}
void CenteredFromIfma(const Modulus&, uint64_t, const uint64_t*, uint64_t*, size_t) {}
void MulConstantIfma(const Modulus&, const uint64_t*, uint64_t, uint64_t*, size_t) {}
void SubMulConstantIfma(const Modulus&, const uint64_t*, const uint64_t*, uint64_t, uint64_t*, bool, size_t) {
}

#endif

}  // namespace veil::he::internal
