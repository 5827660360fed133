// The AVX-512 IFMA kernels of the negacyclic NTT (see ntt.h; the shared helpers and the rules for target
// attributes are in ifma.h).
//
// Arithmetic: every lane holds a value below 2^52 (4q < 2^52 for q < 2^50). A Shoup product with the 2^52
// quotient w' = floor(w * 2^52 / q) is
//     quot = hi52(x * w'),  r = (lo52(x * w) - lo52(quot * q)) mod 2^52,  r in [0, 2q),
// since x * w - quot * q lies in [0, 2q) (Harvey 2014, section 2, with 2^52 in place of the word size) and is
// therefore equal to its residue mod 2^52.
//
// Stages with a butterfly distance t >= 8 work on whole vectors; the three stages with t = 4, 2, 1 gather the
// butterfly pairs of two adjacent vectors with vpermt2q, and scatter them back the same way.
#include <cstddef>
#include <cstdint>

#include "veil/he/ifma.h"
#include "veil/he/ntt.h"

namespace veil::he::internal {

#ifdef VEIL_HE_HAVE_IFMA_BACKEND

bool CpuHasIfmaUncached() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma");
}

namespace {

struct Consts {
  __m512i q, two_q, mask52;
};

VEIL_IFMA_TARGET inline __m512i MulShoupLazy52(__m512i x, __m512i w, __m512i w52, const Consts& c) {
  const __m512i zero = _mm512_setzero_si512();
  const __m512i quot = _mm512_madd52hi_epu64(zero, x, w52);
  const __m512i prod = _mm512_madd52lo_epu64(zero, x, w);
  const __m512i qq = _mm512_madd52lo_epu64(zero, quot, c.q);
  return _mm512_and_si512(_mm512_sub_epi64(prod, qq), c.mask52);
}

// Cooley-Tukey butterfly: x, y in [0, 4q) -> x + w*y, x - w*y + 2q in [0, 4q).
VEIL_IFMA_TARGET inline void ForwardButterfly(__m512i& x, __m512i& y, __m512i w, __m512i w52,
                                              const Consts& c) {
  const __m512i u = ReduceOnce(x, c.two_q);
  const __m512i v = MulShoupLazy52(y, w, w52, c);
  x = _mm512_add_epi64(u, v);
  y = _mm512_add_epi64(_mm512_sub_epi64(u, v), c.two_q);
}

// Gentleman-Sande butterfly: u, v in [0, 2q) -> u + v, w * (u - v + 2q) in [0, 2q).
VEIL_IFMA_TARGET inline void InverseButterfly(__m512i& x, __m512i& y, __m512i w, __m512i w52,
                                              const Consts& c) {
  const __m512i u = x;
  const __m512i v = y;
  x = ReduceOnce(_mm512_add_epi64(u, v), c.two_q);
  y = MulShoupLazy52(_mm512_add_epi64(_mm512_sub_epi64(u, v), c.two_q), w, w52, c);
}

// Index vectors for a stage with butterfly distance t in {1, 2, 4} over 16 consecutive values (two vectors):
// lane l of X takes position (l / t) * 2t + l % t, lane l of Y the position t further; `back0` / `back1`
// rebuild positions 0..7 / 8..15 from (X, Y); `twiddle` maps lane l to its block l / t.
struct SmallStageIndex {
  alignas(64) int64_t x[8], y[8], back0[8], back1[8], twiddle[8];
};

constexpr SmallStageIndex MakeSmallStageIndex(int t) {
  SmallStageIndex s{};
  for (int l = 0; l < 8; ++l) {
    s.x[l] = (l / t) * 2 * t + l % t;
    s.y[l] = s.x[l] + t;
    s.twiddle[l] = l / t;
  }
  for (int p = 0; p < 16; ++p) {
    const int block = p / (2 * t), off = p % (2 * t);
    const int64_t src = off < t ? block * t + off : 8 + block * t + off - t;
    if (p < 8) {
      s.back0[p] = src;
    } else {
      s.back1[p - 8] = src;
    }
  }
  return s;
}

constexpr SmallStageIndex kSmallStage[3] = {MakeSmallStageIndex(1), MakeSmallStageIndex(2),
                                            MakeSmallStageIndex(4)};

// One stage with distance t in {1, 2, 4}; `m` = n / (2t) is the index of the stage's first twiddle.
template <bool kForward>
VEIL_IFMA_TARGET void SmallStage(uint64_t* a, size_t n, size_t t, const uint64_t* w, const uint64_t* w52,
                                 const Consts& c) {
  const SmallStageIndex& s = kSmallStage[t == 1 ? 0 : (t == 2 ? 1 : 2)];
  const __m512i ix = _mm512_load_si512(s.x), iy = _mm512_load_si512(s.y);
  const __m512i ib0 = _mm512_load_si512(s.back0), ib1 = _mm512_load_si512(s.back1);
  const __m512i itw = _mm512_load_si512(s.twiddle);
  const size_t m = n / (2 * t);
  for (size_t chunk = 0; chunk < n / 16; ++chunk) {
    uint64_t* p = a + 16 * chunk;
    const __m512i v0 = _mm512_loadu_si512(p), v1 = _mm512_loadu_si512(p + 8);
    __m512i x = _mm512_permutex2var_epi64(v0, ix, v1);
    __m512i y = _mm512_permutex2var_epi64(v0, iy, v1);
    const size_t first = m + 8 * chunk / t;  // twiddle of the chunk's first block; 8 loaded stay below n
    const __m512i wv = _mm512_maskz_permutexvar_epi64(0xFF, itw, _mm512_loadu_si512(w + first));
    const __m512i w52v = _mm512_maskz_permutexvar_epi64(0xFF, itw, _mm512_loadu_si512(w52 + first));
    if constexpr (kForward) {
      ForwardButterfly(x, y, wv, w52v, c);
    } else {
      InverseButterfly(x, y, wv, w52v, c);
    }
    _mm512_storeu_si512(p, _mm512_permutex2var_epi64(x, ib0, y));
    _mm512_storeu_si512(p + 8, _mm512_permutex2var_epi64(x, ib1, y));
  }
}

VEIL_IFMA_TARGET Consts MakeConsts(uint64_t q) {
  return Consts{_mm512_set1_epi64(static_cast<long long>(q)),
                _mm512_set1_epi64(static_cast<long long>(2 * q)), _mm512_set1_epi64(kMask52)};
}

}  // namespace

VEIL_IFMA_TARGET void ForwardNttIfma(uint64_t* a, size_t n, uint64_t q, const uint64_t* w,
                                     const uint64_t* w52) {
  const Consts c = MakeConsts(q);
  size_t t = n;
  for (size_t m = 1; t > 8; m <<= 1) {
    t >>= 1;
    for (size_t i = 0; i < m; ++i) {
      const __m512i wv = _mm512_set1_epi64(static_cast<long long>(w[m + i]));
      const __m512i w52v = _mm512_set1_epi64(static_cast<long long>(w52[m + i]));
      uint64_t* x = a + 2 * i * t;
      uint64_t* y = x + t;
      for (size_t j = 0; j < t; j += 8) {
        __m512i xv = _mm512_loadu_si512(x + j), yv = _mm512_loadu_si512(y + j);
        ForwardButterfly(xv, yv, wv, w52v, c);
        _mm512_storeu_si512(x + j, xv);
        _mm512_storeu_si512(y + j, yv);
      }
    }
  }
  SmallStage<true>(a, n, 4, w, w52, c);
  SmallStage<true>(a, n, 2, w, w52, c);
  SmallStage<true>(a, n, 1, w, w52, c);
  for (size_t j = 0; j < n; j += 8) {
    const __m512i v = _mm512_loadu_si512(a + j);
    _mm512_storeu_si512(a + j, ReduceOnce(ReduceOnce(v, c.two_q), c.q));
  }
}

VEIL_IFMA_TARGET void InverseNttIfma(uint64_t* a, size_t n, uint64_t q, const uint64_t* w,
                                     const uint64_t* w52, uint64_t inv_n, uint64_t inv_n_shoup52,
                                     uint64_t inv_n_root, uint64_t inv_n_root_shoup52) {
  const Consts c = MakeConsts(q);
  SmallStage<false>(a, n, 1, w, w52, c);
  SmallStage<false>(a, n, 2, w, w52, c);
  SmallStage<false>(a, n, 4, w, w52, c);
  size_t t = 8;
  for (size_t m = n / 8; m > 2; m >>= 1) {
    const size_t h = m >> 1;
    for (size_t i = 0; i < h; ++i) {
      const __m512i wv = _mm512_set1_epi64(static_cast<long long>(w[h + i]));
      const __m512i w52v = _mm512_set1_epi64(static_cast<long long>(w52[h + i]));
      uint64_t* x = a + 2 * i * t;
      uint64_t* y = x + t;
      for (size_t j = 0; j < t; j += 8) {
        __m512i xv = _mm512_loadu_si512(x + j), yv = _mm512_loadu_si512(y + j);
        InverseButterfly(xv, yv, wv, w52v, c);
        _mm512_storeu_si512(x + j, xv);
        _mm512_storeu_si512(y + j, yv);
      }
    }
    t <<= 1;
  }
  // Last stage with N^-1 folded in (t = n / 2 >= 8).
  const __m512i inv_n_v = _mm512_set1_epi64(static_cast<long long>(inv_n));
  const __m512i inv_n52_v = _mm512_set1_epi64(static_cast<long long>(inv_n_shoup52));
  const __m512i inv_n_root_v = _mm512_set1_epi64(static_cast<long long>(inv_n_root));
  const __m512i inv_n_root52_v = _mm512_set1_epi64(static_cast<long long>(inv_n_root_shoup52));
  uint64_t* x = a;
  uint64_t* y = a + t;
  for (size_t j = 0; j < t; j += 8) {
    const __m512i u = _mm512_loadu_si512(x + j), v = _mm512_loadu_si512(y + j);
    const __m512i s = MulShoupLazy52(_mm512_add_epi64(u, v), inv_n_v, inv_n52_v, c);
    const __m512i d =
        MulShoupLazy52(_mm512_add_epi64(_mm512_sub_epi64(u, v), c.two_q), inv_n_root_v, inv_n_root52_v, c);
    _mm512_storeu_si512(x + j, ReduceOnce(s, c.q));
    _mm512_storeu_si512(y + j, ReduceOnce(d, c.q));
  }
}

#else  // no IFMA backend on this platform

bool CpuHasIfmaUncached() { return false; }
void ForwardNttIfma(uint64_t*, size_t, uint64_t, const uint64_t*, const uint64_t*) {}
void InverseNttIfma(uint64_t*, size_t, uint64_t, const uint64_t*, const uint64_t*, uint64_t, uint64_t,
                    uint64_t, uint64_t) {}

#endif

}  // namespace veil::he::internal
