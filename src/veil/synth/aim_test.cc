#include "veil/synth/aim.h"

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/crypto/testing/deterministic_random.h"
#include "veil/dp/random_bits.h"
#include "veil/synth/metrics.h"

namespace veil::synth {
namespace {

using crypto::testing::DeterministicRandom;
using ::testing::HasSubstr;

// 20,000 rows: a -> b -> c chain (copy with probability 0.8), d = (a + c) mod 3 with probability 0.7 (a
// 3-way dependence no tree captures), e independent. Fixed seed.
DiscreteTable Table(int64_t rows) {
  Domain d = *Domain::Create({{"a", 3}, {"b", 3}, {"c", 3}, {"d", 3}, {"e", 4}});
  DeterministicRandom random(21);
  dp::RandomBits bits(random);
  std::vector<std::vector<int32_t>> codes(5, std::vector<int32_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    codes[0][r] = static_cast<int32_t>(*bits.Uniform(3));
    codes[1][r] = *bits.Uniform(5) < 4 ? codes[0][r] : static_cast<int32_t>(*bits.Uniform(3));
    codes[2][r] = *bits.Uniform(5) < 4 ? codes[1][r] : static_cast<int32_t>(*bits.Uniform(3));
    codes[3][r] =
        *bits.Uniform(10) < 7 ? (codes[0][r] + codes[2][r]) % 3 : static_cast<int32_t>(*bits.Uniform(3));
    codes[4][r] = static_cast<int32_t>(*bits.Uniform(4));
  }
  return *DiscreteTable::Create(d, std::move(codes));
}

TEST(AimTest, AccountsEveryMeasurementAndSpendsTheBudget) {
  DiscreteTable data = Table(20000);
  DeterministicRandom random(1);
  ZcdpBudget budget = *ZcdpBudget::FromApproxDp(1.0, 1e-9);
  absl::StatusOr<AimResult> r = FitAim(data, budget, random);
  ASSERT_TRUE(r.ok()) << r.status();
  const ZcdpBudget& b = r->budget;
  EXPECT_LE(b.spent_rho(), b.total_rho());
  EXPECT_GT(b.spent_rho(), b.total_rho() * (1 - 1e-12));
  // 5 one-way measurements, then a selection and a measurement per round.
  ASSERT_EQ(b.entries().size(), 5u + 2u * r->rounds);
  ASSERT_EQ(r->measurements.size(), 5u + r->rounds);
  EXPECT_GE(r->rounds, 1);
  double sum = 0;
  for (size_t i = 0; i < b.entries().size(); ++i) {
    sum += b.entries()[i].rho;
    if (i < 5) {
      EXPECT_THAT(b.entries()[i].name, HasSubstr("1-way marginal")) << i;
    } else {
      EXPECT_THAT(b.entries()[i].name, HasSubstr((i - 5) % 2 == 0 ? "select marginal" : "-way marginal"))
          << i;
    }
  }
  EXPECT_NEAR(sum, b.spent_rho(), 1e-15);
  for (size_t m = 0; m < r->measurements.size(); ++m) {
    EXPECT_EQ(r->measurements[m].rho, b.entries()[m < 5 ? m : 5 + 2 * (m - 5) + 1].rho);
  }
  absl::StatusOr<dp::PrivacyCost> cost = b.Cost();
  ASSERT_TRUE(cost.ok());
  EXPECT_LE(cost->total.epsilon, 1.0);
  EXPECT_GT(cost->total.epsilon, 0.999);
}

TEST(AimTest, CapturesAThreeWayDependenceAndIsReproducible) {
  DiscreteTable data = Table(20000);
  ZcdpBudget budget = *ZcdpBudget::FromApproxDp(4.0, 1e-9);
  DeterministicRandom r1(7);
  DeterministicRandom r2(7);
  AimResult a = *FitAim(data, budget, r1);
  AimResult b = *FitAim(data, budget, r2);
  ASSERT_EQ(a.measurements.size(), b.measurements.size());
  for (size_t m = 0; m < a.measurements.size(); ++m) {
    EXPECT_EQ(a.measurements[m].attrs, b.measurements[m].attrs);
    EXPECT_EQ(a.measurements[m].values, b.measurements[m].values);
  }
  // The model's (a, c, d) marginal is close to the data's; the independent product of its 1-way marginals
  // is not (d = a + c mod 3 in 70% of rows).
  std::vector<int> acd = {0, 2, 3};
  std::vector<double> p = *a.model.Marginal(acd);
  std::vector<double> x = *data.Marginal(acd);
  EXPECT_LT(TotalVariation(x, p), 0.03);
  std::vector<double> pa = *a.model.Marginal(std::vector<int>{0});
  std::vector<double> pc = *a.model.Marginal(std::vector<int>{2});
  std::vector<double> pd = *a.model.Marginal(std::vector<int>{3});
  std::vector<double> indep;
  for (double u : pa)
    for (double v : pc)
      for (double w : pd) indep.push_back(u * v * w);
  EXPECT_GT(TotalVariation(x, indep), 0.3);
  DeterministicRandom r3(8);
  absl::StatusOr<DiscreteTable> s = a.model.Sample(r3, 20000);
  ASSERT_TRUE(s.ok());
  EXPECT_LT(CompareMarginals(data, *s, 3)->average_tvd, 0.05);
}

TEST(AimTest, DegenerateInputsAndBadOptions) {
  DeterministicRandom random(3);
  ZcdpBudget budget = *ZcdpBudget::FromApproxDp(1.0, 1e-9);
  // One column: the whole budget measures it.
  DiscreteTable one = *DiscreteTable::Create(*Domain::Create({{"x", 3}}), {{0, 1, 2, 2, 1}});
  absl::StatusOr<AimResult> r = FitAim(one, budget, random);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->budget.entries().size(), 1u);
  EXPECT_GT(r->budget.spent_rho(), budget.total_rho() * (1 - 1e-9));
  // An empty table and a constant column are accepted (noise only / one value).
  DiscreteTable empty = *DiscreteTable::Create(*Domain::Create({{"x", 3}, {"y", 2}}), {{}, {}});
  r = FitAim(empty, budget, random);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->model.Sample(random, 10)->num_rows(), 10);
  DiscreteTable constant =
      *DiscreteTable::Create(*Domain::Create({{"x", 1}, {"y", 2}}), {{0, 0, 0}, {0, 1, 1}});
  EXPECT_TRUE(FitAim(constant, budget, random).ok());
  // Errors.
  EXPECT_FALSE(FitAim(*DiscreteTable::Create(*Domain::Create({}), {}), budget, random).ok());
  ZcdpBudget used = budget;
  ASSERT_TRUE(used.Charge("x", 1e-6).ok());
  EXPECT_EQ(FitAim(constant, used, random).status().code(), absl::StatusCode::kInvalidArgument);
  AimOptions bad;
  bad.measure_share = 1.0;
  EXPECT_FALSE(FitAim(constant, budget, random, bad).ok());
  bad = AimOptions();
  bad.max_model_cells_cap = bad.max_model_cells - 1;
  EXPECT_EQ(FitAim(constant, budget, random, bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = AimOptions();
  bad.round_iterations = -1;
  EXPECT_EQ(FitAim(constant, budget, random, bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = AimOptions();
  bad.model_cells_reference_rho = 0;
  EXPECT_EQ(FitAim(constant, budget, random, bad).status().code(), absl::StatusCode::kInvalidArgument);
  AimOptions bad_workload;
  bad_workload.workload = {{{0, 0}, 1.0}};
  EXPECT_FALSE(FitAim(constant, budget, random, bad_workload).ok());
  bad_workload.workload = {{{0, 5}, 1.0}};
  EXPECT_FALSE(FitAim(constant, budget, random, bad_workload).ok());
  bad_workload.workload = {{{0, 1}, -1.0}};
  EXPECT_FALSE(FitAim(constant, budget, random, bad_workload).ok());
  ZcdpBudget tiny = *ZcdpBudget::FromRho(1e-40, 1e-9);
  EXPECT_EQ(FitAim(constant, tiny, random).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(AimTest, ModelLimitGrowsWithTheSquareRootOfRhoBetweenItsBounds) {
  AimOptions o;  // 2^16 cells at rho <= 0.025, up to 2^17
  EXPECT_EQ(AimModelCellLimit(0.0, o), 65536);
  EXPECT_EQ(AimModelCellLimit(0.014973, o), 65536);  // eps 1, delta 1e-9
  EXPECT_EQ(AimModelCellLimit(0.0181, o), 65536);    // veil synth's model share at eps 1, delta 1e-6
  EXPECT_EQ(AimModelCellLimit(0.025, o), 65536);
  EXPECT_EQ(AimModelCellLimit(0.025 * 2.25, o), 98304);  // 1.5 x
  EXPECT_EQ(AimModelCellLimit(0.1, o), 131072);
  EXPECT_EQ(AimModelCellLimit(1.090786, o), 131072);  // eps 10, delta 1e-9: the cap
  o.max_model_cells_cap = o.max_model_cells;          // a fixed limit
  EXPECT_EQ(AimModelCellLimit(1.090786, o), 65536);
  o.max_model_cells = 1000;
  o.max_model_cells_cap = 1 << 30;
  o.model_cells_reference_rho = 1.0;
  EXPECT_EQ(AimModelCellLimit(100.0, o), 10000);
}

}  // namespace
}  // namespace veil::synth
