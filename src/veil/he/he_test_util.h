// Test-only helpers for the he module's tests: primality and big-integer CRT reconstruction through OpenSSL's
// BIGNUM (an independent implementation to check ours against).
#ifndef VEIL_HE_HE_TEST_UTIL_H_
#define VEIL_HE_HE_TEST_UTIL_H_

#include <openssl/bn.h>

#include <algorithm>
#include <complex>
#include <cstdint>
#include <memory>
#include <vector>

#include "veil/base/splitmix.h"

namespace veil::he::testing {

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct BnCtxFree {
  void operator()(BN_CTX* c) const { BN_CTX_free(c); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;
using BnCtx = std::unique_ptr<BN_CTX, BnCtxFree>;

inline Bn NewBn(uint64_t v = 0) {
  Bn b(BN_new());
  BN_set_word(b.get(), v);
  return b;
}

// OpenSSL's probabilistic primality test (error below 2^-128).
inline bool BnIsPrime(uint64_t n) {
  Bn b = NewBn(n);
  BnCtx ctx(BN_CTX_new());
  return BN_check_prime(b.get(), ctx.get(), nullptr) == 1;
}

// The product of `moduli`.
inline Bn BnProduct(const std::vector<uint64_t>& moduli) {
  Bn prod = NewBn(1);
  BnCtx ctx(BN_CTX_new());
  Bn m = NewBn();
  for (uint64_t q : moduli) {
    BN_set_word(m.get(), q);
    BN_mul(prod.get(), prod.get(), m.get(), ctx.get());
  }
  return prod;
}

// The unique x in [0, prod(moduli)) with x = residues[i] mod moduli[i] (CRT, computed with BIGNUM).
inline Bn BnCrt(const std::vector<uint64_t>& residues, const std::vector<uint64_t>& moduli) {
  BnCtx ctx(BN_CTX_new());
  Bn big_q = BnProduct(moduli);
  Bn x = NewBn(0);
  Bn qi = NewBn(), q_hat = NewBn(), inv = NewBn(), term = NewBn(), r = NewBn(), rem = NewBn();
  for (size_t i = 0; i < moduli.size(); ++i) {
    BN_set_word(qi.get(), moduli[i]);
    BN_div(q_hat.get(), rem.get(), big_q.get(), qi.get(), ctx.get());
    BN_mod(rem.get(), q_hat.get(), qi.get(), ctx.get());
    BN_mod_inverse(inv.get(), rem.get(), qi.get(), ctx.get());
    BN_set_word(r.get(), residues[i]);
    BN_mod_mul(term.get(), r.get(), inv.get(), qi.get(), ctx.get());
    BN_mul(term.get(), term.get(), q_hat.get(), ctx.get());
    BN_add(x.get(), x.get(), term.get());
  }
  BN_nnmod(x.get(), x.get(), big_q.get(), ctx.get());
  return x;
}

// x mod m for a BIGNUM x >= 0.
inline uint64_t BnModWord(const BIGNUM* x, uint64_t m) { return BN_mod_word(x, m); }

// Reproducible test data (not privacy randomness).
using TestRng = ::veil::base::SplitMix64;

// `count` slot values from `seed`, real and imaginary parts uniform in [-1, 1) (imaginary parts 0 for
// `real_only`).
inline std::vector<std::complex<double>> RandomSlots(size_t count, uint64_t seed, bool real_only = false) {
  TestRng rng(seed);
  std::vector<std::complex<double>> v(count);
  for (auto& x : v) {
    const double re = static_cast<double>(rng.Next() >> 11) * 0x1p-52 - 1;
    x = {re, real_only ? 0.0 : static_cast<double>(rng.Next() >> 11) * 0x1p-52 - 1};
  }
  return v;
}

// The largest |a[i] - b[i]|.
inline double MaxError(const std::vector<std::complex<double>>& a,
                       const std::vector<std::complex<double>>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

}  // namespace veil::he::testing

#endif  // VEIL_HE_HE_TEST_UTIL_H_
