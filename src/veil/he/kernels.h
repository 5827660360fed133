// Element-wise modular kernels on one RNS limb (n values modulo one prime): the pointwise products of
// ciphertext and plaintext multiplication, the tensor product of two ciphertexts, the inner product of key
// switching, and the reductions and scalings of ModUp, ModDown and Rescale. They are the hot loops of
// Multiply, Rescale and every key switch (Relinearize, Rotate), so each has two implementations:
//
//   - portable C++: a 128-bit product reduced with Modulus::ReduceProduct (Barrett with a shifted dividend),
//     sums of products accumulated in 128 bits and reduced once per 2^(63 - bits(q)) - 1 terms;
//   - AVX-512 IFMA, on CPUs that have it (kernels_ifma.cc, dispatched at run time like the NTT), 8 lanes at a
//     time: for primes below 2^50, products as two 52-bit halves (vpmadd52luq / vpmadd52huq) accumulated in
//     64-bit lanes and reduced with a Barrett step in 52-bit arithmetic; for larger primes (the inner
//     product and the reductions: key switching's 60-bit primes), 64-bit Shoup products (high word from
//     52-bit products) and sums of products in three 52-bit columns reduced like ReduceProduct
//     (kernels_ifma.cc derives the bounds).
//
// Both compute exact residues, so they return the same values bit for bit (kernels_test.cc compares them
// with each other and with a schoolbook reference for random and extreme inputs). Inputs must be below q;
// outputs are in [0, q).
//
// Thread safety: pure functions of their arguments.
#ifndef VEIL_HE_KERNELS_H_
#define VEIL_HE_KERNELS_H_

#include <cstddef>
#include <cstdint>
#include <span>

#include "veil/he/modarith.h"
#include "veil/he/ntt.h"

namespace veil::he {

// Whether `backend` (kAuto or kIfma; the same choice as for the NTT) runs MulPointwise and TensorProduct on
// the IFMA kernels for q: the CPU has AVX-512 IFMA and q < 2^50. (The other kernels use them for every q when
// the CPU has IFMA.)
bool KernelsUseIfma(const Modulus& q, NttBackend backend = NttBackend::kAuto);

// out[k] = x[k] + y[k] mod q and out[k] = x[k] - y[k] mod q for k < n (AVX-512 for every q when the CPU has
// IFMA). `out` may be `x` or `y`.
void AddPointwise(const Modulus& q, const uint64_t* x, const uint64_t* y, uint64_t* out, size_t n,
                  NttBackend backend = NttBackend::kAuto);
void SubPointwise(const Modulus& q, const uint64_t* x, const uint64_t* y, uint64_t* out, size_t n,
                  NttBackend backend = NttBackend::kAuto);

// out[k] = x[k] * y[k] mod q for k < n. `out` may be `x` or `y`.
void MulPointwise(const Modulus& q, const uint64_t* x, const uint64_t* y, uint64_t* out, size_t n,
                  NttBackend backend = NttBackend::kAuto);

// acc[k] = acc[k] + x[k] * y[k] mod q for k < n (decryption's c0 + c1 s). IFMA for every q.
void MulAddPointwise(const Modulus& q, const uint64_t* x, const uint64_t* y, uint64_t* acc, size_t n,
                     NttBackend backend = NttBackend::kAuto);

// The tensor product of two 2-part ciphertexts' limbs: d0 = a0 b0, d1 = a0 b1 + a1 b0, d2 = a1 b1 mod q
// (element-wise, n values). Outputs may be inputs (in place: d0 = a0, d1 = a1; squaring: a = b), since each
// index is read before it is written; arrays must not overlap otherwise.
void TensorProduct(const Modulus& q, const uint64_t* a0, const uint64_t* a1, const uint64_t* b0,
                   const uint64_t* b1, uint64_t* d0, uint64_t* d1, uint64_t* d2, size_t n,
                   NttBackend backend = NttBackend::kAuto);

// The key-switching inner product over k = x.size() terms (k >= 1, the same count in b and a):
// out0[c] = sum_j x[j][c] * b[j][c] mod q and out1[c] = sum_j x[j][c] * a[j][c] mod q for c < n. The
// outputs must not overlap the inputs.
void InnerProductPair(const Modulus& q, std::span<const uint64_t* const> x,
                      std::span<const uint64_t* const> b, std::span<const uint64_t* const> a, uint64_t* out0,
                      uint64_t* out1, size_t n, NttBackend backend = NttBackend::kAuto);

// out[c] = x[c] mod q for x[c] < 2^61 (a residue modulo another prime). `out` may be `x`.
void ReduceFrom(const Modulus& q, const uint64_t* x, uint64_t* out, size_t n,
                NttBackend backend = NttBackend::kAuto);

// out[c] = [x[c]]_p mod q, where [x]_p is the centered representative of a residue x < p modulo an odd p
// (x itself if x <= (p - 1) / 2, else x - p), for p < 2^61. `out` may be `x`.
void CenteredFrom(const Modulus& q, uint64_t p, const uint64_t* x, uint64_t* out, size_t n,
                  NttBackend backend = NttBackend::kAuto);

// out[c] = x[c] * w mod q for x[c], w < q (a constant factor). `out` may be `x`.
void MulConstant(const Modulus& q, const uint64_t* x, uint64_t w, uint64_t* out, size_t n,
                 NttBackend backend = NttBackend::kAuto);

// out[c] = (a[c] - t[c]) * w mod q, plus out[c] if `accumulate`, for a[c], t[c], w < q: the last step of
// ModDown and Rescale ((x - [x]_p) / p with w = p^-1). `out` may be `a`.
void SubMulConstant(const Modulus& q, const uint64_t* a, const uint64_t* t, uint64_t w, uint64_t* out,
                    bool accumulate, size_t n, NttBackend backend = NttBackend::kAuto);

namespace internal {

// The IFMA kernels (kernels_ifma.cc). Preconditions: CpuHasIfma(), n a multiple of 8, q < 2^50 for
// MulPointwiseIfma and TensorProductIfma, q >= 2^9 for ReduceFromIfma and CenteredFromIfma.
void AddPointwiseIfma(uint64_t q, const uint64_t* x, const uint64_t* y, uint64_t* out, size_t n);
void SubPointwiseIfma(uint64_t q, const uint64_t* x, const uint64_t* y, uint64_t* out, size_t n);
void MulPointwiseIfma(const Modulus& q, const uint64_t* x, const uint64_t* y, uint64_t* out, size_t n);
void MulAddPointwiseIfma(const Modulus& q, const uint64_t* x, const uint64_t* y, uint64_t* acc, size_t n);
void TensorProductIfma(const Modulus& q, const uint64_t* a0, const uint64_t* a1, const uint64_t* b0,
                       const uint64_t* b1, uint64_t* d0, uint64_t* d1, uint64_t* d2, size_t n);
void InnerProductPairIfma(const Modulus& q, std::span<const uint64_t* const> x,
                          std::span<const uint64_t* const> b, std::span<const uint64_t* const> a,
                          uint64_t* out0, uint64_t* out1, size_t n);
void ReduceFromIfma(const Modulus& q, const uint64_t* x, uint64_t* out, size_t n);
void CenteredFromIfma(const Modulus& q, uint64_t p, const uint64_t* x, uint64_t* out, size_t n);
void MulConstantIfma(const Modulus& q, const uint64_t* x, uint64_t w, uint64_t* out, size_t n);
void SubMulConstantIfma(const Modulus& q, const uint64_t* a, const uint64_t* t, uint64_t w, uint64_t* out,
                        bool accumulate, size_t n);

}  // namespace internal

}  // namespace veil::he

#endif  // VEIL_HE_KERNELS_H_
