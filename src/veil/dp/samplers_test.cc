#include "veil/dp/samplers.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "veil/base/test_util.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/dp/samplers_internal.h"
#include "veil/dp/stat_test_util.h"

namespace veil::dp {
namespace {

using crypto::testing::DeterministicRandom;
using testing::Bin;
using testing::Count;
using testing::MakeBins;
using testing::Moments;

using base::testing::FailingRandom;

// ---------------------------------------------------------------------------------------------------------
// Bernoulli(exp(-gamma))

TEST(SampleBernoulliExpTest, Frequencies) {
  // 200,000 trials per gamma; the count is Binomial(n, exp(-gamma)), and |count - n p| <= 5 sqrt(n p (1-p))
  // fails for a correct sampler with probability < 6e-7 per case. gamma spans the K-loop (<= 1) and the
  // exp(-1)-trials (> 1) branches.
  DeterministicRandom rng(101);
  RandomBits bits(rng);
  const std::vector<std::pair<uint64_t, uint64_t>> cases = {{1, 10}, {1, 3}, {1, 2},      {1, 1},      {3, 2},
                                                            {5, 2},  {7, 1}, {999, 1000}, {1001, 1000}};
  constexpr int kN = 200'000;
  for (const auto& [num, den] : cases) {
    int64_t count = 0;
    for (int i = 0; i < kN; ++i) {
      absl::StatusOr<bool> b = SampleBernoulliExp(bits, num, den);
      ASSERT_TRUE(b.ok()) << b.status();
      count += *b;
    }
    const double p = std::exp(-static_cast<double>(num) / static_cast<double>(den));
    EXPECT_NEAR(count, kN * p, 5 * std::sqrt(kN * p * (1 - p))) << num << "/" << den;
  }
}

TEST(SampleBernoulliExpTest, Extremes) {
  DeterministicRandom rng(102);
  RandomBits bits(rng);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_TRUE(*SampleBernoulliExp(bits, 0, 1));  // exp(0) = 1
    EXPECT_TRUE(*SampleBernoulliExp(bits, 0, UINT64_MAX));
    // exp(-2^-64): false with probability 5e-20.
    EXPECT_TRUE(*SampleBernoulliExp(bits, 1, UINT64_MAX));
    // exp(-(2^64 - 1)): the first failed exp(-1) trial decides (each succeeds with probability 1/e).
    absl::StatusOr<bool> b = SampleBernoulliExp(bits, UINT64_MAX, 1);
    ASSERT_TRUE(b.ok());
    EXPECT_FALSE(*b);
  }
  EXPECT_EQ(SampleBernoulliExp(bits, 1, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------------------
// Discrete Laplace

struct LaplaceCase {
  uint64_t num, den;
  int64_t width;  // bin width
  int df;
  double critical;  // chi-square upper quantile at 1e-4 with df degrees of freedom
};

TEST(SampleDiscreteLaplaceTest, ChiSquareAgainstExactPmf) {
  // 200,000 draws per scale against P(x) = (1-q)/(1+q) q^|x|, q = exp(-den/num), binned as described in
  // stat_test_util.h. The (df, critical value at significance 1e-4) pairs are:
  //   t = 1/2: df 9, 33.7199;   t = 1: df 17, 47.5664;   t = 7/2: df 51, 97.3371;
  //   t = 10: df 125, 192.5113; t = 1000/3 (bins of 25): df 159, 234.0128.
  const std::vector<LaplaceCase> cases = {{1, 2, 1, 9, 33.7199},
                                          {1, 1, 1, 17, 47.5664},
                                          {7, 2, 1, 51, 97.3371},
                                          {10, 1, 1, 125, 192.5113},
                                          {1000, 3, 25, 159, 234.0128}};
  DeterministicRandom rng(201);
  RandomBits bits(rng);
  constexpr int64_t kN = 200'000;
  for (const LaplaceCase& c : cases) {
    const long double t = static_cast<long double>(c.num) / c.den;
    std::vector<Bin> bins = MakeBins(testing::DiscreteLaplaceRange(t), c.width, kN);
    ASSERT_EQ(static_cast<int>(bins.size()) - 1, c.df) << c.num << "/" << c.den;
    for (int64_t i = 0; i < kN; ++i) {
      absl::StatusOr<int64_t> x = SampleDiscreteLaplace(bits, c.num, c.den);
      ASSERT_TRUE(x.ok()) << x.status();
      Count(bins, *x);
    }
    EXPECT_LT(testing::ChiSquareStatistic(bins), c.critical) << "scale " << c.num << "/" << c.den << "\n"
                                                             << testing::Describe(bins);
  }
}

// The requirement: sampler variances within 1% of theory over 1e6 draws. The sample variance s^2 of
// n draws has standard error sigma^2 sqrt((kurtosis - 1) / n) (kurtosis = E[X^4] / sigma^4, computed exactly
// below), about 0.0022 sigma^2 for the (discrete) Laplace's kurtosis ~6 and 0.0014 sigma^2 for the Gaussian's
// ~3. The test asserts that 1% is at least 4 standard errors (so a correct sampler passes except with
// probability < 7e-5; 1% is 4.2 to 4.5 of them for the Laplace cases, 7 for the Gaussian ones) and then that
// |s^2 / sigma^2 - 1| <= 1%; the mean must be within 5 standard errors of 0.
void CheckMoments(const Moments& m, long double variance, long double fourth_moment,
                  const std::string& what) {
  const long double n = static_cast<long double>(m.n);
  const long double se = std::sqrt((fourth_moment / (variance * variance) - 1) / n);
  ASSERT_LE(4 * se, 0.01L) << what << ": 1e6 draws cannot resolve 1%";
  EXPECT_NEAR(static_cast<double>(m.Variance() / variance), 1.0, 0.01) << what;
  EXPECT_NEAR(static_cast<double>(m.mean), 0.0, static_cast<double>(5 * std::sqrt(variance / n))) << what;
}

TEST(SampleDiscreteLaplaceTest, VarianceWithinOnePercentOverAMillionDraws) {
  DeterministicRandom rng(202);
  RandomBits bits(rng);
  for (const auto& [num, den] : std::vector<std::pair<uint64_t, uint64_t>>{{1, 1}, {1000, 3}}) {
    const long double t = static_cast<long double>(num) / den;
    const long double q = std::exp(-1 / t);
    const long double c = (1 - q) / (1 + q);
    // Var = 2q / (1-q)^2; E[X^4] = 2 c sum_{k>=1} k^4 q^k, summed until the terms vanish.
    const long double variance = 2 * q / ((1 - q) * (1 - q));
    long double fourth = 0;
    for (int64_t k = 1; k < 200 * static_cast<int64_t>(t) + 200; ++k) {
      fourth += 2 * c * std::pow(static_cast<long double>(k), 4) * std::pow(q, static_cast<long double>(k));
    }
    Moments m;
    for (int i = 0; i < 1'000'000; ++i) {
      absl::StatusOr<int64_t> x = SampleDiscreteLaplace(bits, num, den);
      ASSERT_TRUE(x.ok());
      m.Add(static_cast<long double>(*x));
    }
    CheckMoments(m, variance, fourth, "discrete Laplace " + std::to_string(num) + "/" + std::to_string(den));
  }
}

TEST(SampleDiscreteLaplaceTest, RejectsParametersOutOfRange) {
  DeterministicRandom rng(203);
  RandomBits bits(rng);
  const uint64_t big = kMaxLaplaceScaleTerm;
  for (const auto& [num, den] : std::vector<std::pair<uint64_t, uint64_t>>{
           {0, 1}, {1, 0}, {big + 1, 1}, {1, big + 1}, {kMaxLaplaceScale + 1, 1}, {big, 16}}) {
    EXPECT_EQ(SampleDiscreteLaplace(bits, num, den).status().code(), absl::StatusCode::kInvalidArgument)
        << num << "/" << den;
  }
  // The edges of the range are accepted.
  EXPECT_TRUE(SampleDiscreteLaplace(bits, kMaxLaplaceScale, 1).ok());
  EXPECT_TRUE(SampleDiscreteLaplace(bits, big, big).ok());
  EXPECT_TRUE(SampleDiscreteLaplace(bits, 1, big).ok());
  // A huge scale produces values of that order, without overflow.
  int64_t max_abs = 0;
  for (int i = 0; i < 100; ++i)
    max_abs = std::max(max_abs, std::abs(*SampleDiscreteLaplace(bits, big, 1 << 14)));
  EXPECT_GT(max_abs, int64_t{1} << 46);
  EXPECT_LT(max_abs, int64_t{1} << 55);
  for (double s : {0.0, -1.0, std::nan(""), std::numeric_limits<double>::infinity(), 0x1p-63, 0x1p48 * 1.5}) {
    EXPECT_EQ(SampleDiscreteLaplaceWithScale(bits, s).status().code(), absl::StatusCode::kInvalidArgument)
        << s;
  }
}

TEST(SampleDiscreteLaplaceTest, DoubleScaleIsTheSameExactRational) {
  // 2.5 is exactly 5/2: with the same stream, the double-scale sampler draws exactly what (5, 2) draws.
  DeterministicRandom rng_a(204), rng_b(204);
  RandomBits a(rng_a), b(rng_b);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(*SampleDiscreteLaplaceWithScale(a, 2.5), *SampleDiscreteLaplace(b, 5, 2));
    ASSERT_EQ(*SampleDiscreteLaplaceWithScale(a, 1024.0), *SampleDiscreteLaplace(b, 1024, 1));
    ASSERT_EQ(*SampleDiscreteLaplaceWithScale(a, 0.375), *SampleDiscreteLaplace(b, 3, 8));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Discrete Gaussian

struct GaussianCase {
  uint64_t num, den;
  int64_t width;
  int df;
  double critical;
};

TEST(SampleDiscreteGaussianTest, ChiSquareAgainstExactPmf) {
  // 200,000 draws per sigma^2 against P(x) proportional to exp(-x^2 / (2 sigma^2)) (normalised by summation),
  // binned as described in stat_test_util.h. (df, critical value at significance 1e-4):
  //   sigma^2 = 1/4: df 3, 21.1075;  1: df 7, 29.8775;  2: df 11, 37.3670;  21/2: df 25, 60.1403;
  //   7/3: df 11, 37.3670;  10000 (bins of 10): df 71, 124.0667.
  const std::vector<GaussianCase> cases = {{1, 4, 1, 3, 21.1075},  {1, 1, 1, 7, 29.8775},
                                           {2, 1, 1, 11, 37.3670}, {21, 2, 1, 25, 60.1403},
                                           {7, 3, 1, 11, 37.3670}, {10000, 1, 10, 71, 124.0667}};
  DeterministicRandom rng(301);
  RandomBits bits(rng);
  constexpr int64_t kN = 200'000;
  for (const GaussianCase& c : cases) {
    const testing::DiscreteGaussianTable table(static_cast<long double>(c.num) / c.den);
    std::vector<Bin> bins =
        MakeBins([&](int64_t lo, int64_t hi) { return table.Range(lo, hi); }, c.width, kN);
    ASSERT_EQ(static_cast<int>(bins.size()) - 1, c.df) << c.num << "/" << c.den;
    for (int64_t i = 0; i < kN; ++i) {
      absl::StatusOr<int64_t> x = SampleDiscreteGaussian(bits, c.num, c.den);
      ASSERT_TRUE(x.ok()) << x.status();
      Count(bins, *x);
    }
    EXPECT_LT(testing::ChiSquareStatistic(bins), c.critical) << "sigma^2 " << c.num << "/" << c.den << "\n"
                                                             << testing::Describe(bins);
  }
}

TEST(SampleDiscreteGaussianTest, VarianceWithinOnePercentOverAMillionDraws) {
  // See CheckMoments. The reference variance is the discrete Gaussian's own (sum of x^2 P(x)), which is below
  // sigma^2 for small sigma (0.9999... sigma^2 at sigma = 1 is still within 1e-3 of sigma^2 at sigma = 2).
  DeterministicRandom rng(302);
  RandomBits bits(rng);
  for (const auto& [num, den] : std::vector<std::pair<uint64_t, uint64_t>>{{1, 1}, {1000001, 3}}) {
    const testing::DiscreteGaussianTable table(static_cast<long double>(num) / den);
    Moments m;
    for (int i = 0; i < 1'000'000; ++i) {
      absl::StatusOr<int64_t> x = SampleDiscreteGaussian(bits, num, den);
      ASSERT_TRUE(x.ok());
      m.Add(static_cast<long double>(*x));
    }
    CheckMoments(m, table.Moment(2), table.Moment(4),
                 "discrete Gaussian " + std::to_string(num) + "/" + std::to_string(den));
  }
}

TEST(SampleDiscreteGaussianTest, RejectsParametersOutOfRange) {
  DeterministicRandom rng(303);
  RandomBits bits(rng);
  const uint64_t big = kMaxGaussianTerm;
  for (const auto& [num, den] :
       std::vector<std::pair<uint64_t, uint64_t>>{{0, 1}, {1, 0}, {big + 1, 1}, {1, big + 1}}) {
    EXPECT_EQ(SampleDiscreteGaussian(bits, num, den).status().code(), absl::StatusCode::kInvalidArgument)
        << num << "/" << den;
  }
  // The corners of the range work (the largest intermediate values of the acceptance test).
  for (const auto& [num, den] :
       std::vector<std::pair<uint64_t, uint64_t>>{{big, 1}, {1, big}, {big, big}, {big - 1, big - 3}}) {
    for (int i = 0; i < 200; ++i)
      ASSERT_TRUE(SampleDiscreteGaussian(bits, num, den).ok()) << num << "/" << den;
  }
  for (double s : {0.0, -1.0, std::nan(""), std::numeric_limits<double>::infinity(), 0x1p-25, 0x1p24 * 1.5}) {
    EXPECT_EQ(SampleDiscreteGaussianWithSigma(bits, s).status().code(), absl::StatusCode::kInvalidArgument)
        << s;
  }
}

TEST(SampleDiscreteGaussianTest, DoubleSigmaIsTheSameExactRational) {
  // 1.5^2 = 9/4 exactly; 3^2 = 9.
  DeterministicRandom rng_a(304), rng_b(304);
  RandomBits a(rng_a), b(rng_b);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(*SampleDiscreteGaussianWithSigma(a, 1.5), *SampleDiscreteGaussian(b, 9, 4));
    ASSERT_EQ(*SampleDiscreteGaussianWithSigma(a, 3.0), *SampleDiscreteGaussian(b, 9, 1));
  }
}

TEST(SamplersInternalTest, RoundUpDyadicNeverRoundsDown) {
  // sigma = 0.1 is m 2^e with a 53-bit m; sigma^2 needs 106 bits and is rounded UP to num / 2^j with
  // num, 2^j <= 2^48.
  for (double sigma : {0.1, 0.3, 1.1, 7.77, 12345.678, 0.0625}) {
    const internal::Dyadic d = internal::ToDyadic(sigma);
    const internal::u128 m2 = static_cast<internal::u128>(d.m) * d.m;
    uint64_t num, den;
    ASSERT_TRUE(internal::RoundUpDyadic(m2, 2 * d.e, 48, 48, num, den));
    EXPECT_LE(num, uint64_t{1} << 48);
    EXPECT_LE(den, uint64_t{1} << 48);
    // den = 2^j and num must be exactly ceil(m^2 2^(2e + j)): the smallest such fraction >= sigma^2. Unless
    // it is exact, num >= 2^40 (sigma >= 2^-4, samplers.h), so the rounding adds at most a relative 2^-40.
    const int j = __builtin_ctzll(den);
    ASSERT_EQ(den, uint64_t{1} << j);
    const int shift = 2 * d.e + j;
    const internal::u128 want = shift >= 0 ? m2 << shift : internal::CeilShift(m2, -shift);
    EXPECT_TRUE(want == num) << sigma;
    const bool exact = shift >= 0 || (m2 >> -shift) << -shift == m2;
    if (!exact) {
      EXPECT_GE(num, uint64_t{1} << 40) << sigma;
    }
  }
  EXPECT_EQ(internal::ISqrt(0), 0u);
  EXPECT_EQ(internal::ISqrt(15), 3u);
  EXPECT_EQ(internal::ISqrt(16), 4u);
  EXPECT_EQ(internal::ISqrt((uint64_t{1} << 48) - 1), (uint64_t{1} << 24) - 1);
  EXPECT_EQ(internal::ISqrt(UINT64_MAX), 0xFFFFFFFFu);
}

// ---------------------------------------------------------------------------------------------------------
// Secure real-valued noise

TEST(SecureNoiseTest, Granularities) {
  EXPECT_EQ(*SecureLaplaceGranularity(1.0), 0x1p-40);
  EXPECT_EQ(*SecureLaplaceGranularity(1.5), 0x1p-39);
  EXPECT_EQ(*SecureLaplaceGranularity(0x1p40), 1.0);
  EXPECT_EQ(*SecureLaplaceGranularity(0x1p40 + 1), 2.0);
  EXPECT_EQ(*SecureGaussianGranularity(1.0), 0x1p-20);
  EXPECT_EQ(*SecureGaussianGranularity(3.0), 0x1p-18);
  // sigma is rounded up to a multiple of g / 16, at most a relative 2^-23 more.
  EXPECT_EQ(*SecureGaussianSigma(1.0), 1.0);
  for (double sigma : {0.1, 3.0, 1234.5678, 1e-200, 1e200}) {
    const double used = *SecureGaussianSigma(sigma);
    const double g = *SecureGaussianGranularity(sigma);
    EXPECT_GE(used, sigma);
    EXPECT_LE(used, sigma * (1 + 0x1p-23));
    EXPECT_EQ(std::fmod(used, g / 16), 0.0) << sigma;
    EXPECT_EQ(*SecureGaussianGranularity(used), g);  // same granularity
    EXPECT_EQ(*SecureGaussianSigma(used), used);     // idempotent
  }
  for (double s : {0.0, -1.0, std::nan(""), std::numeric_limits<double>::infinity(), 0x1p-1001, 0x1p1001}) {
    EXPECT_EQ(SecureLaplaceGranularity(s).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(SecureGaussianGranularity(s).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(SecureGaussianSigma(s).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

// The calibrated sigma keeps the noise multiplier after rounding: sigma' / (D + sqrt(dims) g) >= z, with
// sigma' no more than a relative 2^-18 above the unrounded z D (the slack z sqrt(dims) 2^-19 is tiny here).
TEST(SecureNoiseTest, CalibrateSecureGaussianKeepsTheMultiplierAfterRounding) {
  for (const auto& [z, d, dims] : {std::tuple{1.1, 1.0, size_t{1}}, std::tuple{0.7, 0.5, size_t{100000}},
                                   std::tuple{4.0, 3.0, size_t{123}}}) {
    const absl::StatusOr<CalibratedGaussian> c = CalibrateSecureGaussian(z, d, dims, "test");
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->actual, *SecureGaussianSigma(c->requested));
    const double g = *SecureGaussianGranularity(c->requested);
    EXPECT_GE(c->actual / (d + std::sqrt(static_cast<double>(dims)) * g), z);
    EXPECT_LE(c->actual, z * d * (1 + z * std::sqrt(static_cast<double>(dims)) * 0x1p-18 + 0x1p-18));
  }
  // z sqrt(dims) 2^-19 >= 1/2: no sigma can absorb the rounding.
  const absl::StatusOr<CalibratedGaussian> bad = CalibrateSecureGaussian(1e3, 1, size_t{1} << 40, "DP-SGD");
  ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("DP-SGD: noise multiplier 1000 is too large"), std::string::npos);
}

TEST(SecureNoiseTest, RoundsToNearestTiesToEven) {
  EXPECT_EQ(internal::RoundToInt(2.5), 2);
  EXPECT_EQ(internal::RoundToInt(3.5), 4);
  EXPECT_EQ(internal::RoundToInt(-2.5), -2);
  EXPECT_EQ(internal::RoundToInt(-3.5), -4);
  EXPECT_EQ(internal::RoundToInt(2.5000000000000004), 3);
  EXPECT_EQ(internal::RoundToInt(-0.49999999999999994), 0);
  EXPECT_EQ(internal::RoundToInt(0x1p-1074), 0);
  EXPECT_EQ(internal::RoundToInt(0x1p99), static_cast<__int128>(1) << 99);
  EXPECT_EQ(internal::RoundToInt(-(0x1p60 + 0x1p8)), -((static_cast<__int128>(1) << 60) + 256));
}

TEST(SecureNoiseTest, OutputsAreMultiplesOfTheGranularity) {
  DeterministicRandom rng(401);
  RandomBits bits(rng);
  for (double value : {0.0, 3.7, -1234.5678, 1e10}) {
    const double scale = 2.5, sigma = 7.3;
    const double gl = *SecureLaplaceGranularity(scale), gg = *SecureGaussianGranularity(sigma);
    for (int i = 0; i < 100; ++i) {
      const double l = *AddSecureLaplaceNoise(bits, value, scale);
      const double g = *AddSecureGaussianNoise(bits, value, sigma);
      EXPECT_EQ(std::fmod(l, gl), 0.0) << l;
      EXPECT_EQ(std::fmod(g, gg), 0.0) << g;
      EXPECT_LT(std::fabs(l - value), 60 * scale);
      EXPECT_LT(std::fabs(g - value), 12 * sigma);
    }
  }
}

TEST(SecureNoiseTest, RejectsBadValuesAndScales) {
  DeterministicRandom rng(402);
  RandomBits bits(rng);
  for (double v :
       {std::nan(""), std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()}) {
    EXPECT_EQ(AddSecureLaplaceNoise(bits, v, 1.0).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(AddSecureGaussianNoise(bits, v, 1.0).status().code(), absl::StatusCode::kInvalidArgument);
  }
  // |value| / g >= 2^100: g = 2^-40 for scale 1, so 2^60 is the limit.
  EXPECT_EQ(AddSecureLaplaceNoise(bits, 0x1p60, 1.0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(AddSecureLaplaceNoise(bits, 0x1p59, 1.0).ok());
  EXPECT_EQ(AddSecureGaussianNoise(bits, 0x1p80, 1.0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(AddSecureGaussianNoise(bits, 0x1p79, 1.0).ok());
  // The documented range reaches down to 2^-1000, where 2^-granularity_exp is no longer a finite double.
  for (double s : {0x1p-1000, 0x1p-990}) {
    EXPECT_TRUE(AddSecureLaplaceNoise(bits, 0.0, s).ok()) << s;
    EXPECT_TRUE(AddSecureLaplaceNoise(bits, 3 * s, s).ok()) << s;
    EXPECT_TRUE(AddSecureGaussianNoise(bits, 3 * s, s).ok()) << s;
  }
  for (double s : {0.0, -2.0, std::nan("")}) {
    EXPECT_EQ(AddSecureLaplaceNoise(bits, 1.0, s).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(AddSecureGaussianNoise(bits, 1.0, s).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(SecureNoiseTest, LaplaceDistributionAndVariance) {
  // value 3.7 is rounded to a multiple of g = 2^-38 (scale 2.5): the noise (out - round(value)) / g is
  // discrete Laplace with t = 2.5 / g = 5 * 2^37 exactly. Chi-square over 200,000 draws with bins of width
  // t / 4 (in units of g): df 59, critical value at 1e-4: 108.1634. Then the variance over 1e6 draws against
  // g^2 2q / (1-q)^2, q = exp(-g / scale), within 1% (see CheckMoments).
  DeterministicRandom rng(403);
  RandomBits bits(rng);
  const double value = 3.7, scale = 2.5;
  const double g = *SecureLaplaceGranularity(scale);
  ASSERT_EQ(g, 0x1p-38);
  const double rounded = std::nearbyint(value / g) * g;
  const long double t = scale / g;
  std::vector<Bin> bins = MakeBins(testing::DiscreteLaplaceRange(t), static_cast<int64_t>(t / 4), 200'000);
  ASSERT_EQ(static_cast<int>(bins.size()) - 1, 59);
  Moments m;
  for (int i = 0; i < 1'000'000; ++i) {
    absl::StatusOr<double> out = AddSecureLaplaceNoise(bits, value, scale);
    ASSERT_TRUE(out.ok());
    const double units = (*out - rounded) / g;  // exact: both are multiples of g below 2^53 g
    if (i < 200'000) Count(bins, static_cast<int64_t>(units));
    m.Add(static_cast<long double>(*out - value));
  }
  EXPECT_LT(testing::ChiSquareStatistic(bins), 108.1634) << testing::Describe(bins);
  const long double q = std::exp(-1 / t);
  const long double variance = static_cast<long double>(g) * g * 2 * q / ((1 - q) * (1 - q));
  // Kurtosis of the (near-continuous) Laplace: 6, so E[X^4] = 6 Var^2.
  CheckMoments(m, variance, 6 * variance * variance, "secure Laplace");
}

TEST(SecureNoiseTest, GaussianDistributionAndVariance) {
  // sigma = 7.3: g = 2^-17, sigma' = SecureGaussianSigma(7.3). (out - round(value)) / g is discrete Gaussian
  // with sigma' / g ~ 2^19.9; at that size its bin probabilities equal the normal distribution's (integral
  // over [lo - 1/2, hi + 1/2]) to ~1e-12. Chi-square over 200,000 draws with bins of width sigma'/(4g):
  // df 31, critical value at 1e-4: 69.1057. Variance over 1e6 draws within 1% of sigma'^2 (kurtosis 3).
  DeterministicRandom rng(404);
  RandomBits bits(rng);
  const double value = -12.34, sigma = 7.3;
  const double g = *SecureGaussianGranularity(sigma), used = *SecureGaussianSigma(sigma);
  ASSERT_EQ(g, 0x1p-17);
  const double rounded = std::nearbyint(value / g) * g;
  const long double s = used / g;
  const auto normal_range = [s](int64_t lo, int64_t hi) -> long double {
    const auto cdf = [s](long double x) { return 0.5L * std::erfc(-x / (s * std::sqrt(2.0L))); };
    const long double a = lo == std::numeric_limits<int64_t>::min() ? 0.0L : cdf(lo - 0.5L);
    const long double b = hi == std::numeric_limits<int64_t>::max() ? 1.0L : cdf(hi + 0.5L);
    return b - a;
  };
  std::vector<Bin> bins = MakeBins(normal_range, static_cast<int64_t>(s / 4), 200'000);
  ASSERT_EQ(static_cast<int>(bins.size()) - 1, 31);
  Moments m;
  for (int i = 0; i < 1'000'000; ++i) {
    absl::StatusOr<double> out = AddSecureGaussianNoise(bits, value, sigma);
    ASSERT_TRUE(out.ok());
    if (i < 200'000) Count(bins, static_cast<int64_t>((*out - rounded) / g));
    m.Add(static_cast<long double>(*out - value));
  }
  EXPECT_LT(testing::ChiSquareStatistic(bins), 69.1057) << testing::Describe(bins);
  const long double variance = static_cast<long double>(used) * used;
  CheckMoments(m, variance, 3 * variance * variance, "secure Gaussian");
}

// ---------------------------------------------------------------------------------------------------------
// Failures

TEST(SamplersFailureTest, FailingSourcePropagatesItsError) {
  FailingRandom source;
  RandomBits bits(source);
  EXPECT_EQ(SampleBernoulliExp(bits, 1, 2).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(SampleDiscreteLaplace(bits, 3, 1).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(SampleDiscreteLaplaceWithScale(bits, 3.0).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(SampleDiscreteGaussian(bits, 3, 1).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(SampleDiscreteGaussianWithSigma(bits, 3.0).status().code(), absl::StatusCode::kUnavailable);
  absl::StatusOr<double> l = AddSecureLaplaceNoise(bits, 1.0, 1.0);
  EXPECT_EQ(l.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(l.status().message(), "entropy source unavailable");
  EXPECT_EQ(AddSecureGaussianNoise(bits, 1.0, 1.0).status().code(), absl::StatusCode::kUnavailable);
}

TEST(SamplersFailureTest, DegenerateSourceHitsACapInsteadOfLoopingForever) {
  // A source of zeros makes every Bernoulli(1/k) trial with k <= 256 succeed, so the exp(-1) trial's K loop
  // runs to its cap: the samplers must fail with Internal after a bounded number of steps.
  base::testing::ZeroRandom zeros;
  {
    RandomBits bits(zeros);
    EXPECT_EQ(SampleBernoulliExp(bits, 1, 1).status().code(), absl::StatusCode::kInternal);
  }
  {
    RandomBits bits(zeros);
    EXPECT_EQ(SampleDiscreteLaplace(bits, 5, 1).status().code(), absl::StatusCode::kInternal);
  }
  {
    RandomBits bits(zeros);
    EXPECT_EQ(SampleDiscreteGaussian(bits, 5, 1).status().code(), absl::StatusCode::kInternal);
  }
  {
    RandomBits bits(zeros);
    EXPECT_EQ(AddSecureLaplaceNoise(bits, 1.0, 1.0).status().code(), absl::StatusCode::kInternal);
  }
}

}  // namespace
}  // namespace veil::dp
