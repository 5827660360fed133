// RandomBits: buffered uniform bits for the exact DP samplers (samplers.h, mechanisms.h, selection.h).
//
// A sampler draws many small random quantities (a few bits for a Bernoulli trial, a bounded integer for a
// uniform draw). Asking the CSPRNG for each one would cost far more than the sampling itself, so RandomBits
// draws a large block (kBlockBytes) from a base::RandomSource at a time and hands out its bits. Production
// code wraps veil::crypto::SecureRandom(); tests wrap veil::crypto::testing::DeterministicRandom.
//
//   dp::RandomBits bits(crypto::SecureRandom());
//   VEIL_ASSIGN_OR_RETURN(int64_t noise, dp::SampleDiscreteLaplace(bits, /*scale_num=*/10, /*scale_den=*/1));
//
// Every value handed out is exact: Uniform() has no modulo bias and Bernoulli() has probability exactly
// num/den (it compares a lazily drawn uniform real with num/den, digit by digit, in integer arithmetic).
//
// Failure: if the source fails, the RandomBits becomes permanently failed: that call and every later one
// return the source's error (a partly filled block is never used, and the source is not asked again). The
// same holds, with an Internal error, when a sampler's loop cap is reached (probability below 2^-80 per
// sample, see samplers.h). Bits already handed out stay valid; use a new RandomBits to continue.
//
// Cost: with SecureRandom() (OpenSSL's CTR_DRBG, AES-256-CTR with AES-NI), 8 KiB requests run at several
// GB/s, against a few MB/s for 8-byte requests (bench/dp_sampler_bench prints both), so the CSPRNG is a few
// percent of a discrete Laplace sample's cost (about 19 bytes per sample).
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
  // each round is rejected with probability < 1/2), which returns an Internal error (sticky, see above).
  // Errors: InvalidArgument if bound == 0; the source's error; Internal at the cap.
  absl::StatusOr<uint64_t> Uniform(uint64_t bound);

  // true with probability exactly num/den. Draws a uniform real U in [0, 1) kDigitBits bits at a time and
  // stops at the first k-bit digit where U's expansion differs from num/den's (computed exactly by long
  // division), so it uses kDigitBits bits except with probability 2^-kDigitBits per extra digit. Running
  // time: a multiply and a compare per digit; at most 16 digits (all 16 undecided has probability <= 2^-128;
  // the cap returns an Internal error, sticky as above).
  // Errors: InvalidArgument if den == 0 or num > den; the source's error; Internal at the cap.
  absl::StatusOr<bool> Bernoulli(uint64_t num, uint64_t den);

  // ---- Fast, non-Status interface for the samplers of this module (samplers.cc, selection.cc). ----
  // These never return an error. After a source failure, or when a loop cap is reached (probability below
  // 2^-120 per call), the object becomes permanently failed: ok() turns false, status() holds the error and
  // every later draw returns zeros. A caller must check ok() before it uses (or releases) anything computed
  // from bits drawn since its last check.

  using u128 = unsigned __int128;

  // Bits of one digit of Bernoulli / BernoulliFast.
  static constexpr int kDigitBits = 8;
  // Largest den accepted by BernoulliFast (so that den * 2^kDigitBits fits in 128 bits).
  static constexpr u128 kMaxBernoulliDen = (u128{1} << (128 - kDigitBits)) - 1;

  // `k` uniform bits (1 <= k <= 32) in the low bits of the result. The unused bits of a word are kept for
  // later calls, so small requests cost only the bits they use.
  uint64_t Bits(int k) {
    if (bits_left_ < k) RefillWord();
    const uint64_t out = word_ & ((uint64_t{1} << k) - 1);
    word_ >>= k;
    bits_left_ -= k;
    return out;
  }

  // 64 uniform bits (a fresh word of the block).
  uint64_t Word() {
    if (pos_ == kWords) RefillBlock();
    return block_[pos_++];
  }

  // true with probability exactly num/den, for 0 <= num <= den, 0 < den <= kMaxBernoulliDen (unchecked).
  // The algorithm of Bernoulli(): compare U = 0.d1 d2 d3... (base 2^kDigitBits digits drawn lazily) with
  // num/den. A digit decides unless it equals num/den's digit (probability <= 2^-kDigitBits), so the expected
  // number of digits is below 1 + 2^-7. Capped at 16 digits (the object fails, see above).
  bool BernoulliFast(u128 num, u128 den) {
    if (num >= den) return true;  // callers pass num <= den; num == den is certain
    for (int digit = 0; digit < 16; ++digit) {
      // U lies in [x / 2^k, (x + 1) / 2^k) within the current digit, compared with num / den scaled by 2^k.
      const u128 x = Bits(kDigitBits);
      const u128 lo = x * den;
      const u128 target = num << kDigitBits;
      if (lo + den <= target) return true;  // U < (x + 1) / 2^k <= num / den
      if (lo >= target) return false;       // U >= x / 2^k >= num / den
      num = target - lo;                    // the next digit compares against the remainder
    }
    Fail("RandomBits: Bernoulli digit cap reached");
    return false;
  }

  // BernoulliFast for den < 2^55 in 64-bit arithmetic (the common case; same digits, same result).
  static constexpr uint64_t kMaxBernoulliDen64 = (uint64_t{1} << 55) - 1;
  bool BernoulliFast64(uint64_t num, uint64_t den) {
    if (num >= den) return true;
    for (int digit = 0; digit < 16; ++digit) {
      const uint64_t x = Bits(kDigitBits);
      const uint64_t lo = x * den;  // < 2^63, and lo + den <= 2^63
      const uint64_t target = num << kDigitBits;
      if (lo + den <= target) return true;
      if (lo >= target) return false;
      num = target - lo;
    }
    Fail("RandomBits: Bernoulli digit cap reached");
    return false;
  }

  // Uniform in [0, bound) for bound >= 1 (unchecked); Lemire's method on one 64-bit word, see Uniform().
  uint64_t UniformFast(uint64_t bound) {
    u128 m = static_cast<u128>(Word()) * bound;
    if (static_cast<uint64_t>(m) < bound) [[unlikely]] {
      return UniformSlow(bound, m);
    }
    return static_cast<uint64_t>(m >> 64);
  }

  // Makes the object permanently failed with an Internal error `what` (a static message; kept if the object
  // has already failed). For samplers whose own loop cap is reached.
  void Fail(const char* what);

  // Whether the object has not failed (source error or cap); status() is the error if it has.
  bool ok() const { return status_.ok(); }
  const absl::Status& status() const { return status_; }

 private:
  static constexpr size_t kWords = kBlockBytes / 8;

  void RefillWord() {
    word_ = Word();
    bits_left_ = 64;
  }
  void RefillBlock();
  uint64_t UniformSlow(uint64_t bound, u128 m);

  base::RandomSource* source_;
  absl::Status status_;
  std::array<uint64_t, kWords> block_;
  size_t pos_ = kWords;  // index of the next unused word of block_; kWords means empty
  uint64_t word_ = 0;    // bits not yet used by Bits(), in its low bits_left_ bits
  int bits_left_ = 0;
};

}  // namespace veil::dp

#endif  // VEIL_DP_RANDOM_BITS_H_
