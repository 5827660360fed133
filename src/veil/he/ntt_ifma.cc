// The AVX-512 IFMA kernels of the negacyclic NTT (see ntt.h; the shared helpers and the rules for target
// attributes are in ifma.h). Two variants of the same code, chosen by the template parameter kWide:
//
// Narrow (q < 2^50): every lane holds a value below 2^52 (4q < 2^52). A Shoup product with the 2^52 quotient
// w' = floor(w * 2^52 / q) is
//     quot = hi52(x * w'),  r = (lo52(x * w) - lo52(quot * q)) mod 2^52,  r in [0, 2q),
// since x * w - quot * q lies in [0, 2q) (Harvey 2014, section 2, with 2^52 in place of the word size) and is
// therefore equal to its residue mod 2^52.
//
// Wide (2^50 <= q < 2^61, e.g. the 60-bit first and special primes): lanes hold values below 4q < 2^63 and
// the Shoup product is the portable one, with the 2^64 quotient w' = floor(w * 2^64 / q):
//     quot = hi64(x * w'),  r = (x * w - quot * q) mod 2^64,  r in [0, 2q).
// The low words come from vpmullq (AVX-512 DQ); hi64 from four 52-bit IFMA products (ifma.h, MulHi64). Both
// variants compute the portable code's exact values stage by stage (the narrow one up to the lazy
// representatives, which the final reduction removes), so the outputs are identical.
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
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512ifma");
}

namespace {

struct Consts {
  __m512i q, two_q;
};

// w * x mod q up to q (in [0, 2q)), for a twiddle w and its Shoup quotient w' (narrow: 2^52; wide: 2^64).
template <bool kWide>
VEIL_IFMA_TARGET inline __m512i MulShoupLazy(__m512i x, __m512i w, __m512i w_shoup, const Consts& c) {
  if constexpr (kWide) {
    return MulShoupLazy64(x, w, w_shoup, c.q);
  } else {
    return MulShoupLazy52(x, w, w_shoup, c.q);
  }
}

// Cooley-Tukey butterfly: x, y in [0, 4q) -> x + w*y, x - w*y + 2q in [0, 4q).
template <bool kWide>
VEIL_IFMA_TARGET inline void ForwardButterfly(__m512i& x, __m512i& y, __m512i w, __m512i w_shoup,
                                              const Consts& c) {
  const __m512i u = ReduceOnce(x, c.two_q);
  const __m512i v = MulShoupLazy<kWide>(y, w, w_shoup, c);
  x = _mm512_add_epi64(u, v);
  y = _mm512_add_epi64(_mm512_sub_epi64(u, v), c.two_q);
}

// Gentleman-Sande butterfly: u, v in [0, 2q) -> u + v, w * (u - v + 2q) in [0, 2q).
template <bool kWide>
VEIL_IFMA_TARGET inline void InverseButterfly(__m512i& x, __m512i& y, __m512i w, __m512i w_shoup,
                                              const Consts& c) {
  const __m512i u = x;
  const __m512i v = y;
  x = ReduceOnce(_mm512_add_epi64(u, v), c.two_q);
  y = MulShoupLazy<kWide>(_mm512_add_epi64(_mm512_sub_epi64(u, v), c.two_q), w, w_shoup, c);
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
template <bool kForward, bool kWide>
VEIL_IFMA_TARGET void SmallStage(uint64_t* a, size_t n, size_t t, const uint64_t* w, const uint64_t* ws,
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
    const __m512i wsv = _mm512_maskz_permutexvar_epi64(0xFF, itw, _mm512_loadu_si512(ws + first));
    if constexpr (kForward) {
      ForwardButterfly<kWide>(x, y, wv, wsv, c);
    } else {
      InverseButterfly<kWide>(x, y, wv, wsv, c);
    }
    _mm512_storeu_si512(p, _mm512_permutex2var_epi64(x, ib0, y));
    _mm512_storeu_si512(p + 8, _mm512_permutex2var_epi64(x, ib1, y));
  }
}

VEIL_IFMA_TARGET Consts MakeConsts(uint64_t q) {
  return Consts{_mm512_set1_epi64(static_cast<long long>(q)),
                _mm512_set1_epi64(static_cast<long long>(2 * q))};
}

template <bool kWide>
VEIL_IFMA_TARGET void Forward(uint64_t* a, size_t n, uint64_t q, const uint64_t* w, const uint64_t* ws) {
  const Consts c = MakeConsts(q);
  size_t t = n;
  for (size_t m = 1; t > 8; m <<= 1) {
    t >>= 1;
    for (size_t i = 0; i < m; ++i) {
      const __m512i wv = _mm512_set1_epi64(static_cast<long long>(w[m + i]));
      const __m512i wsv = _mm512_set1_epi64(static_cast<long long>(ws[m + i]));
      uint64_t* x = a + 2 * i * t;
      uint64_t* y = x + t;
      for (size_t j = 0; j < t; j += 8) {
        __m512i xv = _mm512_loadu_si512(x + j), yv = _mm512_loadu_si512(y + j);
        ForwardButterfly<kWide>(xv, yv, wv, wsv, c);
        _mm512_storeu_si512(x + j, xv);
        _mm512_storeu_si512(y + j, yv);
      }
    }
  }
  SmallStage<true, kWide>(a, n, 4, w, ws, c);
  SmallStage<true, kWide>(a, n, 2, w, ws, c);
  SmallStage<true, kWide>(a, n, 1, w, ws, c);
  for (size_t j = 0; j < n; j += 8) {
    const __m512i v = _mm512_loadu_si512(a + j);
    _mm512_storeu_si512(a + j, ReduceOnce(ReduceOnce(v, c.two_q), c.q));
  }
}

template <bool kWide>
VEIL_IFMA_TARGET void Inverse(uint64_t* a, size_t n, uint64_t q, const uint64_t* w, const uint64_t* ws,
                              uint64_t inv_n, uint64_t inv_n_shoup, uint64_t inv_n_root,
                              uint64_t inv_n_root_shoup) {
  const Consts c = MakeConsts(q);
  SmallStage<false, kWide>(a, n, 1, w, ws, c);
  SmallStage<false, kWide>(a, n, 2, w, ws, c);
  SmallStage<false, kWide>(a, n, 4, w, ws, c);
  size_t t = 8;
  for (size_t m = n / 8; m > 2; m >>= 1) {
    const size_t h = m >> 1;
    for (size_t i = 0; i < h; ++i) {
      const __m512i wv = _mm512_set1_epi64(static_cast<long long>(w[h + i]));
      const __m512i wsv = _mm512_set1_epi64(static_cast<long long>(ws[h + i]));
      uint64_t* x = a + 2 * i * t;
      uint64_t* y = x + t;
      for (size_t j = 0; j < t; j += 8) {
        __m512i xv = _mm512_loadu_si512(x + j), yv = _mm512_loadu_si512(y + j);
        InverseButterfly<kWide>(xv, yv, wv, wsv, c);
        _mm512_storeu_si512(x + j, xv);
        _mm512_storeu_si512(y + j, yv);
      }
    }
    t <<= 1;
  }
  // Last stage with N^-1 folded in (t = n / 2 >= 8).
  const __m512i inv_n_v = _mm512_set1_epi64(static_cast<long long>(inv_n));
  const __m512i inv_ns_v = _mm512_set1_epi64(static_cast<long long>(inv_n_shoup));
  const __m512i inv_n_root_v = _mm512_set1_epi64(static_cast<long long>(inv_n_root));
  const __m512i inv_n_roots_v = _mm512_set1_epi64(static_cast<long long>(inv_n_root_shoup));
  uint64_t* x = a;
  uint64_t* y = a + t;
  for (size_t j = 0; j < t; j += 8) {
    const __m512i u = _mm512_loadu_si512(x + j), v = _mm512_loadu_si512(y + j);
    const __m512i s = MulShoupLazy<kWide>(_mm512_add_epi64(u, v), inv_n_v, inv_ns_v, c);
    const __m512i d = MulShoupLazy<kWide>(_mm512_add_epi64(_mm512_sub_epi64(u, v), c.two_q), inv_n_root_v,
                                          inv_n_roots_v, c);
    _mm512_storeu_si512(x + j, ReduceOnce(s, c.q));
    _mm512_storeu_si512(y + j, ReduceOnce(d, c.q));
  }
}

}  // namespace

VEIL_IFMA_TARGET void ForwardNttIfma(uint64_t* values, size_t n, uint64_t q, const uint64_t* root_powers,
                                     const uint64_t* root_powers_shoup, bool wide) {
  if (wide) {
    Forward<true>(values, n, q, root_powers, root_powers_shoup);
  } else {
    Forward<false>(values, n, q, root_powers, root_powers_shoup);
  }
}

VEIL_IFMA_TARGET void InverseNttIfma(uint64_t* values, size_t n, uint64_t q, const uint64_t* inv_root_powers,
                                     const uint64_t* inv_root_powers_shoup, uint64_t inv_n,
                                     uint64_t inv_n_shoup, uint64_t inv_n_root, uint64_t inv_n_root_shoup,
                                     bool wide) {
  if (wide) {
    Inverse<true>(values, n, q, inv_root_powers, inv_root_powers_shoup, inv_n, inv_n_shoup, inv_n_root,
                  inv_n_root_shoup);
  } else {
    Inverse<false>(values, n, q, inv_root_powers, inv_root_powers_shoup, inv_n, inv_n_shoup, inv_n_root,
                   inv_n_root_shoup);
  }
}

#else  // no IFMA backend on this platform

bool CpuHasIfmaUncached() { return false; }
void ForwardNttIfma(uint64_t*, size_t, uint64_t, const uint64_t*, const uint64_t*, bool) {}
void InverseNttIfma(uint64_t*, size_t, uint64_t, const uint64_t*, const uint64_t*, uint64_t, uint64_t,
                    uint64_t, uint64_t, bool) {}

#endif

}  // namespace veil::he::internal
