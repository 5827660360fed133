#include "veil/he/kernels.h"

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>

namespace veil::he {

namespace {

// Sums of this many products of residues (plus one residue) stay below 2^(bits + 63), the input range of
// ReduceProduct: (2^(63 - b) - 1) * 2^(2b) + 2^b < 2^(b + 63). 7 for a 60-bit prime, 3 for 61 bits.
size_t TermsPerReduction(const Modulus& q) { return (size_t{1} << (63 - q.bits())) - 1; }

void AddPointwisePortable(const Modulus& q, const uint64_t* x, const uint64_t* y, uint64_t* out, size_t n) {
  for (size_t k = 0; k < n; ++k) out[k] = q.Add(x[k], y[k]);
}

void SubPointwisePortable(const Modulus& q, const uint64_t* x, const uint64_t* y, uint64_t* out, size_t n) {
  for (size_t k = 0; k < n; ++k) out[k] = q.Sub(x[k], y[k]);
}

void MulPointwisePortable(const Modulus& q, const uint64_t* x, const uint64_t* y, uint64_t* out, size_t n) {
  for (size_t k = 0; k < n; ++k) out[k] = q.Mul(x[k], y[k]);
}

void MulAddPointwisePortable(const Modulus& q, const uint64_t* x, const uint64_t* y, uint64_t* acc,
                             size_t n) {
  // acc + x y < q + q^2 < 2^(bits + 63).
  for (size_t k = 0; k < n; ++k) acc[k] = q.ReduceProduct(static_cast<uint128_t>(x[k]) * y[k] + acc[k]);
}

void TensorProductPortable(const Modulus& q, const uint64_t* a0, const uint64_t* a1, const uint64_t* b0,
                           const uint64_t* b1, uint64_t* d0, uint64_t* d1, uint64_t* d2, size_t n) {
  for (size_t k = 0; k < n; ++k) {
    const uint64_t x0 = a0[k], x1 = a1[k], y0 = b0[k], y1 = b1[k];
    d0[k] = q.Mul(x0, y0);
    // One reduction of the sum: 2 q^2 < 2^(bits + 63).
    d1[k] = q.ReduceProduct(static_cast<uint128_t>(x0) * y1 + static_cast<uint128_t>(x1) * y0);
    d2[k] = q.Mul(x1, y1);
  }
}

void InnerProductPairPortable(const Modulus& q, std::span<const uint64_t* const> x,
                              std::span<const uint64_t* const> b, std::span<const uint64_t* const> a,
                              uint64_t* out0, uint64_t* out1, size_t begin, size_t end) {
  const size_t k = x.size();
  const size_t per_reduction = TermsPerReduction(q);
  // Blocks of coefficients with the terms in the outer loop: each inner loop streams three arrays, with
  // independent iterations (a coefficient-major loop over k terms waits on k scattered loads per step).
  constexpr size_t kBlock = 256;
  uint128_t s0[kBlock], s1[kBlock];
  for (size_t start = begin; start < end; start += kBlock) {
    const size_t len = std::min(kBlock, end - start);
    for (size_t c = 0; c < len; ++c) s0[c] = s1[c] = 0;
    size_t pending = 0;
    for (size_t j = 0; j < k; ++j) {
      const uint64_t* xj = x[j] + start;
      const uint64_t* bj = b[j] + start;
      const uint64_t* aj = a[j] + start;
      for (size_t c = 0; c < len; ++c) {
        s0[c] += static_cast<uint128_t>(xj[c]) * bj[c];
        s1[c] += static_cast<uint128_t>(xj[c]) * aj[c];
      }
      if (++pending == per_reduction && j + 1 < k) {
        for (size_t c = 0; c < len; ++c) {
          s0[c] = q.ReduceProduct(s0[c]);
          s1[c] = q.ReduceProduct(s1[c]);
        }
        pending = 0;
      }
    }
    for (size_t c = 0; c < len; ++c) {
      out0[start + c] = q.ReduceProduct(s0[c]);
      out1[start + c] = q.ReduceProduct(s1[c]);
    }
  }
}

void ReduceFromPortable(const Modulus& q, const uint64_t* x, uint64_t* out, size_t n) {
  for (size_t c = 0; c < n; ++c) out[c] = q.Reduce(x[c]);
}

void CenteredFromPortable(const Modulus& q, uint64_t p, const uint64_t* x, uint64_t* out, size_t n) {
  const uint64_t half = p / 2, p_mod_q = q.Reduce(p);
  for (size_t c = 0; c < n; ++c) {
    const uint64_t r = q.Reduce(x[c]);
    out[c] = x[c] > half ? q.Sub(r, p_mod_q) : r;
  }
}

void MulConstantPortable(const Modulus& q, const uint64_t* x, uint64_t w, uint64_t* out, size_t n) {
  const uint64_t qv = q.value(), ws = ShoupPrecompute(w, qv);
  for (size_t c = 0; c < n; ++c) out[c] = MulShoup(x[c], w, ws, qv);
}

void SubMulConstantPortable(const Modulus& q, const uint64_t* a, const uint64_t* t, uint64_t w, uint64_t* out,
                            bool accumulate, size_t n) {
  const uint64_t qv = q.value(), ws = ShoupPrecompute(w, qv);
  if (accumulate) {
    for (size_t c = 0; c < n; ++c) out[c] = q.Add(out[c], MulShoup(a[c] + qv - t[c], w, ws, qv));
  } else {
    for (size_t c = 0; c < n; ++c) out[c] = MulShoup(a[c] + qv - t[c], w, ws, qv);
  }
}

bool UseIfma(NttBackend backend) { return backend != NttBackend::kPortable && CpuHasIfma(); }

}  // namespace

bool KernelsUseIfma(const Modulus& q, NttBackend backend) {
  return backend != NttBackend::kPortable && q.value() < (uint64_t{1} << 50) && CpuHasIfma();
}

void AddPointwise(const Modulus& q, const uint64_t* x, const uint64_t* y, uint64_t* out, size_t n,
                  NttBackend backend) {
  size_t done = 0;
  if (UseIfma(backend)) {
    done = n & ~size_t{7};
    internal::AddPointwiseIfma(q.value(), x, y, out, done);
  }
  AddPointwisePortable(q, x + done, y + done, out + done, n - done);
}

void SubPointwise(const Modulus& q, const uint64_t* x, const uint64_t* y, uint64_t* out, size_t n,
                  NttBackend backend) {
  size_t done = 0;
  if (UseIfma(backend)) {
    done = n & ~size_t{7};
    internal::SubPointwiseIfma(q.value(), x, y, out, done);
  }
  SubPointwisePortable(q, x + done, y + done, out + done, n - done);
}

void MulPointwise(const Modulus& q, const uint64_t* x, const uint64_t* y, uint64_t* out, size_t n,
                  NttBackend backend) {
  size_t done = 0;
  if (KernelsUseIfma(q, backend)) {
    done = n & ~size_t{7};
    internal::MulPointwiseIfma(q, x, y, out, done);
  }
  MulPointwisePortable(q, x + done, y + done, out + done, n - done);
}

void MulAddPointwise(const Modulus& q, const uint64_t* x, const uint64_t* y, uint64_t* acc, size_t n,
                     NttBackend backend) {
  size_t done = 0;
  if (UseIfma(backend)) {
    done = n & ~size_t{7};
    internal::MulAddPointwiseIfma(q, x, y, acc, done);
  }
  MulAddPointwisePortable(q, x + done, y + done, acc + done, n - done);
}

void TensorProduct(const Modulus& q, const uint64_t* a0, const uint64_t* a1, const uint64_t* b0,
                   const uint64_t* b1, uint64_t* d0, uint64_t* d1, uint64_t* d2, size_t n,
                   NttBackend backend) {
  size_t done = 0;
  if (KernelsUseIfma(q, backend)) {
    done = n & ~size_t{7};
    internal::TensorProductIfma(q, a0, a1, b0, b1, d0, d1, d2, done);
  }
  TensorProductPortable(q, a0 + done, a1 + done, b0 + done, b1 + done, d0 + done, d1 + done, d2 + done,
                        n - done);
}

void InnerProductPair(const Modulus& q, std::span<const uint64_t* const> x,
                      std::span<const uint64_t* const> b, std::span<const uint64_t* const> a, uint64_t* out0,
                      uint64_t* out1, size_t n, NttBackend backend) {
  assert(!x.empty() && b.size() == x.size() && a.size() == x.size());
  size_t done = 0;
  if (UseIfma(backend)) {
    done = n & ~size_t{7};
    internal::InnerProductPairIfma(q, x, b, a, out0, out1, done);
  }
  InnerProductPairPortable(q, x, b, a, out0, out1, done, n);
}

void ReduceFrom(const Modulus& q, const uint64_t* x, uint64_t* out, size_t n, NttBackend backend) {
  size_t done = 0;
  if (UseIfma(backend) && q.value() >= (uint64_t{1} << 9)) {
    done = n & ~size_t{7};
    internal::ReduceFromIfma(q, x, out, done);
  }
  ReduceFromPortable(q, x + done, out + done, n - done);
}

void CenteredFrom(const Modulus& q, uint64_t p, const uint64_t* x, uint64_t* out, size_t n,
                  NttBackend backend) {
  size_t done = 0;
  if (UseIfma(backend) && q.value() >= (uint64_t{1} << 9)) {
    done = n & ~size_t{7};
    internal::CenteredFromIfma(q, p, x, out, done);
  }
  CenteredFromPortable(q, p, x + done, out + done, n - done);
}

void MulConstant(const Modulus& q, const uint64_t* x, uint64_t w, uint64_t* out, size_t n,
                 NttBackend backend) {
  size_t done = 0;
  if (UseIfma(backend)) {
    done = n & ~size_t{7};
    internal::MulConstantIfma(q, x, w, out, done);
  }
  MulConstantPortable(q, x + done, w, out + done, n - done);
}

void SubMulConstant(const Modulus& q, const uint64_t* a, const uint64_t* t, uint64_t w, uint64_t* out,
                    bool accumulate, size_t n, NttBackend backend) {
  size_t done = 0;
  if (UseIfma(backend)) {
    done = n & ~size_t{7};
    internal::SubMulConstantIfma(q, a, t, w, out, accumulate, done);
  }
  SubMulConstantPortable(q, a + done, t + done, w, out + done, accumulate, n - done);
}

}  // namespace veil::he
