// Word-size modular arithmetic for RNS-CKKS: a prime modulus q < 2^61 with its precomputed Barrett constant,
// Barrett reduction of 64- and 128-bit values, Shoup multiplication by a fixed operand, modular
// exponentiation and inversion, a deterministic primality test, and primitive 2N-th roots of unity.
//
// References:
//   - P. Barrett, "Implementing the Rivest Shamir and Adleman public key encryption algorithm on a standard
//     digital signal processor", CRYPTO 1986 (reduction with a precomputed floor(2^128 / q)).
//     The products of residues use a variant with a shifted operand (the dividend's top 64 bits times a
//     64-bit ratio; see Modulus::ReduceProduct), one high multiplication instead of three.
//   - V. Shoup, NTL (MulModPrecon), and D. Harvey, "Faster arithmetic for number-theoretic transforms",
//     J. Symbolic Computation 60 (2014), section 2: for a fixed w < q and w' = floor(w * 2^64 / q), the value
//     w * x - floor(w' * x / 2^64) * q lies in [0, 2q) for every x < 2^64.
//
// Every function is a pure function of its arguments (thread-safe). No function here is constant-time in its
// operands except where stated: the branches are on public values or are data-independent conditional
// subtractions that the compiler turns into cmov on x86-64; secret-dependent timing is reviewed at the scheme
// level (docs/he.md).
#ifndef VEIL_HE_MODARITH_H_
#define VEIL_HE_MODARITH_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"

namespace veil::he {

// Moduli are below 2^61 so that lazy values in [0, 4q) fit a 64-bit word with a bit to spare (Harvey's NTT).
inline constexpr int kMaxModulusBits = 61;

using uint128_t = unsigned __int128;

// A prime modulus q (2 <= q < 2^61) with the Barrett constants floor(2^128 / q) (split into two words) and
// floor((2^(b + 63) - 1) / q) for the b = bits() of q. Cheap to copy. Construct with Modulus::Create, which
// validates q.
class Modulus {
 public:
  // Errors: InvalidArgument naming q if q < 2 or q >= 2^61. (Primality is not checked here; see IsPrime.)
  static absl::StatusOr<Modulus> Create(uint64_t q);

  uint64_t value() const { return q_; }
  // Number of significant bits of q.
  int bits() const { return bits_; }
  // floor(2^128 / q) as {low, high} words.
  uint64_t barrett_lo() const { return ratio_lo_; }
  uint64_t barrett_hi() const { return ratio_hi_; }

  // x mod q for any 64-bit x (Barrett with the high word of the ratio; one conditional subtraction).
  uint64_t Reduce(uint64_t x) const {
    const uint64_t quotient = static_cast<uint64_t>((static_cast<uint128_t>(x) * ratio_hi_) >> 64);
    uint64_t r = x - quotient * q_;
    return r >= q_ ? r - q_ : r;
  }

  // x mod q for a 128-bit x < q * 2^64 (so that the quotient fits a word), e.g. the product of two values
  // below q (Barrett, HAC 14.42 with b = 2^64).
  uint64_t Reduce128(uint128_t x) const {
    const uint64_t x_lo = static_cast<uint64_t>(x);
    const uint64_t x_hi = static_cast<uint64_t>(x >> 64);
    // floor(x * ratio / 2^128), approximated from the three partial products that reach the high words.
    const uint128_t lo_lo_hi = (static_cast<uint128_t>(x_lo) * ratio_lo_) >> 64;
    const uint128_t mid1 = static_cast<uint128_t>(x_lo) * ratio_hi_;
    const uint128_t mid2 = static_cast<uint128_t>(x_hi) * ratio_lo_;
    const uint128_t mid = lo_lo_hi + static_cast<uint64_t>(mid1) + static_cast<uint64_t>(mid2);
    const uint64_t quotient = x_hi * ratio_hi_ + static_cast<uint64_t>(mid1 >> 64) +
                              static_cast<uint64_t>(mid2 >> 64) + static_cast<uint64_t>(mid >> 64);
    uint64_t r = x_lo - quotient * q_;
    // The estimate is at most 2 below the true quotient (three truncations), so r < 3q.
    r = r >= q_ ? r - q_ : r;
    return r >= q_ ? r - q_ : r;
  }

  // x mod q for a 128-bit x < 2^(bits() + 63): a product of two residues, or a sum of up to 2^(63 - bits())
  // - 1 such products plus a residue (8 products for a 60-bit q, 4 for 61 bits).
  // Barrett with a shifted dividend: with b = bits() and s = b - 1, t = floor(x / 2^s) < 2^64 and
  // mu = floor((2^(s + 64) - 1) / q) >= 2^(s + 64) / q - 1 (below 2^64 since q >= 2^s), t * mu / 2^64 lies in
  // (x / q - 2^s / q - x / 2^(s + 64), x / q], where both subtracted terms are at most 1 and the second below
  // 1: the estimate floor(t * mu / 2^64) is at most 2 below the quotient, and x - estimate * q is below
  // 3q < 2^63. One high and one low multiplication, against Reduce128's three high and one low.
  uint64_t ReduceProduct(uint128_t x) const {
    const uint64_t top = static_cast<uint64_t>(x >> shift_);
    const uint64_t quotient = static_cast<uint64_t>((static_cast<uint128_t>(top) * ratio_shifted_) >> 64);
    uint64_t r = static_cast<uint64_t>(x) - quotient * q_;  // exact modulo 2^64, and the value is below 3q
    r = r >= q_ ? r - q_ : r;
    return r >= q_ ? r - q_ : r;
  }
  // floor((2^(bits() + 63) - 1) / q), the ratio of ReduceProduct.
  uint64_t barrett_shifted() const { return ratio_shifted_; }

  // a * b mod q for a, b < q.
  uint64_t Mul(uint64_t a, uint64_t b) const { return ReduceProduct(static_cast<uint128_t>(a) * b); }
  uint64_t Add(uint64_t a, uint64_t b) const {
    const uint64_t s = a + b;
    return s >= q_ ? s - q_ : s;
  }
  uint64_t Sub(uint64_t a, uint64_t b) const { return a >= b ? a - b : a + q_ - b; }
  uint64_t Neg(uint64_t a) const { return a == 0 ? 0 : q_ - a; }

 private:
  Modulus(uint64_t q, int bits, uint64_t lo, uint64_t hi, uint64_t shifted)
      : q_(q), bits_(bits), shift_(bits - 1), ratio_lo_(lo), ratio_hi_(hi), ratio_shifted_(shifted) {}

  uint64_t q_;
  int bits_;
  int shift_;  // bits - 1
  uint64_t ratio_lo_;
  uint64_t ratio_hi_;
  uint64_t ratio_shifted_;
};

// Shoup's precomputed quotient floor(w * 2^64 / q) for w < q.
inline uint64_t ShoupPrecompute(uint64_t w, uint64_t q) {
  return static_cast<uint64_t>((static_cast<uint128_t>(w) << 64) / q);
}

// w * x mod q up to one multiple of q: the result is in [0, 2q) for every x < 2^64 (Harvey 2014, section 2).
// `w_shoup` = ShoupPrecompute(w, q), w < q < 2^63.
inline uint64_t MulShoupLazy(uint64_t x, uint64_t w, uint64_t w_shoup, uint64_t q) {
  const uint64_t quotient = static_cast<uint64_t>((static_cast<uint128_t>(x) * w_shoup) >> 64);
  return x * w - quotient * q;  // exact modulo 2^64, and the true value is below 2q < 2^64
}

// w * x mod q in [0, q) for every x < 2^64.
inline uint64_t MulShoup(uint64_t x, uint64_t w, uint64_t w_shoup, uint64_t q) {
  const uint64_t r = MulShoupLazy(x, w, w_shoup, q);
  return r >= q ? r - q : r;
}

// base^exponent mod q.
uint64_t PowMod(uint64_t base, uint64_t exponent, const Modulus& q);

// The inverse of a modulo the prime q. Errors: InvalidArgument if a mod q == 0.
absl::StatusOr<uint64_t> InvertMod(uint64_t a, const Modulus& q);

// Deterministic Miller-Rabin for all 64-bit n (the first twelve primes as bases suffice below 3.3 * 10^24,
// Sorenson and Webster 2015).
bool IsPrime(uint64_t n);

// The smallest primitive 2n-th root of unity modulo the prime q (an element psi with psi^n = -1 mod q), which
// exists iff q = 1 mod 2n. n must be a power of two >= 1.
// Errors: InvalidArgument if q is not 1 mod 2n (naming q and n).
absl::StatusOr<uint64_t> MinimalPrimitiveRoot(uint64_t n, const Modulus& q);

}  // namespace veil::he

#endif  // VEIL_HE_MODARITH_H_
