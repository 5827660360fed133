// Shamir t-of-n secret sharing (A. Shamir, "How to Share a Secret", CACM 1979) of short byte strings (the
// 32-byte seeds and X25519 private keys of secure aggregation, secagg.h) over the prime field GF(p), p = 2^61
// - 1.
//
// Field choice. The secure-aggregation protocol gives every client's share the x-coordinate (client id + 1),
// and cohorts can exceed 255 clients, which rules out byte-wise GF(2^8) sharing (x must be distinct and
// nonzero, so at most 255 shares). The Mersenne prime 2^61 - 1 allows 2^32 x-coordinates, its reduction is a
// shift and an add after one 64x64->128-bit multiplication (no division), and a 32-byte secret is 5 field
// elements ("limbs": 7 bytes = 56 bits each, the last one 4 bytes), so a share is 8 + 5 * 8 = 48 bytes.
// A 2^127-ish prime would halve the limb count but needs 256-bit products.
//
// Secrecy. Each limb s is the constant term of its own random polynomial f(X) = s + a_1 X + ... +
// a_{t-1} X^{t-1} with a_i uniform in GF(p) drawn from the caller's RandomSource; a share is (x, f(x)) for
// every limb. Any t - 1 shares are uniformly distributed whatever the secret (for every candidate secret
// there is exactly one polynomial of degree < t through it and the t - 1 shares), so they reveal nothing;
// any t shares determine the secret by Lagrange interpolation at 0.
//
// Integrity. Shares carry no MAC: the protocol authenticates them with AEAD (secagg.h). Reconstruct still
// checks what algebra can check: distinct nonzero x, equal lengths, canonical field elements, every share
// beyond the first t lying on the polynomial of the first t ("inconsistent share"), and the interpolated
// limbs fitting in 56 bits (a wrong share of an exactly-t set is detected with probability 1 - 2^-5 per limb,
// i.e. 1 - 2^-25 for a 32-byte secret, through this range check; callers that can, e.g. by comparing a
// reconstructed private key with its advertised public key, should check the result as well).
//
// Thread safety: pure functions; thread-safe if the RandomSource is.
#ifndef VEIL_FL_SHAMIR_H_
#define VEIL_FL_SHAMIR_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/base/random.h"
#include "veil/base/secret_bytes.h"

namespace veil::fl {

// The field modulus 2^61 - 1.
inline constexpr uint64_t kShamirPrime = (uint64_t{1} << 61) - 1;
// Bytes of secret per field element.
inline constexpr size_t kShamirLimbBytes = 7;
// Longest secret accepted (bytes).
inline constexpr size_t kShamirMaxSecretBytes = 256;
// Largest threshold / share count accepted.
inline constexpr uint32_t kShamirMaxShares = 1u << 20;

// Number of field elements per share for a secret of `secret_bytes` bytes.
inline constexpr size_t ShamirLimbs(size_t secret_bytes) {
  return (secret_bytes + kShamirLimbBytes - 1) / kShamirLimbBytes;
}
// Serialized size of one share (see ShamirShare::y).
inline constexpr size_t ShamirShareBytes(size_t secret_bytes) { return 8 * ShamirLimbs(secret_bytes); }

// One share: the x-coordinate and the values f_i(x) of the limb polynomials, each as 8 little-endian bytes
// (a canonical element, < 2^61 - 1). The values are secret (t of them give the secret) and are wiped.
struct ShamirShare {
  uint32_t x = 0;
  base::SecretBytes y;
};

// Splits `secret` (1 to kShamirMaxSecretBytes bytes) into one share per x in `xs`, any `threshold` of which
// reconstruct it. Coefficients are drawn from `rng` (use crypto::SecureRandom() in production).
// Errors: InvalidArgument if secret is empty or too long, threshold is 0 or above xs.size(), xs has more
// than kShamirMaxShares entries, or an x is 0 or repeated; rng's error is propagated.
absl::StatusOr<std::vector<ShamirShare>> ShamirSplit(std::span<const uint8_t> secret, uint32_t threshold,
                                                     std::span<const uint32_t> xs, base::RandomSource& rng);

// Reconstructs a secret of `secret_bytes` bytes from at least `threshold` shares (in any order), checking all
// of them as described in the header comment.
// Errors: FailedPrecondition("... fewer than threshold shares") if shares.size() < threshold; InvalidArgument
// if threshold is 0 or secret_bytes is out of range, or a share has x = 0, a repeated x ("duplicate share"),
// or the wrong length; DataLoss if a value is not a canonical field element, a share beyond the first
// `threshold` is not on their polynomial ("inconsistent share at x = ..."), or the result is out of range.
absl::StatusOr<base::SecretBytes> ShamirReconstruct(std::span<const ShamirShare> shares, uint32_t threshold,
                                                    size_t secret_bytes);

namespace internal {
// Field arithmetic mod 2^61 - 1 on canonical elements (exposed for tests).
uint64_t FieldMul(uint64_t a, uint64_t b);
uint64_t FieldAdd(uint64_t a, uint64_t b);
uint64_t FieldSub(uint64_t a, uint64_t b);
// a^(p-2); a must be nonzero.
uint64_t FieldInv(uint64_t a);
// The value at `z` of the polynomial of degree < xs.size() through the points (x_i, y_i) (distinct x_i),
// by barycentric Lagrange interpolation (O(n^2)).
uint64_t Interpolate(std::span<const uint64_t> xs, std::span<const uint64_t> ys, uint64_t z);
}  // namespace internal

}  // namespace veil::fl

#endif  // VEIL_FL_SHAMIR_H_
