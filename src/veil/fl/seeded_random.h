// TESTS ONLY: a reproducible RandomSource for federated runs that must be repeatable bit for bit (the
// checkpoint/resume test, `veil fl simulate --seed`): HMAC-SHA-256(key = "veil fl test seed v1" || label ||
// seed, counter) blocks. A run seeded with it has no privacy: anyone who knows the seed can redo its draws.
// The CLI accepts a seed only with VEIL_TEST_SEED_OK=1 and never for a site's DP noise (client.h), the
// production paths take crypto::SecureRandom().
//
// Its state (the block counter and the position in the block) is serialized into coordinator checkpoints,
// so that a resumed run continues the same stream.
//
// Thread safety: not thread-safe.
#ifndef VEIL_FL_SEEDED_RANDOM_H_
#define VEIL_FL_SEEDED_RANDOM_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "veil/base/random.h"
#include "veil/crypto/hmac.h"

namespace veil::fl {

class SeededRandom final : public base::RandomSource {
 public:
  // `label` separates the streams of different parties and rounds ("coordinator", "site a round 3").
  SeededRandom(uint64_t seed, std::string_view label);
  absl::Status Fill(std::span<uint8_t> out) override;

  // 16 bytes: counter and position, little-endian.
  std::string SaveState() const;
  // Errors: DataLoss for a state that is not 16 bytes or has a position beyond a block.
  absl::Status RestoreState(std::string_view state);

 private:
  std::string key_;
  uint64_t counter_ = 0;
  crypto::HmacSha256Tag block_{};
  uint64_t used_ = sizeof(crypto::HmacSha256Tag);  // bytes of block_ consumed
};

}  // namespace veil::fl

#endif  // VEIL_FL_SEEDED_RANDOM_H_
