// Privacy tests: the stochastic DP tester (dp_tester.h) run over Veil's noise samplers, mechanisms and
// aggregations, on adversarial neighbouring pairs (counts 0 vs 1, values at the clamp bounds, a unit with
// many rows or in many groups, the only unit of a group), plus deliberately broken mechanisms kept as
// fixtures that the tester must flag.
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
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "veil/dp/accountant.h"
#include "veil/dp/aggregation.h"
#include "veil/dp/bounds.h"
#include "veil/dp/dp_tester.h"
#include "veil/dp/mechanisms.h"
#include "veil/dp/partition_selection.h"
#include "veil/dp/random_bits.h"
#include "veil/dp/samplers.h"
#include "veil/dp/selection.h"
#include "veil/table/schema.h"
#include "veil/table/table.h"
#include "veil/table/types.h"

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

// Partition selection without a threshold: every group that has a unit is released.
absl::StatusOr<int64_t> KeepEveryNonEmptyGroup(int64_t units, RandomBits&) { return units > 0 ? 1 : 0; }

// A selection whose keep probability for one unit is 4 delta instead of delta (pi computed with the wrong
// delta, e.g. per-query instead of per-group delta with L0 = 4): really (epsilon, 4 delta).
absl::StatusOr<int64_t> KeepWithFourTimesDelta(int64_t units, RandomBits& bits) {
  if (units == 0) return 0;
  auto keep = bits.Bernoulli(4 * 5, 100);  // 4 * 0.05
  if (!keep.ok()) return keep.status();
  return *keep ? 1 : 0;
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
    ASSERT_NO_FATAL_FAILURE(ExpectPasses(absl::StrCat("discrete Laplace t=", num, "/", den), report));
    // Power: a tight mechanism's loss is nearly reached (the tester could have failed it).
    EXPECT_GT(report->epsilon_lower_bound, 0.8 * epsilon) << report->ToString();
  }
}

// Discrete Gaussian with sigma = 2 on a count: rho = 1/(2 sigma^2) = 1/8 zCDP (CKS20, Theorem 4), claimed as
// (ZcdpToEpsilon(rho, delta), delta)-DP by the accountant's tight conversion (CKS20, Corollary 13).
TEST(SamplerPrivacyTest, DiscreteGaussianOnACount) {
  constexpr double kDelta = 1e-3;
  const double epsilon = ZcdpToEpsilon(1.0 / 8, kDelta).value();
  auto mechanism = [](int64_t count, RandomBits& bits) -> absl::StatusOr<int64_t> {
    auto noise = SampleDiscreteGaussian(bits, /*sigma2_num=*/4, /*sigma2_den=*/1);
    if (!noise.ok()) return noise.status();
    return count + *noise;
  };
  auto bucket = [](int64_t v) { return IntegerBucket(v, -10, 11); };
  ExpectPasses("discrete Gaussian sigma=2",
               TestMechanism(int64_t{1}, int64_t{0}, mechanism, bucket, 22, Claim(epsilon, kDelta)));
  // The same noise claimed for sigma = 4 (rho = 1/32) is too little noise and must be flagged.
  const double epsilon_for_sigma4 = ZcdpToEpsilon(1.0 / 32, kDelta).value();
  ExpectCaught(
      "discrete Gaussian sigma=2 claimed as sigma=4",
      TestMechanism(int64_t{1}, int64_t{0}, mechanism, bucket, 22, Claim(epsilon_for_sigma4, kDelta)));
}

// Secure Laplace noise on a clamped sum: bounds [0, 10], the neighbour removes a unit at the upper bound, so
// the sums are 10 and 0. With scale (10 + g) / epsilon (g the granularity; samplers.h "Extra sensitivity") it
// is epsilon-DP.
TEST(SamplerPrivacyTest, SecureLaplaceOnAClampedSum) {
  constexpr double kEpsilon = 1.0, kBound = 10.0;
  const double g = SecureLaplaceGranularity(kBound / kEpsilon).value();
  const double scale = (kBound + g) / kEpsilon;
  auto mechanism = [scale](double sum, RandomBits& bits) { return AddSecureLaplaceNoise(bits, sum, scale); };
  auto bucket = [](double v) { return RealBucket(v, -60, 70, 26); };  // width 5 = scale / 2
  const auto report = TestMechanism(kBound, 0.0, mechanism, bucket, 26, Claim(kEpsilon));
  ASSERT_NO_FATAL_FAILURE(ExpectPasses("secure Laplace on a sum", report));
  EXPECT_GT(report->epsilon_lower_bound, 0.7 * kEpsilon) << report->ToString();
}

// Secure Gaussian noise on a sum with L2 sensitivity 10: ((10 + g)^2 / (2 sigma'^2))-zCDP, claimed at delta.
TEST(SamplerPrivacyTest, SecureGaussianOnAClampedSum) {
  constexpr double kBound = 10.0, kSigma = 20.0, kDelta = 1e-3;
  const double g = SecureGaussianGranularity(kSigma).value();
  const double sigma = SecureGaussianSigma(kSigma).value();
  const double rho = (kBound + g) * (kBound + g) / (2 * sigma * sigma);
  const double epsilon = ZcdpToEpsilon(rho, kDelta).value();
  auto mechanism = [](double sum, RandomBits& bits) { return AddSecureGaussianNoise(bits, sum, kSigma); };
  auto bucket = [](double v) { return RealBucket(v, -70, 80, 30); };
  ExpectPasses("secure Gaussian on a sum",
               TestMechanism(kBound, 0.0, mechanism, bucket, 30, Claim(epsilon, kDelta)));
}

// ---------------------------------------------------------------------------------------------------------
// Mechanisms (mechanisms.h): the library's own calibration is the claim.

TEST(MechanismPrivacyTest, LaplaceMechanismOnIntegers) {
  // A count (sensitivity 1) and a sum of integers in [0, 3] (sensitivity 3 at the bound: 3 vs 0).
  for (const auto& [epsilon, l1] : {std::pair<double, double>{1.0, 1.0}, {0.5, 3.0}}) {
    const LaplaceMechanism m = LaplaceMechanism::Create(epsilon, l1).value();
    auto mechanism = [&m](int64_t v, RandomBits& bits) { return m.AddIntegerNoise(bits, v); };
    const int64_t range = static_cast<int64_t>(std::ceil(12 * m.scale()));
    const auto report = TestMechanism(
        static_cast<int64_t>(l1), int64_t{0}, mechanism,
        [&](int64_t v) { return IntegerBucket(v, -range, range); }, 2 * range + 1, Claim(epsilon));
    ASSERT_NO_FATAL_FAILURE(
        ExpectPasses(absl::StrCat("LaplaceMechanism integer eps=", epsilon, " l1=", l1), report));
    EXPECT_GT(report->epsilon_lower_bound, 0.7 * epsilon) << report->ToString();
  }
}

TEST(MechanismPrivacyTest, LaplaceMechanismOnReals) {
  constexpr double kEpsilon = 1.0, kL1 = 2.5;
  const LaplaceMechanism m = LaplaceMechanism::Create(kEpsilon, kL1).value();
  auto mechanism = [&m](double v, RandomBits& bits) { return m.AddRealNoise(bits, v); };
  const auto report = TestMechanism(
      kL1, 0.0, mechanism, [](double v) { return RealBucket(v, -15, 17.5, 26); }, 26, Claim(kEpsilon));
  ASSERT_NO_FATAL_FAILURE(ExpectPasses("LaplaceMechanism real eps=1 l1=2.5", report));
  EXPECT_GT(report->epsilon_lower_bound, 0.7 * kEpsilon) << report->ToString();
}

TEST(MechanismPrivacyTest, GaussianMechanismIntegerAndReal) {
  constexpr double kEpsilon = 1.0, kDelta = 1e-3;
  const GaussianMechanism counts = GaussianMechanism::CreateFromEpsilonDelta(kEpsilon, kDelta, 1.0).value();
  const ApproxDp cost = counts.CostAtDelta(kDelta).value();
  EXPECT_LE(cost.epsilon, kEpsilon * (1 + 1e-9));
  const int64_t range = static_cast<int64_t>(std::ceil(5 * counts.sigma()));
  ExpectPasses("GaussianMechanism integer (1, 1e-3) l2=1",
               TestMechanism(
                   int64_t{1}, int64_t{0},
                   [&](int64_t v, RandomBits& bits) { return counts.AddIntegerNoise(bits, v); },
                   [&](int64_t v) { return IntegerBucket(v, -range, range + 1); }, 2 * range + 2,
                   Claim(cost.epsilon, kDelta)));
  const GaussianMechanism sums = GaussianMechanism::CreateFromEpsilonDelta(kEpsilon, kDelta, 5.0).value();
  const double width = 6 * sums.sigma();
  ExpectPasses(
      "GaussianMechanism real (1, 1e-3) l2=5",
      TestMechanism(
          5.0, 0.0, [&](double v, RandomBits& bits) { return sums.AddRealNoise(bits, v); },
          [&](double v) { return RealBucket(v, -width, width + 5, 40); }, 40, Claim(kEpsilon, kDelta)));
}

// ---------------------------------------------------------------------------------------------------------
// Permute-and-flip (selection.h): epsilon-DP when every score moves by at most the sensitivity. The pair
// moves every score by exactly 1 in the direction that hurts most (the best candidate loses, the others
// gain).

TEST(SelectionPrivacyTest, PermuteAndFlip) {
  using Scores = std::vector<double>;
  const Scores d = {1, 0, 0, 0}, d_prime = {0, 1, 1, 1};
  for (const double epsilon : {0.5, 2.0}) {
    auto mechanism = [epsilon](const Scores& scores, RandomBits& bits) -> absl::StatusOr<int64_t> {
      auto r = PermuteAndFlip(bits, scores, /*sensitivity=*/1.0, epsilon);
      if (!r.ok()) return r.status();
      return static_cast<int64_t>(*r);
    };
    DpTestOptions options = Claim(epsilon);
    options.ordered_outputs = false;  // candidate indices have no order
    ExpectPasses(absl::StrCat("permute-and-flip eps=", epsilon),
                 TestMechanism(
                     d, d_prime, mechanism, [](int64_t r) { return r; }, 4, options));
  }
}

// The exponential mechanism (selection.h) under the same pair: epsilon-DP (its zCDP cost epsilon^2 / 8 rests
// on the same bounded-range property, which this pair also exercises).
TEST(SelectionPrivacyTest, ExponentialMechanism) {
  using Scores = std::vector<double>;
  const Scores d = {1, 0, 0, 0}, d_prime = {0, 1, 1, 1};
  for (const double epsilon : {0.5, 2.0}) {
    auto mechanism = [epsilon](const Scores& scores, RandomBits& bits) -> absl::StatusOr<int64_t> {
      auto r = ExponentialMechanism(bits, scores, /*sensitivity=*/1.0, epsilon);
      if (!r.ok()) return r.status();
      return static_cast<int64_t>(*r);
    };
    DpTestOptions options = Claim(epsilon);
    options.ordered_outputs = false;  // candidate indices have no order
    ExpectPasses(absl::StrCat("exponential mechanism eps=", epsilon),
                 TestMechanism(
                     d, d_prime, mechanism, [](int64_t r) { return r; }, 4, options));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Partition selection (partition_selection.h). delta is large here (0.05) so that the delta part of the
// guarantee is visible with 200,000 runs; the rule is the same for any delta.

TEST(PartitionSelectionPrivacyTest, OneGroupAtEveryRegime) {
  constexpr double kEpsilon = 1.0, kDelta = 0.05;
  const PartitionSelector selector =
      PartitionSelector::Create(kEpsilon, kDelta, /*max_groups_contributed=*/1).value();
  DpTestOptions options = Claim(kEpsilon, kDelta);
  options.ordered_outputs = false;
  // n vs n - 1 units: the first unit (pi(1) = delta: the delta term is tight), the e^eps regime, where pi
  // crosses 1/2 (the second inequality starts to bind), and near the top.
  const int64_t half = selector.UnitsForProbability(0.5);
  for (const int64_t n : std::vector<int64_t>{1, 2, half, half + 1, selector.UnitsForProbability(0.99)}) {
    auto mechanism = [&selector](int64_t units, RandomBits& bits) -> absl::StatusOr<int64_t> {
      auto keep = selector.ShouldKeep(units, bits);
      if (!keep.ok()) return keep.status();
      return *keep ? 1 : 0;
    };
    const auto report = TestMechanism(
        n, n - 1, mechanism, [](int64_t b) { return b; }, 2, options);
    ASSERT_NO_FATAL_FAILURE(
        ExpectPasses(absl::StrCat("partition selection ", n, " vs ", n - 1, " units"), report));
    if (n == 1) {  // power: the delta term is tight for the first unit
      EXPECT_GT(report->delta_lower_bound, 0.9 * kDelta) << report->ToString();
    }
  }
}

// A unit in two groups, each of which has only that unit: with L0 = 2 the joint keep decisions must be
// (epsilon, delta)-DP (each group spends (epsilon/2, delta/2)).
TEST(PartitionSelectionPrivacyTest, AUnitInTwoGroups) {
  constexpr double kEpsilon = 1.0, kDelta = 0.05;
  const PartitionSelector selector =
      PartitionSelector::Create(kEpsilon, kDelta, /*max_groups_contributed=*/2).value();
  auto mechanism = [&selector](int64_t units, RandomBits& bits) -> absl::StatusOr<int64_t> {
    auto first = selector.ShouldKeep(units, bits);
    if (!first.ok()) return first.status();
    auto second = selector.ShouldKeep(units, bits);
    if (!second.ok()) return second.status();
    return (*first ? 1 : 0) + (*second ? 2 : 0);
  };
  DpTestOptions options = Claim(kEpsilon, kDelta);
  options.ordered_outputs = false;
  ExpectPasses("partition selection, one unit in two groups",
               TestMechanism(
                   int64_t{1}, int64_t{0}, mechanism, [](int64_t b) { return b; }, 4, options));
}

// ---------------------------------------------------------------------------------------------------------
// The engine (aggregation.h: RunQuery) on tiny tables. Neighbours remove ALL rows of one unit (RemoveUnit);
// the claim is the engine's own PlanCost. Fewer runs than above (a query costs tens of microseconds).

struct Row {
  std::string unit;
  std::string group;
  double x = 0;
};

table::Table MakeTable(const std::vector<Row>& rows) {
  table::TableBuilder builder(table::Schema::Make({{"unit", table::DataType::kString},
                                                   {"g", table::DataType::kString},
                                                   {"x", table::DataType::kDouble}})
                                  .value());
  for (const Row& row : rows) {
    const absl::Status status = builder.AppendRow({row.unit, row.group, row.x});
    EXPECT_TRUE(status.ok()) << status;
  }
  return builder.Finish().value();
}

// The table, and its neighbour without unit "a" (every row of it).
struct NeighbouringTables {
  table::Table d;
  table::Table d_prime;
};
NeighbouringTables WithAndWithoutA(const std::vector<Row>& rows) {
  table::Table d = MakeTable(rows);
  table::Table d_prime = RemoveUnit(d, "unit", std::string("a")).value();
  return {std::move(d), std::move(d_prime)};
}

QueryPlan BasePlan(AggregateFunction function, std::optional<Bounds> bounds = std::nullopt) {
  QueryPlan plan;
  plan.privacy_unit_column = "unit";
  Aggregate aggregate;
  aggregate.function = function;
  if (function != AggregateFunction::kCountStar && function != AggregateFunction::kCountDistinctUnits) {
    aggregate.column = "x";
  }
  aggregate.bounds = bounds;
  plan.aggregates = {aggregate};
  plan.epsilon = 1.0;
  return plan;
}

// The engine's claim for `plan`, with the run counts used for the engine.
DpTestOptions EngineClaim(const QueryPlan& plan) {
  const QueryCost cost = PlanCost(plan).value();
  DpTestOptions options = Claim(cost.privacy.total.epsilon, cost.privacy.total.delta);
  options.samples_per_side = 20'000;
  options.selection_samples_per_side = 5'000;
  return options;
}

auto RunPlan(const QueryPlan& plan) {
  return [&plan](const table::Table& t, RandomBits& bits) { return RunQuery(t, std::nullopt, plan, bits); };
}

// The first value of aggregate 0 of the result row whose key is `key` (the global row if `key` is empty), or
// nullopt if the row was not released.
std::optional<double> ValueOf(const QueryResult& result, std::string_view key = {}) {
  for (const ResultRow& row : result.rows) {
    if (key.empty() || (row.key.size() == 1 && row.key[0] == table::Value(std::string(key)))) {
      return row.values[0][0].value;
    }
  }
  return std::nullopt;
}

int64_t CountBucket(std::optional<double> value, int64_t lo, int64_t hi) {
  return IntegerBucket(value.has_value() ? std::llround(*value) : lo, lo, hi);
}

// COUNT(*) with Linf bounding: unit "a" has 20 rows, max_rows_per_group = 2, so removing it moves the count
// by at most 2 (the sensitivity the engine calibrates for).
TEST(EnginePrivacyTest, CountStarBoundsRowsPerUnit) {
  std::vector<Row> rows(20, Row{"a", "g", 1});
  for (const char* unit : {"b", "c", "d", "e"}) rows.push_back({unit, "g", 1});
  const NeighbouringTables t = WithAndWithoutA(rows);
  QueryPlan plan = BasePlan(AggregateFunction::kCountStar);
  plan.max_rows_per_group = 2;
  const auto report = TestMechanism(
      t.d, t.d_prime, RunPlan(plan), [](const QueryResult& r) { return CountBucket(ValueOf(r), -10, 20); },
      31, EngineClaim(plan));
  ASSERT_NO_FATAL_FAILURE(ExpectPasses("engine COUNT(*) Linf=2, unit with 20 rows", report));
  EXPECT_GT(report->epsilon_lower_bound, 0.5 * plan.epsilon) << report->ToString();
}

// COUNT(DISTINCT unit): sensitivity 1 whatever the number of rows of the unit.
TEST(EnginePrivacyTest, CountDistinctUnits) {
  std::vector<Row> rows(10, Row{"a", "g", 1});
  for (const char* unit : {"b", "c"}) rows.push_back({unit, "g", 1});
  const NeighbouringTables t = WithAndWithoutA(rows);
  const QueryPlan plan = BasePlan(AggregateFunction::kCountDistinctUnits);
  ExpectPasses(
      "engine COUNT(DISTINCT unit)",
      TestMechanism(
          t.d, t.d_prime, RunPlan(plan), [](const QueryResult& r) { return CountBucket(ValueOf(r), -8, 12); },
          21, EngineClaim(plan)));
}

// SUM with clamping: bounds [0, 10], and unit "a" holds 1000 (far beyond the bound): clamped to 10, so the
// sum moves by at most 10.
TEST(EnginePrivacyTest, SumClampsValues) {
  const NeighbouringTables t =
      WithAndWithoutA({{"a", "g", 1000}, {"b", "g", 5}, {"c", "g", 5}, {"d", "g", 5}, {"e", "g", 5}});
  const QueryPlan plan = BasePlan(AggregateFunction::kSum, Bounds{0, 10});
  const auto report = TestMechanism(
      t.d, t.d_prime, RunPlan(plan),
      [](const QueryResult& r) { return RealBucket(ValueOf(r).value(), -40, 90, 26); }, 26,
      EngineClaim(plan));
  ASSERT_NO_FATAL_FAILURE(ExpectPasses("engine SUM bounds [0, 10], unit at 1000", report));
  EXPECT_GT(report->epsilon_lower_bound, 0.4 * plan.epsilon) << report->ToString();
}

// AVG at the clamp bounds: the others at the lower bound, unit "a" at the upper one (the largest move of the
// mean), with few units so that the move is large.
TEST(EnginePrivacyTest, AvgAtTheClampBounds) {
  const NeighbouringTables t = WithAndWithoutA({{"a", "g", 10}, {"b", "g", 0}, {"c", "g", 0}, {"d", "g", 0}});
  const QueryPlan plan = BasePlan(AggregateFunction::kAvg, Bounds{0, 10});
  ExpectPasses("engine AVG bounds [0, 10]",
               TestMechanism(
                   t.d, t.d_prime, RunPlan(plan),
                   [](const QueryResult& r) { return RealBucket(ValueOf(r).value(), 0, 10, 20); }, 20,
                   EngineClaim(plan)));
}

// PERCENTILE_CONT(x, 0.5) from the quantile tree. The pair is chosen so that the unit flips the median
// across a gap: with "a" (at 100) three of five values are 100; without it the values split 2:2 between 0
// and 100. The tree's node counts move by at most height per unit.
TEST(EnginePrivacyTest, MedianAcrossAGap) {
  const NeighbouringTables t =
      WithAndWithoutA({{"a", "g", 100}, {"b", "g", 0}, {"c", "g", 0}, {"d", "g", 100}, {"e", "g", 100}});
  QueryPlan plan = BasePlan(AggregateFunction::kPercentileCont, Bounds{0, 100});
  plan.aggregates[0].percentile = 0.5;
  plan.quantile_tree = QuantileTreeOptions{4, 3};
  const auto report = TestMechanism(
      t.d, t.d_prime, RunPlan(plan),
      [](const QueryResult& r) { return RealBucket(ValueOf(r).value(), 0, 100, 20); }, 20, EngineClaim(plan));
  ASSERT_NO_FATAL_FAILURE(ExpectPasses("engine PERCENTILE_CONT(x, 0.5)", report));
  EXPECT_GT(report->epsilon_lower_bound, 0.05 * plan.epsilon) << report->ToString();
}

// VARIANCE at the clamp bounds (count, normalised sum and sum of squares: three noisy parts).
TEST(EnginePrivacyTest, VarianceAtTheClampBounds) {
  const NeighbouringTables t = WithAndWithoutA({{"a", "g", 10}, {"b", "g", 0}, {"c", "g", 0}, {"d", "g", 0}});
  const QueryPlan plan = BasePlan(AggregateFunction::kVariance, Bounds{0, 10});
  ExpectPasses("engine VARIANCE bounds [0, 10]",
               TestMechanism(
                   t.d, t.d_prime, RunPlan(plan),
                   [](const QueryResult& r) { return RealBucket(ValueOf(r).value(), 0, 25, 25); }, 25,
                   EngineClaim(plan)));
}

// COUNT(*) with Gaussian noise (zCDP, converted to (epsilon, delta) by the engine's accountant).
TEST(EnginePrivacyTest, GaussianCount) {
  const NeighbouringTables t = WithAndWithoutA({{"a", "g", 1}, {"a", "g", 1}, {"b", "g", 1}, {"c", "g", 1}});
  QueryPlan plan = BasePlan(AggregateFunction::kCountStar);
  plan.noise = NoiseKind::kGaussian;
  plan.delta = 1e-3;
  plan.max_rows_per_group = 2;
  DpTestOptions options = EngineClaim(plan);
  options.samples_per_side = 10'000;  // a Gaussian query costs ~0.07 ms, mostly its PlanCost
  options.selection_samples_per_side = 2'500;
  ExpectPasses("engine COUNT(*) Gaussian",
               TestMechanism(
                   t.d, t.d_prime, RunPlan(plan),
                   [](const QueryResult& r) { return CountBucket(ValueOf(r), -12, 16); }, 29, options));
}

// SUM without bounds: the engine chooses them with a DP log-histogram (bounds.h) and releases them. The pair
// sits at the histogram's threshold: the bin of 1000 holds exactly tau units with "a" (so it passes the
// threshold about half of the time) and tau - 1 without, while the bin of 5 (2 tau units) always passes; so
// "a" shifts the probability that the released upper bound is 1024 rather than 8. tau is computed for the
// engine's default split (a quarter of the SUM's epsilon for its bounds, L1 = 1); the claim is the engine's
// total cost, which includes the bounds' share.
TEST(EnginePrivacyTest, AutomaticBoundsAtTheThreshold) {
  const QueryPlan plan = BasePlan(AggregateFunction::kSum);
  const int64_t tau = LogHistogramThreshold(1.0 / (plan.epsilon * plan.auto_bounds_budget_fraction));
  std::vector<Row> rows = {{"a", "g", 1000}};
  for (int64_t i = 1; i < tau; ++i) rows.push_back({absl::StrCat("v", i), "g", 1000});
  for (int64_t i = 0; i < 2 * tau; ++i) rows.push_back({absl::StrCat("u", i), "g", 5});
  const NeighbouringTables t = WithAndWithoutA(rows);
  // The bin of the released upper bound, between 2^-2 and 2^14 (the end buckets absorb the rest).
  auto upper_bin = [](const QueryResult& r) -> int64_t {
    const int bin = r.chosen_bounds.empty() ? 0 : LogHistogramBin(r.chosen_bounds[0].bounds.hi);
    return IntegerBucket(bin, LogHistogramBin(0.25), LogHistogramBin(16384.0));
  };
  const int64_t buckets = LogHistogramBin(16384.0) - LogHistogramBin(0.25) + 1;
  DpTestOptions options = EngineClaim(plan);
  options.samples_per_side = 8'000;  // ~0.25 ms per query on 175 rows (166 noisy histogram bins)
  options.selection_samples_per_side = 2'000;
  const auto report = TestMechanism(t.d, t.d_prime, RunPlan(plan), upper_bin, buckets, options);
  ASSERT_NO_FATAL_FAILURE(ExpectPasses("engine SUM with automatic bounds (released upper bound)", report));
}

// GROUP BY with private partition selection: group "x" has only unit "a". Without "a" the group cannot
// appear, so P[x released | D] must stay within the claimed delta (joint with its noisy count). delta is
// large (0.05) so that releases are seen.
TEST(EnginePrivacyTest, GroupByReleasesTheOnlyUnitsGroupWithProbabilityDelta) {
  std::vector<Row> rows = {{"a", "x", 1}};
  for (int i = 0; i < 30; ++i) rows.push_back({absl::StrCat("u", i), "y", 1});
  const NeighbouringTables t = WithAndWithoutA(rows);
  QueryPlan plan = BasePlan(AggregateFunction::kCountStar);
  plan.group_by = {GroupBy{"g", {}}};
  plan.delta = 0.05;
  // Bucket 0: "x" not released; 1 + b: released with a noisy count in bucket b of [-8, 9].
  auto bucket = [](const QueryResult& r) -> int64_t {
    const std::optional<double> x = ValueOf(r, "x");
    return x.has_value() ? 1 + CountBucket(x, -8, 9) : 0;
  };
  const auto report = TestMechanism(t.d, t.d_prime, RunPlan(plan), bucket, 19, EngineClaim(plan));
  ASSERT_NO_FATAL_FAILURE(ExpectPasses("engine GROUP BY, partition selection on a one-unit group", report));
  EXPECT_GT(report->delta_lower_bound, 0)
      << "no release of the one-unit group was seen: " << report->ToString();
}

// L0 bounding with public groups: unit "a" has a row in each of 5 groups but max_groups_contributed = 1, so
// the total of the 5 noisy counts (a post-processing of the released vector) moves by at most 1.
TEST(EnginePrivacyTest, PublicGroupsBoundGroupsPerUnit) {
  std::vector<Row> rows;
  std::vector<std::vector<table::Value>> keys;
  for (int g = 0; g < 5; ++g) {
    const std::string key = absl::StrCat("g", g);
    rows.push_back({"a", key, 1});
    rows.push_back({absl::StrCat("b", g), key, 1});
    keys.push_back({table::Value(key)});
  }
  const NeighbouringTables t = WithAndWithoutA(rows);
  QueryPlan plan = BasePlan(AggregateFunction::kCountStar);
  plan.group_by = {GroupBy{"g", {}}};
  plan.public_groups = keys;
  plan.max_groups_contributed = 1;
  auto total = [](const QueryResult& r) {
    double sum = 0;
    for (const ResultRow& row : r.rows) sum += row.values[0][0].value;
    return IntegerBucket(std::llround(sum), -15, 25);
  };
  ExpectPasses("engine public GROUP BY, unit in 5 groups, L0=1",
               TestMechanism(t.d, t.d_prime, RunPlan(plan), total, 41, EngineClaim(plan)));
}

// ---------------------------------------------------------------------------------------------------------
// The broken fixtures: the tester must flag each one.

namespace broken {

// GROUP BY that forgets partition selection: the exact groups (RunPlainAggregation) with properly calibrated
// Laplace noise on each count, but every non-empty group released.
absl::StatusOr<QueryResult> GroupByWithoutPartitionSelection(const table::Table& t, const QueryPlan& plan,
                                                             RandomBits& bits) {
  auto exact = RunPlainAggregation(t, std::nullopt, plan);
  if (!exact.ok()) return exact.status();
  auto laplace = LaplaceMechanism::Create(plan.epsilon, 1.0);
  if (!laplace.ok()) return laplace.status();
  for (ResultRow& row : exact->rows) {
    auto noisy = laplace->AddIntegerNoise(bits, std::llround(row.values[0][0].value));
    if (!noisy.ok()) return noisy.status();
    row.values[0][0].value = static_cast<double>(*noisy);
  }
  return exact;
}

// COUNT(*) calibrated for max_rows_per_group = 2 that does not bound the rows per unit.
absl::StatusOr<QueryResult> CountWithoutRowBounding(const table::Table& t, const QueryPlan& plan,
                                                    RandomBits& bits) {
  auto exact = RunPlainAggregation(t, std::nullopt, plan);
  if (!exact.ok()) return exact.status();
  auto laplace = LaplaceMechanism::Create(plan.epsilon, static_cast<double>(plan.max_rows_per_group));
  if (!laplace.ok()) return laplace.status();
  auto noisy = laplace->AddIntegerNoise(bits, std::llround(exact->rows[0].values[0][0].value));
  if (!noisy.ok()) return noisy.status();
  exact->rows[0].values[0][0].value = static_cast<double>(*noisy);
  return exact;
}

}  // namespace broken

TEST(BrokenFixtureTest, LaplaceWithHalfTheScaleIsCaught) {
  const auto report = TestMechanism(
      int64_t{1}, int64_t{0}, broken::LaplaceCountWithHalfScale,
      [](int64_t v) { return IntegerBucket(v, -8, 9); }, 18, Claim(1.0));
  ASSERT_NO_FATAL_FAILURE(ExpectCaught("broken: Laplace with scale 1/(2 eps)", report));
  EXPECT_GT(report->epsilon_lower_bound, 1.5) << report->ToString();  // the truth is 2
  EXPECT_LE(report->epsilon_lower_bound, 2.0) << report->ToString();
}

TEST(BrokenFixtureTest, SumWithoutClampingIsCaught) {
  // The neighbouring pair: a unit whose value (50) is far beyond the bound (10), versus no unit.
  const auto report = TestMechanism(
      50.0, 0.0, broken::SumWithoutClamping, [](double v) { return RealBucket(v, -60, 110, 34); }, 34,
      Claim(1.0));
  ASSERT_NO_FATAL_FAILURE(ExpectCaught("broken: sum without clamping", report));
}

TEST(BrokenFixtureTest, PartitionSelectionWithoutThresholdIsCaught) {
  DpTestOptions options = Claim(1.0, 1e-5);
  options.ordered_outputs = false;
  const auto report = TestMechanism(
      int64_t{1}, int64_t{0}, broken::KeepEveryNonEmptyGroup, [](int64_t b) { return b; }, 2, options);
  ASSERT_NO_FATAL_FAILURE(ExpectCaught("broken: partition selection without threshold", report));
  EXPECT_GT(report->delta_lower_bound, 0.99) << report->ToString();
}

TEST(BrokenFixtureTest, PartitionSelectionWithTooLargeDeltaIsCaught) {
  DpTestOptions options = Claim(1.0, 0.05);
  options.ordered_outputs = false;
  ExpectCaught(
      "broken: partition selection with 4x delta",
      TestMechanism(
          int64_t{1}, int64_t{0}, broken::KeepWithFourTimesDelta, [](int64_t b) { return b; }, 2, options));
}

TEST(BrokenFixtureTest, GroupByWithoutPartitionSelectionIsCaught) {
  std::vector<Row> rows = {{"a", "x", 1}};
  for (int i = 0; i < 30; ++i) rows.push_back({absl::StrCat("u", i), "y", 1});
  const NeighbouringTables t = WithAndWithoutA(rows);
  QueryPlan plan = BasePlan(AggregateFunction::kCountStar);
  plan.group_by = {GroupBy{"g", {}}};
  plan.delta = 1e-5;
  auto mechanism = [&plan](const table::Table& table, RandomBits& bits) {
    return broken::GroupByWithoutPartitionSelection(table, plan, bits);
  };
  auto bucket = [](const QueryResult& r) -> int64_t {
    const std::optional<double> x = ValueOf(r, "x");
    return x.has_value() ? 1 + CountBucket(x, -8, 9) : 0;
  };
  const auto report = TestMechanism(t.d, t.d_prime, mechanism, bucket, 19, EngineClaim(plan));
  ASSERT_NO_FATAL_FAILURE(ExpectCaught("broken: GROUP BY without partition selection", report));
  EXPECT_GT(report->delta_lower_bound, 0.9) << report->ToString();
}

TEST(BrokenFixtureTest, CountWithoutRowBoundingIsCaught) {
  std::vector<Row> rows(20, Row{"a", "g", 1});
  for (const char* unit : {"b", "c", "d", "e"}) rows.push_back({unit, "g", 1});
  const NeighbouringTables t = WithAndWithoutA(rows);
  QueryPlan plan = BasePlan(AggregateFunction::kCountStar);
  plan.max_rows_per_group = 2;
  auto mechanism = [&plan](const table::Table& table, RandomBits& bits) {
    return broken::CountWithoutRowBounding(table, plan, bits);
  };
  ExpectCaught(
      "broken: COUNT(*) without Linf bounding",
      TestMechanism(
          t.d, t.d_prime, mechanism, [](const QueryResult& r) { return CountBucket(ValueOf(r), -10, 40); },
          51, EngineClaim(plan)));
}

}  // namespace
}  // namespace veil::dp::testing
