// Privacy tests: the stochastic DP tester (dp_tester.h) run over Veil's noise samplers, mechanisms and
// aggregations, on adversarial neighbouring pairs (counts 0 vs 1, values at the clamp bounds, a unit with many
// rows or in many groups, the only unit of a group), plus deliberately broken mechanisms kept as fixtures
// that the tester must flag.
//
// Every test states the claim it checks (the (epsilon, delta) the library says it provides, taken from the
// library's own calibration or accountant where one exists) and runs with a fixed seed. The tester's
// tolerance is its confidence bounds: a correct mechanism is flagged with probability at most 1e-6 over the
// seeds (dp_tester.h, "Guarantee"), so a failure here is a real finding, not noise. The "power" assertions
// (epsilon_lower_bound close to the claim for tight mechanisms) check that the test could have failed.
//
// Budget: about 200,000 runs per side for the samplers (milliseconds each), fewer for the engine on tiny
// tables. Each test prints its report (a line starting "[dp-tester]").
#include <cmath>
#include <cstdint>
#include <iostream>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "veil/dp/accountant.h"
#include "veil/dp/dp_tester.h"
#include "veil/dp/random_bits.h"
#include "veil/dp/samplers.h"

namespace veil::dp::testing {
namespace {

// Prints the report and checks that no violation was found.
void ExpectPasses(std::string_view name, const absl::StatusOr<DpTestReport>& report) {
  ASSERT_TRUE(report.ok()) << name << ": " << report.status();
  std::cout << "[dp-tester] " << name << ": " << report->ToString() << "\n";
  EXPECT_FALSE(report->violation) << name << ": " << report->ToString();
}

// Prints the report and checks that the tester flagged the mechanism.
void ExpectCaught(std::string_view name, const absl::StatusOr<DpTestReport>& report) {
  ASSERT_TRUE(report.ok()) << name << ": " << report.status();
  std::cout << "[dp-tester] " << name << ": " << report->ToString() << "\n";
  EXPECT_TRUE(report->violation) << name << " was not caught: " << report->ToString();
}

DpTestOptions Claim(double epsilon, double delta = 0) {
  DpTestOptions options;
  options.epsilon = epsilon;
  options.delta = delta;
  return options;
}

// ---------------------------------------------------------------------------------------------------------
// Deliberately broken mechanisms (fixtures). Each is a realistic bug; the tester must flag every one.

namespace broken {

// Discrete Laplace noise on a count with scale 1/(2 epsilon) instead of 1/epsilon (a factor of two lost in
// the calibration): really (2 epsilon)-DP.
absl::StatusOr<int64_t> LaplaceCountWithHalfScale(int64_t count, RandomBits& bits) {
  auto noise = SampleDiscreteLaplace(bits, /*scale_num=*/1, /*scale_den=*/2);  // epsilon = 1 claimed
  if (!noise.ok()) return noise.status();
  return count + *noise;
}

// A sum calibrated to the clamp bound (sensitivity 10) that forgets to clamp: a unit whose value is 50
// moves the sum by 50, i.e. really (5 epsilon)-DP on that pair.
absl::StatusOr<double> SumWithoutClamping(double unit_value, RandomBits& bits) {
  constexpr double kBound = 10, kEpsilon = 1;
  return AddSecureLaplaceNoise(bits, /*value=*/unit_value, /*scale=*/kBound / kEpsilon);
}

}  // namespace broken

// ---------------------------------------------------------------------------------------------------------
// Samplers used as mechanisms on the boundary pair (count 1 vs count 0).

// Discrete Laplace with scale t = 1/epsilon on a count (sensitivity 1) is epsilon-DP, and tight: on the
// tails {x >= c} the likelihood ratio is exactly e^epsilon (CKS20, Section 2).
TEST(SamplerPrivacyTest, DiscreteLaplaceOnACount) {
  for (const auto& [num, den] : {std::pair<uint64_t, uint64_t>{1, 1}, {2, 1}}) {
    const double epsilon = static_cast<double>(den) / static_cast<double>(num);
    auto mechanism = [num = num, den = den](int64_t count, RandomBits& bits) -> absl::StatusOr<int64_t> {
      auto noise = SampleDiscreteLaplace(bits, num, den);
      if (!noise.ok()) return noise.status();
      return count + *noise;
    };
    const int64_t range = 12 * static_cast<int64_t>(num);
    const auto report = TestMechanism(
        int64_t{1}, int64_t{0}, mechanism, [&](int64_t v) { return IntegerBucket(v, -range, range + 1); },
        2 * range + 2, Claim(epsilon));
    ExpectPasses(absl::StrCat("discrete Laplace t=", num, "/", den), report);
    // Power: a tight mechanism's loss is nearly reached (the tester could have failed it).
    EXPECT_GT(report->epsilon_lower_bound, 0.8 * epsilon) << report->ToString();
  }
}

// Discrete Gaussian with sigma = 2 on a count: rho = 1/(2 sigma^2) = 1/8 zCDP (CKS20, Theorem 4), claimed as
// (ZcdpToEpsilon(rho, delta), delta)-DP by the accountant's tight conversion (CKS20, Corollary 13).
TEST(SamplerPrivacyTest, DiscreteGaussianOnACount) {
  constexpr double kDelta = 1e-3;
  const double epsilon = *ZcdpToEpsilon(1.0 / 8, kDelta);
  auto mechanism = [](int64_t count, RandomBits& bits) -> absl::StatusOr<int64_t> {
    auto noise = SampleDiscreteGaussian(bits, /*sigma2_num=*/4, /*sigma2_den=*/1);
    if (!noise.ok()) return noise.status();
    return count + *noise;
  };
  auto bucket = [](int64_t v) { return IntegerBucket(v, -10, 11); };
  ExpectPasses("discrete Gaussian sigma=2", TestMechanism(int64_t{1}, int64_t{0}, mechanism, bucket, 22,
                                                          Claim(epsilon, kDelta)));
  // The same noise claimed for sigma = 4 (rho = 1/32) is too little noise and must be flagged.
  const double epsilon_for_sigma4 = *ZcdpToEpsilon(1.0 / 32, kDelta);
  ExpectCaught("discrete Gaussian sigma=2 claimed as sigma=4",
               TestMechanism(int64_t{1}, int64_t{0}, mechanism, bucket, 22, Claim(epsilon_for_sigma4, kDelta)));
}

// Secure Laplace noise on a clamped sum: bounds [0, 10], the neighbour removes a unit at the upper bound, so
// the sums are 10 and 0. With scale (10 + g) / epsilon (g the granularity; samplers.h "Extra sensitivity") it
// is epsilon-DP.
TEST(SamplerPrivacyTest, SecureLaplaceOnAClampedSum) {
  constexpr double kEpsilon = 1.0, kBound = 10.0;
  const double g = *SecureLaplaceGranularity(kBound / kEpsilon);
  const double scale = (kBound + g) / kEpsilon;
  auto mechanism = [scale](double sum, RandomBits& bits) { return AddSecureLaplaceNoise(bits, sum, scale); };
  auto bucket = [](double v) { return RealBucket(v, -60, 70, 26); };  // width 5 = scale / 2
  const auto report = TestMechanism(kBound, 0.0, mechanism, bucket, 26, Claim(kEpsilon));
  ExpectPasses("secure Laplace on a sum", report);
  EXPECT_GT(report->epsilon_lower_bound, 0.7 * kEpsilon) << report->ToString();
}

// Secure Gaussian noise on a sum with L2 sensitivity 10: ((10 + g)^2 / (2 sigma'^2))-zCDP, claimed at delta.
TEST(SamplerPrivacyTest, SecureGaussianOnAClampedSum) {
  constexpr double kBound = 10.0, kSigma = 20.0, kDelta = 1e-3;
  const double g = *SecureGaussianGranularity(kSigma);
  const double sigma = *SecureGaussianSigma(kSigma);
  const double rho = (kBound + g) * (kBound + g) / (2 * sigma * sigma);
  const double epsilon = *ZcdpToEpsilon(rho, kDelta);
  auto mechanism = [](double sum, RandomBits& bits) { return AddSecureGaussianNoise(bits, sum, kSigma); };
  auto bucket = [](double v) { return RealBucket(v, -70, 80, 30); };
  ExpectPasses("secure Gaussian on a sum", TestMechanism(kBound, 0.0, mechanism, bucket, 30, Claim(epsilon, kDelta)));
}

// ---------------------------------------------------------------------------------------------------------
// The broken fixtures: the tester must flag each one.

TEST(BrokenFixtureTest, LaplaceWithHalfTheScaleIsCaught) {
  const auto report = TestMechanism(int64_t{1}, int64_t{0}, broken::LaplaceCountWithHalfScale,
                                    [](int64_t v) { return IntegerBucket(v, -8, 9); }, 18, Claim(1.0));
  ExpectCaught("broken: Laplace with scale 1/(2 eps)", report);
  EXPECT_GT(report->epsilon_lower_bound, 1.5) << report->ToString();  // the truth is 2
  EXPECT_LE(report->epsilon_lower_bound, 2.0) << report->ToString();
}

TEST(BrokenFixtureTest, SumWithoutClampingIsCaught) {
  // The neighbouring pair: a unit whose value (50) is far beyond the bound (10), versus no unit.
  const auto report = TestMechanism(50.0, 0.0, broken::SumWithoutClamping,
                                    [](double v) { return RealBucket(v, -60, 110, 34); }, 34, Claim(1.0));
  ExpectCaught("broken: sum without clamping", report);
}

}  // namespace
}  // namespace veil::dp::testing
