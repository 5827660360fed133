#include "veil/dp/accountant.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/dp/accounting_test_util.h"
#include "veil/dp/calibration.h"

namespace veil::dp {
namespace {

using ::testing::HasSubstr;

using testing::ExpectInvalid;
using testing::kInf;
using testing::kNan;

// ---------------------------------------------------------------------------------------------------------
// Validation.

TEST(ValidationTest, EpsilonDeltaRhoRejectNonsenseNamingTheParameter) {
  for (double bad : {0.0, -1.0, kNan, kInf, -kInf}) {
    ExpectInvalid(ValidateEpsilon(bad), "epsilon must be finite and > 0");
    ExpectInvalid(ValidateRho(bad, "my_rho"), "my_rho must be finite and > 0");
  }
  for (double bad : {-1e-300, 1.0, 1.5, kNan, kInf})
    ExpectInvalid(ValidateDelta(bad), "delta must be in [0, 1)");
  for (double bad : {0.0, 1.0, kNan}) ExpectInvalid(ValidatePositiveDelta(bad), "delta must be in (0, 1)");
  EXPECT_TRUE(ValidateEpsilon(1e-300).ok());
  EXPECT_TRUE(ValidateDelta(0).ok());
  EXPECT_TRUE(ApproxDp::Create(0, 0).ok());
  ExpectInvalid(ApproxDp::Create(-1, 0).status(), "cost.epsilon");
  ExpectInvalid(ApproxDp::Create(1, 1).status(), "cost.delta");
  EXPECT_TRUE(ApproxDp::Create(1, 0)->IsPure());
}

TEST(ValidationTest, EveryEntryPointRejectsBadInput) {
  ExpectInvalid(PureDpToZcdp(kNan).status(), "epsilon");
  ExpectInvalid(ZcdpToEpsilon(-1, 1e-6).status(), "rho");
  ExpectInvalid(ZcdpToEpsilon(1, 0).status(), "delta");
  ExpectInvalid(ZcdpToEpsilonSimple(1, 1).status(), "delta");
  ExpectInvalid(ZcdpToDelta(1, kInf).status(), "epsilon");
  ExpectInvalid(ApproxDpToZcdp({0, 1e-6}).status(), "target.epsilon");
  ExpectInvalid(ApproxDpToZcdp({1, 0}).status(), "target.delta");
  ExpectInvalid(ComposeZcdp({0.1, kNan}).status(), "rhos[1]");
  ExpectInvalid(ComposeBasic({{1, 0}, {kInf, 0}}).status(), "parts[1].epsilon");
  ExpectInvalid(ComposeBasic({{1, 0.6}, {1, 0.6}}).status(), "total delta");
  ExpectInvalid(ComposeAdvanced({0, 0}, 10, 1e-6).status(), "each.epsilon");
  ExpectInvalid(ComposeAdvanced({1, 0}, 0, 1e-6).status(), "k must be >= 1");
  ExpectInvalid(ComposeAdvanced({1, 0}, 10, 0).status(), "delta_slack");
  ExpectInvalid(ComposeOptimalHomogeneous({1, 0.1}, 10, 0.5).status(), "delta_total must exceed");
  ExpectInvalid(ComposeOptimalHomogeneous({1, 0}, 20'000'000, 0.5).status(), "k must be <= 10000000");
  ExpectInvalid(OptimalHomogeneousDelta({1, 0}, 10, -1).status(), "epsilon_total");
  ExpectInvalid(GaussianRdp(0, DefaultRdpOrders()).status(), "noise_multiplier");
  ExpectInvalid(GaussianRdp(1, {2, 1}).status(), "orders[1]");
  ExpectInvalid(GaussianRdp(1, {3, 2}).status(), "strictly greater");
  ExpectInvalid(GaussianRdp(1, {}).status(), "orders must not be empty");
  ExpectInvalid(SubsampledGaussianRdp(1.5, 1, {2}).status(), "sampling_rate");
  ExpectInvalid(SubsampledGaussianRdp(kNan, 1, {2}).status(), "sampling_rate");
  ExpectInvalid(ComposeRdp(*GaussianRdp(1, {2, 3}), *GaussianRdp(1, {2, 4})).status(), "same orders");
  ExpectInvalid(RepeatRdp(*GaussianRdp(1, {2}), 0).status(), "k must be >= 1");
  ExpectInvalid(RdpToApproxDp(RdpCurve{{2}, {-1}}, 1e-5).status(), "epsilons[0]");
  ExpectInvalid(RdpToApproxDp(RdpCurve{{2, 3}, {1}}, 1e-5).status(), "2 orders but 1 epsilons");
  EXPECT_EQ(RdpToApproxDp(RdpCurve{{2}, {kInf}}, 1e-5).status().code(), absl::StatusCode::kOutOfRange);
  ExpectInvalid(DpSgdEpsilon(0.01, 1, 0, 1e-5).status(), "steps");
  ExpectInvalid(CalibrateDpSgdNoiseMultiplier(0, 100, 1, 1e-5).status(), "sampling_rate");
  ExpectInvalid(CalibrateDpSgdNoiseMultiplier(0.01, 100, -1, 1e-5).status(), "epsilon");
}

// ---------------------------------------------------------------------------------------------------------
// Composition.

TEST(ComposeBasicTest, SumsEpsilonsAndDeltas) {
  EXPECT_EQ(ComposeBasic({})->epsilon, 0);
  const ApproxDp total = *ComposeBasic({{0.5, 0}, {0.25, 1e-6}, {1, 2e-6}});
  EXPECT_DOUBLE_EQ(total.epsilon, 1.75);
  EXPECT_DOUBLE_EQ(total.delta, 3e-6);
}

TEST(ComposeAdvancedTest, MatchesDworkRothblumVadhanAndNeverExceedsBasic) {
  // DRV10 Theorem III.3 for k = 100 steps of (0.1, 1e-7)-DP with slack 1e-5:
  // sqrt(2 * 100 * ln(1e5)) * 0.1 + 100 * 0.1 * (e^0.1 - 1) = 4.79853... + 1.05170... = 5.85024...
  const ApproxDp adv = *ComposeAdvanced({0.1, 1e-7}, 100, 1e-5);
  EXPECT_NEAR(adv.epsilon, std::sqrt(200 * std::log(1e5)) * 0.1 + 10 * std::expm1(0.1), 1e-12);
  EXPECT_NEAR(adv.epsilon, 5.8502, 1e-4);
  EXPECT_DOUBLE_EQ(adv.delta, 100 * 1e-7 + 1e-5);
  // For few steps basic composition is tighter and is returned.
  EXPECT_DOUBLE_EQ(ComposeAdvanced({1, 0}, 3, 1e-6)->epsilon, 3.0);
}

// The exact privacy region of k-fold randomized response (KOV15's worst case), by brute force over all 2^k
// output strings: delta(e') = sum_y max(0, P(y) - e^{e'} Q(y)), P/Q products of Bernoulli(e^eps/(1+e^eps))
// and Bernoulli(1/(1+e^eps)).
double BruteForceRandomizedResponseDelta(int k, double eps, double eps_total) {
  const double p = std::exp(eps) / (1 + std::exp(eps));
  double delta = 0;
  for (uint32_t y = 0; y < (1u << k); ++y) {
    double pp = 1, qq = 1;
    for (int i = 0; i < k; ++i) {
      const bool one = (y >> i) & 1;
      pp *= one ? p : 1 - p;
      qq *= one ? 1 - p : p;
    }
    delta += std::max(0.0, pp - std::exp(eps_total) * qq);
  }
  return delta;
}

TEST(ComposeOptimalHomogeneousTest, DeltaMatchesBruteForceOverRandomizedResponse) {
  for (int k : {1, 2, 7, 12}) {
    for (double eps : {0.05, 0.3, 1.0}) {
      for (double eps_total : {0.0, 0.1, 0.5 * k * eps, k * eps - 0.01}) {
        if (eps_total < 0) continue;
        const double brute = BruteForceRandomizedResponseDelta(k, eps, eps_total);
        const double ours = *OptimalHomogeneousDelta({eps, 0}, k, eps_total);
        EXPECT_NEAR(ours, brute, 1e-13 + 1e-11 * brute) << "k=" << k << " eps=" << eps << " e'=" << eps_total;
      }
    }
  }
  // With delta > 0 per step: 1 - (1 - delta)^k (1 - delta_rr).
  const double rr = BruteForceRandomizedResponseDelta(10, 0.2, 1.0);
  EXPECT_NEAR(*OptimalHomogeneousDelta({0.2, 1e-4}, 10, 1.0), 1 - std::pow(1 - 1e-4, 10) * (1 - rr), 1e-14);
}

TEST(ComposeOptimalHomogeneousTest, IsTightValidAndBetterThanAdvanced) {
  struct Case {
    ApproxDp each;
    int64_t k;
    double delta_total;
  };
  for (const Case& c : {Case{{0.1, 0}, 10, 1e-5}, Case{{0.01, 0}, 10'000, 1e-6},
                        Case{{0.001, 1e-12}, 1'000'000, 1e-5}, Case{{0.5, 1e-6}, 50, 1e-3}}) {
    const double eps = *ComposeOptimalHomogeneous(c.each, c.k, c.delta_total);
    // Valid: the exact delta at eps is within the target; tight: slightly less epsilon exceeds it.
    EXPECT_LE(*OptimalHomogeneousDelta(c.each, c.k, eps), c.delta_total);
    EXPECT_GT(*OptimalHomogeneousDelta(c.each, c.k, eps * (1 - 1e-8)), c.delta_total);
    // Never worse than basic composition, and better than DRV with the same total delta.
    EXPECT_LE(eps, c.k * c.each.epsilon);
    const double slack = c.delta_total - c.k * c.each.delta;
    EXPECT_LT(eps, ComposeAdvanced(c.each, c.k, slack)->epsilon);
  }
  // k = 10000 steps of 0.01-DP at delta 1e-6: DRV gives 6.26, the optimal bound is 4.886 (our computation,
  // checked against the brute-force formula above for small k and against the bracket below).
  const double eps = *ComposeOptimalHomogeneous({0.01, 0}, 10'000, 1e-6);
  EXPECT_NEAR(eps, 4.8855, 1e-3);
}

TEST(ComposeZcdpTest, RhosAdd) {
  EXPECT_DOUBLE_EQ(*ComposeZcdp({0.1, 0.25, 0.05}), 0.4);
  EXPECT_EQ(*ComposeZcdp({}), 0);
}

// ---------------------------------------------------------------------------------------------------------
// zCDP conversions.

// The CKS20 Corollary 13 objective, evaluated directly in alpha (not the x = alpha - 1 form of the code).
double CksEpsilon(double alpha, double rho, double delta) {
  return alpha * rho +
         (std::log(1 / delta) + (alpha - 1) * std::log(1 - 1 / alpha) - std::log(alpha)) / (alpha - 1);
}

TEST(ZcdpTest, PureToZcdpIsHalfEpsilonSquared) { EXPECT_DOUBLE_EQ(*PureDpToZcdp(0.5), 0.125); }

TEST(ZcdpTest, TightConversionMatchesBruteForceOverAFineGridOfAlpha) {
  for (double rho : {1e-6, 1e-3, 0.0243, 0.5, 3.0, 200.0}) {
    for (double delta : {1e-12, 1e-6, 1e-3, 0.1}) {
      // 400,000 alphas log-spaced in (1 + 1e-7, 1 + 1e7): the grid's best is within ~1e-5 relative of the
      // true infimum, so ours must be <= it (up to rounding) and not much below it.
      double brute = kInf;
      for (int i = 0; i < 400'000; ++i) {
        const double alpha = 1 + std::exp(std::log(1e-7) + i * (std::log(1e14) / 399'999));
        brute = std::min(brute, CksEpsilon(alpha, rho, delta));
      }
      const double ours = *ZcdpToEpsilon(rho, delta);
      brute = std::max(0.0, brute);  // the objective can dip below 0 for tiny rho and large delta
      EXPECT_LE(ours, brute * (1 + 1e-12) + 1e-15) << "rho=" << rho << " delta=" << delta;
      EXPECT_GE(ours, brute * (1 - 1e-5)) << "rho=" << rho << " delta=" << delta;
      EXPECT_LE(ours, *ZcdpToEpsilonSimple(rho, delta));
    }
  }
  // A value to remember: rho = 0.5, delta = 1e-6 gives 5.2215 (the simple bound gives 5.7565).
  EXPECT_NEAR(*ZcdpToEpsilon(0.5, 1e-6), 5.22153, 1e-5);
  EXPECT_NEAR(*ZcdpToEpsilonSimple(0.5, 1e-6), 0.5 + 2 * std::sqrt(0.5 * std::log(1e6)), 1e-12);
  EXPECT_EQ(*ZcdpToEpsilon(0, 1e-6), 0);
}

TEST(ZcdpTest, MonotoneInRhoAndDelta) {
  double prev = 0;
  for (double rho = 1e-4; rho < 100; rho *= 1.7) {
    const double e = *ZcdpToEpsilon(rho, 1e-6);
    EXPECT_GT(e, prev);
    prev = e;
  }
  prev = kInf;
  for (double delta = 1e-15; delta < 0.5; delta *= 3) {
    const double e = *ZcdpToEpsilon(0.1, delta);
    EXPECT_LT(e, prev);
    prev = e;
  }
}

TEST(ZcdpTest, DeltaAtEpsilonInvertsEpsilonAtDelta) {
  for (double rho : {1e-3, 0.1, 2.0}) {
    for (double delta : {1e-10, 1e-6, 1e-2}) {
      const double eps = *ZcdpToEpsilon(rho, delta);
      EXPECT_NEAR(*ZcdpToDelta(rho, eps), delta, 1e-6 * delta) << rho << " " << delta;
    }
  }
  EXPECT_EQ(*ZcdpToDelta(0, 1), 0);
  EXPECT_LE(*ZcdpToDelta(10, 0), 1);
}

TEST(ZcdpTest, ApproxDpToZcdpRoundTripsAndIsTheLargestRho) {
  for (double eps : {0.01, 0.1, 1.0, 3.0, 10.0}) {
    for (double delta : {1e-12, 1e-6, 1e-3}) {
      const double rho = *ApproxDpToZcdp({eps, delta});
      const double back = *ZcdpToEpsilon(rho, delta);
      EXPECT_LE(back, eps) << eps << " " << delta;               // the guarantee holds
      EXPECT_GE(back, eps * (1 - 1e-9)) << eps << " " << delta;  // and nothing is wasted
      EXPECT_GT(*ZcdpToEpsilon(rho * (1 + 1e-7), delta), eps);
      // The tight conversion allows more rho than inverting the simple one.
      const double simple_rho =
          std::pow(std::sqrt(std::log(1 / delta) + eps) - std::sqrt(std::log(1 / delta)), 2);
      EXPECT_GE(rho, simple_rho);
    }
  }
}

TEST(ZcdpTest, ConversionUpperBoundsTheExactGaussianPrivacyProfile) {
  // The Gaussian mechanism with sigma (sensitivity 1) is 1/(2 sigma^2)-zCDP. Its exact delta(eps) (Balle &
  // Wang Theorem 8) must not exceed the zCDP-derived delta, and the latter should be within a small factor.
  for (double sigma : {0.8, 2.0, 5.0}) {
    const double rho = 1 / (2 * sigma * sigma);
    for (double eps : {0.5, 1.0, 2.0}) {
      const double exact = *AnalyticGaussianDelta(1, sigma, eps);
      const double zcdp = *ZcdpToDelta(rho, eps);
      EXPECT_LE(exact, zcdp);
      EXPECT_LE(zcdp, 10 * exact + 1e-300);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Renyi DP.

TEST(RdpTest, DefaultOrders) {
  const std::vector<double> orders = DefaultRdpOrders();
  EXPECT_EQ(orders.size(), 10u + 59u + 3u);
  EXPECT_EQ(orders.front(), 1.25);
  EXPECT_EQ(orders.back(), 512);
  EXPECT_TRUE(ValidateRdpCurve(*GaussianRdp(1, orders)).ok());
}

TEST(RdpTest, GaussianZcdpAndPure) {
  const RdpCurve g = *GaussianRdp(2.0, {2, 10});
  EXPECT_DOUBLE_EQ(g.epsilons[0], 2.0 / 8);
  EXPECT_DOUBLE_EQ(g.epsilons[1], 10.0 / 8);
  EXPECT_DOUBLE_EQ(ZcdpToRdp(0.3, {4})->epsilons[0], 1.2);
  const RdpCurve p = *PureDpToRdp(1.0, {1.5, 4});
  EXPECT_DOUBLE_EQ(p.epsilons[0], 0.75);  // alpha eps^2 / 2
  EXPECT_DOUBLE_EQ(p.epsilons[1], 1.0);   // capped at eps
  const RdpCurve sum = *ComposeRdp(g, *GaussianRdp(1.0, {2, 10}));
  EXPECT_DOUBLE_EQ(sum.epsilons[1], 10.0 / 8 + 10.0 / 2);
  EXPECT_DOUBLE_EQ(RepeatRdp(g, 7)->epsilons[0], 7 * 0.25);
}

// Published values from TensorFlow Privacy's rdp_accountant_test.py (test_compute_rdp_no_data,
// test_compute_rdp_no_sampling, test_compute_rdp_scalar, test_compute_rdp_sequence), which checks its
// implementation of Mironov, Talwar, Zhang 2019 against multi-precision integration. Tolerances are theirs.
TEST(SubsampledGaussianRdpTest, MatchesTensorFlowPrivacyPublishedValues) {
  EXPECT_EQ(SubsampledGaussianRdp(0, 10, {20})->epsilons[0], 0);
  EXPECT_DOUBLE_EQ(SubsampledGaussianRdp(1, 10, {20})->epsilons[0], 0.1);
  EXPECT_NEAR(10 * SubsampledGaussianRdp(0.1, 2, {5})->epsilons[0], 0.07737, 5e-6);
  const RdpCurve c = *SubsampledGaussianRdp(0.01, 2.5, {1.5, 2.5, 5, 50, 100});
  const double expected[] = {0.00065, 0.001085, 0.00218075, 0.023846, 167.416307};
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(50 * c.epsilons[i], expected[i], 1e-5) << "order " << c.orders[i];
}

// ln A_alpha by brute-force numerical integration (trapezoid rule in log space, step z/64, over a range that
// holds all but e^-400 of the mass): A_alpha = E_{x ~ N(0, z^2)} [(1 - q + q e^{(2x - 1)/(2 z^2)})^alpha].
// For a smooth integrand decaying like a Gaussian the trapezoid rule is accurate far beyond 1e-9 at this
// step.
double BruteForceLogA(double q, double z, double alpha) {
  const double h = z / 64;
  const double lo = -30 * z - 1;
  const double hi = alpha + 30 * z + 1;
  double acc = -kInf;
  for (double x = lo; x <= hi; x += h) {
    const double log_mu0 = -x * x / (2 * z * z) - std::log(z * std::sqrt(2 * M_PI));
    const double ratio = (2 * x - 1) / (2 * z * z);
    // ln(1 - q + q e^ratio), stable
    const double a = std::log1p(-q), b = std::log(q) + ratio;
    const double m = std::max(a, b);
    const double log_mix = m + std::log1p(std::exp(-std::fabs(a - b)));
    const double v = log_mu0 + alpha * log_mix + std::log(h);
    const double mm = std::max(acc, v);
    acc = mm + std::log(std::exp(acc - mm) + std::exp(v - mm));
  }
  return acc;
}

TEST(SubsampledGaussianRdpTest, IntegerAndFractionalOrdersMatchNumericalIntegration) {
  struct Case {
    double q, z, alpha;
  };
  for (const Case& c : {Case{1e-4, 1.0, 1.5}, Case{1e-3, 1.0, 2}, Case{0.01, 1.1, 1.25}, Case{0.01, 1.1, 4.5},
                        Case{0.1, 3.0, 20.5}, Case{0.5, 0.5, 2.5}, Case{0.5, 0.8, 7}, Case{0.9, 2.0, 3.5},
                        Case{0.3, 0.7, 11.75}}) {
    const double ours = SubsampledGaussianRdp(c.q, c.z, {c.alpha})->epsilons[0] * (c.alpha - 1);
    const double brute = BruteForceLogA(c.q, c.z, c.alpha);
    EXPECT_NEAR(ours, brute, 1e-9 * std::max(1.0, std::fabs(brute)) + 1e-12 * 0)
        << "q=" << c.q << " z=" << c.z << " alpha=" << c.alpha;
  }
}

TEST(SubsampledGaussianRdpTest, FractionalSeriesIsContinuousAtIntegers) {
  // The series at alpha +- 1e-6 averages to the exact integer-order sum: the central difference's error is
  // O(1e-12 f''), far below the 1e-9 relative tolerance, so a disagreement means a wrong series.
  for (double a : {2.0, 3.0, 10.0, 30.0}) {
    const double at = SubsampledGaussianRdp(0.05, 1.2, {a})->epsilons[0];
    const double above = SubsampledGaussianRdp(0.05, 1.2, {a + 1e-6})->epsilons[0];
    const double below = SubsampledGaussianRdp(0.05, 1.2, {a - 1e-6})->epsilons[0];
    EXPECT_NEAR((above + below) / 2, at, 1e-9 * at) << a;
    EXPECT_LT(below, at);
    EXPECT_GT(above, at);
  }
  // Monotone in the order, in q, and decreasing in the noise.
  const RdpCurve c = *SubsampledGaussianRdp(0.02, 1.0, DefaultRdpOrders());
  for (size_t i = 1; i < c.epsilons.size(); ++i) EXPECT_GT(c.epsilons[i], c.epsilons[i - 1]);
  EXPECT_LT(SubsampledGaussianRdp(0.02, 1.0, {8})->epsilons[0],
            SubsampledGaussianRdp(0.03, 1.0, {8})->epsilons[0]);
  EXPECT_LT(SubsampledGaussianRdp(0.02, 1.5, {8})->epsilons[0],
            SubsampledGaussianRdp(0.02, 1.0, {8})->epsilons[0]);
}

// TensorFlow Privacy's test_get_privacy_spent_check_target_delta, with the improved conversion.
TEST(RdpToApproxDpTest, MatchesTensorFlowPrivacyPublishedValues) {
  RdpCurve constant;
  for (int a = 2; a <= 32; ++a) {
    constant.orders.push_back(a);
    constant.epsilons.push_back(1.1);
  }
  const RdpConversion conv = *RdpToApproxDp(constant, 1e-5);
  EXPECT_EQ(conv.order, 32);
  EXPECT_NEAR(conv.epsilon, 1.32783806176, 1e-10);
  // Gaussian with noise 4.530877117 over the orders 1.001, 1.002, ..., 99.999 is (1, 1e-6)-DP.
  std::vector<double> fine;
  for (int i = 1001; i < 100'000; ++i) fine.push_back(0.001 * i);
  EXPECT_NEAR(RdpToApproxDp(*GaussianRdp(4.530877117, fine), 1e-6)->epsilon, 1.0, 1e-7);
}

// TensorFlow Privacy's compute_dp_sgd_privacy_test.py (test_compute_dp_sgd_privacy): n examples, batch b,
// noise z, E epochs, delta; q = b / n, steps = ceil(E n / b), RDP accounting over the default orders.
TEST(DpSgdTest, MatchesTensorFlowPrivacyPublishedValues) {
  EXPECT_NEAR(*DpSgdEpsilon(150.0 / 60000, 1.3, 6000, 1e-5), 0.7242234026109595, 1e-9);
  EXPECT_NEAR(*DpSgdEpsilon(100.0 / 100000, 1.0, 30000, 1e-7), 1.4154988495444842, 1e-9);
  // Test2: the minimum is at the fractional order 1.25, which exercises the series of MTZ19 Section 3.3.
  EXPECT_NEAR(*DpSgdEpsilon(1024.0 / 1e8, 0.1, 976563, 1e-7), 5907982.3113978775, 1e-3);
}

TEST(DpSgdTest, CalibrationFindsTheNoiseThatMeetsTheTarget) {
  // Inverse of the first published case: epsilon 0.7242234 needs noise 1.3.
  const double z = *CalibrateDpSgdNoiseMultiplier(150.0 / 60000, 6000, 0.7242234026109595, 1e-5);
  EXPECT_NEAR(z, 1.3, 1e-5);
  EXPECT_LE(*DpSgdEpsilon(150.0 / 60000, z, 6000, 1e-5), 0.7242234026109595);
  // Any returned multiplier meets its target, and a slightly smaller one does not.
  for (double eps : {0.5, 2.0, 8.0}) {
    const double zz = *CalibrateDpSgdNoiseMultiplier(0.01, 1000, eps, 1e-5);
    EXPECT_LE(*DpSgdEpsilon(0.01, zz, 1000, 1e-5), eps);
    EXPECT_GT(*DpSgdEpsilon(0.01, zz * (1 - 1e-5), 1000, 1e-5), eps);
  }
  EXPECT_EQ(CalibrateDpSgdNoiseMultiplier(1.0, 1'000'000'000, 1e-6, 1e-12).status().code(),
            absl::StatusCode::kOutOfRange);
}

// ---------------------------------------------------------------------------------------------------------
// QueryAccountant and PrivacyCost.

TEST(QueryAccountantTest, EmptyCostsNothing) {
  QueryAccountant acc;
  EXPECT_TRUE(acc.empty());
  const PrivacyCost cost = *acc.Total();
  EXPECT_EQ(cost.total.epsilon, 0);
  EXPECT_EQ(cost.total.delta, 0);
}

TEST(QueryAccountantTest, PureComponentsComposeBasically) {
  QueryAccountant acc;
  ASSERT_TRUE(acc.AddLaplace("COUNT(*)", 0.5).ok());
  ASSERT_TRUE(acc.AddLaplace("SUM(x)", 0.25).ok());
  ASSERT_TRUE(acc.AddApproxDp("partition selection", {0.25, 1e-6}).ok());
  const PrivacyCost cost = *acc.Total();
  EXPECT_DOUBLE_EQ(cost.total.epsilon, 1.0);
  EXPECT_DOUBLE_EQ(cost.total.delta, 1e-6);
  EXPECT_FALSE(cost.rho.has_value());
  EXPECT_EQ(cost.method, "basic composition");
  const std::string text = cost.ToString();
  EXPECT_THAT(text, HasSubstr("epsilon=1, delta=1e-06 (basic composition)"));
  EXPECT_THAT(text, HasSubstr("COUNT(*): laplace epsilon=0.5"));
  EXPECT_THAT(text, HasSubstr("partition selection: approx_dp epsilon=0.25, delta=1e-06"));
}

TEST(QueryAccountantTest, GaussianPartsComposeInZcdpWhenTighter) {
  QueryAccountant acc;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(acc.AddGaussian(absl::StrCat("AVG", i), 0.05, 2.5e-7).ok());
  const PrivacyCost cost = *acc.Total();
  const double one_by_one = 4 * *ZcdpToEpsilon(0.05, 2.5e-7);
  const double zcdp = *ZcdpToEpsilon(0.2, 1e-6);
  ASSERT_LT(zcdp, one_by_one);
  EXPECT_DOUBLE_EQ(cost.total.epsilon, zcdp);
  EXPECT_DOUBLE_EQ(cost.total.delta, 1e-6);
  ASSERT_TRUE(cost.rho.has_value());
  EXPECT_DOUBLE_EQ(*cost.rho, 0.2);
  EXPECT_THAT(cost.method, HasSubstr("zCDP composition of the Gaussian parts"));
  EXPECT_THAT(cost.ToString(), HasSubstr("AVG0: gaussian rho=0.05 -> epsilon="));
}

TEST(QueryAccountantTest, ChoosesTheSmallestOfTheThreeRoutes) {
  // Many small Laplace parts with one Gaussian: folding the Laplace parts into zCDP wins.
  QueryAccountant acc;
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(acc.AddLaplace(absl::StrCat("c", i), 0.05).ok());
  ASSERT_TRUE(acc.AddGaussian("g", 0.01, 1e-6).ok());
  ASSERT_TRUE(acc.AddApproxDp("sel", {0.1, 1e-7}).ok());
  const PrivacyCost cost = *acc.Total();
  const double route_a = 20 * 0.05 + *ZcdpToEpsilon(0.01, 1e-6) + 0.1;
  const double route_c = *ZcdpToEpsilon(0.01 + 20 * 0.05 * 0.05 / 2, 1e-6) + 0.1;
  ASSERT_LT(route_c, route_a);
  EXPECT_DOUBLE_EQ(cost.total.epsilon, route_c);
  EXPECT_DOUBLE_EQ(cost.total.delta, 1e-6 + 1e-7);
  EXPECT_THAT(cost.method, HasSubstr("Gaussian and Laplace"));

  // One large Laplace part with one Gaussian: basic composition wins.
  QueryAccountant acc2;
  ASSERT_TRUE(acc2.AddLaplace("c", 1.0).ok());
  ASSERT_TRUE(acc2.AddGaussian("g", 0.01, 1e-6).ok());
  const PrivacyCost cost2 = *acc2.Total();
  EXPECT_DOUBLE_EQ(cost2.total.epsilon, 1.0 + *ZcdpToEpsilon(0.01, 1e-6));
  EXPECT_EQ(cost2.method, "basic composition");
  EXPECT_EQ(cost2.components.size(), 2u);
}

TEST(QueryAccountantTest, RejectsBadComponentsAndOverfullDelta) {
  QueryAccountant acc;
  ExpectInvalid(acc.AddLaplace("", 1), "name");
  ExpectInvalid(acc.AddLaplace("x", 0), "epsilon");
  ExpectInvalid(acc.AddGaussian("x", 0.1, 0), "delta");
  ExpectInvalid(acc.AddGaussian("x", kNan, 1e-6), "rho");
  ExpectInvalid(acc.AddApproxDp("x", {0, 0.1}), "cost.epsilon");
  EXPECT_TRUE(acc.empty());
  ASSERT_TRUE(acc.AddApproxDp("a", {1, 0.6}).ok());
  ASSERT_TRUE(acc.AddApproxDp("b", {1, 0.6}).ok());
  ExpectInvalid(acc.Total().status(), "total delta");
}

// ---------------------------------------------------------------------------------------------------------
// SplitBudget.

TEST(SplitBudgetTest, SplitsByWeight) {
  const std::vector<ApproxDp> parts = *SplitBudget({1.0, 1e-6}, {1, 2, 1});
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_DOUBLE_EQ(parts[0].epsilon, 0.25);
  EXPECT_DOUBLE_EQ(parts[1].epsilon, 0.5);
  EXPECT_DOUBLE_EQ(parts[1].delta, 5e-7);
  // Separate delta weights: the pure components get none.
  const std::vector<ApproxDp> mixed = *SplitBudget({2.0, 1e-5}, {1, 1, 2}, {0, 0, 1});
  EXPECT_DOUBLE_EQ(mixed[2].epsilon, 1.0);
  EXPECT_EQ(mixed[0].delta, 0);
  EXPECT_DOUBLE_EQ(mixed[2].delta, 1e-5);
  // All-zero delta weights leave the delta unspent.
  EXPECT_EQ((*SplitBudget({1.0, 1e-5}, {1, 1}, {0, 0}))[1].delta, 0);
}

TEST(SplitBudgetTest, PartsNeverSumAboveTheTotal) {
  // Totals and weight families chosen to provoke rounding; `naive_over` counts the cases where the plain
  // products total * w_i / sum(w) add up to MORE than the total, so the test is known to exercise the fix.
  int naive_over = 0;
  for (double eps : {0.1, 1.0 / 3, 0.7, 2.9, 10.1}) {
    for (int n = 1; n <= 13; ++n) {
      for (int family = 0; family < 3; ++family) {
        std::vector<double> w;
        for (int i = 0; i < n; ++i) {
          w.push_back(family == 0 ? 1.0 : family == 1 ? 1.0 / (1 + i) : 1.0 / (1 + (i * 7) % 5) + 0.1 * i);
        }
        double wsum = 0, naive = 0;
        for (double x : w) wsum += x;
        for (double x : w) naive += eps * (x / wsum);
        if (naive > eps) ++naive_over;
        const ApproxDp total{eps, eps * 1e-7};
        const std::vector<ApproxDp> parts = *SplitBudget(total, w);
        double se = 0, sd = 0;
        for (const ApproxDp& p : parts) {
          se += p.epsilon;
          sd += p.delta;
          EXPECT_GT(p.epsilon, 0);
        }
        EXPECT_LE(se, total.epsilon);
        EXPECT_LE(sd, total.delta);
        EXPECT_GE(se, total.epsilon * (1 - 1e-13));
        EXPECT_LE(ComposeBasic(parts)->epsilon, total.epsilon);
      }
    }
  }
  EXPECT_GT(naive_over, 0);
}

TEST(SplitBudgetTest, RejectsBadInput) {
  ExpectInvalid(SplitBudget({0, 0}, {1}).status(), "total.epsilon");
  ExpectInvalid(SplitBudget({1, 1}, {1}).status(), "total.delta");
  ExpectInvalid(SplitBudget({1, 0}, {}).status(), "epsilon_weights must not be empty");
  ExpectInvalid(SplitBudget({1, 0}, {1, 2}, {1}).status(), "delta_weights has 1 entries");
  ExpectInvalid(SplitBudget({1, 0}, {1, 0}).status(), "epsilon_weights[1]");
  ExpectInvalid(SplitBudget({1, 0}, {1, kNan}).status(), "epsilon_weights[1]");
  ExpectInvalid(SplitBudget({1, 0}, {1, 1}, {1, -1}).status(), "delta_weights[1]");
}

}  // namespace
}  // namespace veil::dp
