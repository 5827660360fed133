// The process-wide CSPRNG and helpers that draw keys and integers from any base::RandomSource.
//
// Privacy-relevant randomness in Veil comes only from here (DESIGN.md section 5.6): SecureRandom() is
// OpenSSL's DRBG (RAND_bytes, NIST SP 800-90A CTR_DRBG seeded from the operating system), and DefaultEnv() is
// the production Env wired to it. Tests inject veil::crypto::testing::DeterministicRandom (library
// veil_crypto_testing) through the same RandomSource interface; production binaries do not link it.
//
// Thread safety: every function here is safe to call from any thread. SecureRandom() and DefaultEnv() return
// objects that are themselves thread-safe and live until the process exits (never destroyed).
#ifndef VEIL_CRYPTO_RANDOM_H_
#define VEIL_CRYPTO_RANDOM_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "veil/base/env.h"
#include "veil/base/random.h"
#include "veil/base/secret_bytes.h"

namespace veil::crypto {

// The process-wide cryptographically secure generator, backed by OpenSSL RAND_bytes. Fill() fails with an
// Internal error if OpenSSL cannot produce randomness (e.g. it cannot seed from the OS); there is never a
// fallback to a weaker source. Safe after fork(): OpenSSL 3 reseeds its DRBGs in the child.
base::RandomSource& SecureRandom();

// The process-wide production Env: real clock, POSIX files, randomness from SecureRandom().
base::Env& DefaultEnv();

// Returns `n` uniformly random bytes from `rng` as key material. Propagates rng's error.
absl::StatusOr<base::SecretBytes> RandomKey(size_t n, base::RandomSource& rng);

// Returns `n` uniformly random bytes from `rng` (for public values such as nonces and salts; use RandomKey
// for anything secret). Propagates rng's error.
absl::StatusOr<std::vector<uint8_t>> RandomBytes(size_t n, base::RandomSource& rng);

// Returns a uniformly random 64-bit integer: 8 bytes from `rng` read as a little-endian number.
// Propagates rng's error.
absl::StatusOr<uint64_t> RandomUint64(base::RandomSource& rng);

// Returns an integer uniformly distributed in [0, bound), with no modulo bias: 64-bit draws below
// 2^64 mod bound are rejected and redrawn (so the accepted range is a multiple of bound), then reduced modulo
// bound. A draw is rejected with probability < 1/2, so the expected number of draws is below 2.
// Errors: InvalidArgument if bound == 0; rng's error is propagated.
absl::StatusOr<uint64_t> UniformUint64(base::RandomSource& rng, uint64_t bound);

}  // namespace veil::crypto

#endif  // VEIL_CRYPTO_RANDOM_H_
