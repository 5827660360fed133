#include "veil/dp/calibration.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/dp/accountant.h"
#include "veil/dp/accounting_math.h"
#include "veil/dp/accounting_test_util.h"

namespace veil::dp {
namespace {

using ::testing::HasSubstr;

using testing::ExpectInvalid;
using testing::kInf;
using testing::kNan;

double NormalCdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// ---------------------------------------------------------------------------------------------------------
// Sensitivity and budget -> scale.

TEST(SensitivityTest, FromContributionBounds) {
  EXPECT_DOUBLE_EQ(*L1Sensitivity(4, 2.5), 10);
  EXPECT_DOUBLE_EQ(*L2Sensitivity(4, 2.5), 5);
  EXPECT_DOUBLE_EQ(*L2Sensitivity(1, 3), 3);
  ExpectInvalid(L1Sensitivity(0, 1).status(), "l0 must be >= 1");
  ExpectInvalid(L2Sensitivity(3, -1).status(), "linf");
  ExpectInvalid(L2Sensitivity(3, kInf).status(), "linf");
}

TEST(ScaleTest, LaplaceAndGaussianForRho) {
  EXPECT_DOUBLE_EQ(*LaplaceScale(2, 0.5), 4);
  EXPECT_DOUBLE_EQ(*DiscreteLaplaceScale(3, 0.5), 6);
  ExpectInvalid(DiscreteLaplaceScale(1.5, 1).status(), "must be an integer");
  ExpectInvalid(LaplaceScale(0, 1).status(), "l1_sensitivity");
  ExpectInvalid(LaplaceScale(1, kNan).status(), "epsilon");
  EXPECT_DOUBLE_EQ(*GaussianSigmaForRho(1, 0.5), 1);
  EXPECT_DOUBLE_EQ(*GaussianSigmaForRho(3, 0.125), 6);
  for (double rho : {1e-4, 0.02, 3.0}) {
    EXPECT_NEAR(*RhoForGaussianSigma(2, *GaussianSigmaForRho(2, rho)), rho, 1e-15 * rho / 1e-4);
  }
  ExpectInvalid(GaussianSigmaForRho(1, 0).status(), "rho");
  ExpectInvalid(RhoForGaussianSigma(1, -2).status(), "sigma");
}

// ---------------------------------------------------------------------------------------------------------
// Analytic Gaussian (Balle & Wang 2018).

// The Gaussian mechanism's exact delta at epsilon, by brute force: the hockey-stick divergence
// integral of max(0, p(x) - e^eps q(x)), p = N(0, s^2), q = N(l2, s^2), by the midpoint rule with step
// s/2000 over +-40 s (the integrand is continuous with a bounded second derivative away from one kink, so
// the error is far below the 1e-6 relative tolerance used).
double BruteForceGaussianDelta(double l2, double s, double eps) {
  const double h = s / 2000;
  double sum = 0;
  for (double x = -40 * s; x <= 40 * s + l2; x += h) {
    const double m = x + h / 2;
    const double p = std::exp(-m * m / (2 * s * s));
    const double q = std::exp(eps - (m - l2) * (m - l2) / (2 * s * s));
    sum += std::max(0.0, p - q);
  }
  return sum * h / (s * std::sqrt(2 * M_PI));
}

TEST(AnalyticGaussianTest, DeltaMatchesBruteForceIntegration) {
  for (double s : {0.7, 3.0, 10.0}) {
    for (double eps : {0.1, 1.0, 3.0}) {
      const double brute = BruteForceGaussianDelta(1.0, s, eps);
      EXPECT_NEAR(*AnalyticGaussianDelta(1.0, s, eps), brute, 1e-6 * brute + 1e-15) << s << " " << eps;
    }
  }
}

TEST(AnalyticGaussianTest, KnownValueAndTightness) {
  // Balle & Wang 2018: for epsilon = 1, delta = 1e-5 and sensitivity 1 the analytic mechanism needs
  // sigma ~ 3.73, where the classic bound sqrt(2 ln(1.25/delta))/epsilon (stated for epsilon < 1) gives 4.84.
  const double sigma = *AnalyticGaussianSigma(1, 1, 1e-5);
  EXPECT_NEAR(sigma, 3.7306, 1e-3);
  EXPECT_LE(*AnalyticGaussianDelta(1, sigma, 1), 1e-5);
  EXPECT_GT(*AnalyticGaussianDelta(1, sigma * (1 - 1e-7), 1), 1e-5);
  EXPECT_NEAR(std::sqrt(2 * std::log(1.25 / 1e-5)), 4.8448, 1e-4);
  // TensorFlow Privacy's rdp_accountant_test states that noise 4.530877117 is (1, 1e-6)-DP through RDP
  // accounting, a looser analysis; the exact analytic sigma for (1, 1e-6) must therefore be smaller.
  EXPECT_LT(*AnalyticGaussianSigma(1, 1, 1e-6), 4.530877117);
  // Scales linearly in the sensitivity.
  EXPECT_NEAR(*AnalyticGaussianSigma(3, 1, 1e-5), 3 * sigma, 1e-9 * sigma);
}

TEST(AnalyticGaussianTest, AlwaysBelowTheClassicBoundAndMonotone) {
  for (double eps : {0.05, 0.3, 0.9}) {
    for (double delta : {1e-10, 1e-6, 1e-3}) {
      EXPECT_LT(*AnalyticGaussianSigma(1, eps, delta), *ClassicGaussianSigma(1, eps, delta));
    }
  }
  double prev = kInf;
  for (double eps = 0.01; eps < 50; eps *= 1.5) {
    const double s = *AnalyticGaussianSigma(1, eps, 1e-6);
    EXPECT_LT(s, prev);
    prev = s;
  }
  EXPECT_LT(*AnalyticGaussianSigma(1, 1, 1e-3), *AnalyticGaussianSigma(1, 1, 1e-9));
  ExpectInvalid(ClassicGaussianSigma(1, 1, 1e-5).status(), "must be < 1");
  ExpectInvalid(AnalyticGaussianSigma(1, 1, 0).status(), "delta");
  ExpectInvalid(AnalyticGaussianSigma(kNan, 1, 1e-5).status(), "l2_sensitivity");
  ExpectInvalid(AnalyticGaussianDelta(1, 1, -1).status(), "epsilon");
}

// ---------------------------------------------------------------------------------------------------------
// Standard deviations.

TEST(StddevTest, LaplaceAndGaussian) {
  EXPECT_DOUBLE_EQ(*LaplaceStddev(2), 2 * std::sqrt(2.0));
  ExpectInvalid(LaplaceStddev(0).status(), "scale");
  ExpectInvalid(DiscreteGaussianStddev(kInf).status(), "sigma");
}

TEST(StddevTest, DiscreteLaplaceMatchesBruteForcePmf) {
  for (double t : {0.2, 1.0, 7.5, 40.0}) {
    // pmf(x) = (1 - p)/(1 + p) p^|x|, p = e^{-1/t}; variance = sum x^2 pmf(x).
    const double p = std::exp(-1 / t);
    double var = 0;
    for (int x = 1; x < 100'000; ++x) var += 2.0 * x * x * (1 - p) / (1 + p) * std::pow(p, x);
    EXPECT_NEAR(*DiscreteLaplaceStddev(t), std::sqrt(var), 1e-10 * std::sqrt(var)) << t;
  }
}

TEST(StddevTest, DiscreteGaussianIsExactAndBelowSigma) {
  for (double s : {0.2, 0.5, 0.99, 1.0, 1.7, 4.0, 30.0}) {
    double num = 0, den = 1;
    for (int x = 1; x < 100 * s + 100; ++x) {
      const double w = std::exp(-static_cast<double>(x) * x / (2 * s * s));
      num += 2.0 * x * x * w;
      den += 2.0 * w;
    }
    const double brute = std::sqrt(num / den);
    EXPECT_NEAR(*DiscreteGaussianStddev(s), brute, 1e-12 * brute) << s;
    EXPECT_LE(*DiscreteGaussianStddev(s), s * (1 + 1e-15));
  }
  // sigma = 0.5: noticeably smaller than sigma (CKS20, Corollary 9 gives only the bound).
  EXPECT_NEAR(*DiscreteGaussianStddev(0.5), 0.463694592, 1e-9);
}

// ---------------------------------------------------------------------------------------------------------
// Confidence intervals.

TEST(CiTest, LaplaceIsExact) {
  // P(|X| > w) = e^{-w/b}; at w = b ln(1/alpha) that is alpha. 95%: 2.995732 b.
  EXPECT_NEAR(*LaplaceCiHalfWidth(1.0), 2.995732273553991, 1e-12);
  for (double alpha : {0.5, 0.05, 1e-6}) {
    const double w = *LaplaceCiHalfWidth(3.0, alpha);
    EXPECT_NEAR(std::exp(-w / 3.0), alpha, 1e-14);
  }
  ExpectInvalid(LaplaceCiHalfWidth(1, 0).status(), "alpha");
  ExpectInvalid(LaplaceCiHalfWidth(1, 1).status(), "alpha");
}

TEST(CiTest, DiscreteLaplaceMatchesBruteForcePmf) {
  for (double t : {0.3, 1.0, 3.7, 20.0, 150.0}) {
    const double p = std::exp(-1 / t);
    for (double alpha : {0.5, 0.05, 0.01, 1e-6}) {
      // Smallest k with P(|X| <= k) >= 1 - alpha, by summing the pmf outwards.
      double mass = (1 - p) / (1 + p);
      int64_t k = 0;
      while (mass < 1 - alpha) {
        ++k;
        mass += 2 * (1 - p) / (1 + p) * std::pow(p, static_cast<double>(k));
      }
      EXPECT_EQ(*DiscreteLaplaceCiHalfWidth(t, alpha), k) << "t=" << t << " alpha=" << alpha;
    }
  }
  ExpectInvalid(DiscreteLaplaceCiHalfWidth(-1).status(), "scale");
}

TEST(CiTest, GaussianUsesTheNormalQuantile) {
  EXPECT_NEAR(*GaussianCiHalfWidth(1.0), 1.959963984540054, 1e-14);
  EXPECT_NEAR(*GaussianCiHalfWidth(2.0, 0.01), 2 * 2.5758293035489004, 1e-13);
  // alpha below ~1e-16, where 1 - alpha/2 rounds to 1: z_{1 - 5e-18} = 8.6 (Phi's tail at 8.6 is 4e-18).
  const absl::StatusOr<double> tiny = GaussianCiHalfWidth(1.0, 1e-17);
  ASSERT_TRUE(tiny.ok()) << tiny.status();
  EXPECT_GT(*tiny, 8.4);
  EXPECT_LT(*tiny, 8.8);
  EXPECT_TRUE(DiscreteGaussianCiHalfWidth(3.0, 1e-17).ok());
}

TEST(CiTest, DiscreteGaussianMatchesBruteForcePmf) {
  for (double s : {0.3, 1.0, 4.2, 50.0, 150.0, 2000.0}) {
    for (double alpha : {0.5, 0.05, 0.01, 1e-6}) {
      // Z and the cumulative mass by direct summation over |x| <= 60 s + 60.
      const int64_t n = static_cast<int64_t>(60 * s + 60);
      double z = 1;
      for (int64_t x = 1; x <= n; ++x) z += 2 * std::exp(-static_cast<double>(x) * x / (2 * s * s));
      double mass = 1 / z;
      int64_t k = 0;
      while (mass < 1 - alpha) {
        ++k;
        mass += 2 * std::exp(-static_cast<double>(k) * k / (2 * s * s)) / z;
      }
      EXPECT_EQ(*DiscreteGaussianCiHalfWidth(s, alpha), k) << "s=" << s << " alpha=" << alpha;
    }
  }
  // Large sigma (Euler-Maclaurin branch): within one unit of the continuous half-width, rounded up.
  const int64_t big = *DiscreteGaussianCiHalfWidth(1e6);
  EXPECT_GE(big, static_cast<int64_t>(std::floor(1e6 * 1.959963984540054)) - 1);
  EXPECT_LE(big, static_cast<int64_t>(std::ceil(1e6 * 1.959963984540054)) + 1);
  ExpectInvalid(DiscreteGaussianCiHalfWidth(1e13).status(), "sigma");
}

TEST(CiTest, DiscreteGaussianTailSumMatchesDirectSummation) {
  // The unnormalised tail sum_{x >= m} e^{-x^2/2s^2}: direct summation in long double (relative to the first
  // term, until terms fall below 1e-22 of the sum) against the code's direct sum (s < 100) and its
  // Euler-Maclaurin form (s >= 100), whose stated accuracy is 1e-14 relative.
  for (double s : {0.3, 5.0, 99.0, 100.0, 150.0, 2000.0, 1e5}) {
    for (double mult : {0.0, 0.5, 1.0, 2.0, 5.0, 20.0}) {
      const double m = std::floor(mult * s) + (mult == 0 ? 1 : 0);
      long double sum = 0;
      for (long double j = 0;; j += 1) {
        const long double term = std::exp(-(2.0L * m + j) * j / (2.0L * s * s));
        sum += term;
        if (term < 1e-22L * sum) break;
      }
      const double brute =
          static_cast<double>(-static_cast<long double>(m) * m / (2.0L * s * s) + std::log(sum));
      EXPECT_NEAR(internal::DiscreteGaussianLogTailSum(s, m), brute, 1e-12 * std::max(1.0, std::fabs(brute)))
          << "s=" << s << " m=" << m;
    }
  }
}

TEST(NormalQuantileTest, KnownValuesAndInverseOfTheCdf) {
  EXPECT_EQ(*NormalQuantile(0.5), 0);
  EXPECT_NEAR(*NormalQuantile(0.975), 1.959963984540054, 1e-15);
  EXPECT_NEAR(*NormalQuantile(0.995), 2.5758293035489004, 1e-15);
  EXPECT_NEAR(*NormalQuantile(1e-10), -6.361340902404056, 1e-13);
  // Phi(Q(p)) = p across all three regions of AS 241, both tails. AS 241 is accurate to ~1e-16 relative in
  // x; in the tail dp/p = |x| dx, so a relative error e in x shows as x^2 e in p: tolerance 4e-16 max(1, x^2)
  // plus a few ulps of erfc.
  for (double p : {1e-300, 1e-100, 1e-20, 1e-12, 1e-5, 0.01, 0.074, 0.076, 0.2, 0.5, 0.7, 0.93, 0.99}) {
    const double x = *NormalQuantile(p);
    EXPECT_NEAR(NormalCdf(x), p, (4e-16 * std::max(1.0, x * x) + 1e-15) * p) << p;
    // Symmetry, on the representable pair (1 - p, 1 - (1 - p)).
    const double upper = 1 - p;
    if (upper < 1) {
      EXPECT_NEAR(*NormalQuantile(upper), -*NormalQuantile(1 - upper), 1e-13 * std::fabs(x) + 1e-15) << p;
    }
  }
  ExpectInvalid(NormalQuantile(0).status(), "p must be in (0, 1)");
  ExpectInvalid(NormalQuantile(kNan).status(), "p");
}

}  // namespace
}  // namespace veil::dp
