#include "veil/he/modarith.h"

#include <bit>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace veil::he {

absl::StatusOr<Modulus> Modulus::Create(uint64_t q) {
  if (q < 2 || q >= (uint64_t{1} << kMaxModulusBits)) {
    return absl::InvalidArgumentError(
        absl::StrCat("modulus ", q, " is outside [2, 2^", kMaxModulusBits, ")"));
  }
  // floor(2^128 / q) = floor((2^128 - 1) / q) unless q divides 2^128, i.e. q is a power of two.
  const uint128_t all_ones = ~uint128_t{0};
  uint128_t ratio = all_ones / q;
  if (std::has_single_bit(q)) ratio += 1;
  const int bits = std::bit_width(q);
  const uint128_t shifted = ((uint128_t{1} << (bits + 63)) - 1) / q;  // < 2^64: q >= 2^(bits - 1)
  return Modulus(q, bits, static_cast<uint64_t>(ratio), static_cast<uint64_t>(ratio >> 64),
                 static_cast<uint64_t>(shifted));
}

uint64_t PowMod(uint64_t base, uint64_t exponent, const Modulus& q) {
  uint64_t result = 1 % q.value();
  uint64_t b = q.Reduce(base);
  while (exponent != 0) {
    if (exponent & 1) result = q.Mul(result, b);
    b = q.Mul(b, b);
    exponent >>= 1;
  }
  return result;
}

absl::StatusOr<uint64_t> InvertMod(uint64_t a, const Modulus& q) {
  const uint64_t r = q.Reduce(a);
  if (r == 0) return absl::InvalidArgumentError(absl::StrCat("0 has no inverse modulo ", q.value()));
  return PowMod(r, q.value() - 2, q);  // Fermat: q is prime
}

namespace {

uint64_t MulMod64(uint64_t a, uint64_t b, uint64_t n) {
  return static_cast<uint64_t>((static_cast<uint128_t>(a) * b) % n);
}

uint64_t PowMod64(uint64_t b, uint64_t e, uint64_t n) {
  uint64_t r = 1 % n;
  b %= n;
  while (e != 0) {
    if (e & 1) r = MulMod64(r, b, n);
    b = MulMod64(b, b, n);
    e >>= 1;
  }
  return r;
}

}  // namespace

bool IsPrime(uint64_t n) {
  constexpr uint64_t kBases[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
  if (n < 2) return false;
  for (uint64_t p : kBases) {
    if (n % p == 0) return n == p;
  }
  uint64_t d = n - 1;
  int s = 0;
  while ((d & 1) == 0) {
    d >>= 1;
    ++s;
  }
  for (uint64_t a : kBases) {
    uint64_t x = PowMod64(a, d, n);
    if (x == 1 || x == n - 1) continue;
    bool composite = true;
    for (int i = 1; i < s; ++i) {
      x = MulMod64(x, x, n);
      if (x == n - 1) {
        composite = false;
        break;
      }
    }
    if (composite) return false;
  }
  return true;
}

absl::StatusOr<uint64_t> MinimalPrimitiveRoot(uint64_t n, const Modulus& q) {
  const uint64_t two_n = 2 * n;
  if (n == 0 || !std::has_single_bit(n) || (q.value() - 1) % two_n != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("modulus ", q.value(), " is not 1 mod 2N for N = ", n, ": no primitive 2N-th root"));
  }
  // g^((q-1)/2n) has order exactly 2n iff its n-th power is -1 (2n is a power of two).
  const uint64_t cofactor = (q.value() - 1) / two_n;
  uint64_t root = 0;
  for (uint64_t g = 2; g < q.value(); ++g) {
    const uint64_t candidate = PowMod(g, cofactor, q);
    if (PowMod(candidate, n, q) == q.value() - 1) {
      root = candidate;
      break;
    }
  }
  if (root == 0) return absl::InvalidArgumentError(absl::StrCat("no primitive root modulo ", q.value()));
  // The primitive 2n-th roots are root^k for odd k; take the smallest so that the choice is canonical.
  const uint64_t root_squared = q.Mul(root, root);
  uint64_t smallest = root;
  uint64_t current = root;
  for (uint64_t k = 1; k < n; ++k) {
    current = q.Mul(current, root_squared);
    if (current < smallest) smallest = current;
  }
  return smallest;
}

}  // namespace veil::he
