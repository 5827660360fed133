// RandomSource: where privacy-relevant randomness comes from.
//
// base defines only the interface. Production code obtains the one implementation backed by the operating
// system's CSPRNG through veil::crypto::SecureRandom() (OpenSSL RAND_bytes). A seeded, deterministic
// implementation exists for tests only, in the separate library veil_crypto_testing
// (veil::crypto::testing::DeterministicRandom); the production binaries do not link it, so no production path
// can select it.
#ifndef VEIL_BASE_RANDOM_H_
#define VEIL_BASE_RANDOM_H_

#include <cstdint>
#include <span>

#include "absl/status/status.h"

namespace veil::base {

class RandomSource {
 public:
  virtual ~RandomSource() = default;

  // Fills `out` with uniformly random bytes. Fails only if the source cannot produce randomness (e.g. the
  // OS entropy source is unavailable); callers must not fall back to anything weaker.
  virtual absl::Status Fill(std::span<uint8_t> out) = 0;
};

}  // namespace veil::base

#endif  // VEIL_BASE_RANDOM_H_
