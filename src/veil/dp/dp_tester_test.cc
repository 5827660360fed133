// Tests of the stochastic DP tester itself: its confidence bounds, its event family and Bonferroni count, and
// that it passes tight mechanisms and flags mechanisms weaker than claimed. The mechanisms here are built
// from RandomBits::Bernoulli alone (exact rational probabilities), so their true (epsilon, delta) is known
// exactly.
#include "veil/dp/dp_tester.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/dp/random_bits.h"
#include "veil/table/schema.h"
#include "veil/table/table.h"

namespace veil::dp::testing {
namespace {

using ::testing::HasSubstr;

// ---------------------------------------------------------------------------------------------------------
// Clopper-Pearson bounds.

// Closed forms: for 0 successes the upper bound solves (1 - p)^n = alpha; for n successes the lower bound
// solves p^n = alpha; for 1 success the lower bound solves 1 - (1 - p)^n = alpha.
TEST(ClopperPearsonTest, ClosedForms) {
  for (const int64_t n : {1, 10, 1000, 200000}) {
    for (const double alpha : {0.025, 1e-3, 1e-9}) {
      SCOPED_TRACE(absl::StrCat("n=", n, " alpha=", alpha));
      const double upper0 = -std::expm1(std::log(alpha) / static_cast<double>(n));
      EXPECT_NEAR(ClopperPearsonUpper(0, n, alpha).value(), upper0, 1e-10 * upper0);
      EXPECT_EQ(ClopperPearsonLower(0, n, alpha).value(), 0.0);
      const double lower_n = std::exp(std::log(alpha) / static_cast<double>(n));
      EXPECT_NEAR(ClopperPearsonLower(n, n, alpha).value(), lower_n, 1e-10);
      EXPECT_EQ(ClopperPearsonUpper(n, n, alpha).value(), 1.0);
      if (n >= 2) {
        const double lower1 = -std::expm1(std::log1p(-alpha) / static_cast<double>(n));
        EXPECT_NEAR(ClopperPearsonLower(1, n, alpha).value(), lower1, 1e-9 * lower1);
      }
    }
  }
}

// The classic example: R's binom.test(5, 10) gives the 95% interval [0.1870860, 0.8129140], whose ends are
// the one-sided bounds at alpha = 0.025. Also symmetric: lower(x, n) = 1 - upper(n - x, n).
TEST(ClopperPearsonTest, KnownAnswerAndSymmetry) {
  EXPECT_NEAR(ClopperPearsonLower(5, 10, 0.025).value(), 0.1870860, 5e-7);
  EXPECT_NEAR(ClopperPearsonUpper(5, 10, 0.025).value(), 0.8129140, 5e-7);
  for (const int64_t x : {1, 7, 150, 9999}) {
    EXPECT_NEAR(ClopperPearsonLower(x, 10000, 1e-6).value(),
                1.0 - ClopperPearsonUpper(10000 - x, 10000, 1e-6).value(), 1e-10);
  }
}

// Exact coverage, the lemma the tester rests on: for every p, P[p_lo(X) > p] <= alpha and P[p_hi(X) < p] <=
// alpha, with X ~ Binomial(n, p) summed exactly (pmf from lgamma) over all x. n = 40, a grid of p.
TEST(ClopperPearsonTest, CoverageIsAtLeastTheConfidence) {
  constexpr int64_t kN = 40;
  constexpr double kAlpha = 0.05;
  std::vector<double> lower(kN + 1), upper(kN + 1);
  for (int64_t x = 0; x <= kN; ++x) {
    lower[x] = ClopperPearsonLower(x, kN, kAlpha).value();
    upper[x] = ClopperPearsonUpper(x, kN, kAlpha).value();
  }
  double worst_miss = 0;
  for (int i = 1; i < 1000; ++i) {
    const double p = i / 1000.0;
    double miss_low = 0, miss_high = 0;
    for (int64_t x = 0; x <= kN; ++x) {
      const double log_pmf = std::lgamma(kN + 1.0) - std::lgamma(x + 1.0) - std::lgamma(kN - x + 1.0) +
                             x * std::log(p) + (kN - x) * std::log1p(-p);
      if (lower[x] > p) miss_low += std::exp(log_pmf);
      if (upper[x] < p) miss_high += std::exp(log_pmf);
    }
    EXPECT_LE(miss_low, kAlpha * (1 + 1e-9)) << "p=" << p;
    EXPECT_LE(miss_high, kAlpha * (1 + 1e-9)) << "p=" << p;
    worst_miss = std::max({worst_miss, miss_low, miss_high});
  }
  // Clopper-Pearson is exact at its bound: the miss probability comes close to alpha somewhere on the grid
  // (a bound that were far too wide would also "cover").
  EXPECT_GT(worst_miss, 0.6 * kAlpha);
}

// At the bound the exact tail equals alpha: checks the incomplete beta function against direct summation.
TEST(ClopperPearsonTest, TailAtTheBoundIsAlpha) {
  constexpr int64_t kN = 60;
  for (const double alpha : {0.05, 1e-4, 1e-9}) {
    for (const int64_t x : {1, 3, 30, 59}) {
      const double lo = ClopperPearsonLower(x, kN, alpha).value();
      double tail = 0;  // P[Bin(n, lo) >= x]
      for (int64_t y = x; y <= kN; ++y) {
        tail += std::exp(std::lgamma(kN + 1.0) - std::lgamma(y + 1.0) - std::lgamma(kN - y + 1.0) +
                         y * std::log(lo) + (kN - y) * std::log1p(-lo));
      }
      EXPECT_NEAR(tail, alpha, 1e-8 * alpha) << "x=" << x << " alpha=" << alpha;
    }
  }
}

// Clopper-Pearson is tighter than the Chernoff (KL) bound, which is valid but looser: the upper bound is at
// most the largest p with n KL(x/n || p) <= ln(1/alpha). And for large n it is close to the normal
// approximation x/n + z sqrt(p(1-p)/n).
TEST(ClopperPearsonTest, BetweenNormalApproximationAndChernoff) {
  constexpr int64_t kN = 200000;
  constexpr double kAlpha = 1e-8;
  for (const int64_t x : {20, 2000, 100000, 190000}) {
    const double p_hat = static_cast<double>(x) / kN;
    const double hi = ClopperPearsonUpper(x, kN, kAlpha).value();
    auto kl = [&](double p) {
      return p_hat * std::log(p_hat / p) + (1 - p_hat) * std::log((1 - p_hat) / (1 - p));
    };
    EXPECT_LE(kN * kl(hi), std::log(1 / kAlpha) * (1 + 1e-9)) << "x=" << x;
    EXPECT_GT(hi, p_hat);
    if (x >= 2000) {
      const double z = 5.612;  // the standard normal quantile at 1 - 1e-8
      const double normal = p_hat + z * std::sqrt(p_hat * (1 - p_hat) / kN);
      EXPECT_NEAR(hi, normal, 0.05 * (normal - p_hat)) << "x=" << x;
    }
  }
}

TEST(ClopperPearsonTest, BadInput) {
  EXPECT_EQ(ClopperPearsonLower(-1, 10, 0.1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ClopperPearsonLower(11, 10, 0.1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ClopperPearsonUpper(0, 0, 0.1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ClopperPearsonUpper(1, 10, 0.0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ClopperPearsonUpper(1, 10, 1.0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ClopperPearsonUpper(1, 10, std::nan("")).status().code(), absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------------------
// CheckHistograms on fixed histograms.

TEST(CheckHistogramsTest, CountsTheEventFamilyForBonferroni) {
  Histogram d{{10, 20, 30, 20, 10}}, d_prime{{10, 20, 30, 20, 10}};
  DpTestOptions options;
  // 5 buckets + 3 prefixes + 3 suffixes, both directions, + 2 selected events (one direction each).
  const DpTestReport with_selection = CheckHistograms(d, d_prime, d, d_prime, options).value();
  EXPECT_EQ(with_selection.num_tests, 2 * 11 + 2);
  EXPECT_DOUBLE_EQ(with_selection.per_bound_alpha, 1e-6 / (2 * 24));
  EXPECT_FALSE(with_selection.violation);
  options.ordered_outputs = false;
  EXPECT_EQ(CheckHistograms(d, d_prime, {}, {}, options)->num_tests, 2 * 5);
}

// The worst event and its bounds are exactly the Clopper-Pearson bounds of its counts.
TEST(CheckHistogramsTest, ReportsTheWorstEventWithItsBounds) {
  const Histogram d{{900, 100}}, d_prime{{100, 900}};
  DpTestOptions options;
  options.epsilon = 0.5;
  options.ordered_outputs = false;
  const DpTestReport report = CheckHistograms(d, d_prime, {}, {}, options).value();
  ASSERT_EQ(report.num_tests, 4);
  const double alpha = 1e-6 / 8;
  const double lo = ClopperPearsonLower(900, 1000, alpha).value(),
               hi = ClopperPearsonUpper(100, 1000, alpha).value();
  EXPECT_TRUE(report.violation) << report.ToString();
  EXPECT_DOUBLE_EQ(report.epsilon_lower_bound, std::log(lo / hi));
  EXPECT_EQ(report.worst.first_count, 900);
  EXPECT_EQ(report.worst.second_count, 100);
  EXPECT_DOUBLE_EQ(report.worst.first_lower, lo);
  EXPECT_DOUBLE_EQ(report.worst.second_upper, hi);
  EXPECT_THAT(report.ToString(), HasSubstr("VIOLATION"));
  // The true ratio is 9 (epsilon ln 9 = 2.20); the bound is below it, and a claim of 3 is not contradicted.
  EXPECT_LT(report.epsilon_lower_bound, std::log(9.0));
  options.epsilon = 3.0;
  EXPECT_FALSE(CheckHistograms(d, d_prime, {}, {}, options)->violation);
}

TEST(CheckHistogramsTest, BadInput) {
  const Histogram two{{1, 1}}, three{{1, 1, 1}}, empty{{0, 0}}, negative{{-1, 3}};
  DpTestOptions options;
  EXPECT_EQ(CheckHistograms(two, three, {}, {}, options).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckHistograms(two, empty, {}, {}, options).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckHistograms(two, negative, {}, {}, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckHistograms(two, two, two, {}, options).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckHistograms(Histogram{{5}}, Histogram{{5}}, {}, {}, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.epsilon = -1;
  EXPECT_EQ(CheckHistograms(two, two, {}, {}, options).status().code(), absl::StatusCode::kInvalidArgument);
  options.epsilon = 1;
  options.delta = 1;
  EXPECT_EQ(CheckHistograms(two, two, {}, {}, options).status().code(), absl::StatusCode::kInvalidArgument);
  options.delta = 0;
  options.false_alarm_probability = 0;
  EXPECT_EQ(CheckHistograms(two, two, {}, {}, options).status().code(), absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------------------
// TestNeighbours on mechanisms with a known exact privacy loss.

// Randomized response on one bit: the true bit with probability 3/4, else its negation. Between the inputs
// 1 and 0 the likelihood ratio is exactly 3, so it is ln(3)-DP and no better.
absl::StatusOr<int64_t> RandomizedResponse(int64_t bit, RandomBits& bits) {
  auto keep = bits.Bernoulli(3, 4);
  if (!keep.ok()) return keep.status();
  return *keep ? bit : 1 - bit;
}

TEST(TestNeighboursTest, PassesATightMechanismAndBoundsItsEpsilonFromBelow) {
  DpTestOptions options;
  options.epsilon = std::log(3.0);
  for (const uint64_t seed : {1, 2, 3}) {
    options.seed = seed;
    const DpTestReport report =
        TestMechanism(
            int64_t{1}, int64_t{0}, RandomizedResponse, [](int64_t v) { return v; }, 2, options)
            .value();
    EXPECT_FALSE(report.violation) << report.ToString();
    // With n = 200,000, p = 3/4 and q = 1/4 are resolved to about +-0.005 at this confidence, so the
    // lower bound ln(p_lo / q_hi) is within ~0.04 of ln 3.
    EXPECT_LE(report.epsilon_lower_bound, std::log(3.0));
    EXPECT_GT(report.epsilon_lower_bound, 0.95 * std::log(3.0)) << report.ToString();
  }
}

TEST(TestNeighboursTest, FlagsAMechanismWeakerThanClaimed) {
  DpTestOptions options;
  options.epsilon = std::log(2.5);  // claimed; the truth is ln 3
  const DpTestReport report =
      TestMechanism(
          int64_t{1}, int64_t{0}, RandomizedResponse, [](int64_t v) { return v; }, 2, options)
          .value();
  EXPECT_TRUE(report.violation) << report.ToString();
  EXPECT_GT(report.epsilon_lower_bound, std::log(2.5));
  EXPECT_THAT(report.worst.event, ::testing::AnyOf(HasSubstr("bucket"), HasSubstr("selected")));
}

// A mechanism that releases its input with probability 1/64 and otherwise outputs "nothing" (bucket 2) is
// (0, 1/64)-DP between inputs 1 and 0 and not (epsilon, delta)-DP for any delta < 1/64.
absl::StatusOr<int64_t> LeakWithProbability(int64_t bit, RandomBits& bits) {
  auto leak = bits.Bernoulli(1, 64);
  if (!leak.ok()) return leak.status();
  return *leak ? bit : 2;
}

TEST(TestNeighboursTest, ChecksDelta) {
  DpTestOptions options;
  options.epsilon = 0.5;
  options.delta = 1.0 / 64;
  options.ordered_outputs = false;
  const DpTestReport ok =
      TestMechanism(
          int64_t{1}, int64_t{0}, LeakWithProbability, [](int64_t v) { return v; }, 3, options)
          .value();
  EXPECT_FALSE(ok.violation) << ok.ToString();
  EXPECT_LE(ok.delta_lower_bound, 1.0 / 64);

  options.delta = 1.0 / 256;
  const DpTestReport caught =
      TestMechanism(
          int64_t{1}, int64_t{0}, LeakWithProbability, [](int64_t v) { return v; }, 3, options)
          .value();
  EXPECT_TRUE(caught.violation) << caught.ToString();
  // delta >= p_lo - e^eps q_hi, with p = 1/64 resolved to ~4% and q_hi ~ 1e-4.
  EXPECT_GT(caught.delta_lower_bound, 0.9 / 64) << caught.ToString();
  EXPECT_LE(caught.delta_lower_bound, 1.0 / 64);
}

TEST(TestNeighboursTest, DeterministicForAFixedSeed) {
  DpTestOptions options;
  options.epsilon = std::log(3.0);
  options.samples_per_side = 20000;
  options.selection_samples_per_side = 5000;
  auto run = [&] {
    return TestMechanism(
               int64_t{1}, int64_t{0}, RandomizedResponse, [](int64_t v) { return v; }, 2, options)
        ->ToString();
  };
  const std::string first = run();
  EXPECT_EQ(run(), first);
  options.seed = 99;
  EXPECT_NE(run(), first);
}

TEST(TestNeighboursTest, Errors) {
  DpTestOptions options;
  options.samples_per_side = 10;
  options.selection_samples_per_side = 0;
  const auto out_of_range =
      TestNeighbours([](Side, RandomBits&) -> absl::StatusOr<int64_t> { return 2; }, 2, options);
  EXPECT_EQ(out_of_range.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(out_of_range.status().message()), HasSubstr("bucket 2"));
  const auto failing = TestNeighbours(
      [](Side, RandomBits&) -> absl::StatusOr<int64_t> { return absl::DataLossError("boom"); }, 2, options);
  EXPECT_EQ(failing.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(TestNeighbours([](Side, RandomBits&) -> absl::StatusOr<int64_t> { return 0; }, 1, options)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  options.samples_per_side = 0;
  EXPECT_EQ(TestNeighbours([](Side, RandomBits&) -> absl::StatusOr<int64_t> { return 0; }, 2, options)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------------------
// Bucketings and neighbouring tables.

TEST(BucketTest, IntegerAndReal) {
  EXPECT_EQ(IntegerBucket(-7, -2, 3), 0);
  EXPECT_EQ(IntegerBucket(0, -2, 3), 2);
  EXPECT_EQ(IntegerBucket(99, -2, 3), 5);
  EXPECT_EQ(RealBucket(-1e300, 0, 1, 10), 0);
  EXPECT_EQ(RealBucket(0.0, 0, 1, 10), 0);
  EXPECT_EQ(RealBucket(0.55, 0, 1, 10), 5);
  EXPECT_EQ(RealBucket(1.0, 0, 1, 10), 9);
  EXPECT_EQ(RealBucket(INFINITY, 0, 1, 10), 9);
  EXPECT_EQ(RealBucket(-INFINITY, 0, 1, 10), 0);
  EXPECT_EQ(RealBucket(std::nan(""), 0, 1, 10), 9);
}

TEST(RemoveUnitTest, RemovesEveryRowOfTheUnit) {
  table::TableBuilder builder(
      table::Schema::Make({{"subject", table::DataType::kString}, {"x", table::DataType::kInt64}}).value());
  for (const auto& [subject, x] :
       std::vector<std::pair<std::string, int64_t>>{{"a", 1}, {"b", 2}, {"a", 3}, {"c", 4}, {"a", 5}}) {
    ASSERT_TRUE(builder.AppendRow({subject, x}).ok());
  }
  const table::Table t = builder.Finish().value();
  const table::Table without_a = RemoveUnit(t, "subject", std::string("a")).value();
  ASSERT_EQ(without_a.num_rows(), 2);
  EXPECT_EQ(without_a.column(1).GetInt64(0), 2);
  EXPECT_EQ(without_a.column(1).GetInt64(1), 4);
  EXPECT_EQ(without_a.schema(), t.schema());
  EXPECT_EQ(RemoveUnit(t, "subject", std::string("z")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(RemoveUnit(t, "nope", std::string("a")).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RemoveUnit(t, "subject", std::monostate()).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace veil::dp::testing
