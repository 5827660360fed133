#include "veil/dp/mechanisms.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "veil/base/test_util.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/dp/samplers.h"
#include "veil/dp/stat_test_util.h"

namespace veil::dp {
namespace {

using crypto::testing::DeterministicRandom;
using testing::Moments;

using base::testing::FailingRandom;

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(LaplaceMechanismTest, RejectsBadParameters) {
  for (double bad : {0.0, -1.0, kNan, kInf}) {
    EXPECT_EQ(LaplaceMechanism::Create(bad, 1).status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(LaplaceMechanism::Create(1, bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  // Scales outside [2^-60, 2^1000], and an epsilon too small for b = (D + g(b)) / epsilon to have a solution.
  EXPECT_EQ(LaplaceMechanism::Create(1e300, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LaplaceMechanism::Create(1e-300, 1e300).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LaplaceMechanism::Create(0x1p-45, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(LaplaceMechanism::Create(1e-6, 1).ok());
}

TEST(LaplaceMechanismTest, CalibratesForTheRoundingOfRealValues) {
  for (const auto& [epsilon, l1] :
       std::vector<std::pair<double, double>>{{1, 1}, {0.1, 3}, {2, 0.25}, {0.5, 1e13}}) {
    absl::StatusOr<LaplaceMechanism> m = LaplaceMechanism::Create(epsilon, l1);
    ASSERT_TRUE(m.ok()) << m.status();
    const double g = m->granularity();
    EXPECT_EQ(g, *SecureLaplaceGranularity(m->scale()));
    // b >= (D + g) / epsilon exactly (checked in long double), and not much more.
    const long double need = (static_cast<long double>(l1) + g) / epsilon;
    EXPECT_GE(static_cast<long double>(m->scale()), need);
    EXPECT_LE(static_cast<long double>(m->scale()), need * (1 + 0x1p-48L));
    EXPECT_EQ(m->cost().epsilon, epsilon);
    EXPECT_EQ(m->cost().delta, 0.0);
    EXPECT_EQ(m->epsilon(), epsilon);
    EXPECT_EQ(m->l1_sensitivity(), l1);
  }
}

TEST(LaplaceMechanismTest, ReportsTheStddevOfEachDomain) {
  // Scale ~1: discrete Laplace noise (integer path) has stddev sqrt(2q)/(1-q), q = e^-1: 1.0854..., while
  // the real path's granular noise is essentially continuous Laplace: sqrt(2) b.
  absl::StatusOr<LaplaceMechanism> m = LaplaceMechanism::Create(1, 1);
  ASSERT_TRUE(m.ok());
  const double q = std::exp(-1.0 / m->scale());
  EXPECT_NEAR(m->NoiseStddev(NoiseDomain::kInteger), std::sqrt(2 * q) / (1 - q), 1e-9);
  EXPECT_NEAR(m->NoiseStddev(NoiseDomain::kReal), std::sqrt(2.0) * m->scale(), 1e-9);
  // And they are what the noise does: 200,000 draws each; the sample stddev's relative standard error is
  // about sqrt((kurtosis - 1) / n) / 2 = 0.0025, so 2% is 8 of them.
  DeterministicRandom rng(601);
  RandomBits bits(rng);
  Moments ints, reals;
  for (int i = 0; i < 200'000; ++i) {
    ints.Add(static_cast<long double>(*m->AddIntegerNoise(bits, 10) - 10));
    reals.Add(static_cast<long double>(*m->AddRealNoise(bits, 10.0) - 10.0));
  }
  EXPECT_NEAR(std::sqrt(static_cast<double>(ints.Variance())) / m->NoiseStddev(NoiseDomain::kInteger), 1,
              0.02);
  EXPECT_NEAR(std::sqrt(static_cast<double>(reals.Variance())) / m->NoiseStddev(NoiseDomain::kReal), 1, 0.02);
}

// Coverage of the intervals: over n releases, the fraction of intervals that contain the true value is
// Binomial(n, c) / n with c = the interval's exact coverage, which is >= level and, for the smallest discrete
// half-width, below level + P(|noise| = k) (computed below). Tolerance: 5 standard errors, sqrt(c(1-c)/n).
void ExpectCoverage(int64_t covered, int64_t n, double lo, double hi, const std::string& what) {
  const double se = std::sqrt(0.95 * 0.05 / n);
  const double rate = static_cast<double>(covered) / n;
  EXPECT_GE(rate, lo - 5 * se) << what;
  EXPECT_LE(rate, hi + 5 * se) << what;
}

TEST(LaplaceMechanismTest, IntervalsCoverTheTrueValueAtTheirLevel) {
  DeterministicRandom rng(602);
  RandomBits bits(rng);
  constexpr int64_t kN = 100'000;
  for (const double epsilon : {1.0, 0.1}) {
    absl::StatusOr<LaplaceMechanism> m = LaplaceMechanism::Create(epsilon, 1);
    ASSERT_TRUE(m.ok());
    // Integer path: half-width k, exact coverage 1 - 2 q^(k+1) / (1 + q).
    absl::StatusOr<ConfidenceInterval> ci = m->Interval(NoiseDomain::kInteger, 0);
    ASSERT_TRUE(ci.ok()) << ci.status();
    const double q = std::exp(-1 / m->scale());
    const double k = ci->half_width;
    const double exact = 1 - 2 * std::pow(q, k + 1) / (1 + q);
    ASSERT_GE(exact, 0.95);
    ASSERT_LT(1 - 2 * std::pow(q, k) / (1 + q), 0.95);  // k is the smallest such half-width
    int64_t covered = 0, covered_real = 0;
    for (int64_t i = 0; i < kN; ++i) {
      const int64_t released = *m->AddIntegerNoise(bits, 1000);
      const ConfidenceInterval c = *m->Interval(NoiseDomain::kInteger, static_cast<double>(released));
      covered += c.lower <= 1000 && 1000 <= c.upper;
      const double released_real = *m->AddRealNoise(bits, 12.3456);
      const ConfidenceInterval cr = *m->Interval(NoiseDomain::kReal, released_real);
      covered_real += cr.lower <= 12.3456 && 12.3456 <= cr.upper;
    }
    ExpectCoverage(covered, kN, exact, exact, "Laplace integer, epsilon " + std::to_string(epsilon));
    // Real path: continuous-like noise, coverage 0.95 up to the rounding slack g/2 (relative 2^-40).
    ExpectCoverage(covered_real, kN, 0.95, 0.95, "Laplace real, epsilon " + std::to_string(epsilon));
  }
}

TEST(LaplaceMechanismTest, IntervalArguments) {
  absl::StatusOr<LaplaceMechanism> m = LaplaceMechanism::Create(1, 1);
  ASSERT_TRUE(m.ok());
  for (double level : {0.0, 1.0, -0.5, kNan}) {
    EXPECT_EQ(m->Interval(NoiseDomain::kReal, 1.0, level).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(m->Interval(NoiseDomain::kReal, kNan).status().code(), absl::StatusCode::kInvalidArgument);
  // A 99% interval is wider than the default 95% one: b ln(1/alpha) for the continuous-like real path.
  const ConfidenceInterval c95 = *m->Interval(NoiseDomain::kReal, 5.0);
  const ConfidenceInterval c99 = *m->Interval(NoiseDomain::kReal, 5.0, 0.99);
  EXPECT_EQ(c95.level, 0.95);
  EXPECT_NEAR(c95.half_width, m->scale() * std::log(20.0), 1e-9);
  EXPECT_NEAR(c99.half_width, m->scale() * std::log(100.0), 1e-9);
  EXPECT_EQ(c95.lower, 5.0 - c95.half_width);
  EXPECT_EQ(c95.upper, 5.0 + c95.half_width);
}

TEST(LaplaceMechanismTest, LargeScalesUseGranularIntegerNoise) {
  // l1 = 1e13, epsilon = 1: b ~ 1e13 > 2^40, so g = 2^(44 - 40) = 16 and integer results are multiples of 16
  // (the value rounded to a multiple of 16, plus 16 times discrete Laplace noise of scale b / 16).
  absl::StatusOr<LaplaceMechanism> m = LaplaceMechanism::Create(1, 1e13);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->granularity(), 16.0);
  DeterministicRandom rng(603);
  RandomBits bits(rng);
  Moments noise;
  for (int i = 0; i < 100'000; ++i) {
    const int64_t v = *m->AddIntegerNoise(bits, 123'456'789'000);
    ASSERT_EQ(v % 16, 0);
    noise.Add(static_cast<long double>(v - 123'456'789'000));
  }
  EXPECT_NEAR(std::sqrt(static_cast<double>(noise.Variance())) / m->NoiseStddev(NoiseDomain::kInteger), 1,
              0.03);
  EXPECT_NEAR(m->NoiseStddev(NoiseDomain::kInteger), m->NoiseStddev(NoiseDomain::kReal), 1e-6 * m->scale());
}

TEST(LaplaceMechanismTest, IntegerResultsSaturate) {
  absl::StatusOr<LaplaceMechanism> m = LaplaceMechanism::Create(0.01, 10);
  ASSERT_TRUE(m.ok());
  DeterministicRandom rng(604);
  RandomBits bits(rng);
  int saturated = 0;
  for (int i = 0; i < 1000; ++i) {
    absl::StatusOr<int64_t> v = m->AddIntegerNoise(bits, std::numeric_limits<int64_t>::max());
    ASSERT_TRUE(v.ok());
    saturated += *v == std::numeric_limits<int64_t>::max();
    absl::StatusOr<int64_t> w = m->AddIntegerNoise(bits, std::numeric_limits<int64_t>::min());
    ASSERT_TRUE(w.ok());
  }
  // Noise >= 0 with probability (1 + q) / 2 ~ 1/2: Binomial(1000, ~0.5), 5 standard errors = 79.
  EXPECT_NEAR(saturated, 500, 80);
}

TEST(GaussianMechanismTest, RejectsBadParameters) {
  for (double bad : {0.0, -1.0, kNan, kInf}) {
    EXPECT_EQ(GaussianMechanism::CreateFromRho(bad, 1).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(GaussianMechanism::CreateFromRho(1, bad).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(GaussianMechanism::CreateFromEpsilonDelta(bad, 1e-5, 1).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(GaussianMechanism::CreateFromEpsilonDelta(1, 1e-5, bad).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  for (double bad_delta : {0.0, 1.0, -0.1, kNan}) {
    EXPECT_EQ(GaussianMechanism::CreateFromEpsilonDelta(1, bad_delta, 1).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(GaussianMechanism::CreateFromRho(1e300, 1).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(GaussianMechanismTest, CalibratesForTheRoundingOfRealValues) {
  for (const auto& [rho, l2] :
       std::vector<std::pair<double, double>>{{0.5, 1}, {0.01, 3}, {2, 0.25}, {0.1, 1e7}}) {
    absl::StatusOr<GaussianMechanism> m = GaussianMechanism::CreateFromRho(rho, l2);
    ASSERT_TRUE(m.ok()) << m.status();
    const double g = m->granularity();
    EXPECT_EQ(g, *SecureGaussianGranularity(m->sigma()));
    EXPECT_EQ(m->sigma(), *SecureGaussianSigma(m->sigma()));  // sigma is exactly the one sampled
    // rho >= (D + g)^2 / (2 sigma^2), checked in long double; sigma at most a relative 2^-22 above the need.
    const long double need = (static_cast<long double>(l2) + g) / std::sqrt(2.0L * rho);
    EXPECT_GE(static_cast<long double>(m->sigma()), need);
    EXPECT_LE(static_cast<long double>(m->sigma()), need * (1 + 0x1p-22L));
    EXPECT_EQ(m->rho(), rho);
    EXPECT_FALSE(m->target().has_value());
  }
}

TEST(GaussianMechanismTest, FromEpsilonDeltaMeetsTheTarget) {
  absl::StatusOr<GaussianMechanism> m = GaussianMechanism::CreateFromEpsilonDelta(1.0, 1e-5, 1.0);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(m->target().has_value());
  EXPECT_EQ(m->target()->epsilon, 1.0);
  EXPECT_EQ(m->target()->delta, 1e-5);
  absl::StatusOr<ApproxDp> cost = m->CostAtDelta(1e-5);
  ASSERT_TRUE(cost.ok());
  EXPECT_LE(cost->epsilon, 1.0);
  EXPECT_GT(cost->epsilon, 0.99);
  // The discrete Gaussian costs a little more noise than the analytic continuous Gaussian (about 3.73).
  EXPECT_GT(m->sigma(), 3.7);
  EXPECT_LT(m->sigma(), 4.5);
  EXPECT_EQ(m->CostAtDelta(0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(GaussianMechanismTest, ReportsTheStddevOfEachDomainAndIntervalsCover) {
  DeterministicRandom rng(605);
  RandomBits bits(rng);
  constexpr int64_t kN = 100'000;
  for (const double rho : {0.5, 0.005}) {  // sigma ~ 1 and ~ 10
    absl::StatusOr<GaussianMechanism> m = GaussianMechanism::CreateFromRho(rho, 1);
    ASSERT_TRUE(m.ok());
    const double sigma = m->sigma();
    const testing::DiscreteGaussianTable table(static_cast<long double>(sigma) * sigma);
    EXPECT_NEAR(m->NoiseStddev(NoiseDomain::kInteger), std::sqrt(static_cast<double>(table.Moment(2))), 1e-6);
    EXPECT_NEAR(m->NoiseStddev(NoiseDomain::kReal), sigma, 1e-9 * sigma);
    const ConfidenceInterval ci = *m->Interval(NoiseDomain::kInteger, 0);
    const double exact = static_cast<double>(
        table.Range(-static_cast<int64_t>(ci.half_width), static_cast<int64_t>(ci.half_width)));
    ASSERT_GE(exact, 0.95);
    // The half-widths do not depend on the released value (each call sums the discrete Gaussian's tail, so
    // compute them once).
    const double w = ci.half_width, wr = m->Interval(NoiseDomain::kReal, 0)->half_width;
    int64_t covered = 0, covered_real = 0;
    Moments ints;
    for (int64_t i = 0; i < kN; ++i) {
      const int64_t released = *m->AddIntegerNoise(bits, -77);
      ints.Add(static_cast<long double>(released + 77));
      covered += std::fabs(static_cast<double>(released + 77)) <= w;
      const double released_real = *m->AddRealNoise(bits, 0.001);
      covered_real += std::fabs(released_real - 0.001) <= wr;
    }
    ExpectCoverage(covered, kN, exact, exact, "Gaussian integer, rho " + std::to_string(rho));
    ExpectCoverage(covered_real, kN, 0.95, 0.95, "Gaussian real, rho " + std::to_string(rho));
    // Sample stddev: relative standard error sqrt(2 / n) / 2 = 0.0022; 2% is 9 of them.
    EXPECT_NEAR(std::sqrt(static_cast<double>(ints.Variance())) / m->NoiseStddev(NoiseDomain::kInteger), 1,
                0.02);
  }
}

TEST(GaussianMechanismTest, LargeSigmasUseGranularIntegerNoise) {
  // sigma ~ 1e7 > 2^20: g = 2^(24 - 20) = 16.
  absl::StatusOr<GaussianMechanism> m = GaussianMechanism::CreateFromRho(0.5, 1e7);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->granularity(), 16.0);
  DeterministicRandom rng(606);
  RandomBits bits(rng);
  Moments noise;
  for (int i = 0; i < 100'000; ++i) {
    const int64_t v = *m->AddIntegerNoise(bits, 5'000'000'000);
    ASSERT_EQ(v % 16, 0);
    noise.Add(static_cast<long double>(v - 5'000'000'000));
  }
  EXPECT_NEAR(std::sqrt(static_cast<double>(noise.Variance())) / m->sigma(), 1, 0.02);
}

TEST(MechanismsTest, FailingSourcePropagatesItsError) {
  FailingRandom source;
  RandomBits bits(source);
  const LaplaceMechanism lap = *LaplaceMechanism::Create(1, 1);
  const LaplaceMechanism big_lap = *LaplaceMechanism::Create(1, 1e13);
  const GaussianMechanism gauss = *GaussianMechanism::CreateFromRho(0.5, 1);
  const GaussianMechanism big_gauss = *GaussianMechanism::CreateFromRho(0.5, 1e7);
  EXPECT_EQ(lap.AddIntegerNoise(bits, 1).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(lap.AddRealNoise(bits, 1).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(big_lap.AddIntegerNoise(bits, 1).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(gauss.AddIntegerNoise(bits, 1).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(gauss.AddRealNoise(bits, 1).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(big_gauss.AddIntegerNoise(bits, 1).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace veil::dp
