// Sampling for RNS-CKKS: uniform polynomials expanded from a seed, ternary secrets and centered binomial
// errors, all from a base::RandomSource (in production crypto::SecureRandom(); in tests the seeded
// crypto::testing::DeterministicRandom).
//
// Choices (docs/he.md):
//   - Uniform polynomials (the "a" parts of keys and ciphertexts) are expanded from a 32-byte seed with
//     AES-256-CTR (OpenSSL EVP; AES-NI makes it a few GB/s), so that a key or a seeded ciphertext can ship
//     the seed instead of the polynomial. Each limb has its own stream: the 16-byte IV is the 8-byte
//     little-endian `domain` (a caller-chosen label, so that one seed can yield several independent
//     polynomials), the 4-byte little-endian prime index and a 4-byte zero block counter. Values are drawn by
//     rejection: 8 keystream bytes, little-endian, masked to the prime's bit length, kept if below the prime
//     (acceptance >= 1/2). They are read directly as NTT-form values, which is uniform because the NTT is a
//     bijection.
//   - Secrets are ternary, uniform on {-1, 0, 1} (the HE standard's secret distribution for the bound in
//     params.h): one random byte per coefficient, bytes equal to 255 rejected, then (byte mod 3) - 1.
//   - Errors follow the centered binomial distribution with eta = 21: the number of ones among 21 random bits
//     minus the number among 21 others. Its standard deviation is sqrt(21 / 2) = 3.24, just above the
//     standard's 3.2 (a discrete Gaussian there), its support is [-21, 21], and it needs no floating point or
//     tables, so its sampling time does not depend on the values.
//
// Thread safety: the functions are thread-safe if the RandomSource is.
#ifndef VEIL_HE_SAMPLING_H_
#define VEIL_HE_SAMPLING_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/base/random.h"
#include "veil/he/context.h"

namespace veil::he {

inline constexpr size_t kSeedBytes = 32;
using Seed = std::array<uint8_t, kSeedBytes>;

// The centered binomial parameter of the errors (standard deviation sqrt(kErrorEta / 2)).
inline constexpr int kErrorEta = 21;

// Fills limbs 0..out->limbs-1 of `out` (prime indices first_prime, first_prime + 1, ...) with uniform values
// expanded from `seed` as described above; out->ntt_form is set. Errors: Internal if OpenSSL fails.
absl::Status ExpandUniform(const Seed& seed, uint64_t domain, const CkksContext& ctx, size_t first_prime,
                           RnsPoly* out);

// n coefficients uniform on {-1, 0, 1}. The caller wipes the result after use. Propagates rng's error.
absl::StatusOr<std::vector<int64_t>> SampleTernary(size_t n, base::RandomSource& rng);

// n centered binomial coefficients with eta = kErrorEta. Propagates rng's error.
absl::StatusOr<std::vector<int64_t>> SampleCenteredBinomial(size_t n, base::RandomSource& rng);

}  // namespace veil::he

#endif  // VEIL_HE_SAMPLING_H_
