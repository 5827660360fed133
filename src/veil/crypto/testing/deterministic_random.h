// TEST-ONLY. A seeded, reproducible base::RandomSource for unit tests, statistical tests with fixed seeds and
// golden outputs. It lives in the separate library veil_crypto_testing, which only test binaries link;
// production code obtains randomness from veil::crypto::SecureRandom() and cannot select this generator
// (DESIGN.md section 5.6).
//
// The generator is HMAC_DRBG with SHA-256 (NIST SP 800-90A Rev. 1, section 10.1.2), without prediction
// resistance and without reseeding, so its output is checked against NIST's CAVP known answers. Its output is
// only as unpredictable as its seed: a test seed is public, so nothing drawn from it is secret.
//
// Stream definition (stable across Veil versions, so golden values stay valid):
//   - Each Fill(out) with out.size() <= kMaxRequest is exactly one HMAC_DRBG Generate call (no additional
//     input) producing out.size() bytes; larger fills are split into consecutive Generate calls of
//     kMaxRequest bytes followed by one for the remainder. Fill of an empty span does nothing.
//   - Note that the stream depends on how requests are sized: Fill(16) differs from two Fill(8).
#ifndef VEIL_CRYPTO_TESTING_DETERMINISTIC_RANDOM_H_
#define VEIL_CRYPTO_TESTING_DETERMINISTIC_RANDOM_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "veil/base/random.h"
#include "veil/crypto/hmac.h"

namespace veil::crypto::testing {

class DeterministicRandom final : public base::RandomSource {
 public:
  // SP 800-90A max_number_of_bits_per_request for HMAC_DRBG: 2^19 bits.
  static constexpr size_t kMaxRequest = (size_t{1} << 19) / 8;
  // SP 800-90A reseed_interval for HMAC_DRBG: 2^48 Generate calls, after which Fill fails.
  static constexpr uint64_t kReseedInterval = uint64_t{1} << 48;

  // HMAC_DRBG_Instantiate (section 10.1.2.3) with seed_material = entropy_input || nonce ||
  // personalization_string. The inputs are copied; no minimum lengths are enforced (this is a test tool,
  // not an entropy source).
  DeterministicRandom(std::span<const uint8_t> entropy_input, std::span<const uint8_t> nonce,
                      std::span<const uint8_t> personalization_string = {});

  // Convenience for tests: instantiates with entropy_input = the 8 bytes of `seed` in big-endian order,
  // an empty nonce, and personalization_string = "veil::crypto::testing::DeterministicRandom".
  explicit DeterministicRandom(uint64_t seed);

  DeterministicRandom(const DeterministicRandom&) = delete;
  DeterministicRandom& operator=(const DeterministicRandom&) = delete;
  ~DeterministicRandom() override;

  // Fills `out` with the next bytes of the stream (see the stream definition above).
  // Errors: FailedPrecondition once kReseedInterval Generate calls have been made (never in practice).
  // Thread-safe (calls are serialised), but the stream is only reproducible if the order of calls is.
  absl::Status Fill(std::span<uint8_t> out) override;

 private:
  // HMAC_DRBG_Update (section 10.1.2.2).
  void Update(std::span<const uint8_t> provided_data) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // HMAC_DRBG_Generate (section 10.1.2.5) without additional input; out.size() <= kMaxRequest.
  absl::Status Generate(std::span<uint8_t> out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::array<uint8_t, 32> key_ ABSL_GUARDED_BY(mu_);  // K
  std::array<uint8_t, 32> v_ ABSL_GUARDED_BY(mu_);    // V
  // Always keyed with key_, so that the HMAC context is built once rather than on every key change.
  HmacSha256Hasher mac_ ABSL_GUARDED_BY(mu_);
  uint64_t reseed_counter_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace veil::crypto::testing

#endif  // VEIL_CRYPTO_TESTING_DETERMINISTIC_RANDOM_H_
