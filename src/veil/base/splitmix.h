// SplitMix64: a small, fast, seeded generator of reproducible pseudo-random numbers.
//
// NOT for privacy randomness. Noise, keys, nonces, salts and anything else an attacker must not predict come
// only from a base::RandomSource (crypto::SecureRandom() in production, DESIGN.md 5.6). SplitMix64 is for
// reproducible DATA: test inputs, benchmark tables, the hard-negative corpus of pii::GenerateHardNegatives.
// Its whole future output follows from one 64-bit state.
//
// Algorithm: Steele, Lea, Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014 (the
// finaliser constants are Stafford's "Mix13" variant, as in java.util.SplittableRandom).
//
// Thread safety: none; one generator per thread.
#ifndef VEIL_BASE_SPLITMIX_H_
#define VEIL_BASE_SPLITMIX_H_

#include <cstdint>

namespace veil::base {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  // The next 64 pseudo-random bits.
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  // A number in [0, n), n > 0. Slightly biased when n is not a power of two (Next() % n), which does not
  // matter for generated data.
  uint64_t Below(uint64_t n) { return Next() % n; }

 private:
  uint64_t state_;
};

}  // namespace veil::base

#endif  // VEIL_BASE_SPLITMIX_H_
