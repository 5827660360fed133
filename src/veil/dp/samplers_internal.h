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

// A positive finite double x = m * 2^e exactly, with m odd (m < 2^53).
struct Dyadic {
  uint64_t m;
  int e;
};
Dyadic ToDyadic(double x);

// ceil(n / 2^shift) for shift >= 0.
u128 CeilShift(u128 n, int shift);

// ceil(log2(x)) for a positive finite double, exactly.
int CeilLog2(double x);

// 2^k as a double (exact for -1074 <= k <= 1023).
double Pow2(int k);

// Floating-point safety margin of the granularity fixed points (mechanisms.cc, selection.cc): (D + g) /
// epsilon is computed with three roundings of at most 2^-53 each, so multiplying by 1 + 2^-50 (itself rounded
// by at most 2^-53) gives a value >= the exact quotient.
inline constexpr double kRoundUp = 1.0 + 0x1p-50;

// n * 2^k as a double: n rounded to the nearest double, times 2^k (rounded again only if the result is
// subnormal or overflows).
double ToDoubleTimesPow2(__int128 n, int k);

// The smallest num / 2^j >= M * 2^E (M > 0) with num <= 2^max_num_bits and j <= max_den_bits, j as large as
// those bounds allow. false if even j = 0 needs a larger num.
bool RoundUpDyadic(u128 M, int E, int max_num_bits, int max_den_bits, uint64_t& num, uint64_t& den);

// A finite v with |v| < 2^100 rounded to the nearest integer, ties to even, exactly.
__int128 RoundToInt(double v);

// The secure Laplace noise of samplers.h for `scale` (checked by the caller): granularity g = 2^k and
// scale / g = num / den exactly.
struct SecureLaplaceParams {
  int k;
  uint64_t num;
  uint64_t den;
};
SecureLaplaceParams LaplaceParams(double scale);

// The secure Gaussian noise of samplers.h for `sigma` (checked by the caller): granularity g = 2^k and the
// sigma used is s16 / 16 * g (sigma / g rounded up to a multiple of 2^-4; s16 <= 2^24), i.e. the discrete
// Gaussian with sigma^2 = s16^2 / 256 in units of g.
struct SecureGaussianParams {
  int k;
  uint64_t s16;
};
SecureGaussianParams GaussianParams(double sigma);

}  // namespace veil::dp::internal

#endif  // VEIL_DP_SAMPLERS_INTERNAL_H_
