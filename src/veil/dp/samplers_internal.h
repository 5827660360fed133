// Internal to veil_dp_noise: the samplers of samplers.h without argument checks or Status, for the other
// samplers and mechanisms of this module (and their tests). Each function reports failure through
// RandomBits: on false (or a meaningless value), bits.ok() is false and bits.status() says why.
//
// Thread safety: as samplers.h.
#ifndef VEIL_DP_SAMPLERS_INTERNAL_H_
#define VEIL_DP_SAMPLERS_INTERNAL_H_

#include <cstdint>

#include "veil/dp/random_bits.h"

namespace veil::dp::internal {

using u128 = RandomBits::u128;

// Loop caps (see samplers.h for the probabilities of reaching them).
inline constexpr uint32_t kBernoulliExpKCap = 40;
inline constexpr uint32_t kBernoulliExpOneCap = 64;
inline constexpr uint64_t kLaplaceGeometricCap = 64;
inline constexpr int kLaplaceRoundCap = 256;
inline constexpr int kGaussianRoundCap = 512;

// Granularity exponents: scale / g in (2^39, 2^40] (Laplace), sigma / g in (2^19, 2^20] (Gaussian).
inline constexpr int kLaplaceGranularityBits = 40;
inline constexpr int kGaussianGranularityBits = 20;

// Bernoulli(exp(-num/den)) for num <= den, den * kBernoulliExpKCap <= RandomBits::kMaxBernoulliDen.
bool BernoulliExpUnit(RandomBits& bits, u128 num, u128 den);

// Bernoulli(exp(-num/den)) for any num, den * kBernoulliExpKCap <= RandomBits::kMaxBernoulliDen.
bool BernoulliExp(RandomBits& bits, u128 num, u128 den);

// Discrete Laplace with scale t / s (t, s as checked by SampleDiscreteLaplace) into `out`; false on failure.
bool DiscreteLaplace(RandomBits& bits, uint64_t t, uint64_t s, int64_t& out);

// Discrete Gaussian with sigma^2 = a / b (as checked by SampleDiscreteGaussian) into `out`; false on failure.
bool DiscreteGaussian(RandomBits& bits, uint64_t a, uint64_t b, int64_t& out);

// floor(sqrt(n)), exactly.
uint64_t ISqrt(uint64_t n);

}  // namespace veil::dp::internal

#endif  // VEIL_DP_SAMPLERS_INTERNAL_H_
