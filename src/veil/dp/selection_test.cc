#include "veil/dp/selection.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/base/test_util.h"
#include "veil/crypto/testing/deterministic_random.h"

namespace veil::dp {
namespace {

using crypto::testing::DeterministicRandom;

using base::testing::FailingRandom;

// The exact selection probabilities of permute-and-flip with unit u (McKenna & Sheldon 2020): giving each
// candidate an independent uniform arrival time t, r wins iff its coin is heads and every earlier coin is
// tails, so P(r) = p_r * integral_0^1 prod_{s != r} (1 - p_s t) dt with p_s = exp(-(q* - q_s) / u). The
// product is expanded as a polynomial in t and integrated term by term.
std::vector<double> ExactPermuteAndFlip(const std::vector<double>& scores, double u) {
  double best = scores[0];
  for (double s : scores) best = std::max(best, s);
  std::vector<long double> p;
  for (double s : scores) p.push_back(std::exp(-static_cast<long double>(best - s) / u));
  std::vector<double> out;
  for (size_t r = 0; r < scores.size(); ++r) {
    std::vector<long double> poly = {1};
    for (size_t s = 0; s < scores.size(); ++s) {
      if (s == r) continue;
      std::vector<long double> next(poly.size() + 1, 0);
      for (size_t k = 0; k < poly.size(); ++k) {
        next[k] += poly[k];
        next[k + 1] -= poly[k] * p[s];
      }
      poly = std::move(next);
    }
    long double integral = 0;
    for (size_t k = 0; k < poly.size(); ++k) integral += poly[k] / (k + 1);
    out.push_back(static_cast<double>(p[r] * integral));
  }
  return out;
}

double ChiSquare(const std::vector<int64_t>& counts, const std::vector<double>& probs, int64_t n) {
  double chi2 = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    const double e = probs[i] * n;
    chi2 += (counts[i] - e) * (counts[i] - e) / e;
  }
  return chi2;
}

TEST(PermuteAndFlipTest, ExactProbabilitiesSumToOne) {
  // A check of the reference formula itself (and that it is not uniform).
  const std::vector<double> probs = ExactPermuteAndFlip({0, 1, 2, 3, 5}, 2.0);
  double sum = 0;
  for (double p : probs) sum += p;
  EXPECT_NEAR(sum, 1.0, 1e-12);
  EXPECT_GT(probs[4], 0.4);
  EXPECT_LT(probs[0], 0.05);
}

TEST(PermuteAndFlipTest, SelectionFrequenciesMatchExactProbabilities) {
  // 100,000 selections per case against ExactPermuteAndFlip with u = 2 sensitivity / epsilon (the mechanism's
  // u is larger by a relative 2^-40, far below what 1e5 draws resolve). Chi-square with one bin per
  // candidate (every expected count is >= 20 here): 5 candidates: df 4, critical value at 1e-4 23.5127;
  // 20 candidates: df 19, 50.7955; 3 tied candidates: df 2, 18.4207.
  struct Case {
    std::vector<double> scores;
    double sensitivity, epsilon, critical;
  };
  std::vector<double> twenty;
  for (int i = 0; i < 20; ++i) twenty.push_back(0.25 * i - 3);
  const std::vector<Case> cases = {{{0, 1, 2, 3, 5}, 1.0, 1.0, 23.5127},
                                   {twenty, 1.0, 1.0, 50.7955},
                                   {{7.5, 7.5, 7.5}, 1.0, 0.1, 18.4207},
                                   {{-1e6, -1e6 + 3, -1e6 + 0.5, -1e6 + 2, -1e6 + 1.25}, 2.0, 3.0, 23.5127}};
  DeterministicRandom rng(501);
  RandomBits bits(rng);
  constexpr int64_t kN = 100'000;
  for (const Case& c : cases) {
    const std::vector<double> probs = ExactPermuteAndFlip(c.scores, 2 * c.sensitivity / c.epsilon);
    for (double p : probs) ASSERT_GE(p * kN, 20);
    std::vector<int64_t> counts(c.scores.size(), 0);
    for (int64_t i = 0; i < kN; ++i) {
      absl::StatusOr<size_t> r = PermuteAndFlip(bits, c.scores, c.sensitivity, c.epsilon);
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_LT(*r, c.scores.size());
      ++counts[*r];
    }
    EXPECT_LT(ChiSquare(counts, probs, kN), c.critical) << c.scores.size() << " candidates";
  }
}

TEST(PermuteAndFlipTest, FarCandidatesAreNeverChosenAndDoNotBreakTheSampler) {
  // Gaps of 1e15 u are clamped (selection.h); their coins have probability below exp(-1024).
  DeterministicRandom rng(502);
  RandomBits bits(rng);
  const std::vector<double> scores = {-1e15, 0.0, -2e15, -1e15};
  for (int i = 0; i < 10'000; ++i) {
    absl::StatusOr<size_t> r = PermuteAndFlip(bits, scores, 1.0, 1.0);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, 1u);
  }
  // One candidate: always chosen.
  EXPECT_EQ(*PermuteAndFlip(bits, std::vector<double>{42.0}, 1.0, 1.0), 0u);
}

TEST(PermuteAndFlipTest, RejectsBadArguments) {
  DeterministicRandom rng(503);
  RandomBits bits(rng);
  const std::vector<double> ok = {1, 2, 3};
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(PermuteAndFlip(bits, std::vector<double>{}, 1, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PermuteAndFlip(bits, std::vector<double>{1, nan}, 1, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PermuteAndFlip(bits, std::vector<double>{-inf, 1}, 1, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  for (double bad : {0.0, -1.0, nan, inf}) {
    EXPECT_EQ(PermuteAndFlip(bits, ok, bad, 1).status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(PermuteAndFlip(bits, ok, 1, bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  // |score| / u >= 2^59 (u = 2 here).
  EXPECT_EQ(PermuteAndFlip(bits, std::vector<double>{0, 0x1p61}, 1, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(PermuteAndFlip(bits, std::vector<double>{0, 0x1p58}, 1, 1).ok());
  // epsilon so large (or small) that the unit is out of range.
  EXPECT_EQ(PermuteAndFlip(bits, ok, 1, 1e300).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PermuteAndFlipTest, FailingSourcePropagatesItsError) {
  FailingRandom source;
  RandomBits bits(source);
  absl::StatusOr<size_t> r = PermuteAndFlip(bits, std::vector<double>{1, 2, 3}, 1, 1);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message(), "entropy source unavailable");
}

// ---------------------------------------------------------------------------------------------------------
// ExponentialMechanism.

TEST(ExponentialMechanismTest, MatchesTheExponentialDistribution) {
  // Scores 0..3, sensitivity 1, epsilon 2: P(r) = exp(r) / sum exp(j). 20,000 draws; chi-square with 3
  // degrees of freedom, critical value 30.66 at significance 1e-6 (fixed seed).
  const std::vector<double> scores = {0, 1, 2, 3};
  DeterministicRandom random(2024);
  RandomBits bits(random);
  std::vector<int64_t> counts(4, 0);
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<size_t> r = ExponentialMechanism(bits, scores, 1.0, 2.0);
    ASSERT_TRUE(r.ok()) << r.status();
    ++counts[*r];
  }
  double z = 0;
  for (int j = 0; j < 4; ++j) z += std::exp(j);
  double chi2 = 0;
  for (int j = 0; j < 4; ++j) {
    const double expected = n * std::exp(j) / z;
    chi2 += (counts[j] - expected) * (counts[j] - expected) / expected;
  }
  EXPECT_LT(chi2, 30.66);
  // A candidate far below the best is (practically) never chosen.
  const std::vector<double> far = {0, 1e6};
  for (int i = 0; i < 100; ++i) EXPECT_EQ(*ExponentialMechanism(bits, far, 1.0, 1.0), 1u);
}

TEST(ExponentialMechanismTest, Errors) {
  DeterministicRandom random(1);
  RandomBits bits(random);
  EXPECT_FALSE(ExponentialMechanism(bits, {}, 1.0, 1.0).ok());
  const std::vector<double> nan = {0, std::nan("")};
  EXPECT_THAT(ExponentialMechanism(bits, nan, 1.0, 1.0).status().message(), ::testing::HasSubstr("score 1"));
  const std::vector<double> ok = {0, 1};
  EXPECT_FALSE(ExponentialMechanism(bits, ok, 0.0, 1.0).ok());
  EXPECT_FALSE(ExponentialMechanism(bits, ok, 1.0, -1.0).ok());
  const std::vector<double> huge = {0, 1e300};
  EXPECT_FALSE(ExponentialMechanism(bits, huge, 1.0, 1.0).ok());
}

TEST(ExponentialMechanismTest, EpsilonForRhoStaysWithinRho) {
  for (double rho : {1e-6, 0.004991, 0.1, 1.0, 3.3}) {
    const double eps = *ExponentialMechanismEpsilonForRho(rho);
    EXPECT_LE(eps * eps / 8, rho);
    EXPECT_GT(eps * eps / 8, rho * (1 - 1e-9));
  }
}

TEST(ExponentialMechanismTest, FailingSourcePropagatesItsError) {
  FailingRandom source;
  RandomBits bits(source);
  absl::StatusOr<size_t> r = ExponentialMechanism(bits, std::vector<double>{1, 2, 3}, 1, 1);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace veil::dp
