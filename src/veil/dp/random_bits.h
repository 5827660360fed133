// RandomBits: buffered uniform bits for the exact DP samplers (samplers.h, mechanisms.h, selection.h).
//
// A sampler draws many small random quantities (a few bits for a Bernoulli trial, a bounded integer for a
// uniform draw). Asking the CSPRNG for each one would cost far more than the sampling itself, so RandomBits
// draws a large block (kBlockBytes) from a base::RandomSource at a time and hands out its bits. Production code
// wraps veil::crypto::SecureRandom(); tests wrap veil::crypto::testing::DeterministicRandom.
//
//   dp::RandomBits bits(crypto::SecureRandom());
//   VEIL_ASSIGN_OR_RETURN(int64_t noise, dp::SampleDiscreteLaplace(bits, /*scale_num=*/10, /*scale_den=*/1));
//
// Every value handed out is exact: Uniform() has no modulo bias and Bernoulli() has probability exactly
// num/den (it compares a lazily drawn uniform real with num/den, digit by digit, in integer arithmetic).
//
// Failure: if the source fails, the RandomBits becomes permanently failed: that call and every later one
// return the source's error (a partly filled block is never used). Bits already handed out stay valid.
//
// Secrecy: the buffer holds not-yet-used random bits, which determine future noise; it is wiped
// (OPENSSL_cleanse) on destruction. Do not copy a RandomBits (it is move-only): two copies would hand out the
// same bits, i.e. correlated noise.
//
// Thread safety: not thread-safe. Use one RandomBits per thread (or per query); the underlying source may be
// shared if it is itself thread-safe (SecureRandom() is).
#ifndef VEIL_DP_RANDOM_BITS_H_
#define VEIL_DP_RANDOM_BITS_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "veil/base/random.h"

namespace veil::dp {

class RandomBits {
 public:
  // Bytes drawn from the source per refill: one RandomSource::Fill call per kBlockBytes of randomness used.
  static constexpr size_t kBlockBytes = 8192;

  // Wraps `source`, which must outlive this object. Nothing is drawn until the first request.
  explicit RandomBits(base::RandomSource& source);
  ~RandomBits();
  RandomBits(const RandomBits&) = delete;
  RandomBits& operator=(const RandomBits&) = delete;
  RandomBits(RandomBits&& other) noexcept;
  RandomBits& operator=(RandomBits&& other) = delete;

  // 64 uniformly random bits. Errors: the source's error (sticky, see above).
  absl::StatusOr<uint64_t> Next64();

  // An integer uniform in [0, bound), exactly (Lemire's multiply-and-reject method, "Fast Random Integer
  // Generation in an Interval", 2019: one 64-bit word per draw; a draw is rejected with probability
  // (2^64 mod bound) / 2^64 < bound / 2^64). Running time: one word, plus a redraw with that probability; the
  // redraw loop is capped at 128 rounds (reaching the cap has probability below 2^-128 for every bound, as
  // each round is rejected with probability < 1/2), which returns an Internal error.
  // Errors: InvalidArgument if bound == 0; the source's error; Internal at the cap.
  absl::StatusOr<uint64_t> Uniform(uint64_t bound);

  // true with probability exactly num/den. Draws a uniform real U in [0, 1) kDigitBits bits at a time and
  // stops at the first k-bit digit where U's expansion differs from num/den's (computed exactly by long
  // division), so it uses kDigitBits bits except with probability 2^-kDigitBits per extra digit. Running time:
  // a multiply and a compare per digit; at most 16 digits (reaching the 16th has probability < 2^-120; the cap
  // returns an Internal error).
  // Errors: InvalidArgument if den == 0 or num > den; the source's error; Internal at the cap.
  absl::StatusOr<bool> Bernoulli(uint64_t num, uint64_t den);

  // ---- Fast, non-Status interface for the samplers of this module (samplers.cc, selection.cc). ----
  // These never return an error: after a source failure they return zeros and ok() turns false. A caller
  // must check ok() before it uses (or releases) anything computed from the bits of the failed call.

  // Bits of the digit used by Bernoulli / BernoulliFast.
  static constexpr int kDigitBits = 8;

  // `k` uniform bits (1 <= k <= 32) in the low bits of the result. Unused bits of a word are kept for later
  // calls, so small requests cost only the bits they use.
  uint64_t Bits(int k) {
    if (bits_left_ < k) RefillWord();
    const uint64_t out = word_ & ((uint64_t{1} << k) - 1);
    word_ >>= k;
    bits_left_ -= k;
    return out;
  }

  // 64 uniform bits (a fresh word).
  uint64_t Word() {
    if (pos_ == kWords) RefillBlock();
    return block_[pos_++];
  }

  // Whether the source has never failed; status() is its error if it has.
  bool ok() const { return status_.ok(); }
  const absl::Status& status() const { return status_; }

 private:
  static constexpr size_t kWords = kBlockBytes / 8;

  void RefillWord();
  void RefillBlock();

  base::RandomSource* source_;
  absl::Status status_;
  std::array<uint64_t, kWords> block_;
  size_t pos_ = kWords;  // index of the next unused word of block_; kWords means empty
  uint64_t word_ = 0;    // bits not yet used by Bits(), in its low bits_left_ bits
  int bits_left_ = 0;
};

}  // namespace veil::dp

#endif  // VEIL_DP_RANDOM_BITS_H_
